"""Credit building: payment records and their accounts, disputes, lending circles, bureau
opt-in and reporter policies, issued credit reports and their share links.

Every write goes through ``credit.services`` (which attests it on the ledger in the same
transaction); every read the pages and the API need is in ``credit.selectors``. The score
itself is pure code in ``credit.score``, the Metro 2 format in ``credit.metro2``, and the
report's canonical bytes and hash in ``credit.report``.

What is personal here is encrypted (citychain.fields): a dispute's explanation, the
mailing address a resident gives when opting in to bureau reporting, and an issued
report's content (it names the resident). URLs carry ``public_id`` UUIDs only.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from citychain.fields import EncryptedTextField
from credit import metro2
from credit.score import PaymentKind as ScoreKind


class PaymentKind(models.TextChoices):
    """The kinds of payments (the values of credit.score.PaymentKind)."""

    RENT = ScoreKind.RENT.value, _("Rent")
    UTILITY = ScoreKind.UTILITY.value, _("Utility bill")
    ENERGY = ScoreKind.ENERGY.value, _("Energy bill")
    LENDING_CIRCLE = ScoreKind.LENDING_CIRCLE.value, _("Lending-circle contribution")
    OTHER = ScoreKind.OTHER.value, _("Other bill")


class Account(models.Model):
    """A tradeline: one obligation of one resident to one reporter (a lease, a utility
    account, a lending-circle membership). Created by the first payment recorded on it.

    ``reference`` is the reporter's own account reference (unique per reporter); it may
    describe a unit, so it never leaves the server except to that reporter.
    """

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    reporter = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("reporter"),
        on_delete=models.PROTECT,
        related_name="credit_accounts",
    )
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="credit_accounts",
    )
    reference = models.CharField(_("account reference"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=PaymentKind.choices)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    # Installment accounts (lending circles): the number of monthly payments; Open: null.
    terms_months = models.PositiveSmallIntegerField(_("term in months"), null=True, blank=True)
    scheduled_payment_cents = models.BigIntegerField(_("scheduled monthly payment (cents)"))
    # Installment accounts: the amount the resident receives (Metro 2 "original loan amount").
    original_amount_cents = models.BigIntegerField(_("original amount (cents)"), default=0)
    first_furnished_at = models.DateTimeField(
        _("first furnished to bureaus"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["reporter", "opened_on", "id"]
        verbose_name = _("credit account")
        verbose_name_plural = _("credit accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "reference"], name="credit_account_reference_unique"
            ),
            models.CheckConstraint(
                condition=Q(scheduled_payment_cents__gte=0) & Q(original_amount_cents__gte=0),
                name="credit_account_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PaymentKind.values), name="credit_account_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"account {self.public_id}"

    @property
    def metro2_type(self) -> tuple[str, str] | None:
        """(portfolio type, account type) for Metro 2, or None for kinds never furnished."""
        found = metro2.ACCOUNT_FOR_KIND.get(self.kind)
        return (found[0].value, found[1]) if found else None


class PaymentRecord(models.Model):
    """One bill of one account and how it was paid, as the reporter attested it.

    ``reported_digest`` is the SHA-256 of the values as first reported (what makes a
    repeated report idempotent); ``digest`` of the values now (after a payment or a
    dispute's correction). Both digests go on the ledger, never the values' owner.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DELETED = "deleted", _("Deleted after a dispute")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="payments"
    )
    # Denormalized from the account: the unique constraint and the scoring scan need them.
    reporter = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("reporter"),
        on_delete=models.PROTECT,
        related_name="credit_payments",
    )
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="credit_payments",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PaymentKind.choices)
    reference = models.CharField(_("reference"), max_length=100)
    due_date = models.DateField(_("due date"))
    amount_due_cents = models.BigIntegerField(_("amount due (cents)"))
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    amount_paid_cents = models.BigIntegerField(_("amount paid (cents)"), default=0)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    # True while a dispute about it is open or being investigated (kept by the services).
    in_dispute = models.BooleanField(_("under dispute"), default=False)
    reported_digest = models.CharField(_("digest as reported"), max_length=64)
    digest = models.CharField(_("digest"), max_length=64)
    ledger_entry = models.ForeignKey(
        "ledger.Entry",
        verbose_name=_("attestation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-due_date", "-id"]
        verbose_name = _("payment record")
        verbose_name_plural = _("payment records")
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "reference"], name="credit_payment_reference_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount_due_cents__gte=0) & Q(amount_paid_cents__gte=0),
                name="credit_payment_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(paid_on__isnull=False) | Q(amount_paid_cents=0),
                name="credit_payment_paid_needs_date",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PaymentKind.values), name="credit_payment_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "due_date"], name="credit_payment_resident"),
            models.Index(fields=["account", "due_date"], name="credit_payment_account"),
        ]

    def __str__(self) -> str:
        return f"payment {self.public_id}"

    @property
    def is_paid(self) -> bool:
        return self.paid_on is not None and bool(
            self.amount_paid_cents or not self.amount_due_cents
        )

    def standing(self, as_of: date) -> str:
        """As the scorecard sees it on `as_of`: "not_due", "on_time", "late" (paid after
        the due date) or "overdue" (due before `as_of` and still unpaid then)."""
        if self.paid_on is not None and self.paid_on <= as_of and self.is_paid:
            return "on_time" if self.paid_on <= self.due_date else "late"
        return "overdue" if self.due_date < as_of else "not_due"

    @property
    def days_late(self) -> int | None:
        """Days after the due date it was paid (0 if on time); None while unpaid."""
        if not self.is_paid:
            return None
        return max(0, (self.paid_on - self.due_date).days)


