"""Forms of the credit pages: they check what a person typed and say what to fix.

They write nothing: views hand the cleaned values to credit.services, whose
ValidationErrors come back onto the same forms (identity.forms.add_service_errors).
Money is typed in dollars and cents and leaves the form as integer cents. A city ID is
only ever a POST field, so it never lands in a URL, a server log or browser history.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credit.models import Dispute, PaymentKind
from identity import cityid

MAX_CENTS = 10_000_000_00  # $10 million: far above any bill, far below integer limits
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_REPORT_COPY_BYTES = 512 * 1024
SHARE_DAYS = [(1, _("1 day")), (7, _("7 days")), (14, _("14 days")), (30, _("30 days"))]


def dollars_to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


class MoneyField(forms.DecimalField):
    """Dollars and cents typed by a person (“1,250.00” or “$1250”), cleaned to cents."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", Decimal(MAX_CENTS) / 100)
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace("$", "").strip()
        return super().to_python(value)

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else dollars_to_cents(value)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class CityIdField(forms.CharField):
    """A city ID as typed or scanned; cleaned to its canonical form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Resident's city ID"))
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "help_text",
            _("On the resident's city ID card, like 7K3M-Q9XA-2FD. Type it or scan the card."),
        )
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            return cityid.parse(value)
        except cityid.CityIdError:
            raise ValidationError(
                _(
                    "This city ID does not look right: a character may be mistyped. Check it "
                    "against the card and try again."
                ),
                code="city_id",
            ) from None


# --- reporters ---------------------------------------------------------------------------


class ResidentLookupForm(forms.Form):
    city_id = CityIdField()


class PaymentRecordForm(forms.Form):
    city_id = CityIdField()
    kind = forms.ChoiceField(label=_("Kind of payment"), choices=PaymentKind.choices)
    account_reference = forms.CharField(
        label=_("Account reference"),
        max_length=64,
        help_text=_(
            "Your own reference for this lease or account, the same every month "
            "(for example a lease number)."
        ),
    )
    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=100,
        help_text=_(
            "Your own reference for this one bill, for example “LEASE-12-2026-03”. Recording "
            "the same reference again changes nothing."
        ),
    )
    due_date = forms.DateField(label=_("Due date"), widget=DateInput())
    amount_due = MoneyField(label=_("Amount due ($)"))
    paid_on = forms.DateField(
        label=_("Paid on"),
        required=False,
        widget=DateInput(),
        help_text=_("Leave empty if it has not been paid yet."),
    )
    amount_paid = MoneyField(
        label=_("Amount paid ($)"),
        required=False,
        help_text=_("Leave empty if it has not been paid yet."),
    )

    def __init__(self, *args, kinds: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds:
            self.fields["kind"].choices = [
                (value, label) for value, label in PaymentKind.choices if value in kinds
            ]

    def clean(self):
        data = super().clean()
        paid_on, paid = data.get("paid_on"), data.get("amount_paid")
        if paid_on and paid is None:
            self.add_error("amount_paid", _("Enter the amount paid on that date."))
        if paid and not paid_on:
            self.add_error("paid_on", _("Enter the date it was paid."))
        if paid_on and paid_on > timezone.localdate():
            self.add_error("paid_on", _("A payment cannot be dated in the future."))
        if data.get("amount_paid") is None:
            data["amount_paid"] = 0
        return data


RECORD_STATES = [
    ("", _("Any")),
    ("on_time", _("On time")),
    ("late", _("Paid late")),
    ("unpaid", _("Not paid")),
    ("disputed", _("Under dispute")),
]


class RecordFilterForm(forms.Form):
    """Filters of the reporter's record list (GET: nothing personal in them)."""

    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *PaymentKind.choices]
    )
    state = forms.ChoiceField(label=_("State"), required=False, choices=RECORD_STATES)


class DisputeResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=Dispute.Outcome.choices,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("What you found"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The resident sees this. Say what you checked and why."),
    )
    paid_on = forms.DateField(
        label=_("Corrected payment date"),
        required=False,
        widget=DateInput(),
        help_text=_("Only when the outcome is “Corrected”."),
    )
    amount_paid = MoneyField(
        label=_("Corrected amount paid ($)"),
        required=False,
        help_text=_("Only when the outcome is “Corrected”."),
    )

    def clean(self):
        data = super().clean()
        corrected = data.get("outcome") == Dispute.Outcome.CORRECTED
        if corrected and data.get("paid_on") is None and data.get("amount_paid") is None:
            self.add_error("paid_on", _("Enter the corrected payment date, amount paid, or both."))
        return data


