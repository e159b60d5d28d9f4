"""Every read of the energy app that services, views and the API need.

energy-core's functions come first; the portal's page selectors are appended at the end.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from citychain import roles
from energy import market
from energy.models import (
    Bill,
    GridSettlement,
    Interval,
    MarketSettings,
    Member,
    Meter,
    Order,
    Tariff,
    Trade,
)
from identity.models import Organization


def format_price(price: int) -> str:
    """A price in m¢/kWh as people read it: 12_500 -> "12.5¢/kWh"."""
    whole, rest = divmod(price, 1000)
    text = f"{whole}.{rest:03d}".rstrip("0").rstrip(".")
    return f"{text}¢/kWh"


def member_for_user(user) -> Member | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.select_related("microgrid").filter(user=user).first()


def member_get(*, public_id) -> Member:
    return Member.objects.select_related("microgrid").get(public_id=public_id)


def microgrid_for_user(user) -> Organization | None:
    """The microgrid a grid operator (or city admin) of a microgrid organization runs."""
    if not roles.has_role(user, roles.GRID_OPERATOR, roles.CITY_ADMIN):
        return None
    org = getattr(user, "organization", None)
    if org is None or org.kind != Organization.Kind.MICROGRID:
        return None
    return org


def market_settings_for(microgrid: Organization) -> MarketSettings:
    """The microgrid's saved settings, or the defaults (unsaved) when it has none."""
    found = MarketSettings.objects.filter(microgrid=microgrid).first()
    return found or MarketSettings(microgrid=microgrid)


def tariff_in_force(microgrid: Organization, at: datetime) -> Tariff | None:
    return (
        Tariff.objects.filter(microgrid=microgrid, effective_from__lte=at)
        .prefetch_related("periods")
        .order_by("-effective_from")
        .first()
    )


def grid_prices_at(microgrid: Organization, at: datetime) -> market.GridPrices:
    """Retail and feed-in prices for the quarter-hour starting at ``at``, time of use included."""
    tariff = tariff_in_force(microgrid, at)
    if tariff is None:
        raise ValidationError(_("The microgrid has no tariff for this time yet."))
    zone = ZoneInfo(market_settings_for(microgrid).timezone)
    local = at.astimezone(zone).time()
    for period in tariff.periods.all():
        if period.start_time <= local < period.end_time:
            return market.GridPrices(feed_in=period.feed_in_price, retail=period.retail_price)
    return market.GridPrices(feed_in=tariff.feed_in_price, retail=tariff.retail_price)


