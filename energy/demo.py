"""Demo data for energy: the "Sunrise Microgrid", 50 homes and shops, 20 of them with rooftop
solar, and a week of 15-minute readings from the synthetic model (energy/synthetic.py),
cleared, settled and billed through energy.services as meters and the operator would.

- The week is the 7 days up to now, so the dashboards show this month and the operator's
  price chart shows the last day. When the previous month has no readings in that week, its
  last 3 days are seeded too, so that month can be billed (bills are only made for months
  that are over); 3 rather than 7 keeps `seed_demo` within a minute, as clearing an
  interval costs some 40 ms on SQLite. About two thirds of the previous month's bills that
  ask for money are marked paid (the credit app records those of residents as on-time
  payments).
- The demo login "household" is the first home with solar; the operator login belongs to
  Sunrise Microgrid. Ten other members are linked to demo residents.
- Deterministic: the homes, weather and loads come from one seed; only "now" moves the week.
- Idempotent: each step looks for its own result first (meters by id, readings present,
  intervals already cleared, bills already made, payments recorded), so a second run adds
  nothing and a run interrupted half way finishes the rest.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from energy import selectors, services, synthetic
from energy.models import (
    QUARTER,
    Bill,
    Interval,
    MarketMode,
    Member,
    Meter,
    Reading,
    Tariff,
)
from identity.models import Organization, Resident, User

MICROGRID = "Sunrise Microgrid"
HOMES = 50
WITH_SOLAR = 20
DAYS = 7
BILL_DAYS = 3  # of the previous month, when the week has none of it: enough for a bill
SEED = 20260614
HOUSEHOLD_LOGIN = "household"
LINKED_RESIDENTS = 10
# ComEd-like prices in m¢/kWh: 16 ¢ retail and 5 ¢ feed-in, 21 ¢ / 6 ¢ on summer-style
# weekday afternoons (a time-of-use period every day, to keep the demo simple).
RETAIL = 16_000
FEED_IN = 5_000
PEAK = services.TariffPeriodSpec(time(14, 0), time(19, 0), 21_000, 6_000, "Afternoon peak")
PAID_SHARE = 0.65
SLICE_SECONDS = 5  # clearing runs in slices this long, with progress after each


def _meter_id(number: int) -> str:
    return f"sunrise-{number:03d}"


def _floor_quarter(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def _windows(now: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The week up to now, and the previous month's last days if the week has none of them."""
    end = _floor_quarter(now)
    start = end - timedelta(days=DAYS)
    first_of_month = now.astimezone(zone).date().replace(day=1)
    month_start = datetime(first_of_month.year, first_of_month.month, 1, tzinfo=zone)
    if start < month_start:
        return [(start, end)]
    previous_start = month_start - timedelta(days=BILL_DAYS)
    return [(previous_start.astimezone(UTC), month_start.astimezone(UTC)), (start, end)]


