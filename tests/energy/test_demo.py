"""The energy demo seeder: a microgrid with solar homes, readings, clearing and bills, made
through the services; the "household" login is a member with solar; a second run adds nothing.

It runs at a smaller scale here (8 homes, one day per window) to keep the suite quick; the
full 50-home week is what `seed_demo` loads (about 50 s on SQLite, see docs/benchmarks.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citychain import demo as citychain_demo
from energy import demo, synthetic
from energy.models import Bill, Interval, MarketSettings, Member, Meter, Reading, Tariff, Trade
from ledger.models import Entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(demo, "HOMES", 8)
    monkeypatch.setattr(demo, "WITH_SOLAR", 4)
    monkeypatch.setattr(demo, "DAYS", 1)
    monkeypatch.setattr(demo, "BILL_DAYS", 1)
    citychain_demo.seed_people(progress=lambda _m: None)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Member, Meter, Reading, Interval, Trade, Bill, Tariff, MarketSettings, Entry)
    }


def test_the_demo_microgrid_is_seeded_cleared_and_billed(small):
    said: list[str] = []
    demo.seed(progress=said.append)

    members = Member.objects.filter(microgrid__name=demo.MICROGRID)
    assert members.count() == 8
    homes = {h.number: h for h in synthetic.make_homes(8, with_solar=4, seed=demo.SEED)}
    household = members.get(user__username="household")
    number = int(household.meters.get().meter_id.rsplit("-", 1)[1])
    assert homes[number].has_solar
    assert household.min_sell is not None and household.max_buy is not None

    windows = demo._windows(datetime.now(UTC), demo.ZoneInfo("America/Chicago"))
    days = sum((end - start) / timedelta(days=1) for start, end in windows)
    intervals = Interval.objects.filter(microgrid__name=demo.MICROGRID)
    assert intervals.count() == days * 96  # the seeded quarter-hours (UTC days: no DST)
    assert Reading.objects.count() == 8 * intervals.count()  # every home, every interval
    # Every interval that has ended is cleared; solar homes sold to their neighbours.
    ended = intervals.filter(start__lte=datetime.now(UTC) - timedelta(minutes=45))
    assert not ended.exclude(status=Interval.Status.CLEARED).exists()
    assert Trade.objects.exists()
    if len(windows) == 2:  # the previous month's last day was seeded: it is billed
        assert Bill.objects.filter(member__microgrid__name=demo.MICROGRID).count() == 8
        assert Bill.objects.filter(status=Bill.Status.PAID).exists()
    assert any("members" in line for line in said)
    assert any("cleared" in line for line in said)


def test_a_second_run_adds_nothing(small):
    demo.seed(progress=lambda _m: None)
    before = counts()
    paid = set(Bill.objects.filter(status=Bill.Status.PAID).values_list("pk", flat=True))
    demo.seed(progress=lambda _m: None)
    assert counts() == before
    assert set(Bill.objects.filter(status=Bill.Status.PAID).values_list("pk", flat=True)) == paid


def test_without_the_microgrid_it_says_so_and_does_nothing():
    said: list[str] = []
    demo.seed(progress=said.append)
    assert "run the people seeder first" in said[0]
    assert not Member.objects.exists()


def test_the_week_reaches_back_into_last_month_for_a_bill():
    zone = demo.ZoneInfo("America/Chicago")
    # Mid-month: the last 7 days, and the previous month's last 3 days for its bill.
    mid = datetime(2026, 11, 20, 18, 7, tzinfo=UTC)
    assert demo._windows(mid, zone) == [
        (datetime(2026, 10, 29, 5, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 0, tzinfo=UTC)),
        (datetime(2026, 11, 13, 18, 0, tzinfo=UTC), datetime(2026, 11, 20, 18, 0, tzinfo=UTC)),
    ]
    # Early in the month the week already covers the end of last month.
    early = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)
    assert demo._windows(early, zone) == [
        (datetime(2026, 10, 27, 18, 0, tzinfo=UTC), datetime(2026, 11, 3, 18, 0, tzinfo=UTC))
    ]