def month_bounds(microgrid: Organization, year: int, month: int) -> tuple[datetime, datetime]:
    """The first instant of a local calendar month and of the next one, in UTC."""
    zone = ZoneInfo(market_settings_for(microgrid).timezone)
    days = calendar.monthrange(year, month)[1]
    start = datetime.combine(date(year, month, 1), time(), zone)
    end = datetime.combine(date(year, month, days) + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def interval_get(*, microgrid: Organization, start: datetime) -> Interval | None:
    return Interval.objects.filter(microgrid=microgrid, start=start).first()


@dataclass(frozen=True)
class IntervalBook:
    orders: list[Order]
    trades: list[Trade]
    grid: list[GridSettlement]


def interval_book(interval: Interval) -> IntervalBook:
    """An interval's orders (cancelled ones too), trades and grid lines, members loaded."""
    return IntervalBook(
        orders=list(
            Order.objects.filter(interval=interval)
            .select_related("member")
            .order_by("side", "limit_price", "member__public_id")
        ),
        trades=list(
            Trade.objects.filter(interval=interval).select_related("seller", "buyer").order_by("id")
        ),
        grid=list(
            GridSettlement.objects.filter(interval=interval)
            .select_related("member")
            .order_by("direction", "member__public_id")
        ),
    )


def intervals_between(
    microgrid: Organization, start: datetime, end: datetime
) -> QuerySet[Interval]:
    return Interval.objects.filter(microgrid=microgrid, start__gte=start, start__lt=end).order_by(
        "start"
    )


def member_bills(member: Member) -> QuerySet[Bill]:
    return Bill.objects.filter(member=member).select_related("payment").order_by("-month")


def microgrid_bills(microgrid: Organization, *, month: date | None = None) -> QuerySet[Bill]:
    bills = Bill.objects.filter(member__microgrid=microgrid).select_related("member", "payment")
    if month is not None:
        bills = bills.filter(month=month)
    return bills.order_by("-month", "member__public_id")


def token_digest(token: str) -> str:
    """SHA-256 of a meter token: tokens are 256 random bits, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def meter_for_token(meter_id: str, token: str) -> Meter | None:
    """The active meter whose id and token match, else None (timing does not tell which)."""
    digest = token_digest(token)
    meter = (
        Meter.objects.select_related("member__microgrid")
        .filter(meter_id=meter_id, is_active=True)
        .first()
    )
    expected = meter.token_hash if meter is not None else "0" * 64
    if not constant_time_compare(digest, expected) or meter is None:
        return None
    return meter


# --- Portal page reads (energy-web: member and operator dashboards) -----------------------
# Each returns whole-page figures in a fixed number of queries, grouped by the microgrid's
# local calendar day, so the pages' query counts do not grow with the data.

from django.db.models import BigIntegerField, Count, F, Max, Min, Q, Sum  # noqa: E402
from django.db.models.functions import TruncDate  # noqa: E402

from energy.models import QUARTER, Reading  # noqa: E402


@dataclass
class PortalDay:
    """One local day of a member's or the community's energy and money."""

    day: date
    consumption_wh: int = 0  # imported, as the meters measure it
    production_wh: int = 0  # exported
    bought_local_wh: int = 0
    bought_local_cents: int = 0
    bought_grid_wh: int = 0
    bought_grid_cents: int = 0
    sold_local_wh: int = 0
    sold_local_cents: int = 0
    sold_grid_wh: int = 0
    sold_grid_cents: int = 0
    # Exact values of local trades at the grid's prices (Wh x m¢/kWh), for savings.
    local_bought_at_retail: int = 0
    local_sold_at_feed_in: int = 0
    # Community only: the market's book (net demand and supply) and what matched.
    bid_wh: int = 0
    offered_wh: int = 0
    matched_wh: int = 0

    @property
    def saved_cents(self) -> int:
        """What buying from neighbours saved against the grid's retail price."""
        return _round_cents(self.local_bought_at_retail) - self.bought_local_cents

    @property
    def earned_cents(self) -> int:
        """Everything selling earned: from neighbours and from the grid."""
        return self.sold_local_cents + self.sold_grid_cents

    @property
    def extra_earned_cents(self) -> int:
        """What selling to neighbours earned above the grid's feed-in price."""
        return self.sold_local_cents - _round_cents(self.local_sold_at_feed_in)

    @property
    def net_cents(self) -> int:
        return self.bought_local_cents + self.bought_grid_cents - self.earned_cents

    @property
    def self_sufficiency(self) -> float | None:
        """Share of the community's net demand met by neighbours' surplus (0-1)."""
        return self.matched_wh / self.bid_wh if self.bid_wh else None


_PORTAL_SUM_FIELDS = [f for f in PortalDay.__dataclass_fields__ if f != "day"]


def _round_cents(wh_times_millicents: int) -> int:
    # Wh x m¢/kWh is 10⁻⁶ ¢; round half up, as market.cents_of does.
    return (wh_times_millicents + 500_000) // 1_000_000


def portal_total(days: list[PortalDay]) -> PortalDay:
    total = PortalDay(day=days[0].day if days else date.min)
    for d in days:
        for name in _PORTAL_SUM_FIELDS:
            setattr(total, name, getattr(total, name) + getattr(d, name))
    return total


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first, last = start.astimezone(zone).date(), (end - QUARTER).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _add_daily(days: dict, rows, mapping: dict[str, str]) -> None:
    for row in rows:
        day = days.get(row["day"])
        if day is None:
            continue
        for field_name, key in mapping.items():
            setattr(day, field_name, getattr(day, field_name) + (row[key] or 0))


def _add_readings(days: dict, readings, zone: ZoneInfo) -> None:
    """Metered import and export per local day. Summed per quarter-hour in the database (a
    plain GROUP BY on an indexed column) and put into days here: converting every reading's
    time zone in SQL is what made this slow on SQLite (a Python function per row)."""
    rows = readings.values("interval_start").annotate(imp=Sum("import_wh"), exp=Sum("export_wh"))
    for row in rows:
        day = days.get(row["interval_start"].astimezone(zone).date())
        if day is not None:
            day.consumption_wh += row["imp"] or 0
            day.production_wh += row["exp"] or 0


def member_days(
    member: Member, *, start: datetime, end: datetime, zone: ZoneInfo
) -> list[PortalDay]:
    """A member's days from `start` to `end` (aware, local midnights): five queries."""
    days = {d: PortalDay(day=d) for d in _local_days(start, end, zone)}
    readings = Reading.objects.filter(
        meter__member=member, interval_start__gte=start, interval_start__lt=end
    )
    _add_readings(days, readings, zone)
    in_range = {"interval__start__gte": start, "interval__start__lt": end}
    day = TruncDate("interval__start", tzinfo=zone)
    purchases = (
        Trade.objects.filter(buyer=member, **in_range)
        .annotate(day=day)
        .values("day")
        .annotate(
            wh_sum=Sum("wh"),
            cents_sum=Sum("cents"),
            at_retail=Sum(F("wh") * F("interval__retail_price"), output_field=BigIntegerField()),
        )
    )
    _add_daily(
        days,
        purchases,
        {
            "bought_local_wh": "wh_sum",
            "bought_local_cents": "cents_sum",
            "local_bought_at_retail": "at_retail",
        },
    )
    sales = (
        Trade.objects.filter(seller=member, **in_range)
        .annotate(day=day)
        .values("day")
        .annotate(
            wh_sum=Sum("wh"),
            cents_sum=Sum("cents"),
            at_feed_in=Sum(F("wh") * F("interval__feed_in_price"), output_field=BigIntegerField()),
        )
    )
    _add_daily(
        days,
        sales,
        {
            "sold_local_wh": "wh_sum",
            "sold_local_cents": "cents_sum",
            "local_sold_at_feed_in": "at_feed_in",
        },
    )
    grid = (
        GridSettlement.objects.filter(member=member, **in_range)
        .annotate(day=day)
        .values("day", "direction")
        .annotate(wh_sum=Sum("wh"), cents_sum=Sum("cents"))
    )
    imports = [r for r in grid if r["direction"] == GridSettlement.Direction.IMPORT]
    exports = [r for r in grid if r["direction"] == GridSettlement.Direction.EXPORT]
    _add_daily(days, imports, {"bought_grid_wh": "wh_sum", "bought_grid_cents": "cents_sum"})
    _add_daily(days, exports, {"sold_grid_wh": "wh_sum", "sold_grid_cents": "cents_sum"})
    return list(days.values())


def microgrid_days(
    microgrid: Organization, *, start: datetime, end: datetime, zone: ZoneInfo
) -> list[PortalDay]:
    """The community's days: metered energy, the market's books and what matched (3 queries)."""
    days = {d: PortalDay(day=d) for d in _local_days(start, end, zone)}
    readings = Reading.objects.filter(
        meter__member__microgrid=microgrid, interval_start__gte=start, interval_start__lt=end
    )
    _add_readings(days, readings, zone)
    intervals = (
        Interval.objects.filter(
            microgrid=microgrid,
            status=Interval.Status.CLEARED,
            start__gte=start,
            start__lt=end,
        )
        .annotate(day=TruncDate("start", tzinfo=zone))
        .values("day")
        .annotate(
            bid=Sum("bid_wh"),
            offered=Sum("offered_wh"),
            matched=Sum("matched_wh"),
            traded=Sum("traded_cents"),
            g_imp=Sum("grid_import_wh"),
            g_imp_c=Sum("grid_import_cents"),
            g_exp=Sum("grid_export_wh"),
            g_exp_c=Sum("grid_export_cents"),
        )
    )
    _add_daily(
        days,
        intervals,
        {
            "bid_wh": "bid",
            "offered_wh": "offered",
            "matched_wh": "matched",
            "bought_local_wh": "matched",
            "bought_local_cents": "traded",
            "sold_local_wh": "matched",
            "sold_local_cents": "traded",
            "bought_grid_wh": "g_imp",
            "bought_grid_cents": "g_imp_c",
            "sold_grid_wh": "g_exp",
            "sold_grid_cents": "g_exp_c",
        },
    )
    at_grid = (
        Trade.objects.filter(
            interval__microgrid=microgrid, interval__start__gte=start, interval__start__lt=end
        )
        .annotate(day=TruncDate("interval__start", tzinfo=zone))
        .values("day")
        .annotate(
            at_retail=Sum(F("wh") * F("interval__retail_price"), output_field=BigIntegerField()),
            at_feed_in=Sum(F("wh") * F("interval__feed_in_price"), output_field=BigIntegerField()),
        )
    )
    _add_daily(
        days,
        at_grid,
        {"local_bought_at_retail": "at_retail", "local_sold_at_feed_in": "at_feed_in"},
    )
    return list(days.values())


def microgrid_recent_intervals(microgrid: Organization, *, before: datetime, limit: int = 96):
    """The last `limit` intervals that started before `before`, oldest first (one query)."""
    rows = Interval.objects.filter(microgrid=microgrid, start__lt=before).order_by("-start")[:limit]
    return list(reversed(rows))


def microgrid_intervals(microgrid: Organization):
    """Every interval of the microgrid, newest first, for a paginated list."""
    return Interval.objects.filter(microgrid=microgrid).order_by("-start")


def microgrid_community(microgrid: Organization) -> dict:
    """Active members and meters: one query."""
    return Member.objects.filter(microgrid=microgrid, is_active=True).aggregate(
        members=Count("id", distinct=True),
        meters=Count("meters", filter=Q(meters__is_active=True), distinct=True),
    )


def member_manual_orders(member: Member, *, since: datetime):
    """The member's active hand-placed orders for intervals ending after `since`."""
    return (
        Order.objects.filter(
            member=member,
            source=Order.Source.MANUAL,
            status=Order.Status.ACTIVE,
            interval__start__gt=since - QUARTER,
        )
        .select_related("interval")
        .order_by("interval__start")
    )


def member_meters_with_counts(member: Member):
    """The member's meters with how many readings each has, newest reading first (one query)."""
    return (
        Meter.objects.filter(member=member)
        .annotate(
            reading_count=Count("readings"),
            green_button_count=Count(
                "readings", filter=Q(readings__source=Reading.Source.GREEN_BUTTON)
            ),
            first_reading=Min("readings__interval_start"),
            last_reading=Max("readings__interval_start"),
        )
        .order_by("meter_id")
    )


def interval_neighbours(interval: Interval) -> dict:
    """The ids of the intervals just before and after this one (one query)."""
    found = dict(
        Interval.objects.filter(
            microgrid=interval.microgrid_id,
            start__in=[interval.start - QUARTER, interval.start + QUARTER],
        ).values_list("start", "pk")
    )
    return {
        "previous": found.get(interval.start - QUARTER),
        "next": found.get(interval.start + QUARTER),
    }


def member_recent_trades(member: Member, *, limit: int = 8) -> list[Trade]:
    """The member's latest trades with neighbours, newest first, intervals loaded (one query)."""
    return list(
        Trade.objects.filter(Q(buyer=member) | Q(seller=member))
        .select_related("interval")
        .order_by("-interval__start", "id")[:limit]
    )
