"""Every write of the energy app: members, meters, readings, the market, settlement, bills.

Invariants:
- Units: energy in integer Wh, money in integer cents, prices in integer m¢/kWh.
- Readings: one per meter and quarter-hour. A batch is checked whole before anything is
  written: one bad row refuses the batch with per-row errors and stores nothing. The same
  values again change nothing (a retried batch is harmless); other values correct the
  reading while its interval is not settled, and are refused once it is.
- Intervals go open -> closed -> cleared, then settled. Clearing and settling hold the
  interval's row lock; ingestion holds a shared lock on the intervals it writes into (on
  PostgreSQL; SQLite serializes writers), so a reading is either seen by a clearing or
  lands after it with ``received_at`` later than the interval's ``cleared_at``, which
  sends the interval back to ``closed`` for another run (``run`` + 1) until it settles.
- Clearing is a pure function of the interval's book (energy.market): the same readings,
  preferences, manual orders and prices give the same trades. A cleared interval is not
  cleared again unless readings changed; a settled one never.
- Every clearing run writes each trade and grid fallback on the ledger (members as
  pseudonyms, Wh, m¢/kWh, cents) with the run number, plus one summary entry; settling
  writes a final entry naming the run that stands. Bills, payments, members, meters,
  orders, tariffs and market settings are on the ledger too, in the same transaction.
- Nothing personal reaches the ledger or the logs: members are pseudonyms of their
  public id, meters of their meter id; a member's name is encrypted in its row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic as time_monotonic
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from energy import greenbutton, market, selectors
from energy.models import (
    QUARTER,
    Bill,
    BillLine,
    GridSettlement,
    Interval,
    MarketMode,
    MarketSettings,
    Member,
    Meter,
    Order,
    Payment,
    Reading,
    Side,
    Tariff,
    TariffPeriod,
    Trade,
)
from identity.models import Organization
from ledger import services as ledger

log = logging.getLogger(__name__)

MAX_WH_PER_QUARTER = 10_000_000  # 40 MW for 15 minutes: far above any member's connection
MAX_PRICE = 10_000_000  # 100 $/kWh in m¢/kWh: a typo guard, not a market rule
MAX_ORDER_DAYS_AHEAD = 7
CLOCK_SKEW = timedelta(minutes=2)  # a meter's clock may run this far ahead of ours
BILL_DUE_DAYS = 21
MAX_ROW_ERRORS = 100
_METER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


# --- shared helpers ----------------------------------------------------------------


class ReadingRow(NamedTuple):
    interval_start: datetime
    import_wh: int
    export_wh: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


class ReadingsRejected(ValidationError):
    """A batch refused whole; ``row_errors`` says what is wrong with which rows.

    Each item is ``{"row": index in the batch (0-based), "errors": {field: [messages]}}``,
    plus ``"meter"`` when the batch spans several meters. At most MAX_ROW_ERRORS are listed.
    """

    def __init__(self, row_errors: list[dict[str, Any]], *, total: int | None = None) -> None:
        self.row_errors = row_errors[:MAX_ROW_ERRORS]
        count = total if total is not None else len(row_errors)
        super().__init__(
            ngettext(
                "%(count)d reading was refused; nothing was stored.",
                "%(count)d readings were refused; nothing was stored.",
                count,
            )
            % {"count": count}
        )


class TariffPeriodSpec(NamedTuple):
    start_time: time
    end_time: time
    retail_price: int
    feed_in_price: int
    name: str = ""


# A sweep (clearing a day of intervals, billing a month) names the same members on the
# ledger thousands of times; each pseudonym is a query, so a sweep remembers them.
_subjects: ContextVar[dict[tuple[str, str], str] | None] = ContextVar(
    "energy_subjects", default=None
)


@contextmanager
def _remember_subjects():
    token = _subjects.set({}) if _subjects.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _subjects.reset(token)


def _subject(namespace: str, identifier: str) -> str:
    cache = _subjects.get()
    if cache is None:
        return ledger.pseudonym(namespace, identifier)
    key = (namespace, identifier)
    if key not in cache:
        cache[key] = ledger.pseudonym(namespace, identifier)
    return cache[key]


def member_subject(member: Member) -> str:
    return _subject("energy.member", str(member.public_id))


def meter_subject(meter: Meter) -> str:
    return _subject("energy.meter", meter.meter_id)


def microgrid_subject(microgrid_id: int) -> str:
    return _subject("energy.microgrid", str(microgrid_id))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_int(value: object) -> bool:
    return type(value) is int


def _on_quarter(at: datetime) -> bool:
    return at.second == 0 and at.microsecond == 0 and at.minute % 15 == 0


def _floor_quarter(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def _check_price(name: str, value: object, errors: dict[str, list[str]]) -> None:
    if value is None:
        return
    if not _is_int(value) or not 0 <= value <= MAX_PRICE:
        errors.setdefault(name, []).append(
            _("Enter a whole number of millicents per kWh between 0 and %(max)d.")
            % {"max": MAX_PRICE}
        )


def _check_microgrid(microgrid: Organization) -> None:
    if microgrid.kind != Organization.Kind.MICROGRID:
        raise ValidationError(_("This organization is not a microgrid operator."))


def _bounds_now(microgrid: Organization) -> tuple[int, int] | None:
    """The lowest feed-in and highest retail price of the tariff in force now (with TOU)."""
    tariff = selectors.tariff_in_force(microgrid, timezone.now())
    if tariff is None:
        return None
    feed_ins = [tariff.feed_in_price] + [p.feed_in_price for p in tariff.periods.all()]
    retails = [tariff.retail_price] + [p.retail_price for p in tariff.periods.all()]
    return min(feed_ins), max(retails)


def _check_preferences(
    microgrid: Organization, min_sell: int | None, max_buy: int | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _check_price("min_sell", min_sell, errors)
    _check_price("max_buy", max_buy, errors)
    if errors or (min_sell is None and max_buy is None):
        return errors
    bounds = _bounds_now(microgrid)
    if bounds is None:
        errors["__all__"] = [_("The microgrid has no tariff yet, so prices cannot be checked.")]
        return errors
    low, high = bounds
    message = _(
        "Choose a price between the feed-in price (%(low)s) and the retail price (%(high)s)."
    ) % {"low": selectors.format_price(low), "high": selectors.format_price(high)}
    if min_sell is not None and not low <= min_sell <= high:
        errors.setdefault("min_sell", []).append(message)
    if max_buy is not None and not low <= max_buy <= high:
        errors.setdefault("max_buy", []).append(message)
    if min_sell is not None and max_buy is not None and min_sell > max_buy and not errors:
        errors["min_sell"] = [
            _("The lowest selling price cannot be above the highest buying price.")
        ]
    return errors


# --- members and meters ---------------------------------------------------------


@transaction.atomic
def member_register(
    *,
    microgrid: Organization,
    kind: str,
    name: str,
    resident=None,
    user=None,
    min_sell: int | None = None,
    max_buy: int | None = None,
    acting_user=None,
) -> Member:
    """Add a household or business to a microgrid."""
    _check_microgrid(microgrid)
    errors = _check_preferences(microgrid, min_sell, max_buy)
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Enter the household's or business's name."))
    elif len(name) > 200:
        errors.setdefault("name", []).append(_("Keep the name to 200 characters or fewer."))
    if user is not None and Member.objects.filter(user=user).exists():
        errors.setdefault("user", []).append(_("This account already belongs to a member."))
    if errors:
        raise ValidationError(errors)
    member = Member(
        microgrid=microgrid,
        kind=kind,
        name=name,
        resident=resident,
        user=user,
        min_sell=min_sell,
        max_buy=max_buy,
    )
    member.full_clean()
    member.save()
    ledger.record(
        "energy.member_joined",
        member_subject(member),
        {"microgrid": microgrid_subject(microgrid.pk), "kind": kind},
    )
    return member


@transaction.atomic
def member_set_preferences(
    *, member: Member, min_sell: int | None, max_buy: int | None, acting_user=None
) -> Member:
    """Set a member's standing price limits (None: the grid's price)."""
    errors = _check_preferences(member.microgrid, min_sell, max_buy)
    if errors:
        raise ValidationError(errors)
    member = Member.objects.select_for_update().get(pk=member.pk)
    member.min_sell, member.max_buy = min_sell, max_buy
    member.full_clean()
    member.save(update_fields=["min_sell", "max_buy"])
    ledger.record(
        "energy.preferences_set",
        member_subject(member),
        {"min_sell": min_sell, "max_buy": max_buy},
    )
    return member


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


token_digest = selectors.token_digest


@transaction.atomic
def meter_register(*, member: Member, meter_id: str, acting_user=None) -> tuple[Meter, str]:
    """Register a member's meter; returns it and its token, which is shown only this once."""
    meter_id = (meter_id or "").strip()
    if not _METER_ID.fullmatch(meter_id):
        raise ValidationError(
            {
                "meter_id": [
                    _(
                        "Use 1 to 64 letters, digits, hyphens or underscores, starting with "
                        "a letter or digit."
                    )
                ]
            }
        )
    if Meter.objects.filter(meter_id=meter_id).exists():
        raise ValidationError({"meter_id": [_("A meter with this id is already registered.")]})
    token, digest = _new_token()
    meter = Meter(
        member=member,
        meter_id=meter_id,
        token_hash=digest,
        token_prefix=token[:8],
        token_rotated_at=timezone.now(),
    )
    meter.full_clean()
    meter.save()
    ledger.record(
        "energy.meter_registered",
        meter_subject(meter),
        {"member": member_subject(member)},
    )
    return meter, token


