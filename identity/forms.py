"""Forms of the caseworker desk: they check what a person typed and say what to fix.

They do not write anything: views hand the cleaned values to identity.services, whose
ValidationErrors come back onto the same forms (see `add_service_errors`).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity import cityid, services
from identity.models import Consent, DataQuality, Encounter, Organization, RecordCategory

# HUD HMIS FY2026 answers (3.04 race and ethnicity, 4.21 sex, 1.8 no/yes/reasons), with
# the codes the HMIS CSV export writes. The FY2024 gender question (3.06) is kept because
# many Continuums of Care still collect it.
RACE_CHOICES = [
    ("AmIndAKNative", _("American Indian, Alaska Native, or Indigenous")),
    ("Asian", _("Asian or Asian American")),
    ("BlackAfAmerican", _("Black, African American, or African")),
    ("HispanicLatinao", _("Hispanic/Latina/o")),
    ("MidEastNAfrican", _("Middle Eastern or North African")),
    ("NativeHIPacific", _("Native Hawaiian or Pacific Islander")),
    ("White", _("White")),
]
GENDER_CHOICES = [
    ("Woman", _("Woman (girl, if child)")),
    ("Man", _("Man (boy, if child)")),
    ("CulturallySpecific", _("Culturally specific identity (e.g., Two-Spirit)")),
    ("Transgender", _("Transgender")),
    ("NonBinary", _("Non-binary")),
    ("Questioning", _("Questioning")),
    ("DifferentIdentity", _("Different identity")),
]
MISSING_CHOICES = [
    (8, _("Client doesn't know")),
    (9, _("Client prefers not to answer")),
    (99, _("Data not collected")),
]
SEX_CHOICES = [(0, _("Female")), (1, _("Male")), *MISSING_CHOICES]
NO_YES_CHOICES = [(0, _("No")), (1, _("Yes")), *MISSING_CHOICES]

# What each consent category covers, in words a resident can act on (the printed form).
CATEGORY_DESCRIPTIONS = {
    RecordCategory.IDENTITY: _(
        "your ID, birth certificate, Social Security card and Social Security number."
    ),
    RecordCategory.MEDICAL: _("health conditions, medical visits and treatment."),
    RecordCategory.HOUSING: _("where you have stayed, housing applications and placements."),
    RecordCategory.BENEFITS: _("applications and decisions on food, income and health benefits."),
    RecordCategory.CASE_NOTES: _("what caseworkers wrote down about their meetings with you."),
    RecordCategory.SUBSTANCE_USE: _(
        "diagnosis, treatment and referrals for alcohol or drug use, protected by federal law."
    ),
}

PHOTO_TYPES = ("image/jpeg", "image/png")


def add_service_errors(exc: ValidationError, *forms_: forms.Form) -> None:
    """Put a service's ValidationError on the field it names (in whichever form has it),
    or on the first form as a whole."""
    if not hasattr(exc, "error_dict"):
        forms_[0].add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        target = next((f for f in forms_ if name in f.fields), None)
        if target is None:
            forms_[0].add_error(None, errors)
        else:
            target.add_error(name, errors)


def _int_choice(label, choices, *, initial=None, required=True, help_text=""):
    if not required:
        choices = [("", _("(not needed)")), *choices]
    return forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=int,
        empty_value=None,
        initial=initial,
        required=required,
        help_text=help_text,
    )


def _date_field(label, *, required=False, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, date of birth, last 4 of SSN or city ID"),
        max_length=100,
        help_text=_(
            "Type any mix, e.g. “ana 05/17/1980”. You can also scan the QR code on a "
            "city ID card: the scanner types the ID and presses Enter."
        ),
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autofocus": True,
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )


class ConsentForm(forms.Form):
    """A release of information to the caseworker's organization (also used at enrollment,
    where a refusal makes no sense: the organization could not see the record it creates)."""

    categories = forms.MultipleChoiceField(
        label=_("Records the resident agrees to share with your organization"),
        choices=RecordCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Tick only what the resident agreed to. Substance-use treatment records are "
            "protected by federal law (42 CFR Part 2) and need to be named here."
        ),
    )
    status = forms.ChoiceField(
        label=_("How the resident answered"),
        choices=[
            (Consent.Status.GRANTED, _("Signed the form")),
            (Consent.Status.VERBAL, _("Agreed out loud (verbal consent)")),
            (Consent.Status.REFUSED, _("Refused")),
        ],
        initial=Consent.Status.GRANTED,
        widget=forms.RadioSelect,
        help_text=_(
            "Record what the resident actually said. A refusal is recorded too, with its "
            "reason: your organization then cannot see the record."
        ),
    )
    expires_on = _date_field(
        _("Expires on"),
        help_text=_("Leave empty if the consent has no end date. It can be revoked at any time."),
    )
    reason = forms.CharField(
        label=_("Reason or note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when the resident refuses. Do not write medical details here."),
    )

    def __init__(self, *args, allow_refusal: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_refusal:
            self.fields["status"].choices = self.fields["status"].choices[:2]
            self.fields["status"].help_text = _("Record what the resident actually said.")
            del self.fields["reason"]

    def clean(self):
        data = super().clean()
        status = data.get("status")
        if status in (Consent.Status.GRANTED, Consent.Status.VERBAL) and not data.get("categories"):
            self.add_error("categories", _("Choose at least one kind of record to share."))
        if status == Consent.Status.REFUSED and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why the consent was refused."))
        expires = data.get("expires_on")
        if expires and expires < timezone.localdate():
            self.add_error("expires_on", _("The expiry date is in the past."))
        return data


class EnrollForm(forms.Form):
    legal_first_name = forms.CharField(
        label=_("Legal first name"),
        max_length=50,
        help_text=_("As on an ID document, if the resident has one; otherwise as they say it."),
    )
    legal_middle_name = forms.CharField(label=_("Legal middle name"), max_length=50, required=False)
    legal_last_name = forms.CharField(label=_("Legal last name"), max_length=50)
    name_suffix = forms.CharField(
        label=_("Suffix"), max_length=10, required=False, help_text=_("For example Jr. or III.")
    )
    preferred_name = forms.CharField(
        label=_("Preferred name"),
        max_length=50,
        required=False,
        help_text=_("The name the resident wants to be called. It goes on the card."),
    )
    aliases = forms.CharField(
        label=_("Other names (aliases)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One name per line: nicknames, former names. Search finds these too."),
    )
    dob = _date_field(
        _("Date of birth"),
        help_text=_("Leave empty if the resident does not know it or does not want to say."),
    )
    dob_data_quality = _int_choice(
        _("How sure is the date of birth?"),
        DataQuality.choices,
        initial=DataQuality.FULL,
        help_text=_("Choose “Partial or approximate” if only the year or month is known."),
    )
    ssn = forms.CharField(
        label=_("Social Security number"),
        max_length=11,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_("Optional. 9 digits, or at least the last 4 for a partial SSN."),
    )
    ssn_data_quality = _int_choice(
        _("About the SSN"),
        DataQuality.choices,
        initial=DataQuality.NOT_COLLECTED,
        help_text=_("Whether the number above is complete, partial, or why there is none."),
    )
    race = forms.MultipleChoiceField(
        label=_("Race and ethnicity"),
        choices=RACE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Tick all that the resident names."),
    )
    race_none = _int_choice(
        _("If none is ticked, why"),
        MISSING_CHOICES,
        required=False,
        help_text=_(
            "Only when nothing above is ticked: the resident does not know, "
            "prefers not to answer, or was not asked."
        ),
    )
    additional_race_ethnicity = forms.CharField(
        label=_("Additional race and ethnicity detail"),
        max_length=100,
        required=False,
        help_text=_("Optional, in the resident's own words."),
    )
    gender = forms.MultipleChoiceField(
        label=_("Gender"),
        choices=GENDER_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Tick all that the resident names."),
    )
    gender_none = _int_choice(
        _("If no gender is ticked, why"),
        MISSING_CHOICES,
        required=False,
        help_text=_(
            "Only when nothing above is ticked: the resident does not know, "
            "prefers not to answer, or was not asked."
        ),
    )
    sex = _int_choice(_("Sex"), SEX_CHOICES, initial=99)
    veteran_status = _int_choice(
        _("Veteran"),
        NO_YES_CHOICES,
        initial=99,
        help_text=_("Served on active duty in the US armed forces."),
    )
    disabling_condition = _int_choice(
        _("Disabling condition"),
        NO_YES_CHOICES,
        initial=99,
        help_text=_("A long-lasting condition that limits the resident's ability to live alone."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text=_("Optional. A number where the resident can be reached. Stored encrypted."),
    )
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Optional. Stored encrypted, and never put on the public ledger."),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_("Optional. A JPEG or PNG file, at most 2 MB. It is printed on the card."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    pin = forms.CharField(
        label=_("Kiosk PIN"),
        required=False,
        max_length=8,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
        help_text=_(
            "Optional. 4 to 8 digits the resident chooses, to see their own record at the kiosk."
        ),
    )

    GROUPS = (
        (
            _("Name"),
            "",
            (
                "legal_first_name",
                "legal_middle_name",
                "legal_last_name",
                "name_suffix",
                "preferred_name",
                "aliases",
            ),
        ),
        (
            _("Date of birth and Social Security number"),
            "",
            ("dob", "dob_data_quality", "ssn", "ssn_data_quality"),
        ),
        (
            _("About the resident (HMIS questions)"),
            _(
                "Ask each question as written; the resident may choose more than one answer, "
                "or not to answer."
            ),
            (
                "race",
                "race_none",
                "additional_race_ethnicity",
                "gender",
                "gender_none",
                "sex",
                "veteran_status",
                "disabling_condition",
            ),
        ),
        (_("Contact, photo and kiosk PIN"), "", ("phone", "email", "photo", "pin")),
    )

    def groups(self):
        """(legend, help, bound fields) for each fieldset of the page."""
        return [(legend, hint, [self[n] for n in names]) for legend, hint, names in self.GROUPS]

    def clean_aliases(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["aliases"].splitlines() if line.strip()]

    def clean_pin(self) -> str:
        pin = self.cleaned_data["pin"].strip()
        if pin and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValidationError(_("The PIN must be 4 to 8 digits."))
        return pin

    def clean_photo(self) -> tuple[bytes, str] | None:
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        if upload.size > services.MAX_PHOTO_BYTES:
            raise ValidationError(_("The photo is larger than 2 MB."))
        content = upload.read()
        if services.sniff_content_type(content) not in PHOTO_TYPES:
            raise ValidationError(_("The photo must be a JPEG or PNG image."))
        return content, services.sniff_content_type(content)

    def clean(self):
        data = super().clean()
        for many, none, label in (
            ("race", "race_none", _("race and ethnicity")),
            ("gender", "gender_none", _("gender")),
        ):
            if data.get(many) and data.get(none) is not None:
                self.add_error(
                    none,
                    _("Leave this empty when a %(question)s answer is ticked.")
                    % {"question": label},
                )
        return data

    def demographics(self) -> dict:
        """HMIS-style keys, as identity.hmis reads them."""
        data = self.cleaned_data
        result = {
            "race": sorted(data["race"]),
            "gender": sorted(data["gender"]),
            "sex": data["sex"],
            "veteran_status": data["veteran_status"],
            "disabling_condition": data["disabling_condition"],
        }
        if not data["race"]:
            result["race_none"] = data["race_none"] if data["race_none"] is not None else 99
        if not data["gender"]:
            result["gender_none"] = data["gender_none"] if data["gender_none"] is not None else 99
        if data["additional_race_ethnicity"].strip():
            result["additional_race_ethnicity"] = data["additional_race_ethnicity"].strip()
        return result

    def resident_data(self) -> services.ResidentData:
        data = self.cleaned_data
        photo = data.get("photo")
        return services.ResidentData(
            legal_first_name=data["legal_first_name"],
            legal_middle_name=data["legal_middle_name"],
            legal_last_name=data["legal_last_name"],
            name_suffix=data["name_suffix"],
            preferred_name=data["preferred_name"],
            aliases=data["aliases"],
            dob=data["dob"],
            dob_data_quality=data["dob_data_quality"],
            ssn=data["ssn"],
            ssn_data_quality=data["ssn_data_quality"],
            demographics=self.demographics(),
            phone=data["phone"],
            email=data["email"],
            photo=photo[0] if photo else None,
            photo_type=photo[1] if photo else "",
        )


class CityIdField(forms.CharField):
    """A typed or scanned city ID, returned in canonical form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("City ID"))
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return cityid.parse(value)
        except cityid.CityIdError:
            raise ValidationError(
                _(
                    "That is not a city ID: check each character. A city ID has 11 letters "
                    "and digits, like 7K3M-Q9XA-2FD."
                )
            ) from None


