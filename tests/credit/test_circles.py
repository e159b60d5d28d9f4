"""Lending circles: members and payout order, scheduled contributions that count as
on-time history when paid and show late when missed, payouts, completion."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from credit import score, selectors, services
from credit.models import Account, CircleContribution, LendingCircle, PaymentRecord
from ledger.models import Entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(enroll):
    return [
        enroll(first=name, last="Tester", dob=date(1980 + i, 1, 1 + i), ssn="")
        for i, name in enumerate(["Ana", "Ben", "Cruz"])
    ]


@pytest.fixture
def circle(fund, fund_staff, members):
    first_due = timezone.localdate() - timedelta(days=70)
    circle = services.circle_create(
        organization=fund,
        name="Spring circle",
        monthly_contribution_cents=10_000,
        first_due_date=first_due,
        acting_user=fund_staff,
    )
    for resident in members:
        services.circle_add_member(circle=circle, resident=resident, acting_user=fund_staff)
    return services.circle_start(circle=circle, acting_user=fund_staff)


def test_start_schedules_every_contribution_as_an_unpaid_lending_circle_payment(circle, members):
    assert circle.status == LendingCircle.Status.ACTIVE
    assert CircleContribution.objects.count() == 9
    payments = PaymentRecord.objects.filter(kind="lending_circle")
    assert payments.count() == 9
    assert not payments.filter(paid_on__isnull=False).exists()
    account = Account.objects.get(circle_member__resident=members[0])
    assert account.terms_months == 3
    assert account.original_amount_cents == 30_000
    [started] = [
        json.loads(bytes(e.leaf_data)) for e in Entry.objects.filter(kind="credit.circle_event")
    ]
    assert started["data"]["event"] == "started" and started["data"]["members"] == 3


def test_on_time_contribution_is_on_time_history_and_a_missed_one_is_late(
    circle, members, fund_staff
):
    detail = selectors.circle_detail(circle)
    first_round = detail.rounds[0]
    ana, ben = detail.members[0], detail.members[1]
    services.circle_record_contribution(
        member=ana, round_number=1, paid_on=first_round.due_date, acting_user=fund_staff
    )
    today = timezone.localdate()
    # Ana paid round 1 on time; Ben has not, 70 days after its due date: overdue.
    [ana_round1] = [c.payment for c in selectors.circle_detail(circle).rounds[0].contributions
                    if c.member_id == ana.pk]  # fmt: skip
    assert ana_round1.standing(today) == "on_time"
    ben_round1 = CircleContribution.objects.get(member=ben, round=1).payment
    assert ben_round1.standing(today) == "overdue"
    # ... and the scorecard counts it as missed (30+ days overdue, unpaid).
    ben_payments = selectors.score_payments(members[1])
    ana_payments = selectors.score_payments(members[0])
    assert score._tally(ben_payments, today).counts[score.Bucket.MISSED] != [0, 0, 0]
    assert score._tally(ana_payments, today).on_time == 1
    assert selectors.circle_detail(circle).rounds[0].paid_count == 1
    contribution = CircleContribution.objects.get(member=ben, round=1)
    assert contribution.payment.days_late is None
    with pytest.raises(ValidationError):
        services.circle_record_contribution(
            member=ana, round_number=1, paid_on=first_round.due_date, acting_user=fund_staff
        )


def test_payouts_follow_the_order_and_complete_the_circle(circle, fund_staff):
    detail = selectors.circle_detail(circle)
    today = timezone.localdate()
    for number in (1, 2, 3):
        payout = services.circle_record_payout(
            circle=circle, round_number=number, paid_on=today, acting_user=fund_staff
        )
        assert payout.member == detail.rounds[number - 1].recipient
        assert payout.amount_cents == 30_000
    circle.refresh_from_db()
    assert circle.status == LendingCircle.Status.COMPLETED
    assert not Account.objects.filter(circle_member__circle=circle, closed_on__isnull=True).exists()
    events = [
        json.loads(bytes(e.leaf_data))["data"]
        for e in Entry.objects.filter(kind="credit.circle_event")
    ]
    assert events[-1]["completed"] is True


def test_circle_rules(fund, fund_staff, members, landlord, reporter):
    with pytest.raises(ValidationError):
        services.circle_create(
            organization=landlord, name="x", monthly_contribution_cents=100,
            first_due_date=date(2025, 1, 1), acting_user=reporter,
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.circle_create(
            organization=fund, name="x", monthly_contribution_cents=100,
            first_due_date=date(2025, 1, 1), acting_user=reporter,
        )  # fmt: skip
    circle = services.circle_create(
        organization=fund, name="Tiny", monthly_contribution_cents=100,
        first_due_date=date(2025, 1, 1), acting_user=fund_staff,
    )  # fmt: skip
    services.circle_add_member(circle=circle, resident=members[0], acting_user=fund_staff)
    with pytest.raises(ValidationError):
        services.circle_add_member(circle=circle, resident=members[0], acting_user=fund_staff)
    with pytest.raises(ValidationError):
        services.circle_start(circle=circle, acting_user=fund_staff)  # one member
    services.circle_add_member(
        circle=circle, resident=members[1], payout_position=3, acting_user=fund_staff
    )
    with pytest.raises(ValidationError):
        services.circle_start(circle=circle, acting_user=fund_staff)  # positions 1, 3
    assert not PaymentRecord.objects.exists()
