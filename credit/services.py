"""Every write of the credit app.

Invariants:
- A payment record is attested on the ledger in the transaction that stores it
  (``credit.payment_attested``, private: the resident's pseudonym, the reporter's public
  code, a SHA-256 digest of the record, amounts and dates; never a name or the reporter's
  account reference). A change (paid later, corrected by a dispute) is attested too.
- ``record_payment`` is idempotent on (reporter, reference): the same values return the
  same record and write nothing; other values raise PaymentConflict. A batch is stored
  whole or not at all (BatchRejected lists every bad row).
- A payment under an open dispute is left out of the score (``in_dispute``), and a
  dispute ends in exactly one outcome — corrected, upheld or deleted — on the ledger.
- Lending circles schedule every member's contributions as payment records when they
  start, so a contribution not recorded by its due date shows as late, like any bill.
- Nothing is furnished to the bureaus without the resident's active opt-in; each
  reporter's policy (positive only or full file) decides what of theirs is furnished.
- An issued report is a frozen snapshot whose SHA-256 is on the ledger (public entry);
  issuing a new one supersedes the older ones. Share links are signed, stored as a hash,
  expire, and can be revoked.
- Residents protected by VAWA never reach the ledger under their pseudonym (as in
  identity); their records are stored and scored but not attested.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citychain import roles
from credit import metro2
from credit import report as report_format
from credit.models import (
    Account,
    BureauConsent,
    CircleContribution,
    CircleMember,
    CirclePayout,
    CreditReport,
    Dispute,
    LendingCircle,
    PaymentKind,
    PaymentRecord,
    ReporterPolicy,
    ShareLink,
)
from credit.score import KINDS
from identity.models import Organization, Resident, User
from ledger import canonical
from ledger import services as ledger

REPORTER_KINDS = frozenset(
    {
        Organization.Kind.LANDLORD,
        Organization.Kind.UTILITY,
        Organization.Kind.MICROGRID,
        Organization.Kind.LENDING_CIRCLE,
        Organization.Kind.CITY_DEPARTMENT,
    }
)
MAX_BATCH_ROWS = 1000
MAX_REFERENCE_LENGTH = 100
MAX_ACCOUNT_REFERENCE_LENGTH = 64
MAX_AMOUNT_CENTS = 10_000_000_00  # $10 million: no rent or bill is larger; catches typos
MAX_REASON_LENGTH = 2000
SHARE_LINK_DEFAULT_DAYS = 30
SHARE_LINK_MAX_DAYS = 90
SHARE_LINK_SALT = "credit.share-link"
PAYMENT_DIGEST_FORMAT = "citychain.credit-payment/1"


class PaymentConflict(ValueError):
    """The reporter already recorded this reference with other values (or the account
    reference belongs to another resident or kind). Nothing was changed."""


class BatchRejected(ValueError):
    """A batch with at least one bad row: nothing was stored. ``errors`` is a list of
    ``{"row": index, "reference": ..., "errors": {field: [messages]}}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(
            ngettext(
                "The batch was refused: %(count)d bad row; nothing was stored.",
                "The batch was refused: %(count)d bad rows; nothing was stored.",
                len(errors),
            )
            % {"count": len(errors)}
        )


# --- helpers -----------------------------------------------------------------------------


def org_ref(organization: Organization) -> str:
    """Organizations are institutions, not people: their public code is their id."""
    return f"org-{organization.pk}"


def _record(resident: Resident, kind: str, data: dict[str, Any]):
    if resident.vawa_protected:
        return None  # VAWA: a victim-service provider's clients never reach the ledger
    return ledger.record(kind, resident.ledger_subject, data)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical.canonical_json(value)).hexdigest()


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _is_city_admin(user: User | None) -> bool:
    return user is not None and roles.has_role(user, roles.CITY_ADMIN)