class Dispute(models.Model):
    """A resident says a payment record is wrong. open → investigating → resolved."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        INVESTIGATING = "investigating", _("Being investigated")
        RESOLVED = "resolved", _("Resolved")

    class Outcome(models.TextChoices):
        CORRECTED = "corrected", _("Corrected")
        UPHELD = "upheld", _("Record upheld as reported")
        DELETED = "deleted", _("Record deleted")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(
        PaymentRecord, verbose_name=_("payment"), on_delete=models.CASCADE, related_name="disputes"
    )
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="credit_disputes",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    reason = EncryptedTextField(_("what is wrong"))
    resolution_note = EncryptedTextField(_("resolution"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the resident opened it themselves."),
    )
    investigating_at = models.DateTimeField(_("investigation started"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution_entry = models.ForeignKey(
        "ledger.Entry",
        verbose_name=_("resolution on the ledger"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(status__in=["open", "investigating"]),
                name="credit_dispute_one_open",
            ),
            models.CheckConstraint(
                condition=(Q(status="resolved") & ~Q(outcome="") & Q(resolved_at__isnull=False))
                | (~Q(status="resolved") & Q(outcome="")),
                name="credit_dispute_outcome_when_resolved",
            ),
        ]

    def __str__(self) -> str:
        return f"dispute {self.public_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class LendingCircle(models.Model):
    """A rotating savings circle run by a community fund: every member pays the monthly
    contribution each round, and one member (in payout order) receives the pot."""

    class Status(models.TextChoices):
        FORMING = "forming", _("Forming")
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("run by"),
        on_delete=models.PROTECT,
        related_name="lending_circles",
    )
    name = models.CharField(_("name"), max_length=120)
    monthly_contribution_cents = models.BigIntegerField(_("monthly contribution (cents)"))
    first_due_date = models.DateField(
        _("first contribution due"),
        help_text=_("Round 1's contributions are due this day; each later round a month later."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.FORMING
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lending circle")
        verbose_name_plural = _("lending circles")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="credit_circle_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(monthly_contribution_cents__gt=0),
                name="credit_circle_contribution_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CircleMember(models.Model):
    circle = models.ForeignKey(
        LendingCircle, verbose_name=_("circle"), on_delete=models.CASCADE, related_name="members"
    )
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="circle_memberships",
    )
    payout_position = models.PositiveSmallIntegerField(
        _("payout position"), help_text=_("1 receives the pot in round 1, 2 in round 2, …")
    )
    account = models.OneToOneField(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="circle_member",
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        ordering = ["circle", "payout_position"]
        verbose_name = _("circle member")
        verbose_name_plural = _("circle members")
        constraints = [
            models.UniqueConstraint(
                fields=["circle", "resident"], name="credit_circle_member_once"
            ),
            models.UniqueConstraint(
                fields=["circle", "payout_position"], name="credit_circle_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(payout_position__gte=1), name="credit_circle_position_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"member #{self.pk} (position {self.payout_position})"


class CircleContribution(models.Model):
    """One member's contribution for one round: a payment record of kind lending_circle,
    scheduled when the circle starts, unpaid (and so late once overdue) until recorded."""

    member = models.ForeignKey(
        CircleMember,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="contributions",
    )
    round = models.PositiveSmallIntegerField(_("round"))
    payment = models.OneToOneField(
        PaymentRecord,
        verbose_name=_("payment"),
        on_delete=models.CASCADE,
        related_name="circle_contribution",
    )

    class Meta:
        ordering = ["round", "member"]
        verbose_name = _("circle contribution")
        verbose_name_plural = _("circle contributions")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "round"], name="credit_contribution_once_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"contribution round {self.round} of member #{self.member_id}"


class CirclePayout(models.Model):
    """The pot paid to the member whose turn the round is."""

    circle = models.ForeignKey(
        LendingCircle, verbose_name=_("circle"), on_delete=models.CASCADE, related_name="payouts"
    )
    member = models.ForeignKey(
        CircleMember, verbose_name=_("member"), on_delete=models.CASCADE, related_name="payouts"
    )
    round = models.PositiveSmallIntegerField(_("round"))
    amount_cents = models.BigIntegerField(_("amount (cents)"))
    paid_on = models.DateField(_("paid on"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["circle", "round"]
        verbose_name = _("circle payout")
        verbose_name_plural = _("circle payouts")
        constraints = [
            models.UniqueConstraint(fields=["circle", "round"], name="credit_payout_once"),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0), name="credit_payout_amount_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"payout round {self.round} of {self.circle_id}"


class ReporterPolicy(models.Model):
    """How one reporting organization furnishes to the credit bureaus."""

    class Policy(models.TextChoices):
        POSITIVE_ONLY = metro2.ReportingPolicy.POSITIVE_ONLY.value, _("Positive only")
        FULL_FILE = metro2.ReportingPolicy.FULL_FILE.value, _("Full file")

    organization = models.OneToOneField(
        "identity.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="credit_policy",
    )
    policy = models.CharField(
        _("bureau reporting policy"),
        max_length=16,
        choices=Policy.choices,
        default=Policy.POSITIVE_ONLY,
    )
    furnisher_id = models.CharField(
        _("Metro 2 identification number"),
        max_length=20,
        blank=True,
        help_text=_("Assigned by the bureaus; needed before anything is furnished."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("reporter policy")
        verbose_name_plural = _("reporter policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(policy__in=["positive_only", "full_file"]),
                name="credit_policy_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.policy}"


class BureauConsent(models.Model):
    """A resident's opt-in to having their rent and lending-circle accounts furnished to
    the credit bureaus, with the mailing address they gave for it. Revocable: a revoked
    consent is kept (history); at most one is active per resident."""

    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="bureau_consents",
    )
    address_line_1 = EncryptedTextField(_("address"))
    address_line_2 = EncryptedTextField(_("apartment, unit"), null=True, blank=True)
    city = EncryptedTextField(_("city"))
    state = EncryptedTextField(_("state"))
    zip_code = EncryptedTextField(_("ZIP code"))
    granted_at = models.DateTimeField(_("opted in"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the resident opted in themselves."),
    )

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = _("bureau reporting consent")
        verbose_name_plural = _("bureau reporting consents")
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(revoked_at__isnull=True),
                name="credit_one_active_bureau_consent",
            )
        ]

    def __str__(self) -> str:
        return f"bureau consent #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CreditReport(models.Model):
    """An issued report: a frozen snapshot of the resident's history and score.

    ``content`` is the report's canonical JSON (credit.report), encrypted because it names
    the resident; ``sha256`` is its hash, recorded on the ledger in a public entry so
    anyone holding the report can check it. A newer report supersedes the older ones.
    """

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="credit_reports",
    )
    issued_at = models.DateTimeField(_("issued"))
    as_of = models.DateField(_("as of"))
    content = EncryptedTextField(_("content (canonical JSON)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    ledger_entry = models.OneToOneField(
        "ledger.Entry",
        verbose_name=_("ledger entry"),
        on_delete=models.PROTECT,
        related_name="credit_report",
    )
    superseded_at = models.DateTimeField(_("superseded"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the resident issued it themselves."),
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("credit report")
        verbose_name_plural = _("credit reports")
        indexes = [models.Index(fields=["resident", "issued_at"], name="credit_report_resident")]

    def __str__(self) -> str:
        return f"report {self.public_id}"

    @property
    def is_superseded(self) -> bool:
        return self.superseded_at is not None


class ShareLink(models.Model):
    """A link that shows one report to whoever holds it, until it expires or is revoked.

    The token is signed (django.core.signing) and only its SHA-256 is stored, so a
    database leak does not leak working links."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    report = models.ForeignKey(
        CreditReport, verbose_name=_("report"), on_delete=models.CASCADE, related_name="links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("share link")
        verbose_name_plural = _("share links")

    def __str__(self) -> str:
        return f"share link {self.public_id}"