class PaymentPaidForm(forms.Form):
    """An unpaid bill was paid (on a record's page)."""

    paid_on = forms.DateField(label=_("Paid on"), widget=DateInput())
    amount_paid = MoneyField(label=_("Amount paid ($)"))

    def clean_paid_on(self):
        value = self.cleaned_data["paid_on"]
        if value > timezone.localdate():
            raise ValidationError(_("A payment cannot be dated in the future."))
        return value


class CircleCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the circle"),
        max_length=120,
        help_text=_("For example “Spring savings circle”. Members see it."),
    )
    monthly_contribution = MoneyField(
        label=_("Monthly contribution ($)"), min_value=Decimal("0.01")
    )
    first_due_date = forms.DateField(
        label=_("First contribution due"),
        widget=DateInput(),
        help_text=_("Each later round is due a month later, on the same day."),
    )


class CircleMemberForm(forms.Form):
    city_id = CityIdField(label=_("New member's city ID"))
    payout_position = forms.IntegerField(
        label=_("Payout position (optional)"),
        required=False,
        min_value=1,
        max_value=100,
        help_text=_("1 receives the pot in round 1. Leave empty for the next position."),
    )


class CircleContributionForm(PaymentPaidForm):
    """Which member paid which round's contribution (on the circle's page)."""

    member = forms.TypedChoiceField(label=_("Member"), coerce=int)
    round = forms.TypedChoiceField(label=_("Round"), coerce=int)
    field_order = ["member", "round", "paid_on", "amount_paid"]

    def __init__(self, *args, members: list[tuple[int, str]], rounds: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = members
        self.fields["round"].choices = [(n, str(n)) for n in range(1, rounds + 1)]
        self.fields["amount_paid"].required = False
        self.fields["amount_paid"].help_text = _("Leave empty for the full contribution.")


class CirclePayoutForm(forms.Form):
    round = forms.TypedChoiceField(label=_("Round"), coerce=int)
    paid_on = forms.DateField(label=_("Paid on"), widget=DateInput())

    def __init__(self, *args, rounds: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].choices = [(n, str(n)) for n in range(1, rounds + 1)]

    def clean_paid_on(self):
        value = self.cleaned_data["paid_on"]
        if value > timezone.localdate():
            raise ValidationError(_("A payout cannot be dated in the future."))
        return value


# --- residents ---------------------------------------------------------------------------


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong with this record?"),
        max_length=2000,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "For example: “I paid on March 1, I have the receipt.” The organization must "
            "look into it; until then the record does not count in your score."
        ),
    )


class BureauOptInForm(forms.Form):
    address_line_1 = forms.CharField(label=_("Street address"), max_length=120)
    address_line_2 = forms.CharField(
        label=_("Apartment, unit (optional)"), max_length=60, required=False
    )
    city = forms.CharField(label=_("City"), max_length=60)
    state = forms.CharField(
        label=_("State"),
        max_length=2,
        min_length=2,
        help_text=_("Two letters, for example TX."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 3}),
    )
    zip_code = forms.CharField(
        label=_("ZIP code"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 10}),
    )

    def clean_state(self):
        value = self.cleaned_data["state"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValidationError(_("Enter the state's two-letter code, for example TX."))
        return value

    def clean_zip_code(self):
        value = self.cleaned_data["zip_code"].strip()
        if not re.fullmatch(r"\d{5}(-?\d{4})?", value):
            raise ValidationError(_("Enter a 5-digit ZIP code (or ZIP+4)."))
        return value.replace("-", "")


class ShareLinkForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("The link works for"), choices=SHARE_DAYS, coerce=int, initial=7
    )


# --- public verification -----------------------------------------------------------------


class VerifyStartForm(forms.Form):
    code = forms.CharField(
        label=_("Report code"),
        max_length=100,
        help_text=_(
            "Printed under the QR code on the report: the report number (like "
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427) or its 64-character SHA-256 fingerprint."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}
        ),
    )

    def clean_code(self) -> str:
        value = "".join(self.cleaned_data["code"].split()).lower()
        if SHA256_HEX.match(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValidationError(
                _(
                    "A report code is the report number (32 letters and digits, with or "
                    "without hyphens) or a 64-character fingerprint."
                )
            ) from None


class ReportCopyForm(forms.Form):
    """A machine-readable copy of a report, to check that nothing in it was changed."""

    copy = forms.FileField(
        label=_("Machine-readable copy of the report (.json)"),
        help_text=_("The file the resident downloaded with the report. It is checked, not kept."),
        widget=forms.FileInput(attrs={"accept": "application/json,.json"}),
    )

    def clean_copy(self) -> bytes:
        upload = self.cleaned_data["copy"]
        data = upload.read(MAX_REPORT_COPY_BYTES + 1)
        if len(data) > MAX_REPORT_COPY_BYTES:
            raise ValidationError(_("This file is too big to be a report (the limit is 512 KB)."))
        return data