def _require_reporter_staff(acting_user: User | None, organization: Organization) -> None:
    """Staff of an organization act only for it; city admins for any. None: the system or
    the resident. An account of no organization (a microgrid member paying their own bill
    through energy's services) is the payer, not a reporter, and is let through: the
    portal and API gate reporters by role before any service is called."""
    if acting_user is None or _is_city_admin(acting_user):
        return
    if acting_user.organization_id is not None and acting_user.organization_id != organization.pk:
        raise PermissionDenied(_("You can act only for your own organization's records."))


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _amount(value: Any, field: str, errors: dict[str, list[str]]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(field, []).append(_("Give a whole number of cents."))
        return 0
    if value < 0:
        errors.setdefault(field, []).append(_("An amount cannot be negative."))
    elif value > MAX_AMOUNT_CENTS:
        errors.setdefault(field, []).append(_("The amount is too large (over $10,000,000)."))
    return value


# --- payment records ---------------------------------------------------------------------


@dataclass(frozen=True)
class _PaymentValues:
    kind: str
    account_reference: str
    reference: str
    due_date: date
    amount_due_cents: int
    paid_on: date | None
    amount_paid_cents: int


def _clean_payment(
    *,
    reporter: Organization,
    kind: Any,
    account_reference: Any,
    reference: Any,
    due_date: Any,
    amount_due_cents: Any,
    paid_on: Any,
    amount_paid_cents: Any,
) -> _PaymentValues:
    """Validate one payment's values; raise ValidationError with every problem found."""
    errors: dict[str, list[str]] = {}
    if reporter.kind not in REPORTER_KINDS or not reporter.is_active:
        errors.setdefault("reporter", []).append(
            _("Only active landlords, utilities, microgrids and lending circles report payments.")
        )
    if kind not in KINDS:
        errors.setdefault("kind", []).append(
            _("Unknown kind of payment; use one of: %(kinds)s.")
            % {"kinds": ", ".join(sorted(KINDS))}
        )
    texts = {}
    for field, value, limit in (
        ("account_reference", account_reference, MAX_ACCOUNT_REFERENCE_LENGTH),
        ("reference", reference, MAX_REFERENCE_LENGTH),
    ):
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            errors.setdefault(field, []).append(_("This reference is required."))
        elif len(text) > limit:
            errors.setdefault(field, []).append(
                _("At most %(limit)d characters.") % {"limit": limit}
            )
        texts[field] = text
    if not isinstance(due_date, date) or isinstance(due_date, datetime):
        errors.setdefault("due_date", []).append(_("Give the due date as a date."))
    if paid_on is not None and (not isinstance(paid_on, date) or isinstance(paid_on, datetime)):
        errors.setdefault("paid_on", []).append(_("Give the payment date as a date."))
        paid_on = None
    due = _amount(amount_due_cents, "amount_due_cents", errors)
    paid = _amount(amount_paid_cents, "amount_paid_cents", errors)
    if paid_on is not None and paid_on > timezone.localdate():
        errors.setdefault("paid_on", []).append(_("The payment date is in the future."))
    if paid_on is None and paid:
        errors.setdefault("paid_on", []).append(_("Give the date the amount was paid."))
    if errors:
        raise ValidationError(errors)
    return _PaymentValues(
        kind=kind,
        account_reference=texts["account_reference"],
        reference=texts["reference"],
        due_date=due_date,
        amount_due_cents=due,
        paid_on=paid_on,
        amount_paid_cents=paid,
    )


def payment_digest(
    *,
    resident: Resident,
    reporter: Organization,
    account_reference: str,
    reference: str,
    kind: str,
    due_date: date,
    amount_due_cents: int,
    paid_on: date | None,
    amount_paid_cents: int,
) -> str:
    """SHA-256 of a payment's values (JCS). The resident's random public id is part of it,
    so the digest on the ledger cannot be matched by guessing amounts and dates."""
    return _sha256(
        {
            "format": PAYMENT_DIGEST_FORMAT,
            "resident": str(resident.public_id),
            "reporter": org_ref(reporter),
            "account": account_reference,
            "reference": reference,
            "kind": kind,
            "due": due_date.isoformat(),
            "amount_due_cents": amount_due_cents,
            "paid_on": _iso(paid_on),
            "amount_paid_cents": amount_paid_cents,
        }
    )


def _current_digest(payment: PaymentRecord) -> str:
    return payment_digest(
        resident=payment.resident,
        reporter=payment.reporter,
        account_reference=payment.account.reference,
        reference=payment.reference,
        kind=payment.kind,
        due_date=payment.due_date,
        amount_due_cents=payment.amount_due_cents,
        paid_on=payment.paid_on,
        amount_paid_cents=payment.amount_paid_cents,
    )


def _payment_data(payment: PaymentRecord) -> dict[str, Any]:
    return {
        "payment": str(payment.public_id),
        "reporter": org_ref(payment.reporter),
        "kind": payment.kind,
        "digest": payment.digest,
        "due": payment.due_date.isoformat(),
        "amount_due_cents": payment.amount_due_cents,
        "paid_on": _iso(payment.paid_on),
        "amount_paid_cents": payment.amount_paid_cents,
        "status": payment.status,
    }


def _account_for(*, reporter: Organization, resident: Resident, values: _PaymentValues) -> Account:
    account = (
        Account.objects.select_for_update()
        .filter(reporter=reporter, reference=values.account_reference)
        .first()
    )
    if account is None:
        account = Account(
            reporter=reporter,
            resident=resident,
            reference=values.account_reference,
            kind=values.kind,
            opened_on=values.due_date,
            scheduled_payment_cents=values.amount_due_cents,
        )
        # Uniqueness is left to the database (IntegrityError below): a check here could
        # race a concurrent insert and refuse what is really a repeat.
        account.full_clean(exclude=["resident", "reporter"], validate_constraints=False)
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError:  # created by a concurrent call: use that one
            account = Account.objects.select_for_update().get(
                reporter=reporter, reference=values.account_reference
            )
    if account.resident_id != resident.pk:
        raise PaymentConflict(
            _("Account %(account)s belongs to another resident.")
            % {"account": values.account_reference}
        )
    if account.kind != values.kind:
        raise PaymentConflict(
            _("Account %(account)s holds %(kind)s payments, not %(other)s.")
            % {"account": values.account_reference, "kind": account.kind, "other": values.kind}
        )
    changed = []
    if values.due_date < account.opened_on:
        account.opened_on = values.due_date
        changed.append("opened_on")
    latest = account.payments.order_by("-due_date").values_list("due_date", flat=True).first()
    is_latest = latest is None or values.due_date >= latest
    if is_latest and account.scheduled_payment_cents != values.amount_due_cents:
        account.scheduled_payment_cents = values.amount_due_cents
        changed.append("scheduled_payment_cents")
    if changed:
        account.save(update_fields=changed)
    return account


@transaction.atomic
def record_payment(
    *,
    reporter: Organization,
    resident: Resident,
    kind: str,
    account_reference: str,
    reference: str,
    due_date: date,
    amount_due_cents: int,
    paid_on: date | None,
    amount_paid_cents: int,
    acting_user: User | None = None,
) -> PaymentRecord:
    """Record (and attest on the ledger) one payment a reporter vouches for.

    Idempotent on (reporter, reference): the same values return the stored record and
    write nothing; other values raise PaymentConflict. Bad values raise ValidationError.
    """
    _require_reporter_staff(acting_user, reporter)
    values = _clean_payment(
        reporter=reporter,
        kind=kind,
        account_reference=account_reference,
        reference=reference,
        due_date=due_date,
        amount_due_cents=amount_due_cents,
        paid_on=paid_on,
        amount_paid_cents=amount_paid_cents,
    )
    digest = payment_digest(resident=resident, reporter=reporter, **values.__dict__)
    existing = _existing_payment(reporter, values.reference)
    if existing is not None:
        return _same_or_conflict(existing, digest)
    account = _account_for(reporter=reporter, resident=resident, values=values)
    payment = PaymentRecord(
        account=account,
        reporter=reporter,
        resident=resident,
        kind=values.kind,
        reference=values.reference,
        due_date=values.due_date,
        amount_due_cents=values.amount_due_cents,
        paid_on=values.paid_on,
        amount_paid_cents=values.amount_paid_cents,
        reported_digest=digest,
        digest=digest,
        recorded_by=acting_user,
    )
    payment.full_clean(
        exclude=["account", "reporter", "resident", "recorded_by", "ledger_entry"],
        validate_constraints=False,  # the database decides uniqueness, see below
    )
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        # The same reference stored by a concurrent call since we looked.
        existing = _existing_payment(reporter, values.reference)
        if existing is None:
            raise
        return _same_or_conflict(existing, digest)
    payment.ledger_entry = _record(resident, "credit.payment_attested", _payment_data(payment))
    if payment.ledger_entry is not None:
        payment.save(update_fields=["ledger_entry"])
    return payment


def _existing_payment(reporter: Organization, reference: str) -> PaymentRecord | None:
    return (
        PaymentRecord.objects.select_related("account")
        .filter(reporter=reporter, reference=reference)
        .first()
    )


def _same_or_conflict(existing: PaymentRecord, digest: str) -> PaymentRecord:
    if existing.reported_digest == digest:
        return existing
    raise PaymentConflict(
        _(
            "Payment %(reference)s was already recorded with other values; nothing was "
            "changed. Use a new reference for a new payment."
        )
        % {"reference": existing.reference}
    )


@dataclass(frozen=True)
class BatchRow:
    """One row of a bulk report, as the API parsed it (resident by public id)."""

    resident: str
    kind: str
    account_reference: str
    reference: str
    due_date: date
    amount_due_cents: int
    paid_on: date | None = None
    amount_paid_cents: int = 0


@dataclass(frozen=True)
class BatchResult:
    payment: PaymentRecord
    created: bool


@transaction.atomic
def payments_record_batch(
    *, reporter: Organization, rows: list[BatchRow], acting_user: User | None = None
) -> list[BatchResult]:
    """Record many payments as one: every row stored (or found unchanged), or none.

    Raises BatchRejected with each bad row's errors (unknown resident, bad values, a
    conflicting reference) and stores nothing.
    """
    _require_reporter_staff(acting_user, reporter)
    if not rows:
        raise ValidationError(_("The batch is empty."))
    if len(rows) > MAX_BATCH_ROWS:
        raise ValidationError(
            _("At most %(limit)d payments per batch.") % {"limit": MAX_BATCH_ROWS}
        )
    ids = {row.resident for row in rows}
    residents = {str(r.public_id): r for r in Resident.objects.filter(public_id__in=ids)}
    known = set(
        PaymentRecord.objects.filter(
            reporter=reporter, reference__in=[row.reference.strip() for row in rows]
        ).values_list("reference", flat=True)
    )
    errors: list[dict[str, Any]] = []
    results: list[BatchResult] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        problems: dict[str, list[str]] = {}
        resident = residents.get(str(row.resident))
        reference = row.reference.strip()
        if resident is None:
            problems["resident"] = [_("No resident has this id.")]
        if reference in seen:
            problems["reference"] = [
                _("The same reference is also in row %(row)d.") % {"row": seen[reference]}
            ]
        seen.setdefault(reference, index)
        if not problems:
            try:
                with transaction.atomic():
                    payment = record_payment(
                        reporter=reporter,
                        resident=resident,
                        kind=row.kind,
                        account_reference=row.account_reference,
                        reference=row.reference,
                        due_date=row.due_date,
                        amount_due_cents=row.amount_due_cents,
                        paid_on=row.paid_on,
                        amount_paid_cents=row.amount_paid_cents,
                        acting_user=acting_user,
                    )
                results.append(BatchResult(payment, created=reference not in known))
            except ValidationError as exc:
                problems = (
                    exc.message_dict
                    if hasattr(exc, "error_dict")
                    else {"non_field_errors": exc.messages}
                )
            except PaymentConflict as exc:
                problems = {"reference": [str(exc)]}
        if problems:
            errors.append({"row": index, "reference": reference, "errors": problems})
    if errors:
        raise BatchRejected(errors)
    return results


@transaction.atomic
def payment_mark_paid(
    *,
    payment: PaymentRecord,
    paid_on: date,
    amount_paid_cents: int,
    acting_user: User | None = None,
) -> PaymentRecord:
    """Record that an unpaid bill was paid (attested as an update on the ledger)."""
    payment = (
        PaymentRecord.objects.select_for_update()
        .select_related("account", "reporter", "resident")
        .get(pk=payment.pk)
    )
    _require_reporter_staff(acting_user, payment.reporter)
    if payment.status != PaymentRecord.Status.ACTIVE:
        raise ValidationError(_("This payment record was deleted after a dispute."))
    if payment.is_paid:
        raise ValidationError(_("This bill is already recorded as paid."))
    errors: dict[str, list[str]] = {}
    paid = _amount(amount_paid_cents, "amount_paid_cents", errors)
    if not isinstance(paid_on, date):
        errors.setdefault("paid_on", []).append(_("Give the payment date as a date."))
    elif paid_on > timezone.localdate():
        errors.setdefault("paid_on", []).append(_("The payment date is in the future."))
    if not errors and paid == 0 and payment.amount_due_cents:
        errors.setdefault("amount_paid_cents", []).append(_("Give the amount paid."))
    if errors:
        raise ValidationError(errors)
    payment.paid_on, payment.amount_paid_cents = paid_on, paid
    payment.digest = _current_digest(payment)
    payment.full_clean(exclude=["account", "reporter", "resident", "recorded_by", "ledger_entry"])
    payment.save(update_fields=["paid_on", "amount_paid_cents", "digest", "updated_at"])
    _record(
        payment.resident,
        "credit.payment_updated",
        {**_payment_data(payment), "change": "paid"},
    )
    return payment


# --- disputes ----------------------------------------------------------------------------


def _dispute_data(dispute: Dispute, **extra: Any) -> dict[str, Any]:
    return {
        "dispute": str(dispute.public_id),
        "payment": str(dispute.payment.public_id),
        "reporter": org_ref(dispute.payment.reporter),
        "status": dispute.status,
        **extra,
    }


@transaction.atomic
def dispute_open(
    *, payment: PaymentRecord, reason: str, acting_user: User | None = None
) -> Dispute:
    """A resident disputes a record. The record leaves the score until it is resolved.

    ``acting_user`` is None when the resident opens it at the kiosk; staff may open one
    on a resident's behalf (a caseworker, the reporter, a city admin).
    """
    payment = (
        PaymentRecord.objects.select_for_update()
        .select_related("reporter", "resident")
        .get(pk=payment.pk)
    )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say what is wrong with this payment record.")})
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            {"reason": _("At most %(limit)d characters.") % {"limit": MAX_REASON_LENGTH}}
        )
    if payment.status != PaymentRecord.Status.ACTIVE:
        raise ValidationError(_("This payment record was already deleted."))
    if (
        payment.in_dispute
        or payment.disputes.filter(
            status__in=[Dispute.Status.OPEN, Dispute.Status.INVESTIGATING]
        ).exists()
    ):
        raise ValidationError(_("This payment record is already under dispute."))
    dispute = Dispute(
        payment=payment, resident=payment.resident, reason=reason, opened_by=acting_user
    )
    dispute.full_clean(exclude=["payment", "resident", "opened_by", "resolution_entry"])
    dispute.save()
    payment.in_dispute = True
    payment.save(update_fields=["in_dispute", "updated_at"])
    _record(payment.resident, "credit.dispute_opened", _dispute_data(dispute))
    return dispute