@transaction.atomic
def meter_rotate_token(*, meter: Meter, acting_user=None) -> str:
    """Issue a new token for a meter (the old one stops working at once); returns it once."""
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    token, digest = _new_token()
    meter.token_hash, meter.token_prefix = digest, token[:8]
    meter.token_rotated_at = timezone.now()
    meter.save(update_fields=["token_hash", "token_prefix", "token_rotated_at"])
    ledger.record("energy.meter_token_rotated", meter_subject(meter), {})
    return token


# --- readings ----------------------------------------------------------------------


def check_reading_rows(rows: Sequence[Any], *, now: datetime) -> list[dict[str, Any]]:
    """Row errors of a batch, in the ReadingsRejected format; [] when every row is sound."""
    errors: list[dict[str, Any]] = []
    latest = now + CLOCK_SKEW - QUARTER
    seen: set[datetime] = set()
    for index, row in enumerate(rows):
        problems: dict[str, list[str]] = {}
        start, imp, exp = row
        if not isinstance(start, datetime) or start.tzinfo is None:
            problems["start"] = [_("Give the interval's start with its UTC offset.")]
        elif not _on_quarter(start):
            problems["start"] = [_("An interval starts on a quarter-hour (:00, :15, :30, :45).")]
        elif start > latest:
            problems["start"] = [_("This interval has not ended yet.")]
        elif start in seen:
            problems["start"] = [_("The batch has this interval twice.")]
        else:
            seen.add(start)
        for field, value in (("import_wh", imp), ("export_wh", exp)):
            if not _is_int(value) or not 0 <= value <= MAX_WH_PER_QUARTER:
                problems[field] = [
                    _("Enter a whole number of watt-hours between 0 and %(max)d.")
                    % {"max": MAX_WH_PER_QUARTER}
                ]
        if problems:
            errors.append({"row": index, "errors": problems})
    return errors


def _lock_intervals(microgrid_id: int, starts: set[datetime]) -> dict[datetime, tuple]:
    """Make sure the intervals exist and hold a shared lock on them until commit.

    Returns {start: (id, status, settled_at)}. The shared lock lets any number of batches
    write into an interval at once while a clearing or a settlement (which take the row's
    exclusive lock) waits for them, and they for it.
    """
    low, high = min(starts), max(starts)
    existing = set(
        Interval.objects.filter(
            microgrid_id=microgrid_id, start__gte=low, start__lte=high
        ).values_list("start", flat=True)
    )
    missing = [s for s in starts if s not in existing]
    if missing:
        Interval.objects.bulk_create(
            [Interval(microgrid_id=microgrid_id, start=s) for s in sorted(missing)],
            ignore_conflicts=True,
            batch_size=2000,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT start, id, status, settled_at FROM energy_interval "
                "WHERE microgrid_id = %s AND start >= %s AND start <= %s ORDER BY id FOR SHARE",
                [microgrid_id, low, high],
            )
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    else:
        found = {
            row[0]: row[1:]
            for row in Interval.objects.filter(
                microgrid_id=microgrid_id, start__gte=low, start__lte=high
            ).values_list("start", "id", "status", "settled_at")
        }
    return {s: found[s] for s in starts}


def _copy_readings(new: list[tuple]) -> None:
    if connection.vendor == "postgresql":
        # COPY streams the rows without building an INSERT: several times faster.
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY energy_reading (meter_id, interval_start, import_wh, export_wh, source, "
                "received_at) FROM STDIN"
            ) as copy,
        ):
            for row in new:
                copy.write_row(row)
        return
    Reading.objects.bulk_create(
        [
            Reading(
                meter_id=m, interval_start=s, import_wh=i, export_wh=e, source=src, received_at=r
            )
            for m, s, i, e, src, r in new
        ],
        batch_size=2000,
    )


