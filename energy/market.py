"""Clearing of the community microgrid's power exchange, one 15-minute interval at a time.

This module owns the market rules and nothing else: which member's energy goes to which
member, at what price, what falls back to the utility grid, and how every amount is
rounded to whole cents. It imports nothing from Django, so it can be read, tested and
reused alone; the energy services load meter data, call these functions and record the
result on the ledger. The rules, with worked examples, are in docs/energy-market.md.

Units, all integers (never floats):

- energy in watt-hours (Wh);
- money in cents;
- prices in millicents per kilowatt-hour (m¢/kWh): 12.5 ¢/kWh is 12_500. The exact value
  of ``wh`` at price ``p`` is ``wh * p / 1_000_000`` cents; it is rounded only where a
  cent amount is written down, by the rules of :func:`cents_split` and :func:`cents_of`.

Invariants of every :class:`Clearing`:

- energy sold == energy bought (each trade is one seller, one buyer, one amount);
- money paid == money received: each trade carries one cent amount, paid by its buyer and
  received by its seller, and the interval's traded cents are the exact total rounded
  half up, shared out over the trades by largest remainder;
- nobody trades outside their limit: every trade's price lies in
  ``[seller's minimum, buyer's maximum]`` and in ``[feed-in, retail]``; its cents are that
  exact value rounded down or up, never further;
- each member's order is fully accounted for: traded Wh + grid Wh == ordered Wh;
- the same book in any input order gives the same result (explicit tie-breaks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

# Wh x m¢/kWh per cent: (Wh / 1000) kWh x (p / 1000) ¢/kWh.
MICRO = 1_000_000


class MarketError(ValueError):
    """An order book or price set that cannot be cleared (bad type, sign or duplicate)."""


def _check_int(name: str, value: object, *, minimum: int | None) -> int:
    # bool is an int subclass; a True watt-hour is a bug, not an amount.
    if type(value) is not int:
        raise MarketError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise MarketError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_member(member: object) -> str:
    if type(member) is not str or not member:
        raise MarketError(f"member id must be a non-empty str, got {member!r}")
    return member


@dataclass(frozen=True, slots=True)
class GridPrices:
    """The utility's prices for the interval, in m¢/kWh: they bound every local price."""

    feed_in: int  # what the grid pays for exported energy: the floor
    retail: int  # what the grid charges for imported energy: the ceiling

    def __post_init__(self) -> None:
        _check_int("feed_in", self.feed_in, minimum=0)
        _check_int("retail", self.retail, minimum=0)
        if self.feed_in > self.retail:
            raise MarketError(f"feed_in {self.feed_in} is above retail {self.retail}")

    @property
    def midpoint(self) -> int:
        """Halfway between feed-in and retail, rounded down to a whole m¢/kWh."""
        return (self.feed_in + self.retail) // 2


@dataclass(frozen=True, slots=True)
class Offer:
    """A seller's surplus for the interval and the lowest price it accepts (m¢/kWh)."""

    member: str
    wh: int
    min_price: int

    def __post_init__(self) -> None:
        _check_member(self.member)
        _check_int(f"offer {self.member!r} wh", self.wh, minimum=1)
        _check_int(f"offer {self.member!r} min_price", self.min_price, minimum=0)


@dataclass(frozen=True, slots=True)
class Bid:
    """A buyer's need for the interval and the highest price it pays (m¢/kWh)."""

    member: str
    wh: int
    max_price: int

    def __post_init__(self) -> None:
        _check_member(self.member)
        _check_int(f"bid {self.member!r} wh", self.wh, minimum=1)
        _check_int(f"bid {self.member!r} max_price", self.max_price, minimum=0)


@dataclass(frozen=True, slots=True)
class OrderBook:
    """One interval's offers and bids: one order per member, on one side only."""

    offers: tuple[Offer, ...] = ()
    bids: tuple[Bid, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "offers", tuple(self.offers))
        object.__setattr__(self, "bids", tuple(self.bids))
        sellers = {o.member for o in self.offers}
        buyers = {b.member for b in self.bids}
        if len(sellers) != len(self.offers):
            raise MarketError("a member has more than one offer in the interval")
        if len(buyers) != len(self.bids):
            raise MarketError("a member has more than one bid in the interval")
        both = sellers & buyers
        if both:
            raise MarketError(f"members both sell and buy in one interval: {sorted(both)[:5]}")