@transaction.atomic
def dispute_investigate(*, dispute: Dispute, acting_user: User | None) -> Dispute:
    """The reporter (or a city admin) starts investigating an open dispute."""
    dispute = (
        Dispute.objects.select_for_update()
        .select_related("payment__reporter", "resident")
        .get(pk=dispute.pk)
    )
    _require_reporter_staff(acting_user, dispute.payment.reporter)
    if dispute.status != Dispute.Status.OPEN:
        raise ValidationError(_("Only an open dispute can be taken up for investigation."))
    dispute.status, dispute.investigating_at = Dispute.Status.INVESTIGATING, timezone.now()
    dispute.save(update_fields=["status", "investigating_at"])
    return dispute


_UNSET: Any = object()


@transaction.atomic
def dispute_resolve(
    *,
    dispute: Dispute,
    outcome: str,
    note: str,
    acting_user: User | None,
    due_date: date | None = None,
    amount_due_cents: int | None = None,
    paid_on: date | None = _UNSET,
    amount_paid_cents: int | None = None,
) -> Dispute:
    """End a dispute with one outcome, on the ledger in the same transaction.

    - ``upheld``: the record stands as reported;
    - ``corrected``: the given fields replace the record's (at least one must change);
    - ``deleted``: the record is removed from the history, the score and the bureaus.
    Either way the record counts in the score again (unless deleted).
    """
    dispute = (
        Dispute.objects.select_for_update()
        .select_related("payment__reporter", "payment__account", "payment__resident", "resident")
        .get(pk=dispute.pk)
    )
    payment = dispute.payment
    _require_reporter_staff(acting_user, payment.reporter)
    if not dispute.is_open:
        raise ValidationError(_("This dispute is already resolved."))
    if outcome not in Dispute.Outcome.values:
        raise ValidationError({"outcome": _("Choose corrected, upheld or deleted.")})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say how the dispute was resolved.")})
    if len(note) > MAX_REASON_LENGTH:
        raise ValidationError(
            {"note": _("At most %(limit)d characters.") % {"limit": MAX_REASON_LENGTH}}
        )
    changes = {}
    if outcome == Dispute.Outcome.CORRECTED:
        values = _clean_payment(
            reporter=payment.reporter,
            kind=payment.kind,
            account_reference=payment.account.reference,
            reference=payment.reference,
            due_date=payment.due_date if due_date is None else due_date,
            amount_due_cents=(
                payment.amount_due_cents if amount_due_cents is None else amount_due_cents
            ),
            paid_on=payment.paid_on if paid_on is _UNSET else paid_on,
            amount_paid_cents=(
                payment.amount_paid_cents if amount_paid_cents is None else amount_paid_cents
            ),
        )
        for field in ("due_date", "amount_due_cents", "paid_on", "amount_paid_cents"):
            new = getattr(values, field)
            if getattr(payment, field) != new:
                changes[field] = new
        if not changes:
            raise ValidationError(
                _("A correction must change the due date, an amount or the payment date.")
            )
        for field, new in changes.items():
            setattr(payment, field, new)
        payment.digest = _current_digest(payment)
    elif outcome == Dispute.Outcome.DELETED:
        payment.status = PaymentRecord.Status.DELETED
    payment.in_dispute = False
    payment.save()
    now = timezone.now()
    dispute.status, dispute.outcome = Dispute.Status.RESOLVED, outcome
    dispute.resolution_note, dispute.resolved_at, dispute.resolved_by = note, now, acting_user
    dispute.full_clean(
        exclude=["payment", "resident", "opened_by", "resolved_by", "resolution_entry"]
    )
    dispute.resolution_entry = _record(
        payment.resident,
        "credit.dispute_resolved",
        _dispute_data(
            dispute,
            outcome=outcome,
            digest=payment.digest,
            changed=sorted(changes),
        ),
    )
    dispute.save()
    if changes or outcome == Dispute.Outcome.DELETED:
        _record(
            payment.resident,
            "credit.payment_updated",
            {**_payment_data(payment), "change": f"dispute_{outcome}"},
        )
    return dispute