def _ingest(
    batches: Sequence[tuple[Meter, Sequence[Any]]], *, source: str, now: datetime | None
) -> IngestResult:
    """Store several meters' batches, all of one microgrid, whole or not at all."""
    now = now or timezone.now()
    many = len(batches) > 1
    errors: list[dict[str, Any]] = []
    for meter, rows in batches:
        for problem in check_reading_rows(rows, now=now):
            errors.append({"meter": meter.meter_id, **problem} if many else problem)
    if errors:
        raise ReadingsRejected(errors)
    batches = [(meter, rows) for meter, rows in batches if rows]
    if not batches:
        return IngestResult()
    microgrids = {meter.member.microgrid_id for meter, _rows in batches}
    if len(microgrids) != 1:
        raise ValidationError(_("A batch may only hold meters of one microgrid."))
    microgrid_id = microgrids.pop()
    # One batch per meter at a time, in a fixed order so two requests cannot deadlock.
    meter_ids = sorted(meter.pk for meter, _rows in batches)
    locked = {
        m.pk: m for m in Meter.objects.select_for_update().filter(pk__in=meter_ids).order_by("pk")
    }
    starts = {row[0].astimezone(UTC) for _meter, rows in batches for row in rows}
    intervals = _lock_intervals(microgrid_id, starts)
    received_at = timezone.now()  # after the locks: later than any clearing it waited for
    low, high = min(starts), max(starts)
    existing: dict[tuple[int, datetime], tuple[int, int, int]] = {
        (m, s): (pk, i, e)
        for pk, m, s, i, e in Reading.objects.filter(
            meter_id__in=meter_ids, interval_start__gte=low, interval_start__lte=high
        ).values_list("pk", "meter_id", "interval_start", "import_wh", "export_wh")
    }
    new: list[tuple] = []
    changed: list[Reading] = []
    changed_by: dict[int, int] = defaultdict(int)
    unchanged = 0
    settled_message = _("This interval is settled; its reading can no longer change.")
    for meter, rows in batches:
        if not locked[meter.pk].is_active:
            errors.append(
                {
                    "meter": meter.meter_id,
                    "row": 0,
                    "errors": {"meter": [_("This meter is not active.")]},
                }
            )
            continue
        for index, (start, imp, exp) in enumerate(rows):
            start = start.astimezone(UTC)
            before = existing.get((meter.pk, start))
            if before is not None and before[1] == imp and before[2] == exp:
                unchanged += 1
                continue
            if intervals[start][2] is not None:
                problem = {"row": index, "errors": {"start": [settled_message]}}
                errors.append({"meter": meter.meter_id, **problem} if many else problem)
                continue
            if before is None:
                new.append((meter.pk, start, imp, exp, source, received_at))
            else:
                changed_by[meter.pk] += 1
                changed.append(
                    Reading(
                        pk=before[0],
                        import_wh=imp,
                        export_wh=exp,
                        source=source,
                        received_at=received_at,
                    )
                )
    if errors:
        raise ReadingsRejected(errors)
    if new:
        _copy_readings(new)
    if changed:
        Reading.objects.bulk_update(
            changed, ["import_wh", "export_wh", "source", "received_at"], batch_size=2000
        )
    if new or changed:
        Meter.objects.filter(pk__in=meter_ids).update(last_reading_at=received_at)
    result = IngestResult(len(new), len(changed), unchanged)
    # One receipt per meter: what it sent (a digest of the rows) and what changed.
    created_by: dict[int, int] = defaultdict(int)
    for row in new:
        created_by[row[0]] += 1
    entries = []
    for meter, rows in batches:
        digest = hashlib.sha256()
        for start, imp, exp in rows:
            digest.update(f"{_iso(start)},{imp},{exp}\n".encode())
        starts = [row[0] for row in rows]
        entries.append(
            (
                "energy.readings_received",
                meter_subject(meter),
                {
                    "microgrid": microgrid_subject(microgrid_id),
                    "source": source,
                    "rows": len(rows),
                    "created": created_by[meter.pk],
                    "updated": changed_by[meter.pk],
                    "from": _iso(min(starts)),
                    "to": _iso(max(starts)),
                    "sha256": digest.hexdigest(),
                },
            )
        )
    ledger.record_many(entries)
    return result


@transaction.atomic
def readings_ingest(
    *,
    meter: Meter,
    rows: Sequence[ReadingRow] | Sequence[tuple[datetime, int, int]],
    source: str = Reading.Source.METER,
    now: datetime | None = None,
) -> IngestResult:
    """Store a meter's batch of quarter-hour readings, whole or not at all (see module doc)."""
    return _ingest([(meter, rows)], source=source, now=now)


@transaction.atomic
def readings_ingest_many(
    *,
    batches: Sequence[tuple[Meter, Sequence[ReadingRow]]],
    source: str = Reading.Source.METER,
    now: datetime | None = None,
) -> IngestResult:
    """Store several meters' batches (a head-end system's upload) in one transaction.

    All meters must belong to one microgrid. Row errors carry the meter's id.
    """
    ids = [meter.meter_id for meter, _rows in batches]
    if len(set(ids)) != len(ids):
        raise ValidationError(_("A meter appears more than once in the batch."))
    return _ingest(batches, source=source, now=now)


@transaction.atomic
def green_button_import(
    *,
    meter: Meter,
    data: bytes | str,
    timezone: str | None = None,
    usage_point: str | None = None,
    acting_user=None,
    progress: Callable[[str], None] | None = None,
) -> IngestResult:
    """Import a Green Button "Download My Data" file (ESPI XML or utility CSV) for a meter.

    CSV times are local: ``timezone`` (IANA name) defaults to the microgrid's. The whole
    file is stored or nothing: a malformed file raises ValidationError naming the line or
    element, rows the market refuses (a settled interval) raise ReadingsRejected.
    """
    report = progress or (lambda message: None)
    zone = timezone or selectors.market_settings_for(meter.member.microgrid).timezone
    report("reading the file")
    try:
        readings = greenbutton.readings_from_download(data, timezone=zone, usage_point=usage_point)
    except greenbutton.GreenButtonError as exc:
        raise ValidationError(
            _("The file could not be imported: %(problem)s") % {"problem": str(exc)},
            code="green_button",
        ) from None
    if not readings:
        raise ValidationError(_("The file holds no electricity readings."), code="green_button")
    report(
        f"{len(readings)} quarter-hours, {_iso(readings[0].start)} to {_iso(readings[-1].start)}"
    )
    rows = [ReadingRow(r.start, r.import_wh, r.export_wh) for r in readings]
    result = _ingest([(meter, rows)], source=Reading.Source.GREEN_BUTTON, now=None)
    report(
        f"stored: {result.created} new, {result.updated} corrected, {result.unchanged} unchanged"
    )
    return result


# --- market settings and tariffs ------------------------------------------------------