@dataclass(frozen=True, slots=True)
class PricePreference:
    """A member's standing limits (m¢/kWh); None means "the grid's price"."""

    min_sell: int | None = None  # None: feed-in
    max_buy: int | None = None  # None: retail


class Direction(StrEnum):
    """Which way a grid fallback flows, seen from the member."""

    IMPORT = "import"  # the member buys from the grid at retail
    EXPORT = "export"  # the member sells to the grid at feed-in


class Mode(StrEnum):
    PRO_RATA = "pro_rata"
    DOUBLE_AUCTION = "double_auction"
    PAY_AS_CLEAR = "pay_as_clear"


# Trades and fallbacks are NamedTuples, not frozen dataclasses: a clearing of 100,000
# orders makes as many of them, and a tuple is several times cheaper to build.
class Trade(NamedTuple):
    """Energy from one seller to one buyer; the buyer pays ``cents`` to the seller."""

    seller: str
    buyer: str
    wh: int
    price: int  # m¢/kWh
    cents: int


class GridFallback(NamedTuple):
    """Energy a member could not trade locally, settled with the utility at its price."""

    member: str
    wh: int
    price: int  # m¢/kWh: retail for IMPORT, feed-in for EXPORT
    cents: int
    direction: Direction


@dataclass(frozen=True, slots=True)
class Totals:
    offered_wh: int  # all sellers' surplus
    bid_wh: int  # all buyers' need
    matched_wh: int  # traded locally: sold == bought
    max_matchable_wh: int  # the most any rule could trade within everyone's limits
    traded_cents: int  # paid by buyers == received by sellers
    grid_import_wh: int
    grid_import_cents: int  # members pay the grid
    grid_export_wh: int
    grid_export_cents: int  # the grid pays members


@dataclass(frozen=True, slots=True)
class Clearing:
    """The outcome of one interval: trades, grid fallbacks and totals."""

    mode: Mode
    trades: tuple[Trade, ...]
    grid: tuple[GridFallback, ...]
    totals: Totals
    prices: GridPrices = field(repr=False)


# --------------------------------------------------------------------------------------
# Rounding
# --------------------------------------------------------------------------------------


def cents_of(wh: int, price: int) -> int:
    """The cents for ``wh`` at ``price`` m¢/kWh, rounded half up (used for grid fallbacks)."""
    return (2 * wh * price + MICRO) // (2 * MICRO)