# --- lending circles ---------------------------------------------------------------------


def _circle_subject(circle: LendingCircle) -> str:
    return ledger.pseudonym("credit.circle", str(circle.public_id))


@transaction.atomic
def circle_create(
    *,
    organization: Organization,
    name: str,
    monthly_contribution_cents: int,
    first_due_date: date,
    acting_user: User | None = None,
) -> LendingCircle:
    """A new circle, forming: add members, then start it."""
    _require_reporter_staff(acting_user, organization)
    if organization.kind != Organization.Kind.LENDING_CIRCLE:
        raise ValidationError(_("Only a lending-circle fund runs lending circles."))
    errors: dict[str, list[str]] = {}
    amount = _amount(monthly_contribution_cents, "monthly_contribution_cents", errors)
    if not errors and amount == 0:
        errors["monthly_contribution_cents"] = [_("The monthly contribution must be above zero.")]
    if errors:
        raise ValidationError(errors)
    circle = LendingCircle(
        organization=organization,
        name=(name or "").strip(),
        monthly_contribution_cents=amount,
        first_due_date=first_due_date,
        created_by=acting_user,
    )
    circle.full_clean(exclude=["organization", "created_by"])
    try:
        with transaction.atomic():
            circle.save()
    except IntegrityError:
        raise ValidationError(
            {"name": _("This fund already has a circle with this name.")}
        ) from None
    return circle


