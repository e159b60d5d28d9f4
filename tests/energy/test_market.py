"""The market's clearing rules: hand-worked books, properties, determinism and speed."""

from __future__ import annotations

import random
import time
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.market import (
    MICRO,
    Bid,
    Clearing,
    Direction,
    GridFallback,
    GridPrices,
    MarketError,
    Mode,
    Offer,
    OrderBook,
    PricePreference,
    Trade,
    cents_of,
    cents_split,
    double_auction,
    max_matchable_wh,
    orders_from_net,
    pay_as_clear,
    share_pro_rata,
    shares_largest_remainder,
)

# 5 ¢/kWh feed-in, 25 ¢/kWh retail.
PRICES = GridPrices(feed_in=5_000, retail=25_000)


def book(offers=(), bids=()) -> OrderBook:
    return OrderBook(offers=tuple(Offer(*o) for o in offers), bids=tuple(Bid(*b) for b in bids))


def imports(clearing: Clearing) -> list[GridFallback]:
    return [g for g in clearing.grid if g.direction is Direction.IMPORT]


def exports(clearing: Clearing) -> list[GridFallback]:
    return [g for g in clearing.grid if g.direction is Direction.EXPORT]


# --------------------------------------------------------------------------------------
# Hand-worked books (the same numbers are in docs/energy-market.md)
# --------------------------------------------------------------------------------------


def test_no_trade_when_every_offer_is_above_every_bid():
    result = double_auction(book([("ann", 500, 20_000)], [("bob", 1_000, 10_000)]), PRICES)
    assert result.trades == ()
    assert result.grid == (
        GridFallback("bob", 1_000, 25_000, 25, Direction.IMPORT),  # 1 kWh x 25 ¢
        GridFallback("ann", 500, 5_000, 3, Direction.EXPORT),  # 0.5 kWh x 5 ¢ = 2.5 -> 3
    )
    assert result.totals.matched_wh == result.totals.max_matchable_wh == 0


def test_all_trade_at_the_pair_midpoint():
    result = double_auction(book([("ann", 1_000, 6_000)], [("bob", 1_000, 20_000)]), PRICES)
    assert result.trades == (Trade("ann", "bob", 1_000, 13_000, 13),)
    assert result.grid == ()


def test_partial_fills_worked_example():
    offers = [("ann", 600, 6_000), ("cat", 600, 8_000)]
    bids = [("bob", 1_000, 20_000), ("dan", 500, 7_000)]
    result = double_auction(book(offers, bids), PRICES)
    # dan can only use ann's energy; bob, the higher bid, is served in full first.
    assert result.trades == (
        Trade("ann", "dan", 200, 6_500, 1),  # 1.3 ¢
        Trade("ann", "bob", 400, 13_000, 5),  # 5.2 ¢
        Trade("cat", "bob", 600, 14_000, 9),  # 8.4 ¢, largest remainder gets the cent
    )
    assert result.grid == (GridFallback("dan", 300, 25_000, 8, Direction.IMPORT),)
    assert result.totals.matched_wh == 1_200 == result.totals.max_matchable_wh
    assert result.totals.traded_cents == 15  # 14.9 rounded half up

    reference = pay_as_clear(book(offers, bids), PRICES)
    assert reference.trades == (
        Trade("ann", "bob", 600, 14_000, 8),  # 8.4
        Trade("cat", "bob", 400, 14_000, 6),  # 5.6
    )
    assert reference.totals.matched_wh == 1_000 < result.totals.matched_wh
    assert reference.totals.max_matchable_wh == 1_200
    assert exports(reference) == [GridFallback("cat", 200, 5_000, 1, Direction.EXPORT)]
    assert imports(reference) == [GridFallback("dan", 500, 25_000, 13, Direction.IMPORT)]


