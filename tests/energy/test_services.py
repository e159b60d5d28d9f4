"""Energy services: members, meters, tariffs, readings, clearing, settlement, bills.

Everything is set up through the services, as the operator, meters and members would.
The fixtures here are imported by the other energy-core test modules.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from energy import selectors, services
from energy.models import (
    Interval,
    MarketMode,
    Member,
    Meter,
    Order,
    Reading,
    Trade,
)
from identity.models import Organization
from ledger.models import Entry
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a summer noon, long past
Q = timedelta(minutes=15)
RETAIL = 25_000  # 25 ¢/kWh
FEED_IN = 5_000  # 5 ¢/kWh
SOON = T0 + timedelta(minutes=30)  # T0 cleared, not yet settled


@pytest.fixture
def microgrid():
    grid = OrganizationFactory(name="Test Microgrid", kind=Organization.Kind.MICROGRID)
    services.tariff_set(
        microgrid=grid,
        retail_price=RETAIL,
        feed_in_price=FEED_IN,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    services.market_settings_set(microgrid=grid, mode=MarketMode.PRO_RATA, timezone="UTC")
    return grid


def add_member(microgrid, name: str, **prefs) -> tuple[Member, Meter, str]:
    member = services.member_register(microgrid=microgrid, kind="household", name=name, **prefs)
    meter, token = services.meter_register(member=member, meter_id=f"M-{name.replace(' ', '-')}")
    return member, meter, token


@pytest.fixture
def homes(microgrid):
    """ann and bea export, cal and dov import: the worked example of docs/energy-market.md."""
    return {name: add_member(microgrid, name) for name in ("ann", "bea", "cal", "dov")}


def feed(homes, at, nets: dict[str, int]) -> None:
    """Readings for one interval: positive net is import, negative export."""
    for name, net in nets.items():
        _member, meter, _token = homes[name]
        services.readings_ingest(
            meter=meter, rows=[services.ReadingRow(at, max(net, 0), max(-net, 0))]
        )


def interval_at(microgrid, at) -> Interval:
    return Interval.objects.get(microgrid=microgrid, start=at)


def kinds_count(kind: str) -> int:
    return Entry.objects.filter(kind=kind).count()


# --- members, meters, tariffs ----------------------------------------------------------


def test_member_preferences_must_lie_between_feed_in_and_retail(microgrid):
    member, _meter, _token = add_member(microgrid, "ann")
    with pytest.raises(ValidationError) as exc:
        services.member_set_preferences(member=member, min_sell=4_000, max_buy=None)
    assert "min_sell" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.member_set_preferences(member=member, min_sell=None, max_buy=26_000)
    assert "max_buy" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.member_set_preferences(member=member, min_sell=20_000, max_buy=10_000)
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (None, None)
    services.member_set_preferences(member=member, min_sell=9_000, max_buy=20_000)
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (9_000, 20_000)
    assert kinds_count("energy.preferences_set") == 1


def test_member_only_on_a_microgrid():
    shelter = OrganizationFactory(name="Not a grid", kind=Organization.Kind.SHELTER)
    with pytest.raises(ValidationError):
        services.member_register(microgrid=shelter, kind="household", name="x")
    assert not Member.objects.exists()


def test_member_name_is_not_on_the_ledger(microgrid):
    add_member(microgrid, "Ana Secretname")
    for entry in Entry.objects.all():
        assert b"Secretname" not in bytes(entry.leaf_data)


def test_meter_token_is_stored_as_a_hash_and_rotates(microgrid):
    _member, meter, token = add_member(microgrid, "ann")
    assert token not in meter.token_hash and len(meter.token_hash) == 64
    assert selectors.meter_for_token(meter.meter_id, token) == meter
    assert selectors.meter_for_token(meter.meter_id, token + "x") is None
    assert selectors.meter_for_token("M-other", token) is None
    new = services.meter_rotate_token(meter=meter)
    assert selectors.meter_for_token(meter.meter_id, token) is None
    assert selectors.meter_for_token(meter.meter_id, new) == meter


def test_meter_id_is_unique_and_url_safe(microgrid):
    member, _meter, _token = add_member(microgrid, "ann")
    with pytest.raises(ValidationError):
        services.meter_register(member=member, meter_id="M-ann")
    with pytest.raises(ValidationError):
        services.meter_register(member=member, meter_id="has space")
    assert Meter.objects.count() == 1


def test_time_of_use_prices(microgrid):
    services.tariff_set(
        microgrid=microgrid,
        retail_price=RETAIL,
        feed_in_price=FEED_IN,
        effective_from=datetime(2026, 5, 1, tzinfo=UTC),
        periods=[services.TariffPeriodSpec(time(17), time(21), 40_000, 6_000, "peak")],
    )
    assert (
        selectors.grid_prices_at(microgrid, datetime(2026, 5, 2, 18, tzinfo=UTC)).retail == 40_000
    )
    assert (
        selectors.grid_prices_at(microgrid, datetime(2026, 5, 2, 21, tzinfo=UTC)).retail == RETAIL
    )
    # Before the TOU tariff, the first one applies.
    assert (
        selectors.grid_prices_at(microgrid, datetime(2026, 4, 2, 18, tzinfo=UTC)).retail == RETAIL
    )


def test_tariff_refuses_overlapping_periods_and_inverted_prices(microgrid):
    with pytest.raises(ValidationError) as exc:
        services.tariff_set(
            microgrid=microgrid,
            retail_price=RETAIL,
            feed_in_price=FEED_IN,
            effective_from=datetime(2026, 5, 1, tzinfo=UTC),
            periods=[
                services.TariffPeriodSpec(time(17), time(21), 40_000, 6_000),
                services.TariffPeriodSpec(time(20), time(22), 40_000, 6_000),
                services.TariffPeriodSpec(time(6), time(7), 1_000, 6_000),
            ],
        )
    assert len(exc.value.message_dict["periods"]) == 2
    with pytest.raises(ValidationError):
        services.tariff_set(microgrid=microgrid, retail_price=1, feed_in_price=2)


def test_tariff_cannot_rewrite_cleared_intervals(microgrid, homes):
    feed(homes, T0, {"ann": -600, "cal": 300})
    services.market_clear_due()
    with pytest.raises(ValidationError):
        services.tariff_set(
            microgrid=microgrid, retail_price=30_000, feed_in_price=FEED_IN, effective_from=T0
        )


# --- readings ----------------------------------------------------------------------------


def test_ingest_is_idempotent(microgrid, homes):
    _member, meter, _token = homes["ann"]
    rows = [services.ReadingRow(T0 + k * Q, 100 + k, 5) for k in range(8)]
    assert services.readings_ingest(meter=meter, rows=rows) == services.IngestResult(8, 0, 0)
    entries = Entry.objects.count()
    again = services.readings_ingest(meter=meter, rows=list(reversed(rows)))
    assert again == services.IngestResult(0, 0, 8)
    assert Reading.objects.count() == 8
    assert Entry.objects.count() == entries + 1  # the receipt, with nothing created


def test_ingest_refuses_a_batch_with_one_bad_row_and_stores_nothing(microgrid, homes):
    _member, meter, _token = homes["ann"]
    rows = [
        services.ReadingRow(T0, 100, 0),
        services.ReadingRow(T0 + Q, -1, 0),  # negative
        services.ReadingRow(T0 + timedelta(minutes=20), 5, 0),  # not on a quarter
        services.ReadingRow(T0, 7, 0),  # twice in the batch
        services.ReadingRow(datetime(2026, 6, 1, 12, 45), 5, 0),  # naive
        services.ReadingRow(datetime.now(UTC) + timedelta(hours=1), 5, 0),  # future
    ]
    with pytest.raises(services.ReadingsRejected) as exc:
        services.readings_ingest(meter=meter, rows=rows)
    assert [e["row"] for e in exc.value.row_errors] == [1, 2, 3, 4, 5]
    assert "import_wh" in exc.value.row_errors[0]["errors"]
    assert not Reading.objects.exists()
    assert not Interval.objects.exists()


def test_correction_before_settlement_reclears_and_is_refused_after(microgrid, homes):
    feed(homes, T0, {"ann": -600, "cal": 300})
    services.market_clear_due(now=SOON)
    interval = interval_at(microgrid, T0)
    assert (interval.status, interval.run, interval.matched_wh) == ("cleared", 1, 300)

    # A late meter reports; the interval goes back for another run.
    feed(homes, T0, {"dov": 900})
    assert services.market_clear_due(now=SOON) == [interval.pk]
    interval.refresh_from_db()
    assert (interval.run, interval.matched_wh) == (2, 600)
    assert kinds_count("energy.interval_cleared") == 2

    # A corrected value (same meter, same interval) is accepted until settlement...
    _m, meter, _t = homes["cal"]
    result = services.readings_ingest(meter=meter, rows=[services.ReadingRow(T0, 200, 0)])
    assert result.updated == 1
    settled = services.interval_settle(interval_id=interval.pk)
    assert settled.run == 3 and settled.settled_at is not None
    # ...and refused after, while the same value again is still harmless.
    with pytest.raises(services.ReadingsRejected) as exc:
        services.readings_ingest(meter=meter, rows=[services.ReadingRow(T0, 250, 0)])
    assert "settled" in exc.value.row_errors[0]["errors"]["start"][0]
    assert services.readings_ingest(meter=meter, rows=[services.ReadingRow(T0, 200, 0)]).unchanged
    # A meter that never reported for it cannot add a reading now either.
    with pytest.raises(services.ReadingsRejected):
        services.readings_ingest(meter=homes["bea"][1], rows=[services.ReadingRow(T0, 5, 0)])
    assert Reading.objects.get(meter=meter).import_wh == 200


def test_many_meters_in_one_batch_are_all_or_nothing(microgrid, homes):
    batches = [
        (homes["ann"][1], [services.ReadingRow(T0, 0, 600)]),
        (homes["cal"][1], [services.ReadingRow(T0, 300, 0), services.ReadingRow(T0 + Q, 1, -2)]),
    ]
    with pytest.raises(services.ReadingsRejected) as exc:
        services.readings_ingest_many(batches=batches)
    assert exc.value.row_errors == [
        {
            "meter": "M-cal",
            "row": 1,
            "errors": {"export_wh": exc.value.row_errors[0]["errors"]["export_wh"]},
        }
    ]
    assert not Reading.objects.exists()


# --- clearing ----------------------------------------------------------------------------


def test_pro_rata_clearing_matches_the_worked_example(microgrid, homes):
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    cleared = services.market_clear_due()
    interval = interval_at(microgrid, T0)
    assert cleared == [interval.pk]
    assert interval.matched_wh == 1_000 and interval.traded_cents == 15
    assert interval.average_price == 15_000
    trades = list(Trade.objects.filter(interval=interval).select_related("seller", "buyer"))
    # Pairs depend on the members' (random) market ids; each side's amounts do not.
    sold, bought = {}, {}
    for t in trades:
        sold[t.seller.name] = sold.get(t.seller.name, 0) + t.wh
        bought[t.buyer.name] = bought.get(t.buyer.name, 0) + t.wh
        assert t.price == 15_000
    assert sold == {"ann": 600, "bea": 400} and bought == {"cal": 250, "dov": 750}
    assert sum(t.cents for t in trades) == 15 and len(trades) == 3
    grid = {g.member.name: (g.direction, g.wh, g.cents) for g in interval.grid_settlements.all()}
    assert grid == {"cal": ("import", 50, 1), "dov": ("import", 150, 4)}
    assert kinds_count("energy.trade") == len(trades)
    assert kinds_count("energy.grid_settlement") == 2
    # Exactly once: clearing again changes nothing.
    assert services.market_clear_due() == []
    services.market_clear_interval(interval_id=interval.pk)
    interval.refresh_from_db()
    assert interval.run == 1 and kinds_count("energy.trade") == 3


def test_double_auction_matches_the_worked_example(microgrid, homes):
    services.market_settings_set(microgrid=microgrid, mode=MarketMode.DOUBLE_AUCTION)
    ann, _m, _t = homes["ann"]
    services.member_set_preferences(member=ann, min_sell=6_000, max_buy=None)
    services.member_set_preferences(member=homes["bea"][0], min_sell=8_000, max_buy=None)
    services.member_set_preferences(member=homes["cal"][0], min_sell=None, max_buy=20_000)
    services.member_set_preferences(member=homes["dov"][0], min_sell=None, max_buy=7_000)
    # bea plays cat, cal plays bob, dov plays dan.
    feed(homes, T0, {"ann": -600, "bea": -600, "cal": 1_000, "dov": 500})
    services.market_clear_due()
    interval = interval_at(microgrid, T0)
    trades = sorted(
        (t.seller.name, t.buyer.name, t.wh, t.price, t.cents)
        for t in Trade.objects.filter(interval=interval).select_related("seller", "buyer")
    )
    assert trades == [
        ("ann", "cal", 400, 13_000, 5),
        ("ann", "dov", 200, 6_500, 1),
        ("bea", "cal", 600, 14_000, 9),
    ]
    assert interval.matched_wh == interval.max_matchable_wh == 1_200
    orders = {
        o.member.name: (o.side, o.wh, o.limit_price, o.traded_wh) for o in interval.orders.all()
    }
    assert orders["dov"] == ("buy", 500, 7_000, 200)
    assert interval.grid_import_wh == 300 and interval.grid_import_cents == 8


def test_manual_order_caps_and_prices_the_member_and_cancels(microgrid, homes):
    services.market_settings_set(microgrid=microgrid, mode=MarketMode.DOUBLE_AUCTION)
    ann = homes["ann"][0]
    now = T0 - timedelta(minutes=5)
    order = services.order_place(
        member=ann, interval_start=T0, side="sell", wh=200, limit_price=9_000, now=now
    )
    # Placing again replaces it.
    order2 = services.order_place(
        member=ann, interval_start=T0, side="sell", wh=300, limit_price=9_000, now=now
    )
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order2.status == Order.Status.ACTIVE
    feed(homes, T0, {"ann": -600, "cal": 1_000})
    services.market_clear_due()
    interval = interval_at(microgrid, T0)
    order2.refresh_from_db()
    assert (order2.book_wh, order2.traded_wh) == (300, 300)
    assert interval.matched_wh == 300
    grid = {g.member.name: (g.direction, g.wh) for g in interval.grid_settlements.all()}
    assert grid == {"ann": ("export", 300), "cal": ("import", 700)}
    # After the interval ended, no more orders or cancellations.
    with pytest.raises(ValidationError):
        services.order_cancel(order=order2)
    with pytest.raises(ValidationError):
        services.order_place(member=ann, interval_start=T0, side="sell", wh=1, limit_price=9_000)


def test_manual_orders_refused_in_pro_rata_mode(microgrid, homes):
    with pytest.raises(ValidationError):
        services.order_place(
            member=homes["ann"][0],
            interval_start=T0,
            side="sell",
            wh=1,
            limit_price=9_000,
            now=T0 - Q,
        )
    assert not Order.objects.exists()


def test_interval_not_ended_is_not_cleared(microgrid, homes):
    future = services._floor_quarter(datetime.now(UTC)) + timedelta(hours=1)
    services.market_settings_set(microgrid=microgrid, mode=MarketMode.DOUBLE_AUCTION)
    order = services.order_place(
        member=homes["ann"][0], interval_start=future, side="sell", wh=1, limit_price=9_000
    )
    assert services.market_clear_due() == []
    with pytest.raises(ValidationError):
        services.market_clear_interval(interval_id=order.interval_id)
    services.order_cancel(order=order)


def test_clearing_is_deterministic(microgrid, homes):
    services.market_settings_set(microgrid=microgrid, mode=MarketMode.DOUBLE_AUCTION)
    feed(homes, T0, {"ann": -700, "bea": -333, "cal": 500, "dov": 900})
    feed(homes, T0 + Q, {"dov": 900, "cal": 500, "bea": -333, "ann": -700})
    services.market_clear_due()

    def shape(at):
        return [
            (t.seller_id, t.buyer_id, t.wh, t.price, t.cents)
            for t in Trade.objects.filter(interval__start=at).order_by("seller_id", "buyer_id")
        ]

    assert shape(T0) == shape(T0 + Q) != []


def test_settlement_after_the_delay_and_ledger_totals_add_up(microgrid, homes):
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    services.market_clear_due(now=T0 + timedelta(minutes=30))
    interval = interval_at(microgrid, T0)
    assert interval.settled_at is None
    services.market_clear_due(now=T0 + timedelta(hours=25))
    interval.refresh_from_db()
    assert interval.settled_at is not None
    assert kinds_count("energy.interval_settled") == 1


# --- bills -----------------------------------------------------------------------------


def test_monthly_bill_adds_up(microgrid, homes):
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    feed(homes, T0 + Q, {"ann": 200, "cal": 100})
    with pytest.raises(ValidationError):
        services.bills_make_month(
            microgrid=microgrid, year=2026, month=6, now=datetime(2026, 6, 20, tzinfo=UTC)
        )
    bills = services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    by_name = {b.member.name: b for b in bills}
    assert set(by_name) == {"ann", "bea", "cal", "dov"}
    ann, cal = by_name["ann"], by_name["cal"]
    assert (ann.consumption_wh, ann.production_wh) == (200, 600)
    assert (ann.sold_local_wh, ann.sold_local_cents) == (600, 9)
    assert (ann.bought_grid_wh, ann.bought_grid_cents) == (200, 5)
    assert ann.net_cents == 5 - 9
    # On the utility alone ann would have got 3 ¢ for her export and paid 5 ¢.
    assert ann.utility_only_cents == 5 - 3
    assert ann.saving_cents == 2 - (5 - 9)
    assert cal.bought_local_wh == 250 and cal.bought_grid_wh == 50 + 100
    assert sum(b.sold_local_cents for b in bills) == sum(b.bought_local_cents for b in bills)
    assert [line.kind for line in ann.lines.all()] == [
        "local_purchase",
        "grid_purchase",
        "local_sale",
        "grid_sale",
    ]
    assert Interval.objects.filter(settled_at__isnull=True).count() == 0
    # Idempotent.
    again = services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    assert sorted(b.pk for b in again) == sorted(b.pk for b in bills)
    assert kinds_count("energy.bill_issued") == 4


def test_bill_mark_paid_is_idempotent(microgrid, homes):
    feed(homes, T0, {"cal": 300})
    (bill,) = services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    assert bill.net_cents == 8
    paid = services.bill_mark_paid(bill=bill, paid_on=bill.due_date - timedelta(days=3))
    assert paid.status == "paid" and paid.payment.amount_cents == 8
    services.bill_mark_paid(bill=bill, paid_on=bill.due_date - timedelta(days=3))
    with pytest.raises(ValidationError):
        services.bill_mark_paid(bill=bill, paid_on=bill.due_date - timedelta(days=2))
    assert kinds_count("energy.bill_paid") == 1


def test_history_before_the_first_tariff_waits_and_does_not_block(microgrid, homes):
    old = datetime(2025, 6, 1, 12, tzinfo=UTC)  # before the microgrid's first tariff
    feed(homes, old, {"ann": -100, "cal": 100})
    feed(homes, T0, {"ann": -100, "cal": 100})
    assert services.market_clear_due(max_seconds=0) == []  # out of time at once
    cleared = services.market_clear_due()
    assert cleared == [interval_at(microgrid, T0).pk]
    assert interval_at(microgrid, old).status == Interval.Status.CLOSED
    assert interval_at(microgrid, T0).settled_at is not None


def test_clearing_uses_the_time_of_use_price_of_the_interval(microgrid, homes):
    services.tariff_set(
        microgrid=microgrid,
        retail_price=RETAIL,
        feed_in_price=FEED_IN,
        effective_from=datetime(2026, 5, 1, tzinfo=UTC),
        periods=[services.TariffPeriodSpec(time(12), time(13), 40_000, 6_000, "noon peak")],
    )
    feed(homes, T0, {"ann": -100, "cal": 300})  # 12:00 UTC (the microgrid's time zone)
    feed(homes, T0 + 4 * Q, {"ann": -100, "cal": 300})  # 13:00: base prices
    services.market_clear_due()
    peak, base = interval_at(microgrid, T0), interval_at(microgrid, T0 + 4 * Q)
    assert (peak.retail_price, peak.feed_in_price, peak.average_price) == (40_000, 6_000, 23_000)
    assert (base.retail_price, base.average_price) == (RETAIL, 15_000)
    assert peak.grid_import_cents == 8  # 200 Wh at 40 ¢/kWh


def test_months_follow_the_microgrid_time_zone_across_daylight_saving(microgrid):
    services.market_settings_set(
        microgrid=microgrid, mode=MarketMode.PRO_RATA, timezone="America/Chicago"
    )
    start, end = selectors.month_bounds(microgrid, 2026, 11)
    assert start == datetime(2026, 11, 1, 5, tzinfo=UTC)  # CDT, UTC-5
    assert end == datetime(2026, 12, 1, 6, tzinfo=UTC)  # CST, UTC-6
    assert (end - start) == timedelta(days=30, hours=1)  # the fall-back hour is in November