@transaction.atomic
def circle_add_member(
    *,
    circle: LendingCircle,
    resident: Resident,
    payout_position: int | None = None,
    acting_user: User | None = None,
) -> CircleMember:
    """Add a member while the circle is forming; the position defaults to the next one."""
    circle = LendingCircle.objects.select_for_update().get(pk=circle.pk)
    _require_reporter_staff(acting_user, circle.organization)
    if circle.status != LendingCircle.Status.FORMING:
        raise ValidationError(_("Members can join only before the circle starts."))
    members = CircleMember.objects.filter(circle=circle)
    if members.filter(resident=resident).exists():
        raise ValidationError(_("This resident is already a member of the circle."))
    if payout_position is None:
        payout_position = (max(members.values_list("payout_position", flat=True), default=0)) + 1
    if members.filter(payout_position=payout_position).exists():
        raise ValidationError(
            {"payout_position": _("Another member already has this payout position.")}
        )
    member = CircleMember(circle=circle, resident=resident, payout_position=payout_position)
    member.full_clean(exclude=["circle", "resident", "account"])
    member.save()
    return member


def circle_account_reference(circle: LendingCircle, member: CircleMember) -> str:
    return f"circle-{circle.public_id.hex[:12]}-m{member.pk}"


def circle_payment_reference(circle: LendingCircle, member: CircleMember, round_: int) -> str:
    return f"{circle_account_reference(circle, member)}-r{round_}"