def test_equal_prices_break_ties_by_member_id():
    offers = [("bea", 300, 10_000), ("abe", 300, 10_000)]
    bids = [("yan", 500, 20_000), ("xia", 500, 20_000)]
    result = double_auction(book(offers, bids), PRICES)
    assert result.trades == (
        Trade("abe", "yan", 100, 15_000, 2),  # 1.5
        Trade("abe", "xia", 200, 15_000, 3),  # 3.0
        Trade("bea", "xia", 300, 15_000, 4),  # 4.5; total 9.0, the .5s win by order
    )
    assert imports(result) == [GridFallback("yan", 400, 25_000, 10, Direction.IMPORT)]


def test_offer_equal_to_bid_trades_at_that_price():
    result = double_auction(book([("ann", 250, 12_000)], [("bob", 250, 12_000)]), PRICES)
    assert result.trades == (Trade("ann", "bob", 250, 12_000, 3),)  # 3.0 ¢
    assert pay_as_clear(book([("ann", 250, 12_000)], [("bob", 250, 12_000)]), PRICES).trades == (
        Trade("ann", "bob", 250, 12_000, 3),
    )


def test_limits_are_bounded_by_feed_in_and_retail():
    result = double_auction(book([("ann", 1_000, 0)], [("bob", 1_000, 99_000)]), PRICES)
    assert result.trades == (Trade("ann", "bob", 1_000, 15_000, 15),)


@pytest.mark.parametrize("clear", [double_auction, pay_as_clear])
def test_one_side_empty(clear):
    only_sellers = clear(book([("ann", 400, 6_000), ("cat", 100, 5_000)]), PRICES)
    assert only_sellers.trades == ()
    assert only_sellers.grid == (
        GridFallback("ann", 400, 5_000, 2, Direction.EXPORT),
        GridFallback("cat", 100, 5_000, 1, Direction.EXPORT),  # 0.5 -> 1
    )
    only_buyers = clear(book(bids=[("bob", 400, 30_000)]), PRICES)
    assert only_buyers.trades == ()
    assert only_buyers.grid == (GridFallback("bob", 400, 25_000, 10, Direction.IMPORT),)
    empty = clear(book(), PRICES)
    assert (empty.trades, empty.grid, empty.totals.traded_cents) == ((), (), 0)


def test_pro_rata_worked_example():
    result = share_pro_rata({"ann": -600, "bea": -400, "cal": 300, "dov": 900}, PRICES)
    assert result.mode is Mode.PRO_RATA
    assert result.trades == (
        Trade("ann", "cal", 250, 15_000, 4),  # 3.75
        Trade("ann", "dov", 350, 15_000, 5),  # 5.25
        Trade("bea", "dov", 400, 15_000, 6),  # 6.00; 15.00 in all
    )
    assert result.grid == (
        GridFallback("cal", 50, 25_000, 1, Direction.IMPORT),  # 1.25
        GridFallback("dov", 150, 25_000, 4, Direction.IMPORT),  # 3.75
    )
    assert result.totals.matched_wh == result.totals.max_matchable_wh == 1_000


def test_pro_rata_surplus_larger_than_demand_shares_sellers_by_largest_remainder():
    result = share_pro_rata({"c": -1, "a": -1, "b": -1, "x": 2}, PRICES, local_price=5_000)
    assert [(t.seller, t.buyer, t.wh) for t in result.trades] == [("a", "x", 1), ("b", "x", 1)]
    assert exports(result) == [GridFallback("c", 1, 5_000, 0, Direction.EXPORT)]


def test_pro_rata_local_price_must_lie_between_feed_in_and_retail():
    with pytest.raises(MarketError, match="outside"):
        share_pro_rata({"a": -1, "b": 1}, PRICES, local_price=30_000)


def test_orders_from_net_uses_preferences_and_grid_prices_by_default():
    orders = orders_from_net(
        {"sun": -800, "moon": 300, "idle": 0, "cheap": 200},
        {"cheap": PricePreference(max_buy=9_000), "other": PricePreference(min_sell=1)},
        PRICES,
    )
    assert orders.offers == (Offer("sun", 800, 5_000),)
    assert orders.bids == (Bid("cheap", 200, 9_000), Bid("moon", 300, 25_000))


