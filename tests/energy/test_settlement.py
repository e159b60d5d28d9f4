"""Settlement properties through the database, with Hypothesis: every interval's trades and
grid lines conserve energy and money, respect every limit, and account for every member's
metered net energy; the ledger holds exactly the stored trades."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy import services
from energy.models import GridSettlement, Interval, Order, Trade
from ledger.models import Entry
from tests.energy.test_services import FEED_IN, RETAIL, T0, add_member, microgrid  # noqa: F401

pytestmark = pytest.mark.django_db

MEMBERS = 6
_clock = itertools.count()

net_strategy = st.lists(
    st.one_of(st.just(0), st.integers(-3_000, -1), st.integers(1, 3_000)),
    min_size=MEMBERS,
    max_size=MEMBERS,
)
price_strategy = st.one_of(st.none(), st.integers(FEED_IN, RETAIL))


@pytest.fixture
def pool(microgrid):  # noqa: F811
    return [add_member(microgrid, f"m{k}") for k in range(MEMBERS)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    nets=net_strategy,
    sells=st.lists(price_strategy, min_size=MEMBERS, max_size=MEMBERS),
    buys=st.lists(price_strategy, min_size=MEMBERS, max_size=MEMBERS),
    mode=st.sampled_from(["pro_rata", "double_auction"]),
)
def test_every_cleared_interval_balances(microgrid, pool, nets, sells, buys, mode):  # noqa: F811
    at = T0 + timedelta(minutes=15) * next(_clock)
    services.market_settings_set(microgrid=microgrid, mode=mode)
    limits = {}
    for (member, meter, _token), net, sell, buy in zip(pool, nets, sells, buys, strict=True):
        if sell is not None and buy is not None and sell > buy:
            sell, buy = buy, sell
        services.member_set_preferences(member=member, min_sell=sell, max_buy=buy)
        limits[member.pk] = (sell or FEED_IN, buy or RETAIL)
        if net:
            services.readings_ingest(
                meter=meter, rows=[services.ReadingRow(at, max(net, 0), max(-net, 0))]
            )
    if not any(nets):
        return
    interval = services.market_clear_interval(
        interval_id=Interval.objects.get(microgrid=microgrid, start=at).pk
    )
    trades = list(Trade.objects.filter(interval=interval))
    grid = list(GridSettlement.objects.filter(interval=interval))

    # Energy: sold == bought, and each member's traded + grid == its metered net.
    accounted: dict[int, int] = defaultdict(int)
    for t in trades:
        accounted[t.seller_id] -= t.wh
        accounted[t.buyer_id] += t.wh
    for g in grid:
        accounted[g.member_id] += g.wh if g.direction == "import" else -g.wh
    metered = {m.pk: net for (m, _meter, _token), net in zip(pool, nets, strict=True) if net}
    assert dict(accounted) == {k: v for k, v in metered.items()}
    assert interval.matched_wh == sum(t.wh for t in trades)

    # Money: what buyers pay is what sellers get, and equals the interval's total.
    assert sum(t.cents for t in trades) == interval.traded_cents
    exact = sum(t.wh * t.price for t in trades)
    assert interval.traded_cents == (2 * exact + 1_000_000) // 2_000_000

    # Limits: nobody buys above their bid or sells below their offer, all within the grid.
    for t in trades:
        assert FEED_IN <= t.price <= RETAIL
        assert t.cents * 1_000_000 <= t.wh * t.price + 1_000_000
        if mode == "double_auction":
            assert limits[t.seller_id][0] <= t.price <= limits[t.buyer_id][1]
    # Pro rata never leaves both sides with energy for the grid; the auction reaches the maximum.
    if mode == "pro_rata":
        assert not (interval.grid_import_wh and interval.grid_export_wh)
    else:
        assert interval.matched_wh == interval.max_matchable_wh
    orders = Order.objects.filter(interval=interval)
    assert sum(o.traded_wh for o in orders) == 2 * interval.matched_wh

    # The ledger holds exactly these trades for this run.
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    on_ledger = []
    for entry in Entry.objects.filter(kind="energy.trade"):
        data = json.loads(bytes(entry.leaf_data))["data"]
        if data["interval"] == when:
            on_ledger.append((data["wh"], data["price"], data["cents"]))
    assert sorted(on_ledger) == sorted((t.wh, t.price, t.cents) for t in trades)