@transaction.atomic
def circle_start(*, circle: LendingCircle, acting_user: User | None = None) -> LendingCircle:
    """Start the circle: every member's contributions for every round are scheduled as
    payment records (unpaid until recorded), and each membership becomes an account."""
    circle = (
        LendingCircle.objects.select_for_update().select_related("organization").get(pk=circle.pk)
    )
    _require_reporter_staff(acting_user, circle.organization)
    if circle.status != LendingCircle.Status.FORMING:
        raise ValidationError(_("This circle has already started."))
    members = list(circle.members.select_related("resident").order_by("payout_position"))
    if len(members) < 2:
        raise ValidationError(_("A circle needs at least two members."))
    if [m.payout_position for m in members] != list(range(1, len(members) + 1)):
        raise ValidationError(
            _("Payout positions must run 1, 2, 3, … without gaps before the circle starts.")
        )
    rounds = len(members)
    contribution = circle.monthly_contribution_cents
    for member in members:
        for round_ in range(1, rounds + 1):
            payment = record_payment(
                reporter=circle.organization,
                resident=member.resident,
                kind=PaymentKind.LENDING_CIRCLE,
                account_reference=circle_account_reference(circle, member),
                reference=circle_payment_reference(circle, member, round_),
                due_date=_add_months(circle.first_due_date, round_ - 1),
                amount_due_cents=contribution,
                paid_on=None,
                amount_paid_cents=0,
            )
            CircleContribution.objects.create(member=member, round=round_, payment=payment)
        account = payment.account
        account.terms_months = rounds
        account.original_amount_cents = contribution * rounds
        account.opened_on = circle.first_due_date
        account.save(update_fields=["terms_months", "original_amount_cents", "opened_on"])
        member.account = account
        member.save(update_fields=["account"])
    circle.status, circle.started_at = LendingCircle.Status.ACTIVE, timezone.now()
    circle.save(update_fields=["status", "started_at"])
    ledger.record(
        "credit.circle_event",
        _circle_subject(circle),
        {
            "circle": str(circle.public_id),
            "organization": org_ref(circle.organization),
            "event": "started",
            "members": rounds,
            "contribution_cents": contribution,
            "first_due": circle.first_due_date.isoformat(),
        },
    )
    return circle


