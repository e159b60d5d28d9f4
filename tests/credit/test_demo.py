"""The credit demo data: a year of rent and utility payments (mostly on time, some late),
two lending circles, one open dispute and an issued report; idempotent, with progress."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from citychain import demo
from credit import demo as credit_demo
from credit import selectors
from credit.models import CreditReport, Dispute, LendingCircle, PaymentRecord
from identity import demo as identity_demo
from ledger.models import Entry

pytestmark = pytest.mark.django_db


def test_demo_data_is_varied_attested_and_idempotent():
    quiet = lambda *args: None  # noqa: E731
    demo.seed_people(progress=quiet)
    identity_demo.seed(progress=quiet, count=60)
    said: list[str] = []
    credit_demo.seed(progress=said.append, count=45)
    assert any("payments: residents 45 of 45" in line for line in said)

    records = PaymentRecord.objects.all()
    assert set(records.values_list("kind", flat=True)) == {"rent", "utility", "lending_circle"}
    assert set(records.values_list("reporter__name", flat=True)) == {
        credit_demo.LANDLORD, credit_demo.UTILITY, credit_demo.FUND,
    }  # fmt: skip
    rent = records.filter(kind="rent")
    paid = rent.exclude(paid_on=None)
    on_time = sum(1 for r in paid if r.paid_on <= r.due_date)
    assert on_time / rent.count() > 0.7  # mostly on time
    assert on_time < paid.count()  # some late
    assert rent.values("resident").distinct().count() == 45
    # A year of history for most: a score for most residents, "not enough history" for some.
    scores = selectors.scores_for_residents()
    assert sum(1 for s in scores.values() if s is not None) >= 35
    assert None in scores.values()
    # Two lending circles, one finished, one with a missed contribution.
    circles = {c.name: c for c in LendingCircle.objects.all()}
    assert set(circles) == {"Spring savings circle", "Autumn savings circle"}
    assert circles["Spring savings circle"].status == LendingCircle.Status.COMPLETED
    autumn = circles["Autumn savings circle"]
    assert autumn.status == LendingCircle.Status.ACTIVE
    assert PaymentRecord.objects.filter(
        circle_contribution__member__circle=autumn, paid_on=None
    ).exists()
    assert Dispute.objects.filter(status=Dispute.Status.OPEN).count() == 1
    assert CreditReport.objects.count() == 1
    # The fund's staff can sign in and see the circles.
    client = Client()
    assert client.login(username="fund", password=demo.DEMO_PASSWORD)
    page = client.get(reverse("credit:circles")).content.decode()
    assert "Spring savings circle" in page and "Autumn savings circle" in page
    # Every record attested on the ledger.
    assert not records.filter(ledger_entry=None).exists()

    counts = (records.count(), Entry.objects.count(), Dispute.objects.count())
    again: list[str] = []
    credit_demo.seed(progress=again.append, count=45)
    assert (PaymentRecord.objects.count(), Entry.objects.count(), Dispute.objects.count()) == (
        counts
    )
    assert any("0 payment records added" in line for line in again)


def test_demo_needs_its_organizations_and_residents():
    said: list[str] = []
    credit_demo.seed(progress=said.append)
    assert "run the people seeder first" in said[0]
    assert not PaymentRecord.objects.exists()