def _members(microgrid: Organization, homes: list[synthetic.Home], progress) -> dict[int, Member]:
    """Members and meters for the homes (reused when their meters already exist)."""
    existing = {
        m.meter_id: m.member
        for m in Meter.objects.filter(
            meter_id__in=[_meter_id(h.number) for h in homes]
        ).select_related("member")
    }
    if len(existing) == len(homes):
        return {h.number: existing[_meter_id(h.number)] for h in homes}
    rng = random.Random(SEED)  # noqa: S311 - demo data
    household = User.objects.filter(username=HOUSEHOLD_LOGIN).first()
    household_home = next(h for h in homes if h.has_solar)
    residents = list(Resident.objects.order_by("pk")[:LINKED_RESIDENTS])
    members: dict[int, Member] = {}
    with transaction.atomic():
        for home in homes:
            meter_id = _meter_id(home.number)
            if meter_id in existing:
                members[home.number] = existing[meter_id]
                continue
            business = home.profile == "small_shop"
            is_household_login = home is household_home and household is not None
            if is_household_login:
                name = household.get_full_name() or household.username
            else:
                label = "Demo business" if business else "Demo household"
                name = f"{label} {home.number:02d}"
            # About half the members set standing prices; the rest take the grid's.
            min_sell = max_buy = None
            if is_household_login or rng.random() < 0.5:
                min_sell = rng.randrange(FEED_IN, (FEED_IN + RETAIL) // 2, 250)
                max_buy = rng.randrange((FEED_IN + RETAIL) // 2, RETAIL + 1, 250)
            linked = None
            if not is_household_login and residents and home.number % 5 == 0:
                linked = residents.pop(0)
            member = services.member_register(
                microgrid=microgrid,
                kind=Member.Kind.BUSINESS if business else Member.Kind.HOUSEHOLD,
                name=name,
                resident=linked,
                user=household if is_household_login else None,
                min_sell=min_sell,
                max_buy=max_buy,
            )
            services.meter_register(member=member, meter_id=meter_id)
            members[home.number] = member
    progress(
        f"  {len(homes)} members ({sum(h.has_solar for h in homes)} with solar); "
        f"'{HOUSEHOLD_LOGIN}' is member {household_home.number}"
    )
    return members


def _readings(
    microgrid: Organization,
    homes: list[synthetic.Home],
    members: dict[int, Member],
    windows: list[tuple[datetime, datetime]],
    progress,
) -> None:
    meters = {
        m.member_id: m
        for m in Meter.objects.filter(member__in=members.values()).select_related(
            "member__microgrid"
        )
    }
    if Reading.objects.filter(meter__in=meters.values()).exists():
        progress("  readings already there")
        return
    by_home = {h.number: meters[members[h.number].pk] for h in homes}
    total = 0
    for start, end in windows:
        day = start
        while day < end:
            day_end = min(day + timedelta(days=1), end)
            rows: dict[int, list[services.ReadingRow]] = {h.number: [] for h in homes}
            for r in synthetic.readings(homes, start=day, end=day_end, seed=SEED):
                rows[r.home].append(services.ReadingRow(r.start, r.import_wh, r.export_wh))
            services.readings_ingest_many(
                batches=[(by_home[n], batch) for n, batch in rows.items()]
            )
            total += sum(len(b) for b in rows.values())
            progress(f"  readings to {day_end.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {total:,}")
            day = day_end


def _clear(microgrid: Organization, progress) -> None:
    """Clear every interval that is due, as the Celery beat's sweep does, in slices of a few
    seconds so progress shows; then settle those past the settlement delay."""
    waiting = (
        Interval.objects.filter(microgrid=microgrid)
        .exclude(status=Interval.Status.CLEARED)
        .filter(start__lte=timezone.now() - 2 * QUARTER)
        .count()
    )
    done = 0
    while True:
        # "now" after the readings arrived: a clearing older than its readings would look
        # stale and be redone at settlement.
        cleared = services.market_clear_due(
            now=timezone.now(), microgrid=microgrid, max_seconds=SLICE_SECONDS
        )
        if not cleared:
            break
        done += len(cleared)
        progress(f"  cleared {done:,} of {waiting:,} intervals")
    services.market_clear_due(now=timezone.now(), microgrid=microgrid)  # settles the rest


def _bill(microgrid: Organization, now: datetime, zone: ZoneInfo, progress) -> None:
    this_month = now.astimezone(zone).date().replace(day=1)
    previous = (this_month - timedelta(days=1)).replace(day=1)
    start, end = selectors.month_bounds(microgrid, previous.year, previous.month)
    if not Reading.objects.filter(
        meter__member__microgrid=microgrid, interval_start__gte=start, interval_start__lt=end
    ).exists():
        progress("  no readings last month: nothing to bill")
        return
    bills = services.bills_make_month(
        microgrid=microgrid, year=previous.year, month=previous.month, now=now
    )
    rng = random.Random(SEED + 1)  # noqa: S311 - demo data
    paid = 0
    for bill in sorted(bills, key=lambda b: b.member_id):
        # Draw for every bill, paid or not, so a second run makes the same choices.
        pays, days_early = rng.random() < PAID_SHARE, rng.randrange(0, 15)
        if bill.status == Bill.Status.PAID or bill.net_cents <= 0 or not pays:
            continue
        # "Today" where payments are dated (the city's time zone), not UTC's date: for
        # hours each evening UTC is already tomorrow, and that would be a future payment.
        paid_on = min(bill.due_date - timedelta(days=days_early), timezone.localdate(now))
        services.bill_mark_paid(bill=bill, paid_on=max(paid_on, timezone.localdate(bill.issued_at)))
        paid += 1
    progress(f"  {len(bills)} bills for {previous:%B %Y}, {paid} newly marked paid")


def seed(progress: Callable[[str], None] = print) -> None:
    microgrid = Organization.objects.filter(name=MICROGRID, kind="microgrid").first()
    if microgrid is None:
        progress(f"  no organization {MICROGRID!r}: run the people seeder first")
        return
    now = timezone.now()
    settings_row = selectors.market_settings_for(microgrid)
    zone = ZoneInfo(settings_row.timezone)
    windows = _windows(now, zone)
    if settings_row.pk is None:
        services.market_settings_set(microgrid=microgrid, mode=MarketMode.DOUBLE_AUCTION)
    if not Tariff.objects.filter(microgrid=microgrid).exists():
        effective = windows[0][0] - timedelta(days=1)
        services.tariff_set(
            microgrid=microgrid,
            retail_price=RETAIL,
            feed_in_price=FEED_IN,
            periods=[PEAK],
            effective_from=effective,
            name="Utility residential tariff (demo)",
        )
    homes = synthetic.make_homes(HOMES, with_solar=WITH_SOLAR, seed=SEED)
    members = _members(microgrid, homes, progress)
    _readings(microgrid, homes, members, windows, progress)
    _clear(microgrid, progress)
    _bill(microgrid, timezone.now(), zone, progress)