@transaction.atomic
def market_settings_set(
    *,
    microgrid: Organization,
    mode: str,
    local_price: int | None = None,
    timezone: str | None = None,
    acting_user=None,
) -> MarketSettings:
    """Choose how the microgrid's market clears (applies to intervals cleared from now on)."""
    _check_microgrid(microgrid)
    errors: dict[str, list[str]] = {}
    if mode not in MarketMode.values:
        errors["mode"] = [_("Choose pro-rata sharing or the double auction.")]
    _check_price("local_price", local_price, errors)
    if local_price is not None and "local_price" not in errors:
        bounds = _bounds_now(microgrid)
        if bounds and not bounds[0] <= local_price <= bounds[1]:
            errors["local_price"] = [
                _(
                    "Choose a price between the feed-in price (%(low)s) and the retail "
                    "price (%(high)s)."
                )
                % {
                    "low": selectors.format_price(bounds[0]),
                    "high": selectors.format_price(bounds[1]),
                }
            ]
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [_("Enter a time zone name such as America/Chicago.")]
    if errors:
        raise ValidationError(errors)
    settings_row, _created = MarketSettings.objects.select_for_update().get_or_create(
        microgrid=microgrid
    )
    settings_row.mode = mode
    settings_row.local_price = local_price
    if timezone is not None:
        settings_row.timezone = timezone
    settings_row.full_clean()
    settings_row.save()
    ledger.record(
        "energy.market_settings_set",
        microgrid_subject(microgrid.pk),
        {"mode": mode, "local_price": local_price, "timezone": settings_row.timezone},
    )
    return settings_row