class RequestAccessForm(forms.Form):
    city_id = CityIdField(help_text=_("From the resident's card, or scan its QR code."))
    dob = _date_field(
        _("Date of birth"), required=True, help_text=_("Ask the resident; do not guess.")
    )


class CardReissueForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why a new card"),
        choices=[
            ("lost", _("Lost")),
            ("stolen", _("Stolen")),
            ("damaged", _("Damaged")),
        ],
        help_text=_("The old city ID stops working on cards; search still finds the resident."),
    )


class EncounterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Service"),
        choices=Encounter.Kind.choices,
        help_text=_("The kind of service your organization gave the resident."),
    )
    date = _date_field(
        _("Date"), required=True, help_text=_("The day the service was given, not a future day.")
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. Only organizations the resident allows to see case notes see them."),
    )


class ReferralForm(forms.Form):
    to_organization = forms.ModelChoiceField(
        label=_("Refer to"),
        queryset=Organization.objects.none(),
        help_text=_("The resident must have consented to share their record with it."),
    )
    service = forms.CharField(
        label=_("Service needed"),
        max_length=120,
        help_text=_("For example: a bed tonight, a dental visit, help with an ID."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Optional. What the other organization needs to know. It sees this note; do not "
            "write medical details here."
        ),
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_organization"].queryset = Organization.objects.filter(
            is_active=True
        ).exclude(pk=organization.pk)


class ReferralStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            ("accepted", _("Accept")),
            ("declined", _("Decline")),
            ("completed", _("Complete")),
        ]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)


class LinkForm(forms.Form):
    city_id = CityIdField(
        label=_("City ID of the other record"),
        help_text=_("Your organization must be able to see that record too."),
    )
    reason = forms.CharField(
        label=_("Why they are the same person"),
        max_length=200,
        help_text=_("For example: same photo ID shown at both enrollments."),
    )


class EraseForm(forms.Form):
    city_id = CityIdField(
        label=_("Type the resident's city ID to confirm"),
        help_text=_("This deletes the record, documents and consents for good."),
    )