def test_default_preferences_clear_everything_at_the_midpoint():
    net = {"a": -700, "b": -300, "c": 400, "d": 200}
    auction = double_auction(orders_from_net(net, {}, PRICES), PRICES)
    shared = share_pro_rata(net, PRICES)
    assert (
        {t.price for t in auction.trades} == {PRICES.midpoint} == {t.price for t in shared.trades}
    )
    assert auction.totals.matched_wh == shared.totals.matched_wh == 600


@pytest.mark.parametrize(
    "make",
    [
        lambda: Offer("a", 1.5, 1),
        lambda: Bid("a", 10, 12.5),
        lambda: Bid("a", True, 1),
        lambda: Offer("a", 0, 1),
        lambda: Offer("", 1, 1),
        lambda: Bid("a", 1, -1),
        lambda: GridPrices(10, 5),
        lambda: book([("a", 1, 1), ("a", 2, 1)]),
        lambda: book([("a", 1, 1)], [("a", 1, 1)]),
        lambda: orders_from_net({"a": 1.0}, {}, PRICES),
    ],
)
def test_bad_orders_are_refused(make):
    with pytest.raises(MarketError):
        make()


def test_cents_split_keeps_the_rounded_total():
    assert cents_split([1_300_000, 5_200_000, 8_400_000]) == [1, 5, 9]
    assert cents_split([500_000, 500_000, 500_000]) == [1, 1, 0]  # 1.5 -> 2, earlier first
    assert cents_split([]) == []
    assert cents_of(100, 5_000) == 1 and cents_of(99, 5_000) == 0  # 0.5 up, 0.495 down


def test_shares_largest_remainder():
    assert shares_largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert shares_largest_remainder(7, [5, 0, 2]) == [5, 0, 2]


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

prices_strategy = st.integers(0, 20_000).flatmap(
    lambda floor: st.integers(floor, 40_000).map(lambda ceiling: GridPrices(floor, ceiling))
)


@st.composite
def books(draw, max_orders=30, max_wh=5_000):
    members = draw(
        st.lists(st.integers(0, 10_000), unique=True, max_size=2 * max_orders).map(
            lambda ids: [f"m{i:05d}" for i in ids]
        )
    )
    split = draw(st.integers(0, len(members)))
    wh = st.integers(1, max_wh)
    price = st.integers(0, 45_000)
    offers = tuple(Offer(m, draw(wh), draw(price)) for m in members[:split])
    bids = tuple(Bid(m, draw(wh), draw(price)) for m in members[split:])
    return OrderBook(offers, bids)


