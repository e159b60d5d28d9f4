"""Disputes: open → investigating → resolved (corrected, upheld, deleted), on the ledger,
and a disputed record left out of the score while the dispute is open."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from credit import selectors, services
from credit.models import Dispute, PaymentRecord
from ledger.models import Entry

pytestmark = pytest.mark.django_db

AS_OF = date(2025, 9, 15)


def year_of_rent(landlord, resident, *, late_month=None):
    payments = []
    for month in range(1, 9):
        due = date(2025, month, 1)
        paid = date(2025, month, 20) if month == late_month else due
        payments.append(
            services.record_payment(
                reporter=landlord,
                resident=resident,
                kind="rent",
                account_reference="LEASE-1",
                reference=f"rent-{month}",
                due_date=due,
                amount_due_cents=80_000,
                paid_on=paid,
                amount_paid_cents=80_000,
            )
        )
    return payments


def entries(kind):
    return [json.loads(bytes(e.leaf_data)) for e in Entry.objects.filter(kind=kind)]


def test_open_dispute_excludes_the_record_from_the_score(landlord, resident):
    payments = year_of_rent(landlord, resident, late_month=3)
    before = selectors.resident_score(resident, as_of=AS_OF)
    dispute = services.dispute_open(payment=payments[2], reason="I paid on the 1st; receipt.")
    during = selectors.resident_score(resident, as_of=AS_OF)
    assert dispute.status == Dispute.Status.OPEN
    assert during.disputed_excluded == 1
    assert during.score > before.score
    [entry] = entries("credit.dispute_opened")
    assert entry["subject"] == resident.ledger_subject
    assert "receipt" not in json.dumps(entry)


def test_a_record_has_one_open_dispute_at_a_time(landlord, resident):
    payment = year_of_rent(landlord, resident)[0]
    services.dispute_open(payment=payment, reason="wrong")
    with pytest.raises(ValidationError):
        services.dispute_open(payment=payment, reason="again")
    with pytest.raises(ValidationError):
        services.dispute_open(payment=year_of_rent(landlord, resident)[1], reason="  ")


def test_upheld_dispute_puts_the_record_back_and_is_on_the_ledger(landlord, reporter, resident):
    payments = year_of_rent(landlord, resident, late_month=3)
    before = selectors.resident_score(resident, as_of=AS_OF).score
    dispute = services.dispute_open(payment=payments[2], reason="not late")
    services.dispute_investigate(dispute=dispute, acting_user=reporter)
    services.dispute_resolve(
        dispute=dispute, outcome="upheld", note="Bank record shows the 20th.", acting_user=reporter
    )
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED and dispute.outcome == "upheld"
    assert dispute.resolution_entry is not None
    assert selectors.resident_score(resident, as_of=AS_OF).score == before
    [entry] = entries("credit.dispute_resolved")
    assert entry["data"]["outcome"] == "upheld"
    assert "Bank" not in json.dumps(entry)


def test_corrected_dispute_changes_the_record_and_its_digest(landlord, reporter, resident):
    payments = year_of_rent(landlord, resident, late_month=3)
    before = selectors.resident_score(resident, as_of=AS_OF).score
    dispute = services.dispute_open(payment=payments[2], reason="paid on time")
    services.dispute_resolve(
        dispute=dispute,
        outcome="corrected",
        note="Our mistake.",
        acting_user=reporter,
        paid_on=date(2025, 3, 1),
    )
    payment = PaymentRecord.objects.get(pk=payments[2].pk)
    assert payment.paid_on == date(2025, 3, 1)
    assert payment.digest != payment.reported_digest
    assert not payment.in_dispute
    assert selectors.resident_score(resident, as_of=AS_OF).score > before
    [resolved] = entries("credit.dispute_resolved")
    assert resolved["data"]["changed"] == ["paid_on"]
    assert resolved["data"]["digest"] == payment.digest
    # The reporter re-sending the original values is still idempotent, not a conflict.
    again = services.record_payment(
        reporter=landlord,
        resident=resident,
        kind="rent",
        account_reference="LEASE-1",
        reference="rent-3",
        due_date=date(2025, 3, 1),
        amount_due_cents=80_000,
        paid_on=date(2025, 3, 20),
        amount_paid_cents=80_000,
    )
    assert again.pk == payment.pk and again.paid_on == date(2025, 3, 1)


def test_correction_must_change_something(landlord, reporter, resident):
    dispute = services.dispute_open(payment=year_of_rent(landlord, resident)[0], reason="x")
    with pytest.raises(ValidationError):
        services.dispute_resolve(
            dispute=dispute, outcome="corrected", note="n", acting_user=reporter
        )
    dispute.refresh_from_db()
    assert dispute.is_open


def test_deleted_dispute_removes_the_record(landlord, reporter, resident):
    payments = year_of_rent(landlord, resident)
    dispute = services.dispute_open(payment=payments[0], reason="not my lease")
    services.dispute_resolve(
        dispute=dispute, outcome="deleted", note="Wrong tenant.", acting_user=reporter
    )
    assert payments[0].pk not in set(
        selectors.resident_payments(resident).values_list("pk", flat=True)
    )
    assert len(selectors.score_payments(resident)) == 7
    with pytest.raises(ValidationError):
        services.dispute_open(payment=payments[0], reason="again")


def test_only_the_reporter_or_a_city_admin_resolves(landlord, utility, resident, city_admin):
    from citychain import roles
    from tests.factories import UserFactory

    other = UserFactory(username="water", organization=utility, role=roles.CREDIT_REPORTER)
    dispute = services.dispute_open(payment=year_of_rent(landlord, resident)[0], reason="x")
    with pytest.raises(PermissionDenied):
        services.dispute_resolve(dispute=dispute, outcome="upheld", note="n", acting_user=other)
    services.dispute_resolve(dispute=dispute, outcome="upheld", note="n", acting_user=city_admin)


def test_resolving_twice_is_refused(landlord, reporter, resident):
    dispute = services.dispute_open(payment=year_of_rent(landlord, resident)[0], reason="x")
    services.dispute_resolve(dispute=dispute, outcome="upheld", note="n", acting_user=reporter)
    with pytest.raises(ValidationError):
        services.dispute_resolve(dispute=dispute, outcome="deleted", note="n", acting_user=reporter)