def cents_split(values: Sequence[int]) -> list[int]:
    """Round a list of exact amounts (in millionths of a cent) to cents, keeping the total.

    The total is the exact sum rounded half up. Each item first gets its amount rounded
    down; the cents still missing go one each to the items with the largest dropped
    fractions, the earlier item first on a tie. So every item is its exact amount rounded
    down or up, and the items add up to the rounded total exactly.
    """
    total = (2 * sum(values) + MICRO) // (2 * MICRO)
    out = [v // MICRO for v in values]
    missing = total - sum(out)
    if missing:
        # Largest dropped fraction first; the sort is stable, so the earlier item wins a
        # tie. Items without a fraction sort last and are never reached: fewer cents are
        # missing than there are items with a fraction.
        dropped = [-(v % MICRO) for v in values]
        for i in sorted(range(len(values)), key=dropped.__getitem__)[:missing]:
            out[i] += 1
    return out


def shares_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (all > 0) into integers summing to it.

    Each share is ``total * weight // sum`` plus one for the items with the largest
    remainders, the earlier item first on a tie (callers pass members sorted by id).
    """
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    base = [total * w // whole for w in weights]
    missing = total - sum(base)
    if missing:
        order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
        for i in order[:missing]:
            base[i] += 1
    return base


# --------------------------------------------------------------------------------------
# Building orders
# --------------------------------------------------------------------------------------


def orders_from_net(
    net_wh: Mapping[str, int],
    preferences: Mapping[str, PricePreference],
    prices: GridPrices,
) -> OrderBook:
    """Orders for one interval from each member's net metered energy.

    ``net_wh`` is import minus export over the interval (Wh): a positive net becomes a
    bid for that energy at the member's ``max_buy`` (retail when unset), a negative net an
    offer at ``min_sell`` (feed-in when unset); zero places no order. Preferences of
    members without metered energy are ignored.
    """
    offers: list[Offer] = []
    bids: list[Bid] = []
    for member in sorted(net_wh):
        net = net_wh[member]
        _check_int(f"net_wh[{member!r}]", net, minimum=None)
        preference = preferences.get(member, PricePreference())
        if net > 0:
            limit = prices.retail if preference.max_buy is None else preference.max_buy
            bids.append(Bid(member, net, limit))
        elif net < 0:
            limit = prices.feed_in if preference.min_sell is None else preference.min_sell
            offers.append(Offer(member, -net, limit))
    return OrderBook(offers=tuple(offers), bids=tuple(bids))


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


def _sorted_offers(offers: Iterable[Offer], prices: GridPrices) -> tuple[list[Offer], list[int]]:
    """Offers cheapest first (ties: member id), with limits raised to the feed-in floor."""
    floor = prices.feed_in
    keyed = sorted((o.min_price if o.min_price > floor else floor, o.member, o) for o in offers)
    return [k[2] for k in keyed], [k[0] for k in keyed]


def _sorted_bids(bids: Iterable[Bid], prices: GridPrices) -> tuple[list[Bid], list[int]]:
    """Bids in priority order, highest first (ties: member id), capped at retail."""
    ceiling = prices.retail
    keyed = sorted(
        (-(b.max_price if b.max_price < ceiling else ceiling), b.member, b) for b in bids
    )
    return [k[2] for k in keyed], [-k[0] for k in keyed]


def max_matchable_wh(book: OrderBook, prices: GridPrices) -> int:
    """The most energy any assignment can trade without breaking a limit.

    A seller may serve a buyer when its (floored) offer is at most the buyer's (capped)
    bid, so every buyer's possible sellers are the cheapest ones up to its bid. For such
    nested sets Hall's theorem gives the maximum as all demand minus the worst shortfall
    over price levels: max over b of (demand bidding <= b) - (supply offered <= b).
    """
    offers, offer_limits = _sorted_offers(book.offers, prices)
    bids, bid_limits = _sorted_bids(book.bids, prices)
    return _max_matchable(offers, offer_limits, bids, bid_limits)


def _max_matchable(
    offers: list[Offer], offer_limits: list[int], bids: list[Bid], bid_limits: list[int]
) -> int:
    supply = 0
    demand = 0
    worst = 0
    i = 0
    n = len(offers)
    for k in range(len(bids) - 1, -1, -1):  # lowest bid first
        limit = bid_limits[k]
        while i < n and offer_limits[i] <= limit:
            supply += offers[i].wh
            i += 1
        demand += bids[k].wh
        if demand - supply > worst:
            worst = demand - supply
    return demand - worst


@dataclass(slots=True)
class _Fills:
    """Trades as parallel columns while a clearing runs (cheaper than objects per fill)."""

    sellers: list[str] = field(default_factory=list)
    buyers: list[str] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)
    prices: list[int] = field(default_factory=list)


def _settle(
    mode: Mode,
    prices: GridPrices,
    fills: _Fills,
    offers: Sequence[Offer],
    sold: Sequence[int],
    bids: Sequence[Bid],
    bought: Sequence[int],
    max_matchable: int,
) -> Clearing:
    """Cents for the fills, grid fallbacks for what each order did not trade, and totals.

    ``sold[i]`` is what ``offers[i]`` traded and ``bought[j]`` what ``bids[j]`` traded.
    """
    cents = cents_split([wh * p for wh, p in zip(fills.amounts, fills.prices, strict=True)])
    trades = tuple(map(Trade, fills.sellers, fills.buyers, fills.amounts, fills.prices, cents))
    short = sorted(
        (b.member, b.wh - got) for b, got in zip(bids, bought, strict=True) if b.wh > got
    )
    left = sorted((o.member, o.wh - got) for o, got in zip(offers, sold, strict=True) if o.wh > got)
    imports = [
        GridFallback(m, wh, prices.retail, cents_of(wh, prices.retail), Direction.IMPORT)
        for m, wh in short
    ]
    exports = [
        GridFallback(m, wh, prices.feed_in, cents_of(wh, prices.feed_in), Direction.EXPORT)
        for m, wh in left
    ]
    totals = Totals(
        offered_wh=sum(o.wh for o in offers),
        bid_wh=sum(b.wh for b in bids),
        matched_wh=sum(fills.amounts),
        max_matchable_wh=max_matchable,
        traded_cents=sum(cents),
        grid_import_wh=sum(g.wh for g in imports),
        grid_import_cents=sum(g.cents for g in imports),
        grid_export_wh=sum(g.wh for g in exports),
        grid_export_cents=sum(g.cents for g in exports),
    )
    return Clearing(mode, trades, tuple(imports + exports), totals, prices)


# --------------------------------------------------------------------------------------
# Mode (a): after-the-fact pro-rata sharing
# --------------------------------------------------------------------------------------


def share_pro_rata(
    net_wh: Mapping[str, int],
    prices: GridPrices,
    *,
    local_price: int | None = None,
) -> Clearing:
    """Share the interval's metered surplus among its importers, pro rata, at one price.

    ``net_wh`` is each member's import minus export (Wh). The shared energy is the smaller
    of total export and total import; the short side is shared out entirely and the long
    side contributes in proportion to its amounts (largest remainder, ties to the lower
    member id). Every trade is at ``local_price`` (default: the midpoint of feed-in and
    retail, rounded down), which must lie within them. Sellers and buyers, each sorted by
    member id, are paired by filling the buyers in order from the sellers in order, so the
    number of trades is at most sellers + buyers - 1. Limit prices play no part here.
    """
    price = prices.midpoint if local_price is None else local_price
    _check_int("local_price", price, minimum=0)
    if not prices.feed_in <= price <= prices.retail:
        raise MarketError(
            f"local_price {price} is outside [feed-in {prices.feed_in}, retail {prices.retail}]"
        )
    book = orders_from_net(net_wh, {}, prices)
    offers, bids = book.offers, book.bids  # sorted by member id
    shared = min(sum(o.wh for o in offers), sum(b.wh for b in bids))
    sold = shares_largest_remainder(shared, [o.wh for o in offers])
    bought = shares_largest_remainder(shared, [b.wh for b in bids])
    fills = _Fills()
    s = 0
    left = sold[0] if sold else 0
    for bid, need in zip(bids, bought, strict=True):
        while need:
            while not left:
                s += 1
                left = sold[s]
            amount = min(need, left)
            fills.sellers.append(offers[s].member)
            fills.buyers.append(bid.member)
            fills.amounts.append(amount)
            fills.prices.append(price)
            left -= amount
            need -= amount
    return _settle(Mode.PRO_RATA, prices, fills, offers, sold, bids, bought, shared)


# --------------------------------------------------------------------------------------
# Mode (b): double auction on standing limit prices
# --------------------------------------------------------------------------------------


def double_auction(book: OrderBook, prices: GridPrices) -> Clearing:
    """Match the most energy possible within every limit; price each pair at its midpoint.

    Limits are first bounded by the grid: offers are raised to feed-in, bids capped at
    retail. A seller may serve a buyer when its offer is at most the buyer's bid (equal
    prices trade).

    Quantity: the largest energy any assignment can trade (see :func:`max_matchable_wh`),
    which is never less than :func:`pay_as_clear` on the same book.

    Who trades, among assignments of that size: the highest bids and the cheapest offers.
    One sweep goes up the price scale: offers join a pool as the sweep reaches their
    price; each bid, lowest first, takes what the pool holds (cheapest offer first) and,
    for the rest, takes over energy already given to lower-priority bids (lowest bid
    first; on equal bids the higher member id yields). That energy's offers were at most
    the lower bid, so the move stays within limits; it keeps the total and raises the
    bids served, which makes the chosen buyers and sellers the greatest-surplus ones.

    Pairing and price: the k-th cheapest matched watt-hour of supply goes to the k-th
    lowest matched watt-hour of demand, and each pair trades at the midpoint of its
    offer and bid, rounded down to a whole m¢/kWh (a discriminatory, per-pair price).
    """
    offers, offer_limits = _sorted_offers(book.offers, prices)
    bids_by_priority, limits_by_priority = _sorted_bids(book.bids, prices)
    bids = bids_by_priority[::-1]  # ascending: lowest priority first
    bid_limits = limits_by_priority[::-1]

    # The pool of free offers is offers[head:joined] (their free Wh in ``free``), and the
    # bids holding energy are among bids[held:j] (what each holds in ``bought``): both are
    # first in, first out, so two indices replace two queues.
    free = [o.wh for o in offers]
    sold = [0] * len(offers)
    bought = [0] * len(bids)
    head = joined = held = 0
    pool_wh = 0
    n_offers = len(offers)
    for j, bid in enumerate(bids):
        limit = bid_limits[j]
        while joined < n_offers and offer_limits[joined] <= limit:
            pool_wh += free[joined]
            joined += 1
        need = bid.wh
        take = need if need < pool_wh else pool_wh
        pool_wh -= take
        need -= take
        got = take
        while take:
            amount = take if take < free[head] else free[head]
            free[head] -= amount
            sold[head] += amount
            take -= amount
            if not free[head]:
                head += 1
        while need and held < j:
            amount = need if need < bought[held] else bought[held]
            bought[held] -= amount
            need -= amount
            got += amount
            if not bought[held]:
                held += 1
        bought[j] = got

    fills = _Fills()
    s = 0
    left = sold[0] if sold else 0
    for j, bid in enumerate(bids):
        need = bought[j]
        while need:
            while not left:
                s += 1
                left = sold[s]
            if offer_limits[s] > bid_limits[j]:  # cannot happen; guards the proof above
                raise RuntimeError("double_auction paired an offer above its bid")
            amount = need if need < left else left
            fills.sellers.append(offers[s].member)
            fills.buyers.append(bid.member)
            fills.amounts.append(amount)
            fills.prices.append((offer_limits[s] + bid_limits[j]) // 2)
            need -= amount
            left -= amount
    most = _max_matchable(offers, offer_limits, bids_by_priority, limits_by_priority)
    return _settle(Mode.DOUBLE_AUCTION, prices, fills, offers, sold, bids, bought, most)


def pay_as_clear(book: OrderBook, prices: GridPrices) -> Clearing:
    """The reference uniform-price auction: one clearing price for every trade.

    Bids from the highest down (ties: member id) meet offers from the cheapest up (ties:
    member id) while the bid is at least the offer. All trades are at one price: the
    midpoint of the last matched pair's offer and bid, rounded down, which lies between
    every matched offer and every matched bid. It trades no more than
    :func:`double_auction`, often less: a low bid that a cheap offer could serve is left
    out once the cheap offer went to a high bid.
    """
    offers, offer_limits = _sorted_offers(book.offers, prices)
    bids, bid_limits = _sorted_bids(book.bids, prices)
    fills = _Fills()
    sold = [0] * len(offers)
    bought = [0] * len(bids)
    i = j = 0
    offer_left = offers[0].wh if offers else 0
    bid_left = bids[0].wh if bids else 0
    last_offer = last_bid = 0
    while i < len(offers) and j < len(bids) and offer_limits[i] <= bid_limits[j]:
        amount = min(offer_left, bid_left)
        fills.sellers.append(offers[i].member)
        fills.buyers.append(bids[j].member)
        fills.amounts.append(amount)
        sold[i] += amount
        bought[j] += amount
        last_offer, last_bid = offer_limits[i], bid_limits[j]
        offer_left -= amount
        bid_left -= amount
        if not offer_left:
            i += 1
            offer_left = offers[i].wh if i < len(offers) else 0
        if not bid_left:
            j += 1
            bid_left = bids[j].wh if j < len(bids) else 0
    fills.prices = [(last_offer + last_bid) // 2] * len(fills.amounts)
    most = _max_matchable(offers, offer_limits, bids, bid_limits)
    return _settle(Mode.PAY_AS_CLEAR, prices, fills, offers, sold, bids, bought, most)
