"""The shared people and institutions: organizations and the staff who work for them.

Residents (the people served) join this module with the identity issue; every
other app may import `Organization` (and later `Resident`) from here, and
nothing else.
"""

import json
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from citychain.fields import EncryptedBinaryField, EncryptedTextField


class Organization(models.Model):
    class Kind(models.TextChoices):
        SHELTER = "shelter", _("Shelter")
        CLINIC = "clinic", _("Clinic")
        OUTREACH = "outreach", _("Street outreach")
        VICTIM_SERVICES = "victim_services", _("Victim-service provider")
        LANDLORD = "landlord", _("Landlord")
        UTILITY = "utility", _("Utility")
        MICROGRID = "microgrid", _("Microgrid operator")
        LENDING_CIRCLE = "lending_circle", _("Lending circle / community fund")
        CITY_DEPARTMENT = "city_department", _("City department")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    hud_organization_id = models.CharField(
        _("HMIS organization ID"),
        max_length=32,
        blank=True,
        help_text=_("The ID your Continuum of Care's HMIS uses for this organization, if any."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name

    @property
    def is_victim_service_provider(self) -> bool:
        """VAWA: such providers' residents never reach the ledger or client-level exports."""
        return self.kind == self.Kind.VICTIM_SERVICES


class User(AbstractUser):
    """A staff account. Roles are Django groups (see citychain.roles)."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text=_("Where this person works. City admins may belong to none."),
    )

    class Meta:
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")


# --- Residents: the people served ------------------------------------------------
#
# Everything that names or describes a person is encrypted (citychain.fields); the
# database can only match exact values through keyed blind indexes, and partial names
# through keyed prefix tokens (ResidentSearchToken). URLs carry `public_id`, never a
# name, date of birth or city ID.


class DataQuality(models.IntegerChoices):
    """HUD HMIS data-quality codes (lists 3.01.5, 3.02.2, 3.03.2)."""

    FULL = 1, _("Full")
    PARTIAL = 2, _("Partial or approximate")
    CLIENT_DOESNT_KNOW = 8, _("Client doesn't know")
    CLIENT_PREFERS_NOT = 9, _("Client prefers not to answer")
    NOT_COLLECTED = 99, _("Data not collected")


class Resident(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    legal_first_name = EncryptedTextField(_("legal first name"))
    legal_middle_name = EncryptedTextField(_("legal middle name"), null=True, blank=True)
    legal_last_name = EncryptedTextField(_("legal last name"))
    name_suffix = EncryptedTextField(_("suffix"), null=True, blank=True)
    preferred_name = EncryptedTextField(_("preferred name"), null=True, blank=True)
    aliases = EncryptedTextField(_("aliases"), null=True, blank=True)  # one per line
    name_data_quality = models.PositiveSmallIntegerField(
        _("name data quality"), choices=DataQuality.choices, default=DataQuality.FULL
    )
    dob = EncryptedTextField(_("date of birth"), null=True, blank=True)  # ISO date
    dob_data_quality = models.PositiveSmallIntegerField(
        _("date of birth data quality"), choices=DataQuality.choices
    )
    ssn = EncryptedTextField(_("Social Security number"), null=True, blank=True)
    ssn_data_quality = models.PositiveSmallIntegerField(
        _("SSN data quality"), choices=DataQuality.choices
    )
    # gender, sex, race and ethnicity, veteran status, disabling condition (HMIS codes)
    demographics = EncryptedTextField(_("demographics"), default="{}")
    phone = EncryptedTextField(_("phone"), null=True, blank=True)
    email = EncryptedTextField(_("email"), null=True, blank=True)
    notes = EncryptedTextField(_("notes"), null=True, blank=True)
    photo = EncryptedBinaryField(_("photo"), null=True, blank=True)
    photo_type = models.CharField(max_length=32, blank=True)

    # Keyed blind indexes for exact-match search (citychain.crypto.blind_index).
    name_dob_index = models.CharField(max_length=32, db_index=True, blank=True)
    dob_index = models.CharField(max_length=32, db_index=True, blank=True)
    ssn_last4_index = models.CharField(max_length=32, db_index=True, blank=True)

    enrolled_by = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="enrolled_residents"
    )
    # VAWA: enrolled by a victim-service provider; never on the ledger or client-level exports.
    vawa_protected = models.BooleanField(_("protected by VAWA"), default=False)
    kiosk_pin = models.CharField(max_length=128, blank=True)  # a Django password hash
    kiosk_failed_attempts = models.PositiveSmallIntegerField(default=0)
    kiosk_locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("enrolled"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        permissions = [
            ("erase_resident", _("Can erase a resident")),
            ("export_hmis", _("Can export HMIS CSV")),
        ]

    def __str__(self) -> str:
        # Never a name: __str__ ends up in logs and admin history.
        return f"resident {self.public_id}"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        parts = [
            self.legal_first_name,
            self.legal_middle_name,
            self.legal_last_name,
            self.name_suffix,
        ]
        return " ".join(p for p in parts if p)

    @property
    def demographic_data(self) -> dict:
        return json.loads(self.demographics or "{}")

    @cached_property
    def ledger_subject(self) -> str:
        from ledger.services import pseudonym

        return pseudonym("identity.resident", str(self.public_id))


class ResidentSearchToken(models.Model):
    """Keyed tokens of name prefixes, so partial names match without storing names."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="search_tokens")
    token = models.CharField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["token", "resident"], name="identity_token_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["resident", "token"], name="identity_token_unique")
        ]

    def __str__(self) -> str:
        return f"search token of resident #{self.resident_id}"


class CityCard(models.Model):
    """A city ID issued to a resident; a reissue revokes the old one (kept for search)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="cards")
    city_id = EncryptedTextField(_("city ID"))
    city_id_index = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("city ID card")
        verbose_name_plural = _("city ID cards")
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status="active"),
                name="identity_one_active_card",
            )
        ]

    def __str__(self) -> str:
        return f"card #{self.pk} ({self.status})"


class ResidentLink(models.Model):
    """Two records found to be the same person: linked, never merged, and unlinkable."""

    first = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=200)
    unlinked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    unlinked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(first__lt=F("second")), name="identity_link_order"),
            models.UniqueConstraint(
                fields=["first", "second"],
                condition=Q(unlinked_at__isnull=True),
                name="identity_link_once",
            ),
        ]

    def __str__(self) -> str:
        return f"link #{self.pk}"


class RecordCategory(models.TextChoices):
    """What a consent covers. Part 2 records need a consent that names them."""

    IDENTITY = "identity", _("Identity documents")
    MEDICAL = "medical", _("Medical")
    HOUSING = "housing", _("Housing")
    BENEFITS = "benefits", _("Benefits")
    CASE_NOTES = "case_notes", _("Case notes")
    SUBSTANCE_USE = "substance_use", _("Substance-use treatment (42 CFR Part 2)")


class Document(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="documents")
    category = models.CharField(_("category"), max_length=16, choices=RecordCategory.choices)
    title = EncryptedTextField(_("title"))
    content = EncryptedBinaryField(_("file"))
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, db_index=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"document #{self.pk}"


class DocumentAttestation(models.Model):
    """An organization vouched for a file's fingerprint. Kept after erasure: it names no one."""

    sha256 = models.CharField(max_length=64, db_index=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    attested_at = models.DateTimeField()
    ledger_entry = models.ForeignKey("ledger.Entry", on_delete=models.PROTECT, null=True)

    def __str__(self) -> str:
        return f"attestation {self.sha256[:12]}"


class Consent(models.Model):
    """A release of information from a resident to one organization."""

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted (signed)")
        VERBAL = "verbal", _("Granted verbally")
        REFUSED = "refused", _("Refused")
        REVOKED = "revoked", _("Revoked")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="consents")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    categories = models.JSONField(_("categories"), default=list)
    status = models.CharField(max_length=8, choices=Status.choices)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    reason = EncryptedTextField(_("reason or note"), null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["resident", "organization", "status"])]

    def __str__(self) -> str:
        return f"consent #{self.pk} ({self.status})"

    def is_active(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.status in (self.Status.GRANTED, self.Status.VERBAL) and (
            self.expires_on is None or self.expires_on >= today
        )


class AccessEvent(models.Model):
    """The audit trail: who looked at or did what. Append-only (database triggers).

    It refers to the resident by ledger pseudonym, not a foreign key, so erasing the
    resident (and the pseudonym key) leaves the trail intact but unlinkable.
    """

    class Action(models.TextChoices):
        SEARCH = "search", _("Searched")
        VIEW = "view", _("Viewed the record")
        SSN_REVEAL = "ssn_reveal", _("Revealed the SSN")
        DOWNLOAD = "download", _("Downloaded a document")
        EXPORT = "export", _("Exported HMIS data")
        ENROLL = "enroll", _("Enrolled")
        UPDATE = "update", _("Changed the record")
        KIOSK = "kiosk", _("Resident signed in at the kiosk")
        ERASE = "erase", _("Erased a resident")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    subject = models.CharField(max_length=64, blank=True, db_index=True)  # resident pseudonym
    detail = models.CharField(max_length=200, blank=True)  # never personal data

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class Project(models.Model):
    """An HMIS project (a shelter's emergency beds, an outreach team...)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="projects"
    )
    name = models.CharField(_("name"), max_length=200)
    project_type = models.PositiveSmallIntegerField(_("HUD project type"), default=1)

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="enrollments")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="enrollments")
    entry_date = models.DateField(_("entry date"))
    exit_date = models.DateField(_("exit date"), null=True, blank=True)
    destination = models.PositiveSmallIntegerField(_("exit destination"), null=True, blank=True)
    disabling_condition = models.PositiveSmallIntegerField(default=99)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"enrollment #{self.pk}"


class Encounter(models.Model):
    class Kind(models.TextChoices):
        SHELTER_NIGHT = "shelter_night", _("Shelter night")
        MEAL = "meal", _("Meal")
        MEDICAL_VISIT = "medical_visit", _("Medical visit")
        CASE_MANAGEMENT = "case_management", _("Case-management session")
        SHOWER = "shower", _("Shower or hygiene")
        OUTREACH = "outreach", _("Street outreach contact")
        OTHER = "other", _("Other service")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="encounters")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("service"), max_length=20, choices=Kind.choices)
    date = models.DateField(_("date"))
    notes = EncryptedTextField(_("notes"), null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-recorded_at"]

    def __str__(self) -> str:
        return f"encounter #{self.pk}"


class Referral(models.Model):
    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        COMPLETED = "completed", _("Completed")

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="referrals")
    from_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    to_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="referrals_received"
    )
    service = models.CharField(_("service needed"), max_length=120)
    note = EncryptedTextField(_("note"), null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    response_note = EncryptedTextField(_("response"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["to_organization", "status"])]

    def __str__(self) -> str:
        return f"referral #{self.pk} ({self.status})"