def check_clearing(result: Clearing, orders: OrderBook, prices: GridPrices) -> None:
    """Conservation, individual rationality and exact cents for any clearing."""
    sold: dict[str, int] = {}
    bought: dict[str, int] = {}
    paid: dict[str, int] = {}
    received: dict[str, int] = {}
    offer_of = {o.member: o for o in orders.offers}
    bid_of = {b.member: b for b in orders.bids}
    for t in result.trades:
        assert t.wh > 0
        sold[t.seller] = sold.get(t.seller, 0) + t.wh
        bought[t.buyer] = bought.get(t.buyer, 0) + t.wh
        received[t.seller] = received.get(t.seller, 0) + t.cents
        paid[t.buyer] = paid.get(t.buyer, 0) + t.cents
        # Rounding never moves a trade by a whole cent from its exact value.
        assert t.cents in (t.wh * t.price // MICRO, -(-t.wh * t.price // MICRO))
        assert prices.feed_in <= t.price <= prices.retail
        if result.mode is not Mode.PRO_RATA:
            offer, bid = offer_of[t.seller], bid_of[t.buyer]
            assert offer.min_price <= t.price <= bid.max_price
            assert t.cents >= t.wh * offer.min_price // MICRO
            assert t.cents <= -(-t.wh * bid.max_price // MICRO)
    # energy sold == energy bought, money paid == money received
    assert sum(sold.values()) == sum(bought.values()) == result.totals.matched_wh
    assert sum(paid.values()) == sum(received.values()) == result.totals.traded_cents
    exact = sum(t.wh * t.price for t in result.trades)
    assert result.totals.traded_cents == (2 * exact + MICRO) // (2 * MICRO)
    # every order is accounted for: traded + grid == ordered, at the grid's prices
    grid = {(g.member, g.direction): g for g in result.grid}
    assert len(grid) == len(result.grid)
    for o in orders.offers:
        fallback = grid.get((o.member, Direction.EXPORT))
        assert sold.get(o.member, 0) + (fallback.wh if fallback else 0) == o.wh
    for b in orders.bids:
        fallback = grid.get((b.member, Direction.IMPORT))
        assert bought.get(b.member, 0) + (fallback.wh if fallback else 0) == b.wh
    for g in result.grid:
        expected = prices.retail if g.direction is Direction.IMPORT else prices.feed_in
        assert g.wh > 0 and g.price == expected and g.cents == cents_of(g.wh, g.price)
    totals = result.totals
    assert totals.grid_import_wh == sum(g.wh for g in imports(result))
    assert totals.grid_export_cents == sum(g.cents for g in exports(result))
    assert totals.matched_wh <= totals.max_matchable_wh <= min(totals.offered_wh, totals.bid_wh)


@settings(max_examples=300, deadline=None)
@given(orders=books(), prices=prices_strategy)
def test_auctions_conserve_energy_and_money_and_respect_limits(orders, prices):
    auction = double_auction(orders, prices)
    reference = pay_as_clear(orders, prices)
    check_clearing(auction, orders, prices)
    check_clearing(reference, orders, prices)
    assert auction.totals.matched_wh == auction.totals.max_matchable_wh
    assert auction.totals.matched_wh >= reference.totals.matched_wh
    # pay-as-clear really is uniform-price
    assert len({t.price for t in reference.trades}) <= 1


@settings(max_examples=200, deadline=None)
@given(
    net=st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=3), st.integers(-5_000, 5_000), max_size=25
    ),
    prices=prices_strategy,
)
def test_pro_rata_conserves_energy_and_money(net, prices):
    result = share_pro_rata(net, prices)
    orders = orders_from_net(net, {}, prices)
    check_clearing(result, orders, prices)
    supply = -sum(v for v in net.values() if v < 0)
    demand = sum(v for v in net.values() if v > 0)
    assert result.totals.matched_wh == min(supply, demand)
    assert len({t.price for t in result.trades}) <= 1
    # pro rata: each member of the long side gets its share within one watt-hour
    sold: dict[str, int] = {}
    bought: dict[str, int] = {}
    for t in result.trades:
        sold[t.seller] = sold.get(t.seller, 0) + t.wh
        bought[t.buyer] = bought.get(t.buyer, 0) + t.wh
    shared = result.totals.matched_wh
    for member, value in net.items():
        if value < 0:
            assert abs(sold.get(member, 0) * supply - shared * -value) < supply
        elif value > 0:
            assert abs(bought.get(member, 0) * demand - shared * value) < demand


@settings(max_examples=150, deadline=None)
@given(orders=books(max_orders=20), prices=prices_strategy, seed=st.integers(0, 2**32))
def test_same_book_in_any_order_clears_the_same(orders, prices, seed):
    rng = random.Random(seed)
    offers, bids = list(orders.offers), list(orders.bids)
    rng.shuffle(offers)
    rng.shuffle(bids)
    shuffled = OrderBook(tuple(offers), tuple(bids))
    assert double_auction(shuffled, prices) == double_auction(orders, prices)
    assert pay_as_clear(shuffled, prices) == pay_as_clear(orders, prices)
    net = {o.member: -o.wh for o in offers} | {b.member: b.wh for b in bids}
    reordered = dict(sorted(net.items(), key=lambda _: rng.random()))
    assert share_pro_rata(reordered, prices) == share_pro_rata(net, prices)


