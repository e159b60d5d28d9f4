"""Payment records through the services: validation, idempotency, attestation, batches."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conftest import run_together
from credit import services
from credit.models import Account, PaymentRecord
from ledger.models import Entry

pytestmark = pytest.mark.django_db


def pay(reporter_org, resident, **overrides):
    values = dict(
        reporter=reporter_org,
        resident=resident,
        kind="rent",
        account_reference="LEASE-4B",
        reference="rent-2025-01",
        due_date=date(2025, 1, 1),
        amount_due_cents=95_000,
        paid_on=date(2025, 1, 1),
        amount_paid_cents=95_000,
    )
    values.update(overrides)
    return services.record_payment(**values)


def entries(kind):
    return [json.loads(bytes(e.leaf_data)) for e in Entry.objects.filter(kind=kind)]


def test_record_payment_stores_account_and_attests_without_personal_data(landlord, resident):
    payment = pay(landlord, resident)
    assert payment.account.reference == "LEASE-4B"
    assert payment.account.opened_on == date(2025, 1, 1)
    assert payment.account.scheduled_payment_cents == 95_000
    [entry] = entries("credit.payment_attested")
    assert entry["subject"] == resident.ledger_subject
    assert entry["data"]["digest"] == payment.digest == payment.reported_digest
    assert entry["data"]["amount_due_cents"] == 95_000
    leaf = json.dumps(entry)
    for personal in ("Ana", "García", "Garc", "LEASE-4B", str(resident.public_id)):
        assert personal not in leaf
    assert payment.ledger_entry_id is not None


def test_record_payment_is_idempotent_on_reference(landlord, resident):
    first = pay(landlord, resident)
    again = pay(landlord, resident)
    assert again.pk == first.pk
    assert PaymentRecord.objects.count() == 1
    assert len(entries("credit.payment_attested")) == 1


def test_same_reference_other_values_conflicts_and_changes_nothing(landlord, resident):
    pay(landlord, resident)
    with pytest.raises(services.PaymentConflict):
        pay(landlord, resident, amount_paid_cents=90_000)
    assert PaymentRecord.objects.get().amount_paid_cents == 95_000
    assert len(entries("credit.payment_attested")) == 1


def test_reference_is_per_reporter(landlord, utility, resident):
    pay(landlord, resident)
    pay(utility, resident, kind="utility", account_reference="W-1")
    assert PaymentRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "mortgage"),
        ("amount_due_cents", -1),
        ("amount_due_cents", 12.5),
        ("amount_paid_cents", True),
        ("reference", "   "),
        ("account_reference", "x" * 65),
        ("paid_on", "2025-01-01"),
    ],
)
def test_bad_values_raise_validation_error_and_store_nothing(landlord, resident, field, value):
    with pytest.raises(ValidationError) as exc:
        pay(landlord, resident, **{field: value})
    assert field in exc.value.message_dict
    assert not PaymentRecord.objects.exists()
    assert not Account.objects.exists()
    assert not Entry.objects.exists() or not entries("credit.payment_attested")


def test_future_payment_date_and_paid_amount_without_date_are_refused(landlord, resident):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError):
        pay(landlord, resident, paid_on=tomorrow)
    with pytest.raises(ValidationError):
        pay(landlord, resident, paid_on=None, amount_paid_cents=100)


def test_only_reporting_organizations_report(caseworker, resident):
    with pytest.raises(ValidationError):
        pay(caseworker.organization, resident)


def test_staff_report_only_for_their_own_organization(landlord, utility, reporter, resident):
    with pytest.raises(PermissionDenied):
        pay(utility, resident, kind="utility", acting_user=reporter)
    assert pay(landlord, resident, acting_user=reporter).recorded_by == reporter


def test_a_payer_without_an_organization_may_record_through_another_app(utility, resident):
    from citychain import roles
    from tests.factories import UserFactory

    member = UserFactory(username="household", organization=None, role=roles.ENERGY_MEMBER)
    payment = pay(utility, resident, kind="utility", account_reference="W", acting_user=member)
    assert payment.recorded_by == member


def test_account_reference_of_another_resident_conflicts(landlord, resident, enroll):
    other = enroll(first="Ben", last="Okafor", dob=date(1975, 2, 3), ssn="")
    pay(landlord, resident)
    with pytest.raises(services.PaymentConflict):
        pay(landlord, other, reference="rent-2025-01-b")


def test_account_tracks_opened_date_and_latest_rent(landlord, resident):
    pay(
        landlord,
        resident,
        reference="r2",
        due_date=date(2025, 2, 1),
        amount_due_cents=97_000,
        paid_on=date(2025, 2, 1),
        amount_paid_cents=97_000,
    )
    pay(landlord, resident, reference="r1")
    account = Account.objects.get()
    assert account.opened_on == date(2025, 1, 1)
    assert account.scheduled_payment_cents == 97_000


def test_vawa_protected_resident_is_stored_but_never_on_the_ledger(landlord, resident):
    resident.vawa_protected = True
    resident.save()
    payment = pay(landlord, resident)
    assert payment.ledger_entry is None
    assert not Entry.objects.filter(kind__startswith="credit.").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_reports_store_one_record(postgres, landlord, resident):
    """Two requests with the same reference at once: one record, one attestation."""
    results = run_together(4, lambda _i: pay(landlord, resident).pk)
    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    assert len(set(results)) == 1
    assert PaymentRecord.objects.count() == 1
    assert Entry.objects.filter(kind="credit.payment_attested").count() == 1


def test_payment_mark_paid_attests_the_update(landlord, resident):
    payment = pay(landlord, resident, paid_on=None, amount_paid_cents=0)
    updated = services.payment_mark_paid(
        payment=payment, paid_on=date(2025, 1, 3), amount_paid_cents=95_000
    )
    assert updated.paid_on == date(2025, 1, 3)
    assert updated.digest != updated.reported_digest
    [entry] = entries("credit.payment_updated")
    assert entry["data"]["digest"] == updated.digest and entry["data"]["change"] == "paid"
    with pytest.raises(ValidationError):
        services.payment_mark_paid(payment=payment, paid_on=date(2025, 1, 3), amount_paid_cents=1)


def test_batch_is_all_or_nothing(landlord, resident):
    good = services.BatchRow(
        resident=str(resident.public_id), kind="rent", account_reference="A", reference="b1",
        due_date=date(2025, 1, 1), amount_due_cents=100, paid_on=date(2025, 1, 1),
        amount_paid_cents=100,
    )  # fmt: skip
    bad = services.BatchRow(
        resident=str(resident.public_id), kind="rent", account_reference="A", reference="b2",
        due_date=date(2025, 2, 1), amount_due_cents=-100,
    )  # fmt: skip
    with pytest.raises(services.BatchRejected) as exc:
        services.payments_record_batch(reporter=landlord, rows=[good, bad])
    assert [e["row"] for e in exc.value.errors] == [1]
    assert not PaymentRecord.objects.exists()
    assert not Entry.objects.filter(kind="credit.payment_attested").exists()
    results = services.payments_record_batch(reporter=landlord, rows=[good])
    assert [r.created for r in results] == [True]
    assert [r.created for r in services.payments_record_batch(reporter=landlord, rows=[good])] == [
        False
    ]


def test_scores_for_residents_matches_each_residents_score(landlord, utility, resident, enroll):
    from credit import selectors

    other = enroll(first="Ben", last="Okafor", dob=date(1975, 2, 3), ssn="")
    for month in range(1, 10):
        pay(landlord, resident, reference=f"a{month}", due_date=date(2025, month, 1),
            paid_on=date(2025, month, 1 if month != 4 else 28))  # fmt: skip
        pay(utility, other, kind="utility", account_reference="W", reference=f"b{month}",
            due_date=date(2025, month, 5), amount_due_cents=5_000,
            paid_on=None if month == 6 else date(2025, month, 5),
            amount_paid_cents=0 if month == 6 else 5_000)  # fmt: skip
    disputed = PaymentRecord.objects.get(reference="a4")
    services.dispute_open(payment=disputed, reason="paid on time")
    deleted = services.dispute_open(payment=PaymentRecord.objects.get(reference="b2"), reason="x")
    services.dispute_resolve(dispute=deleted, outcome="deleted", note="n", acting_user=None)
    as_of = date(2025, 10, 15)
    many = selectors.scores_for_residents(as_of=as_of)
    assert many == {
        resident.pk: selectors.resident_score(resident, as_of=as_of).score,
        other.pk: selectors.resident_score(other, as_of=as_of).score,
    }
    assert None not in many.values()
    assert selectors.scores_for_residents([other.pk], as_of=as_of) == {other.pk: many[other.pk]}
