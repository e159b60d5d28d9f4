"""Bills: paying one records the payment, and for a resident it becomes a credit payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from citychain import roles
from credit.models import PaymentRecord
from energy import services
from identity import services as identity
from identity.models import Organization
from ledger.models import Entry
from tests.energy.test_services import T0, feed, homes, microgrid  # noqa: F401
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident():
    shelter = OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)
    caseworker = UserFactory(username="maria", organization=shelter, role=roles.CASEWORKER)
    return identity.resident_enroll(
        acting_user=caseworker,
        data=resident_data(),
        pin="2468",
        consent_categories=["identity"],
    )


def test_paid_bill_of_a_resident_becomes_an_on_time_credit_payment(
    microgrid,  # noqa: F811
    homes,  # noqa: F811
    resident,
):
    cal = homes["cal"][0]
    cal.resident = resident
    cal.save(update_fields=["resident"])
    feed(homes, T0, {"ann": -100, "cal": 300})
    bills = {
        b.member_id: b for b in services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    }
    bill = bills[cal.pk]
    assert bill.net_cents > 0
    paid_on = bill.due_date - timedelta(days=1)
    services.bill_mark_paid(bill=bill, paid_on=paid_on)
    record = PaymentRecord.objects.get()
    assert record.resident == resident and record.kind == "energy"
    assert record.reference == f"energy-bill-{bill.public_id}"
    assert record.amount_due_cents == bill.net_cents == record.amount_paid_cents
    assert record.paid_on == paid_on and record.due_date == bill.due_date
    bill.refresh_from_db()
    assert bill.payment.credit_reference == record.reference
    # Marking it paid again is harmless; credit keeps one record.
    services.bill_mark_paid(bill=bill, paid_on=paid_on)
    assert PaymentRecord.objects.count() == 1
    assert Entry.objects.filter(kind="energy.bill_paid").count() == 1


def test_a_bill_that_is_an_earning_or_has_no_resident_is_not_a_credit_payment(
    microgrid,  # noqa: F811
    homes,  # noqa: F811
    resident,
):
    ann = homes["ann"][0]
    ann.resident = resident
    ann.save(update_fields=["resident"])
    feed(homes, T0, {"ann": -100, "cal": 300})
    bills = {
        b.member_id: b for b in services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    }
    assert bills[ann.pk].net_cents < 0
    services.bill_mark_paid(bill=bills[ann.pk])
    services.bill_mark_paid(bill=bills[homes["cal"][0].pk])
    assert not PaymentRecord.objects.exists()
    assert bills[ann.pk].payment.amount_cents == 0


def test_payment_in_the_future_is_refused(microgrid, homes):  # noqa: F811
    feed(homes, T0, {"cal": 300})
    (bill,) = services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    with pytest.raises(ValidationError):
        services.bill_mark_paid(bill=bill, paid_on=bill.due_date + timedelta(days=3650))
    bill.refresh_from_db()
    assert bill.status == "issued"