def _brute_force(orders: OrderBook, prices: GridPrices) -> tuple[int, int]:
    """(most Wh, then most surplus) over every unit-by-unit assignment: tiny books only."""
    sellers = [max(o.min_price, prices.feed_in) for o in orders.offers for _ in range(o.wh)]
    buyers = [min(b.max_price, prices.retail) for b in orders.bids for _ in range(b.wh)]
    best = (0, 0)

    def assign(k: int, used: int, wh: int, surplus: int) -> None:
        nonlocal best
        if k == len(buyers):
            best = max(best, (wh, surplus))
            return
        assign(k + 1, used, wh, surplus)
        for s, offer in enumerate(sellers):
            if not used >> s & 1 and offer <= buyers[k]:
                assign(k + 1, used | 1 << s, wh + 1, surplus + buyers[k] - offer)

    assign(0, 0, 0, 0)
    return best


@settings(max_examples=300, deadline=None)
@given(orders=books(max_orders=3, max_wh=2), prices=prices_strategy)
def test_double_auction_trades_the_most_and_then_the_best(orders, prices):
    auction = double_auction(orders, prices)
    floor = {o.member: max(o.min_price, prices.feed_in) for o in orders.offers}
    cap = {b.member: min(b.max_price, prices.retail) for b in orders.bids}
    surplus = sum(t.wh * (cap[t.buyer] - floor[t.seller]) for t in auction.trades)
    assert (auction.totals.matched_wh, surplus) == _brute_force(orders, prices)
    assert max_matchable_wh(orders, prices) == auction.totals.matched_wh


def test_matched_energy_against_the_maximum_is_reported():
    orders = book([("a", 1, 1_000), ("b", 1, 9_000)], [("x", 1, 20_000), ("y", 1, 6_000)])
    prices = GridPrices(0, 30_000)
    auction, reference = double_auction(orders, prices), pay_as_clear(orders, prices)
    assert (auction.totals.matched_wh, auction.totals.max_matchable_wh) == (2, 2)
    assert (reference.totals.matched_wh, reference.totals.max_matchable_wh) == (1, 2)


# --------------------------------------------------------------------------------------
# Speed: reported, not asserted (a shared CI core is too noisy for a hard limit)
# --------------------------------------------------------------------------------------


def test_clearing_100k_orders_timing(capsys):
    rng = random.Random(2024)
    offers = tuple(
        Offer(f"m{k:06d}", rng.randint(1, 5_000), rng.randint(0, 30_000)) for k in range(50_000)
    )
    bids = tuple(
        Bid(f"m{k:06d}", rng.randint(1, 5_000), rng.randint(0, 30_000))
        for k in range(50_000, 100_000)
    )
    orders = OrderBook(offers, bids)
    prices = GridPrices(4_000, 25_000)
    timings = {}
    results = {}
    for name, clear in (("double_auction", double_auction), ("pay_as_clear", pay_as_clear)):
        started = time.process_time()
        results[name] = clear(orders, prices)
        timings[name] = time.process_time() - started
    auction, reference = results["double_auction"], results["pay_as_clear"]
    assert auction.totals.matched_wh == auction.totals.max_matchable_wh
    assert auction.totals.matched_wh >= reference.totals.matched_wh
    assert list(accumulate(t.wh for t in auction.trades))[-1] == auction.totals.matched_wh
    with capsys.disabled():
        print(
            f"\n100,000 orders: double_auction {timings['double_auction']:.3f} s CPU "
            f"({auction.totals.matched_wh:,} Wh, {len(auction.trades):,} trades), "
            f"pay_as_clear {timings['pay_as_clear']:.3f} s CPU "
            f"({reference.totals.matched_wh:,} Wh)"
        )