def _cleared_under(microgrid: Organization, effective_from: datetime):
    """Cleared intervals a tariff from ``effective_from`` would govern (until the next one)."""
    intervals = Interval.objects.filter(
        microgrid=microgrid, start__gte=effective_from, status=Interval.Status.CLEARED
    )
    following = (
        Tariff.objects.filter(microgrid=microgrid, effective_from__gt=effective_from)
        .order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    return intervals.filter(start__lt=following) if following else intervals


@transaction.atomic
def tariff_set(
    *,
    microgrid: Organization,
    retail_price: int,
    feed_in_price: int,
    periods: Sequence[TariffPeriodSpec] = (),
    effective_from: datetime | None = None,
    name: str = "",
    acting_user=None,
) -> Tariff:
    """Set the utility's prices from ``effective_from`` (default: the current quarter-hour).

    Optional time-of-use periods (local times, every day, not overlapping) override the
    base prices. A tariff cannot take effect before an interval that was already cleared.
    """
    _check_microgrid(microgrid)
    errors: dict[str, list[str]] = {}
    _check_price("retail_price", retail_price, errors)
    _check_price("feed_in_price", feed_in_price, errors)
    if not errors and feed_in_price > retail_price:
        errors["feed_in_price"] = [_("The feed-in price cannot be above the retail price.")]
    effective_from = effective_from or _floor_quarter(timezone.now())
    if effective_from.tzinfo is None or not _on_quarter(effective_from):
        errors["effective_from"] = [_("A tariff takes effect on a quarter-hour, with a time zone.")]
    elif _cleared_under(microgrid, effective_from).exists():
        errors["effective_from"] = [
            _("Intervals this tariff would apply to are already cleared; choose a later time.")
        ]
    elif Tariff.objects.filter(microgrid=microgrid, effective_from=effective_from).exists():
        errors["effective_from"] = [_("A tariff already takes effect at this time.")]
    cleaned: list[TariffPeriodSpec] = []
    for n, spec in enumerate(periods, start=1):
        spec = TariffPeriodSpec(*spec)
        problems: dict[str, list[str]] = {}
        _check_price("retail_price", spec.retail_price, problems)
        _check_price("feed_in_price", spec.feed_in_price, problems)
        if not isinstance(spec.start_time, time) or not isinstance(spec.end_time, time):
            problems["time"] = [_("Give the period's start and end times.")]
        elif spec.end_time <= spec.start_time:
            problems["time"] = [_("A period ends after it starts, within one day.")]
        elif any(
            spec.start_time < other.end_time and other.start_time < spec.end_time
            for other in cleaned
        ):
            problems["time"] = [_("Time-of-use periods cannot overlap.")]
        if not problems and spec.feed_in_price > spec.retail_price:
            problems["feed_in_price"] = [_("The feed-in price cannot be above the retail price.")]
        for messages in problems.values():
            errors.setdefault("periods", []).extend(
                _("Period %(n)d: %(problem)s") % {"n": n, "problem": m} for m in messages
            )
        if not problems:
            cleaned.append(spec)
    if errors:
        raise ValidationError(errors)
    tariff = Tariff(
        microgrid=microgrid,
        name=(name or "").strip()[:100],
        retail_price=retail_price,
        feed_in_price=feed_in_price,
        effective_from=effective_from,
        created_by=acting_user,
    )
    tariff.full_clean()
    tariff.save()
    for spec in cleaned:
        period = TariffPeriod(
            tariff=tariff,
            name=spec.name[:50],
            start_time=spec.start_time,
            end_time=spec.end_time,
            retail_price=spec.retail_price,
            feed_in_price=spec.feed_in_price,
        )
        period.full_clean()
        period.save()
    ledger.record(
        "energy.tariff_set",
        microgrid_subject(microgrid.pk),
        {
            "effective_from": _iso(effective_from),
            "retail": retail_price,
            "feed_in": feed_in_price,
            "periods": [
                {
                    "start": s.start_time.strftime("%H:%M"),
                    "end": s.end_time.strftime("%H:%M"),
                    "retail": s.retail_price,
                    "feed_in": s.feed_in_price,
                }
                for s in cleaned
            ],
        },
    )
    return tariff


# --- manual orders -------------------------------------------------------------------


@transaction.atomic
def order_place(
    *,
    member: Member,
    interval_start: datetime,
    side: str,
    wh: int,
    limit_price: int,
    acting_user=None,
    now: datetime | None = None,
) -> Order:
    """Place a bid or offer by hand for an interval that has not ended (double auction only).

    It replaces the member's earlier manual order for that interval. When the interval
    clears it caps what the member trades locally and sets the limit price; the metered
    energy beyond it goes to the grid. If the meter shows the other side, it lapses.
    """
    now = now or timezone.now()
    settings_row = selectors.market_settings_for(member.microgrid)
    errors: dict[str, list[str]] = {}
    if settings_row.mode != MarketMode.DOUBLE_AUCTION:
        raise ValidationError(
            _("Orders by hand are only used when the market clears by double auction.")
        )
    if side not in Side.values:
        errors["side"] = [_("Choose to buy or to sell.")]
    if not _is_int(wh) or not 1 <= wh <= MAX_WH_PER_QUARTER:
        errors["wh"] = [
            _("Enter a whole number of watt-hours between 1 and %(max)d.")
            % {"max": MAX_WH_PER_QUARTER}
        ]
    if not isinstance(interval_start, datetime) or interval_start.tzinfo is None:
        errors["interval_start"] = [_("Choose an interval.")]
    elif not _on_quarter(interval_start):
        errors["interval_start"] = [_("An interval starts on a quarter-hour (:00, :15, :30, :45).")]
    elif interval_start + QUARTER <= now:
        errors["interval_start"] = [_("This interval has ended; orders are closed.")]
    elif interval_start > now + timedelta(days=MAX_ORDER_DAYS_AHEAD):
        errors["interval_start"] = [
            _("Orders can be placed up to %(days)d days ahead.") % {"days": MAX_ORDER_DAYS_AHEAD}
        ]
    _check_price("limit_price", limit_price, errors)
    if errors:
        raise ValidationError(errors)
    prices = selectors.grid_prices_at(member.microgrid, interval_start)
    if not prices.feed_in <= limit_price <= prices.retail:
        raise ValidationError(
            {
                "limit_price": [
                    _(
                        "Choose a price between the feed-in price (%(low)s) and the retail "
                        "price (%(high)s)."
                    )
                    % {
                        "low": selectors.format_price(prices.feed_in),
                        "high": selectors.format_price(prices.retail),
                    }
                ]
            }
        )
    start = interval_start.astimezone(UTC)
    Interval.objects.get_or_create(microgrid=member.microgrid, start=start)
    interval = Interval.objects.select_for_update().get(microgrid=member.microgrid, start=start)
    if interval.status != Interval.Status.OPEN:
        raise ValidationError(_("This interval is closed; orders are closed."))
    Order.objects.filter(
        interval=interval, member=member, source=Order.Source.MANUAL, status=Order.Status.ACTIVE
    ).update(status=Order.Status.CANCELLED, cancelled_at=now)
    order = Order(
        interval=interval,
        member=member,
        side=side,
        source=Order.Source.MANUAL,
        wh=wh,
        limit_price=limit_price,
        placed_at=now,
    )
    order.full_clean()
    order.save()
    ledger.record(
        "energy.order_placed",
        member_subject(member),
        {
            "order": str(order.public_id),
            "interval": _iso(start),
            "side": side,
            "wh": wh,
            "limit_price": limit_price,
        },
    )
    return order


@transaction.atomic
def order_cancel(*, order: Order, acting_user=None, now: datetime | None = None) -> Order:
    """Cancel a manual order before its interval ends (cancelling twice is harmless)."""
    now = now or timezone.now()
    interval = Interval.objects.select_for_update().get(pk=order.interval_id)
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.source != Order.Source.MANUAL:
        raise ValidationError(_("Only orders placed by hand can be cancelled."))
    if order.status == Order.Status.CANCELLED:
        return order
    if interval.status != Interval.Status.OPEN or interval.end <= now:
        raise ValidationError(_("This interval has ended; its orders can no longer change."))
    order.status, order.cancelled_at = Order.Status.CANCELLED, now
    order.save(update_fields=["status", "cancelled_at"])
    ledger.record(
        "energy.order_cancelled", member_subject(order.member), {"order": str(order.public_id)}
    )
    return order


# --- clearing ------------------------------------------------------------------------


@dataclass(slots=True)
class _Book:
    book: market.OrderBook
    manual: dict[str, Order]  # market id -> the manual order used
    excess: dict[str, tuple[int, Side]]  # market id -> metered Wh beyond a manual order's cap


def _net_by_member(interval: Interval) -> dict[int, int]:
    rows = (
        Reading.objects.filter(
            meter__member__microgrid_id=interval.microgrid_id, interval_start=interval.start
        )
        .values("meter__member_id")
        .annotate(imp=Sum("import_wh"), exp=Sum("export_wh"))
    )
    return {r["meter__member_id"]: r["imp"] - r["exp"] for r in rows}


def _build_book(
    interval: Interval,
    members: Mapping[int, Member],
    net: Mapping[int, int],
    prices: market.GridPrices,
) -> _Book:
    manual_orders = {
        o.member_id: o
        for o in Order.objects.filter(
            interval=interval, source=Order.Source.MANUAL, status=Order.Status.ACTIVE
        )
    }
    standing_net: dict[str, int] = {}
    preferences: dict[str, market.PricePreference] = {}
    offers: list[market.Offer] = []
    bids: list[market.Bid] = []
    manual: dict[str, Order] = {}
    excess: dict[str, tuple[int, Side]] = {}
    for member_id, wh in net.items():
        member = members[member_id]
        key = member.market_id
        order = manual_orders.get(member_id)
        side = Side.BUY if wh > 0 else Side.SELL
        if wh and order is not None and order.side == side:
            traded = min(order.wh, abs(wh))
            manual[key] = order
            if side == Side.BUY:
                bids.append(market.Bid(key, traded, order.limit_price))
            else:
                offers.append(market.Offer(key, traded, order.limit_price))
            if abs(wh) > traded:
                excess[key] = (abs(wh) - traded, side)
            continue
        standing_net[key] = wh
        preferences[key] = market.PricePreference(member.min_sell, member.max_buy)
    auto = market.orders_from_net(standing_net, preferences, prices)
    book = market.OrderBook(offers=(*auto.offers, *offers), bids=(*auto.bids, *bids))
    return _Book(book, manual, excess)


def _grid_lines(
    clearing: market.Clearing, excess: Mapping[str, tuple[int, Side]], prices: market.GridPrices
) -> list[tuple[str, str, int, int, int]]:
    """(member, direction, wh, price, cents) per member: the market's fallback plus any
    metered energy beyond a manual order's cap, one line each, cents rounded half up."""
    wh_by: dict[tuple[str, str], int] = defaultdict(int)
    for g in clearing.grid:
        wh_by[(g.member, str(g.direction))] += g.wh
    for member, (wh, side) in excess.items():
        direction = market.Direction.IMPORT if side == Side.BUY else market.Direction.EXPORT
        wh_by[(member, str(direction))] += wh
    lines = []
    for (member, direction), wh in sorted(
        wh_by.items(), key=lambda kv: (kv[0][1] != "import", kv[0][0])
    ):
        price = prices.retail if direction == "import" else prices.feed_in
        lines.append((member, direction, wh, price, market.cents_of(wh, price)))
    return lines


def _has_late_readings(interval: Interval) -> bool:
    return (
        interval.cleared_at is not None
        and Reading.objects.filter(
            meter__member__microgrid_id=interval.microgrid_id,
            interval_start=interval.start,
            received_at__gt=interval.cleared_at,
        ).exists()
    )


def _clear(interval: Interval, now: datetime) -> Interval:
    """Clear a locked interval: compute its book, replace its trades, record them."""
    settings_row = selectors.market_settings_for(interval.microgrid)
    prices = selectors.grid_prices_at(interval.microgrid, interval.start)
    net = {m: wh for m, wh in _net_by_member(interval).items() if wh}
    members = {m.pk: m for m in Member.objects.filter(pk__in=net.keys())}
    by_key = {m.market_id: m for m in members.values()}
    if settings_row.mode == MarketMode.DOUBLE_AUCTION:
        built = _build_book(interval, members, net, prices)
        clearing = market.double_auction(built.book, prices)
        excess, manual = built.excess, built.manual
        book = built.book
    else:
        local = settings_row.local_price
        if local is not None:  # a time-of-use period may move the bounds
            local = min(max(local, prices.feed_in), prices.retail)
        clearing = market.share_pro_rata(
            {members[m].market_id: wh for m, wh in net.items()}, prices, local_price=local
        )
        excess, manual = {}, {}
        book = market.orders_from_net(
            {members[m].market_id: wh for m, wh in net.items()}, {}, prices
        )
    grid = _grid_lines(clearing, excess, prices)
    run = interval.run + 1

    # Replace the previous run's rows (its ledger entries stay: they are history).
    Trade.objects.filter(interval=interval).delete()
    GridSettlement.objects.filter(interval=interval).delete()
    Order.objects.filter(interval=interval, source=Order.Source.AUTO).delete()
    Order.objects.filter(interval=interval, source=Order.Source.MANUAL).update(
        book_wh=None, traded_wh=None
    )
    traded: dict[str, int] = defaultdict(int)
    for t in clearing.trades:
        traded[t.seller] += t.wh
        traded[t.buyer] += t.wh
    auto_orders = []
    for side, orders in ((Side.SELL, book.offers), (Side.BUY, book.bids)):
        for o in orders:
            limit = o.min_price if side == Side.SELL else o.max_price
            if o.member in manual:
                Order.objects.filter(pk=manual[o.member].pk).update(
                    book_wh=o.wh, traded_wh=traded[o.member]
                )
                continue
            auto_orders.append(
                Order(
                    interval=interval,
                    member=by_key[o.member],
                    side=side,
                    source=Order.Source.AUTO,
                    wh=o.wh,
                    limit_price=limit,
                    book_wh=o.wh,
                    traded_wh=traded[o.member],
                    placed_at=now,
                )
            )
    Order.objects.bulk_create(auto_orders)
    Order.objects.filter(
        interval=interval, source=Order.Source.MANUAL, status=Order.Status.ACTIVE, book_wh=None
    ).update(book_wh=0, traded_wh=0)
    Trade.objects.bulk_create(
        Trade(
            interval=interval,
            run=run,
            seller=by_key[t.seller],
            buyer=by_key[t.buyer],
            wh=t.wh,
            price=t.price,
            cents=t.cents,
        )
        for t in clearing.trades
    )
    GridSettlement.objects.bulk_create(
        GridSettlement(
            interval=interval,
            run=run,
            member=by_key[m],
            direction=d,
            wh=wh,
            price=p,
            cents=c,
        )
        for m, d, wh, p, c in grid
    )

    totals = clearing.totals
    imports = [g for g in grid if g[1] == "import"]
    exports = [g for g in grid if g[1] == "export"]
    matched = totals.matched_wh
    interval.status = Interval.Status.CLEARED
    interval.run = run
    interval.cleared_at = now
    interval.mode = settings_row.mode
    interval.retail_price, interval.feed_in_price = prices.retail, prices.feed_in
    interval.offered_wh = sum(o.wh for o in book.offers)
    interval.bid_wh = sum(b.wh for b in book.bids)
    interval.matched_wh = matched
    interval.max_matchable_wh = totals.max_matchable_wh
    interval.traded_cents = totals.traded_cents
    interval.grid_import_wh = sum(g[2] for g in imports)
    interval.grid_import_cents = sum(g[4] for g in imports)
    interval.grid_export_wh = sum(g[2] for g in exports)
    interval.grid_export_cents = sum(g[4] for g in exports)
    interval.average_price = (
        sum(t.wh * t.price for t in clearing.trades) // matched if matched else None
    )
    interval.save()

    subjects = {key: member_subject(m) for key, m in by_key.items()}
    when = _iso(interval.start)
    grid_subject = microgrid_subject(interval.microgrid_id)
    entries: list[tuple[str, str, dict[str, Any]]] = [
        (
            "energy.trade",
            subjects[t.seller],
            {
                "microgrid": grid_subject,
                "interval": when,
                "run": run,
                "seller": subjects[t.seller],
                "buyer": subjects[t.buyer],
                "wh": t.wh,
                "price": t.price,
                "cents": t.cents,
            },
        )
        for t in clearing.trades
    ]
    entries += [
        (
            "energy.grid_settlement",
            subjects[m],
            {
                "microgrid": grid_subject,
                "interval": when,
                "run": run,
                "member": subjects[m],
                "direction": d,
                "wh": wh,
                "price": p,
                "cents": c,
            },
        )
        for m, d, wh, p, c in grid
    ]
    entries.append(
        (
            "energy.interval_cleared",
            grid_subject,
            {
                "interval": when,
                "run": run,
                "mode": settings_row.mode,
                "retail": prices.retail,
                "feed_in": prices.feed_in,
                "offered_wh": interval.offered_wh,
                "bid_wh": interval.bid_wh,
                "matched_wh": matched,
                "max_matchable_wh": totals.max_matchable_wh,
                "traded_cents": totals.traded_cents,
                "grid_import_wh": interval.grid_import_wh,
                "grid_import_cents": interval.grid_import_cents,
                "grid_export_wh": interval.grid_export_wh,
                "grid_export_cents": interval.grid_export_cents,
                "trades": len(clearing.trades),
            },
        )
    )
    ledger.record_many(entries)
    return interval


def _late_interval_ids(microgrid: Organization) -> list[int]:
    """Cleared, unsettled intervals that received readings after their last clearing."""
    late = Reading.objects.filter(
        meter__member__microgrid_id=OuterRef("microgrid_id"),
        interval_start=OuterRef("start"),
        received_at__gt=OuterRef("cleared_at"),
    )
    return list(
        Interval.objects.filter(
            microgrid=microgrid, status=Interval.Status.CLEARED, settled_at__isnull=True
        )
        .filter(Exists(late))
        .order_by("start")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def market_clear_interval(*, interval_id: int, now: datetime | None = None) -> Interval:
    """Clear one interval, exactly once per set of readings (see module doc).

    A cleared interval with no reading newer than its clearing, and a settled one, are
    returned unchanged; an interval that has not ended is refused.
    """
    now = now or timezone.now()
    interval = Interval.objects.select_for_update().select_related("microgrid").get(pk=interval_id)
    if interval.settled_at is not None:
        return interval
    if interval.status == Interval.Status.CLEARED and not _has_late_readings(interval):
        return interval
    if interval.end > now:
        raise ValidationError(_("This interval has not ended yet."))
    return _clear(interval, now)


@transaction.atomic
def interval_settle(*, interval_id: int, now: datetime | None = None) -> Interval:
    """Freeze a cleared interval: re-clear it if late readings came, then settle it."""
    now = now or timezone.now()
    interval = Interval.objects.select_for_update().select_related("microgrid").get(pk=interval_id)
    if interval.settled_at is not None:
        return interval
    if interval.end > now:
        raise ValidationError(_("This interval has not ended yet."))
    if interval.status != Interval.Status.CLEARED or _has_late_readings(interval):
        interval = _clear(interval, now)
    interval.settled_at = now
    interval.save(update_fields=["settled_at"])
    ledger.record(
        "energy.interval_settled",
        microgrid_subject(interval.microgrid_id),
        {
            "interval": _iso(interval.start),
            "run": interval.run,
            "matched_wh": interval.matched_wh,
            "traded_cents": interval.traded_cents,
            "grid_import_wh": interval.grid_import_wh,
            "grid_import_cents": interval.grid_import_cents,
            "grid_export_wh": interval.grid_export_wh,
            "grid_export_cents": interval.grid_export_cents,
        },
    )
    return interval


def market_clear_due(
    *,
    now: datetime | None = None,
    microgrid: Organization | None = None,
    max_seconds: float | None = None,
) -> list[int]:
    """Close, clear, re-clear and settle every interval that is due; returns the ids cleared.

    Each interval is cleared in its own transaction (by market_clear_interval), so one
    failure leaves the others done and the next run retries it. Intervals before the
    microgrid's first tariff cannot be priced and are left closed. With ``max_seconds``
    the sweep stops after that long (oldest intervals first); the next run goes on.
    """
    now = now or timezone.now()
    deadline = None if max_seconds is None else time_monotonic() + max_seconds
    grids = (
        [microgrid]
        if microgrid is not None
        else list(
            Organization.objects.filter(
                pk__in=Interval.objects.filter(settled_at__isnull=True)
                .values("microgrid_id")
                .distinct()
            )
        )
    )
    cleared: list[int] = []
    with _remember_subjects():
        for grid in grids:
            cleared += _clear_due_in(grid, now, deadline)
    return cleared


def _forget_subjects() -> None:
    """After a rolled-back clearing: a key it created for a pseudonym is gone too."""
    cache = _subjects.get()
    if cache is not None:
        cache.clear()


def _clear_due_in(grid: Organization, now: datetime, deadline: float | None) -> list[int]:
    cleared: list[int] = []
    settings_row = selectors.market_settings_for(grid)
    close_before = now - QUARTER - timedelta(minutes=settings_row.clear_delay_minutes)
    Interval.objects.filter(
        microgrid=grid, status=Interval.Status.OPEN, start__lte=close_before
    ).update(status=Interval.Status.CLOSED)
    first_tariff = (
        Tariff.objects.filter(microgrid=grid)
        .order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    if first_tariff is None:
        log.warning("microgrid %s has no tariff: its intervals wait to be cleared", grid.pk)
        return cleared
    late = _late_interval_ids(grid)
    due = list(
        Interval.objects.filter(
            microgrid=grid, status=Interval.Status.CLOSED, start__gte=first_tariff
        )
        .order_by("start")
        .values_list("pk", flat=True)
    )
    settle_before = now - QUARTER - timedelta(hours=settings_row.settle_delay_hours)
    settle = list(
        Interval.objects.filter(
            microgrid=grid,
            settled_at__isnull=True,
            start__lte=settle_before,
            start__gte=first_tariff,
        )
        .exclude(status=Interval.Status.OPEN)
        .order_by("start")
        .values_list("pk", flat=True)
    )
    for interval_id, step in [
        *((i, market_clear_interval) for i in [*due, *late]),
        *((i, interval_settle) for i in settle),
    ]:
        if deadline is not None and time_monotonic() > deadline:
            break
        try:
            interval = step(interval_id=interval_id, now=now)
        except ValidationError as exc:  # e.g. no tariff yet: the operator must act
            _forget_subjects()
            log.warning("interval %s not cleared: %s", interval_id, "; ".join(exc.messages))
            continue
        except Exception:
            _forget_subjects()
            log.exception("clearing interval %s failed; the next run retries it", interval_id)
            continue
        if step is market_clear_interval and interval.cleared_at == now:
            cleared.append(interval_id)
    return cleared


# --- bills ---------------------------------------------------------------------------


def _sum_by(queryset, key: str, *fields: str) -> dict[Any, tuple[int, ...]]:
    rows = queryset.values(key).annotate(**{f"s_{f}": Sum(f) for f in fields})
    return {r[key]: tuple(r[f"s_{f}"] or 0 for f in fields) for r in rows}


@transaction.atomic
def bills_make_month(
    *,
    microgrid: Organization,
    year: int,
    month: int,
    now: datetime | None = None,
    acting_user=None,
) -> list[Bill]:
    """Bill every member of the microgrid for a calendar month (in its time zone).

    The month must be over. Its intervals that are still open or waiting are cleared and
    all of them settled first, so a bill never changes afterwards. Members with neither
    readings nor trades in the month get no bill; bills already made are kept as they are.
    """
    now = now or timezone.now()
    _check_microgrid(microgrid)
    if not (_is_int(year) and _is_int(month) and 1 <= month <= 12 and 2000 <= year <= 2200):
        raise ValidationError(_("Choose a month."))
    period_start, period_end = selectors.month_bounds(microgrid, year, month)
    if period_end > now:
        raise ValidationError(_("A month is billed once it is over."))
    month_day = date(year, month, 1)
    with _remember_subjects():
        return _bills_make(microgrid, year, month, month_day, period_start, period_end, now)


def _bills_make(
    microgrid: Organization,
    year: int,
    month: int,
    month_day: date,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> list[Bill]:
    for interval_id in (
        Interval.objects.filter(
            microgrid=microgrid,
            start__gte=period_start,
            start__lt=period_end,
            settled_at__isnull=True,
        )
        .order_by("start")
        .values_list("pk", flat=True)
    ):
        interval_settle(interval_id=interval_id, now=now)

    in_month = {"interval_start__gte": period_start, "interval_start__lt": period_end}
    readings = Reading.objects.filter(meter__member__microgrid=microgrid, **in_month)
    metered = _sum_by(readings, "meter__member_id", "import_wh", "export_wh")
    trades = Trade.objects.filter(
        interval__microgrid=microgrid,
        interval__start__gte=period_start,
        interval__start__lt=period_end,
    )
    bought = _sum_by(trades, "buyer_id", "wh", "cents")
    sold = _sum_by(trades, "seller_id", "wh", "cents")
    grid = GridSettlement.objects.filter(
        interval__microgrid=microgrid,
        interval__start__gte=period_start,
        interval__start__lt=period_end,
    )
    grid_in = _sum_by(grid.filter(direction="import"), "member_id", "wh", "cents")
    grid_out = _sum_by(grid.filter(direction="export"), "member_id", "wh", "cents")
    # What the same metered energy costs on the utility tariff alone: each interval's net
    # import at its retail price, net export at its feed-in price, rounded as the grid's
    # own lines are, so the saving is exactly what local trading changed.
    prices = {
        start: (retail, feed_in)
        for start, retail, feed_in in Interval.objects.filter(
            microgrid=microgrid, start__gte=period_start, start__lt=period_end
        ).values_list("start", "retail_price", "feed_in_price")
    }
    utility_only: dict[int, int] = defaultdict(int)
    for row in readings.values("meter__member_id", "interval_start").annotate(
        imp=Sum("import_wh"), exp=Sum("export_wh")
    ):
        net = row["imp"] - row["exp"]
        retail, feed_in = prices[row["interval_start"]]
        if net > 0:
            utility_only[row["meter__member_id"]] += market.cents_of(net, retail)
        elif net < 0:
            utility_only[row["meter__member_id"]] -= market.cents_of(-net, feed_in)

    existing = {
        b.member_id: b for b in Bill.objects.filter(member__microgrid=microgrid, month=month_day)
    }
    member_ids = sorted(set(metered) | set(bought) | set(sold) | set(grid_in) | set(grid_out))
    due_date = period_end.astimezone(
        ZoneInfo(selectors.market_settings_for(microgrid).timezone)
    ).date() + timedelta(days=BILL_DUE_DAYS)
    bills: list[Bill] = []
    entries: list[tuple[str, str, dict[str, Any]]] = []
    members = Member.objects.in_bulk(member_ids)
    for member_id in member_ids:
        if member_id in existing:
            bills.append(existing[member_id])
            continue
        imp, exp = metered.get(member_id, (0, 0))
        b_wh, b_cents = bought.get(member_id, (0, 0))
        s_wh, s_cents = sold.get(member_id, (0, 0))
        gi_wh, gi_cents = grid_in.get(member_id, (0, 0))
        go_wh, go_cents = grid_out.get(member_id, (0, 0))
        earnings = s_cents + go_cents
        net_cents = b_cents + gi_cents - earnings
        bill = Bill(
            member_id=member_id,
            month=month_day,
            period_start=period_start,
            period_end=period_end,
            consumption_wh=imp,
            production_wh=exp,
            bought_local_wh=b_wh,
            bought_local_cents=b_cents,
            bought_grid_wh=gi_wh,
            bought_grid_cents=gi_cents,
            sold_local_wh=s_wh,
            sold_local_cents=s_cents,
            sold_grid_wh=go_wh,
            sold_grid_cents=go_cents,
            earnings_cents=earnings,
            net_cents=net_cents,
            utility_only_cents=utility_only.get(member_id, 0),
            saving_cents=utility_only.get(member_id, 0) - net_cents,
            issued_at=now,
            due_date=due_date,
        )
        bill.full_clean()
        bill.save()
        BillLine.objects.bulk_create(
            [
                BillLine(
                    bill=bill, kind=BillLine.Kind.LOCAL_PURCHASE, wh=b_wh, cents=b_cents, position=1
                ),
                BillLine(
                    bill=bill,
                    kind=BillLine.Kind.GRID_PURCHASE,
                    wh=gi_wh,
                    cents=gi_cents,
                    position=2,
                ),
                BillLine(
                    bill=bill, kind=BillLine.Kind.LOCAL_SALE, wh=s_wh, cents=-s_cents, position=3
                ),
                BillLine(
                    bill=bill, kind=BillLine.Kind.GRID_SALE, wh=go_wh, cents=-go_cents, position=4
                ),
            ]
        )
        bills.append(bill)
        entries.append(
            (
                "energy.bill_issued",
                member_subject(members[member_id]),
                {
                    "bill": str(bill.public_id),
                    "month": f"{year:04d}-{month:02d}",
                    "consumption_wh": imp,
                    "production_wh": exp,
                    "bought_local_cents": b_cents,
                    "bought_grid_cents": gi_cents,
                    "earnings_cents": earnings,
                    "net_cents": net_cents,
                    "utility_only_cents": bill.utility_only_cents,
                    "saving_cents": bill.saving_cents,
                },
            )
        )
    if entries:
        ledger.record_many(entries)
    return bills


@transaction.atomic
def bill_mark_paid(
    *,
    bill: Bill,
    paid_on: date | None = None,
    amount_paid_cents: int | None = None,
    acting_user=None,
) -> Bill:
    """Record that a bill was paid; for a member linked to a resident, tell credit.

    ``amount_paid_cents`` defaults to the bill's net amount (0 for a bill that is an
    earning). Marking a paid bill paid again with the same values changes nothing.
    """
    bill = Bill.objects.select_for_update().select_related("member__microgrid").get(pk=bill.pk)
    today = timezone.localdate()
    paid_on = paid_on or today
    owed = max(bill.net_cents, 0)
    amount = owed if amount_paid_cents is None else amount_paid_cents
    errors: dict[str, list[str]] = {}
    if not isinstance(paid_on, date) or paid_on > today:
        errors["paid_on"] = [_("The payment date cannot be in the future.")]
    elif paid_on < bill.month:
        errors["paid_on"] = [_("The payment date is before the billed month.")]
    if not _is_int(amount) or not 0 <= amount <= 10**10:
        errors["amount_paid_cents"] = [_("Enter the amount paid in whole cents.")]
    if errors:
        raise ValidationError(errors)
    if bill.status == Bill.Status.PAID:
        payment = bill.payment
        if payment.paid_on == paid_on and payment.amount_cents == amount:
            return bill
        raise ValidationError(_("This bill is already marked paid, with another date or amount."))
    member = bill.member
    reference = ""
    if member.resident_id is not None and bill.net_cents > 0:
        from credit import services as credit_services

        reference = f"energy-bill-{bill.public_id}"
        credit_services.record_payment(
            reporter=member.microgrid,
            resident=member.resident,
            kind="energy",
            account_reference=f"energy-{member.public_id}",
            reference=reference,
            due_date=bill.due_date,
            amount_due_cents=bill.net_cents,
            paid_on=paid_on,
            amount_paid_cents=amount,
            acting_user=acting_user,
        )
    payment = Payment(
        bill=bill,
        amount_cents=amount,
        paid_on=paid_on,
        recorded_at=timezone.now(),
        recorded_by=acting_user,
        credit_reference=reference,
    )
    payment.full_clean()
    payment.save()
    bill.status = Bill.Status.PAID
    bill.save(update_fields=["status"])
    ledger.record(
        "energy.bill_paid",
        member_subject(member),
        {
            "bill": str(bill.public_id),
            "paid_on": paid_on.isoformat(),
            "amount_cents": amount,
            "on_time": paid_on <= bill.due_date,
        },
    )
    return bill