@transaction.atomic
def circle_record_contribution(
    *,
    member: CircleMember,
    round_number: int,
    paid_on: date,
    amount_paid_cents: int | None = None,
    acting_user: User | None = None,
) -> CircleContribution:
    """A member paid their contribution for a round (the full amount unless given)."""
    contribution = (
        CircleContribution.objects.select_related("payment", "member__circle")
        .filter(member=member, round=round_number)
        .first()
    )
    if contribution is None:
        raise ValidationError(
            {
                "round": _("This circle has no round %(round)s for this member.")
                % {"round": round_number}
            }
        )
    circle = contribution.member.circle
    _require_reporter_staff(acting_user, circle.organization)
    if circle.status != LendingCircle.Status.ACTIVE:
        raise ValidationError(_("Contributions are recorded only while the circle is active."))
    payment_mark_paid(
        payment=contribution.payment,
        paid_on=paid_on,
        amount_paid_cents=(
            contribution.payment.amount_due_cents
            if amount_paid_cents is None
            else amount_paid_cents
        ),
        acting_user=acting_user,
    )
    contribution.payment.refresh_from_db()
    return contribution


@transaction.atomic
def circle_record_payout(
    *,
    circle: LendingCircle,
    round_number: int,
    paid_on: date,
    acting_user: User | None = None,
) -> CirclePayout:
    """The fund paid the round's pot to the member whose turn it is. After the last
    round the circle is completed and its accounts closed."""
    circle = (
        LendingCircle.objects.select_for_update().select_related("organization").get(pk=circle.pk)
    )
    _require_reporter_staff(acting_user, circle.organization)
    if circle.status != LendingCircle.Status.ACTIVE:
        raise ValidationError(_("Payouts are recorded only while the circle is active."))
    members = list(circle.members.order_by("payout_position"))
    if not isinstance(round_number, int) or not 1 <= round_number <= len(members):
        raise ValidationError({"round": _("No such round in this circle.")})
    if CirclePayout.objects.filter(circle=circle, round=round_number).exists():
        raise ValidationError({"round": _("This round was already paid out.")})
    if paid_on > timezone.localdate():
        raise ValidationError({"paid_on": _("The payment date is in the future.")})
    member = members[round_number - 1]
    payout = CirclePayout(
        circle=circle,
        member=member,
        round=round_number,
        amount_cents=circle.monthly_contribution_cents * len(members),
        paid_on=paid_on,
        recorded_by=acting_user,
    )
    payout.full_clean(exclude=["circle", "member", "recorded_by"])
    payout.save()
    event = {
        "circle": str(circle.public_id),
        "organization": org_ref(circle.organization),
        "event": "payout",
        "round": round_number,
        "amount_cents": payout.amount_cents,
        "paid_on": paid_on.isoformat(),
        "recipient": member.resident.ledger_subject if not member.resident.vawa_protected else None,
    }
    if CirclePayout.objects.filter(circle=circle).count() == len(members):
        circle.status = LendingCircle.Status.COMPLETED
        circle.save(update_fields=["status"])
        Account.objects.filter(circle_member__circle=circle).update(closed_on=paid_on)
        event["completed"] = True
    ledger.record("credit.circle_event", _circle_subject(circle), event)
    return payout


# --- bureau reporting --------------------------------------------------------------------


@transaction.atomic
def reporter_policy_set(
    *,
    organization: Organization,
    policy: str,
    furnisher_id: str = "",
    acting_user: User | None = None,
) -> ReporterPolicy:
    """Choose how an organization's accounts are furnished: positive only or full file."""
    _require_reporter_staff(acting_user, organization)
    if organization.kind not in REPORTER_KINDS:
        raise ValidationError(_("Only reporting organizations have a bureau policy."))
    if policy not in ReporterPolicy.Policy.values:
        raise ValidationError({"policy": _("Choose positive only or full file.")})
    furnisher_id = (furnisher_id or "").strip().upper()
    if furnisher_id and (
        not re.fullmatch(r"[A-Z0-9]{1,20}", furnisher_id) or set(furnisher_id) <= {"0"}
    ):
        raise ValidationError(
            {"furnisher_id": _("1-20 letters or digits, as the bureaus assigned it.")}
        )
    found, _created = ReporterPolicy.objects.select_for_update().get_or_create(
        organization=organization, defaults={"policy": policy}
    )
    found.policy, found.furnisher_id, found.updated_by = policy, furnisher_id, acting_user
    found.full_clean(exclude=["organization", "updated_by"])
    found.save()
    return found


@transaction.atomic
def bureau_consent_grant(
    *,
    resident: Resident,
    address_line_1: str,
    city: str,
    state: str,
    zip_code: str,
    address_line_2: str = "",
    acting_user: User | None = None,
) -> BureauConsent:
    """The resident opts in to bureau reporting, with the mailing address to report.

    Opting in again (a new address) replaces the active consent."""
    errors: dict[str, list[str]] = {}
    line1 = (address_line_1 or "").strip()
    city = (city or "").strip()
    state = (state or "").strip().upper()
    zip_digits = (zip_code or "").strip().replace("-", "")
    if not metro2.address_text(line1):
        errors["address_line_1"] = [_("Enter the street address.")]
    if not metro2.address_text(city):
        errors["city"] = [_("Enter the city.")]
    if state not in metro2.STATES:
        errors["state"] = [_("Enter the two-letter state code, for example IL.")]
    if not re.fullmatch(r"[0-9]{5}([0-9]{4})?", zip_digits):
        errors["zip_code"] = [_("Enter a 5- or 9-digit ZIP code.")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    BureauConsent.objects.filter(resident=resident, revoked_at__isnull=True).update(revoked_at=now)
    consent = BureauConsent(
        resident=resident,
        address_line_1=line1,
        address_line_2=(address_line_2 or "").strip() or None,
        city=city,
        state=state,
        zip_code=zip_digits,
        recorded_by=acting_user,
    )
    consent.full_clean(exclude=["resident", "recorded_by"])
    consent.save()
    _record(resident, "credit.bureau_consent", {"consent": consent.pk, "status": "granted"})
    return consent


@transaction.atomic
def bureau_consent_revoke(*, resident: Resident, acting_user: User | None = None) -> bool:
    """The resident withdraws; returns whether an active consent existed."""
    updated = BureauConsent.objects.filter(resident=resident, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        _record(resident, "credit.bureau_consent", {"status": "revoked"})
    return bool(updated)


@transaction.atomic
def accounts_mark_furnished(*, account_ids: Iterable[int]) -> int:
    """Remember which accounts are on a bureau file (positive-only keeps reporting them)."""
    return Account.objects.filter(pk__in=list(account_ids), first_furnished_at__isnull=True).update(
        first_furnished_at=timezone.now()
    )


# --- reports and share links ---------------------------------------------------------------


@transaction.atomic
def report_issue(
    *,
    resident: Resident,
    acting_user: User | None = None,
    as_of: date | None = None,
    report_id: str | None = None,
) -> CreditReport:
    """Freeze the resident's history and score into a report, record its SHA-256 on the
    ledger (public entry), and mark the resident's earlier reports superseded.

    ``report_id`` (a UUID the caller chose) makes the call idempotent: a retry returns
    the report the first call issued."""
    from credit import selectors

    if report_id is not None:
        # A retried request (a task run twice) gets the report the first run issued.
        existing = CreditReport.objects.filter(public_id=report_id).first()
        if existing is not None:
            if existing.resident_id != resident.pk:
                raise ValidationError(_("This report id belongs to another resident."))
            return existing
    issued_at = timezone.now()
    as_of = as_of or timezone.localdate()
    credit_report = CreditReport(resident=resident, issued_at=issued_at, as_of=as_of)
    if report_id is not None:
        credit_report.public_id = uuid.UUID(str(report_id))
    content = selectors.report_content(
        resident, as_of=as_of, report_id=str(credit_report.public_id), issued_at=issued_at
    )
    data = report_format.canonical_bytes(content)
    credit_report.content = data.decode()
    credit_report.sha256 = report_format.bytes_hash(data)
    # Subject: the report's own pseudonym, never the resident's, so the public entry
    # cannot be linked to the resident's other entries.
    credit_report.ledger_entry = ledger.record(
        "credit.report_issued",
        ledger.pseudonym("credit.report", str(credit_report.public_id)),
        report_format.ledger_data(str(credit_report.public_id), credit_report.sha256),
    )
    CreditReport.objects.filter(resident=resident, superseded_at__isnull=True).update(
        superseded_at=issued_at
    )
    credit_report.issued_by = acting_user
    credit_report.full_clean(exclude=["resident", "ledger_entry", "issued_by", "content"])
    credit_report.save()
    return credit_report


def _share_token(link: ShareLink, nonce: str) -> str:
    return signing.dumps({"l": link.public_id.hex, "n": nonce}, salt=SHARE_LINK_SALT, compress=True)


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def share_link_create(
    *, report: CreditReport, days: int = SHARE_LINK_DEFAULT_DAYS
) -> tuple[ShareLink, str]:
    """A link showing the report to whoever holds it for `days` days (1-90).

    Returns the link and its token; only the token's hash is kept, so the token cannot be
    shown again."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= SHARE_LINK_MAX_DAYS:
        raise ValidationError(
            {"days": _("A link lasts 1 to %(max)d days.") % {"max": SHARE_LINK_MAX_DAYS}}
        )
    link = ShareLink(report=report, expires_at=timezone.now() + timedelta(days=days))
    token = _share_token(link, secrets.token_urlsafe(16))
    link.token_hash = share_token_hash(token)
    link.save()
    return link, token


@transaction.atomic
def share_link_revoke(*, link: ShareLink) -> ShareLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


def share_token_link_id(token: str) -> str | None:
    """The link id a token names if its signature is ours; None for anything else."""
    try:
        value = signing.loads(token, salt=SHARE_LINK_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("l"), str):
        return None
    return value["l"]


@transaction.atomic
def share_links_purge(*, older_than_days: int = 30) -> int:
    """Delete share links that expired or were revoked more than `older_than_days` ago
    (they open nothing; keeping their hashes serves no one). Returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _by_model = ShareLink.objects.filter(
        Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)
    ).delete()
    return deleted
