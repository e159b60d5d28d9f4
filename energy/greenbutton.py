"""Green Button "Download My Data" import: a member's meter data as quarter-hour readings.

This module owns the reading of the files a utility hands its customers and nothing
else: ESPI Atom XML (NAESB REQ.21) and the common utility CSV exports, turned into one
list of :class:`Reading` per file, in UTC, on the 15-minute grid the market clears on.
It imports nothing from Django, so it can be read, tested and reused alone; the energy
services store the readings. The rules are in docs/energy-market.md ("Green Button").

- ESPI XML: UsagePoint -> MeterReading -> ReadingType and IntervalBlocks, joined by their
  Atom ``link`` hrefs; the ESPI namespace may be the default one or carry a prefix.
  ``uom`` must be 72 (Wh); ``powerOfTenMultiplier`` scales values; ``flowDirection`` 1
  is energy delivered to the member (import), 19 energy received from it (export).
  Timestamps are UTC epoch seconds.
- CSV: the "TYPE,DATE,START TIME,END TIME,..." table many US utilities write (PG&E,
  PECO, ComEd; usage, units or import/export columns) and SCE's "Energy Delivered /
  Received time period" sections. Local wall-clock times are converted with the IANA
  zone the caller gives; the repeated hour of a fall-back day is told apart by its order
  in the file.
- Every reading is split into, or must already be, quarter-hours starting on a
  quarter-hour; readings of 15, 30, 45 or 60 minutes are accepted. An hour's watt-hours
  are split evenly, the remainder going one watt-hour each to the earliest quarters.
- A malformed file raises :class:`GreenButtonError` naming the CSV line or the XML
  element path; nothing partial is ever returned.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

QUARTER_S = 900
LONGEST_READING_S = 3600  # coarser data (daily, monthly) cannot be put on the quarter grid

ATOM_NS = "http://www.w3.org/2005/Atom"
ESPI_NS = "http://naesb.org/espi"

UOM_WH = 72
FLOW_DELIVERED = 1  # to the member: import, consumption
FLOW_RECEIVED = 19  # from the member: export
# AccumulationKind values that are meter registers rather than per-interval energy.
_REGISTER_ACCUMULATION = {1: "bulkQuantity", 2: "continuousCumulative", 3: "cumulative"}


class GreenButtonError(ValueError):
    """A file that cannot be imported whole; ``where`` is the CSV line or XML element path."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True, slots=True)
class Reading:
    """One quarter-hour of a member's metered energy."""

    start: datetime  # aware, UTC, on a quarter-hour
    duration_s: int  # always QUARTER_S
    import_wh: int  # delivered to the member
    export_wh: int  # received from the member


@dataclass(frozen=True, slots=True)
class _Span:
    """One source reading before it is put on the quarter-hour grid."""

    start: int  # UTC epoch seconds
    duration: int  # seconds
    wh: int
    export: bool
    where: str


def readings_from_download(
    data: bytes | str, *, timezone: str | None = None, usage_point: str | None = None
) -> list[Reading]:
    """Readings from a Green Button download, XML or CSV, told apart by its first character.

    ``timezone`` (an IANA name such as "America/Chicago") is required for CSV, whose times
    are local; ``usage_point`` picks one UsagePoint of an XML file that holds several.
    """
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n" if isinstance(data, bytes) else "\ufeff \t\r\n")
    if head[:1] in (b"<", "<"):
        return readings_from_espi_xml(data, usage_point=usage_point)
    if timezone is None:
        raise GreenButtonError("a CSV download needs the meter's timezone (IANA name)")
    return readings_from_csv(data, timezone=timezone)


# --------------------------------------------------------------------------------------
# The quarter-hour grid
# --------------------------------------------------------------------------------------


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quarters(spans: Iterable[_Span]) -> list[Reading]:
    """Split spans into quarter-hours, refusing overlaps, and merge import with export."""
    grids: dict[bool, dict[int, int]] = {False: {}, True: {}}
    origin: dict[tuple[bool, int], str] = {}
    for span in spans:
        if span.duration <= 0 or span.duration % QUARTER_S or span.duration > LONGEST_READING_S:
            raise GreenButtonError(
                f"a reading of {span.duration} s cannot be put on the quarter-hour grid "
                "(15, 30, 45 or 60 minutes are accepted)",
                where=span.where,
            )
        if span.start % QUARTER_S:
            raise GreenButtonError(
                f"reading starts at {_iso(span.start)}, not on a quarter-hour", where=span.where
            )
        if span.wh < 0:
            raise GreenButtonError(f"negative energy {span.wh} Wh", where=span.where)
        parts = span.duration // QUARTER_S
        base, remainder = divmod(span.wh, parts)
        grid = grids[span.export]
        for k in range(parts):
            start = span.start + k * QUARTER_S
            if start in grid:
                first = origin[(span.export, start)]
                raise GreenButtonError(
                    f"overlaps the reading at {first}: both cover the "
                    f"{'export' if span.export else 'import'} quarter-hour starting {_iso(start)}",
                    where=span.where,
                )
            grid[start] = base + (1 if k < remainder else 0)
            origin[(span.export, start)] = span.where
    imports, exports = grids[False], grids[True]
    return [
        Reading(
            datetime.fromtimestamp(start, UTC),
            QUARTER_S,
            imports.get(start, 0),
            exports.get(start, 0),
        )
        for start in sorted(imports.keys() | exports.keys())
    ]


# --------------------------------------------------------------------------------------
# ESPI Atom XML
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    path: str
    kind: str  # local name of the first ESPI resource in the entry's content
    self_href: str | None
    up_href: str | None
    related: set[str]
    resources: list[tuple[ET.Element, str]]  # (element, its path)


def _href(value: str | None) -> str | None:
    """An href compared by path only: without scheme, host and surrounding slashes."""
    if value is None:
        return None
    value = value.strip()
    value = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "", value)
    return value.strip("/") or None


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return None, tag


def _parse_xml(data: bytes | str) -> ET.Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip()  # expat wants <?xml first
    # ElementTree never fetches external entities and expat >= 2.4 caps entity expansion;
    # refusing any DTD as well leaves no entity trickery at all. ESPI files carry none.
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise GreenButtonError("XML with a DTD or entity declarations is refused")
    try:
        return ET.fromstring(raw)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        line = exc.position[0]
        raise GreenButtonError(f"not well-formed XML: {exc}", where=f"line {line}") from exc


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return element.find(f"{{{ESPI_NS}}}{name}")


def _int_or_none(element: ET.Element, name: str, path: str) -> int | None:
    child = _child(element, name)
    if child is None:
        return None
    text = (child.text or "").strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise GreenButtonError(f"<{name}> must be an integer, got {text!r}", where=f"{path}/{name}")
    return int(text)


def _int_of(element: ET.Element, name: str, path: str) -> int:
    value = _int_or_none(element, name, path)
    if value is None:
        raise GreenButtonError(f"missing <{name}>", where=path)
    return value


def _entries(root: ET.Element) -> list[_Entry]:
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise GreenButtonError(f"root element is {root.tag!r}, expected an Atom <feed>", where="/")
    entries: list[_Entry] = []
    for n, entry in enumerate(root.findall(f"{{{ATOM_NS}}}entry"), start=1):
        path = f"feed/entry[{n}]"
        self_href = up_href = None
        related: set[str] = set()
        for link in entry.findall(f"{{{ATOM_NS}}}link"):
            rel = link.get("rel", "alternate")
            href = _href(link.get("href"))
            if href is None:
                continue
            if rel == "self":
                self_href = href
            elif rel == "up":
                up_href = href
            elif rel == "related":
                related.add(href)
        content = entry.find(f"{{{ATOM_NS}}}content")
        resources: list[tuple[ET.Element, str]] = []
        counts: dict[str, int] = {}
        for element in [] if content is None else list(content):
            ns, name = _local(element.tag)
            if ns is None or ns == ATOM_NS:
                raise GreenButtonError(
                    f"<{name}> is not in the ESPI namespace {ESPI_NS}", where=f"{path}/content"
                )
            if ns != ESPI_NS:
                continue  # another vocabulary's extension
            counts[name] = counts.get(name, 0) + 1
            resources.append((element, f"{path}/content/{name}[{counts[name]}]"))
        kind = _local(resources[0][0].tag)[1] if resources else ""
        entries.append(_Entry(path, kind, self_href, up_href, related, resources))
    return entries


def _children_of(parent: _Entry, candidates: list[_Entry]) -> list[_Entry]:
    """Entries that point ``up`` at one of the parent's related collections or at itself."""
    targets = set(parent.related)
    if parent.self_href:
        targets.add(parent.self_href)
    return [c for c in candidates if c.up_href is not None and c.up_href in targets]


@dataclass(frozen=True, slots=True)
class _ReadingType:
    multiplier: int
    export: bool
    interval_length: int | None


def _reading_type(entry: _Entry) -> _ReadingType:
    element, path = entry.resources[0]
    uom = _int_of(element, "uom", path)
    if uom != UOM_WH:
        raise GreenButtonError(
            f"uom {uom} is not watt-hours (72); only electricity energy in Wh is imported",
            where=f"{path}/uom",
        )
    multiplier = _int_or_none(element, "powerOfTenMultiplier", path) or 0
    if not -12 <= multiplier <= 12:
        raise GreenButtonError(
            f"powerOfTenMultiplier {multiplier} is out of range",
            where=f"{path}/powerOfTenMultiplier",
        )
    flow = _int_or_none(element, "flowDirection", path)
    if flow is None:
        flow = FLOW_DELIVERED  # optional in ESPI; delivered is what utilities omit it for
    if flow not in (FLOW_DELIVERED, FLOW_RECEIVED):
        raise GreenButtonError(
            f"flowDirection {flow} is neither 1 (delivered) nor 19 (received)",
            where=f"{path}/flowDirection",
        )
    accumulation = _int_or_none(element, "accumulationBehaviour", path)
    if accumulation in _REGISTER_ACCUMULATION:
        raise GreenButtonError(
            f"accumulationBehaviour {accumulation} ({_REGISTER_ACCUMULATION[accumulation]}) "
            "is a register reading, not interval energy",
            where=f"{path}/accumulationBehaviour",
        )
    interval_length = _int_or_none(element, "intervalLength", path)
    return _ReadingType(multiplier, flow == FLOW_RECEIVED, interval_length)


def _scaled_wh(value: int, multiplier: int) -> int:
    """value x 10^multiplier Wh, rounded half up to a whole Wh when the multiplier is < 0."""
    if multiplier >= 0:
        return value * 10**multiplier
    divisor = 10**-multiplier
    return (2 * value + divisor) // (2 * divisor)


def _block_spans(element: ET.Element, path: str, reading_type: _ReadingType) -> list[_Span]:
    interval = _child(element, "interval")
    if interval is None:
        raise GreenButtonError("missing <interval>", where=path)
    block_start = _int_of(interval, "start", f"{path}/interval")
    block_duration = _int_of(interval, "duration", f"{path}/interval")
    readings = element.findall(f"{{{ESPI_NS}}}IntervalReading")
    if not readings:
        raise GreenButtonError("IntervalBlock has no IntervalReading", where=path)
    spans: list[_Span] = []
    cursor = block_start
    previous: int | None = None
    for n, reading in enumerate(readings, start=1):
        where = f"{path}/IntervalReading[{n}]"
        period = _child(reading, "timePeriod")
        if period is not None:
            start = _int_of(period, "start", f"{where}/timePeriod")
            duration = _int_of(period, "duration", f"{where}/timePeriod")
        else:
            # Back to back: starts where the previous reading ended (the block's start
            # for the first) and lasts the ReadingType's intervalLength, else as long as
            # the previous reading, else an equal share of the block.
            start = cursor
            duration = reading_type.interval_length or previous or 0
            if not duration:
                if block_duration % len(readings):
                    raise GreenButtonError(
                        f"no timePeriod, no intervalLength, and the block's {block_duration} s "
                        f"do not divide into {len(readings)} readings",
                        where=where,
                    )
                duration = block_duration // len(readings)
        if duration <= 0:
            raise GreenButtonError(f"duration {duration} s is not positive", where=where)
        value = _int_of(reading, "value", where)
        if value < 0:
            raise GreenButtonError(f"negative value {value}", where=f"{where}/value")
        spans.append(
            _Span(
                start,
                duration,
                _scaled_wh(value, reading_type.multiplier),
                reading_type.export,
                where,
            )
        )
        cursor = start + duration
        previous = duration
    return spans


def readings_from_espi_xml(data: bytes | str, *, usage_point: str | None = None) -> list[Reading]:
    """Quarter-hour readings from an ESPI Atom feed (Green Button XML).

    The feed's electricity UsagePoint (ServiceCategory kind 0, or no ServiceCategory) is
    read; gas and water UsagePoints are skipped. A file with several electricity
    UsagePoints needs ``usage_point``, the self href of the one to read. A MeterReading
    belongs to a UsagePoint, and an IntervalBlock to a MeterReading, when its ``up`` link
    is one of the parent's ``related`` links or the parent's ``self``; a MeterReading's
    ReadingType is the entry whose ``self`` is one of its ``related`` links. MeterReadings
    whose ReadingType's intervalLength is over an hour (billing summaries) are skipped.
    """
    entries = _entries(_parse_xml(data))
    by_kind: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_kind.setdefault(entry.kind, []).append(entry)
    usage_points = by_kind.get("UsagePoint", [])
    meter_readings = by_kind.get("MeterReading", [])
    reading_types = by_kind.get("ReadingType", [])
    blocks = by_kind.get("IntervalBlock", [])
    if not usage_points:
        raise GreenButtonError("the feed has no UsagePoint entry", where="feed")

    electric: list[_Entry] = []
    owner: dict[str, str] = {}  # MeterReading path -> UsagePoint path
    for point in usage_points:
        element, path = point.resources[0]
        category = _child(element, "ServiceCategory")
        kind = 0 if category is None else _int_of(category, "kind", f"{path}/ServiceCategory")
        if kind == 0:
            electric.append(point)
        for reading in _children_of(point, meter_readings):
            if reading.path in owner:
                raise GreenButtonError(
                    f"MeterReading links to two UsagePoints ({owner[reading.path]}, {point.path})",
                    where=reading.path,
                )
            owner[reading.path] = point.path
    for reading in meter_readings:
        if reading.path not in owner:
            raise GreenButtonError(
                f"MeterReading is linked to no UsagePoint (up={reading.up_href!r})",
                where=reading.path,
            )
    block_owner: dict[str, str] = {}
    for reading in meter_readings:
        for block in _children_of(reading, blocks):
            if block.path in block_owner:
                raise GreenButtonError("IntervalBlock links to two MeterReadings", where=block.path)
            block_owner[block.path] = reading.path
    for block in blocks:
        if block.path not in block_owner:
            raise GreenButtonError(
                f"IntervalBlock is linked to no MeterReading (up={block.up_href!r})",
                where=block.path,
            )

    if usage_point is not None:
        wanted = _href(usage_point)
        chosen = [p for p in electric if p.self_href == wanted]
        if not chosen:
            known = ", ".join(repr(p.self_href) for p in electric) or "none"
            raise GreenButtonError(
                f"no electricity UsagePoint with self href {usage_point!r} (found: {known})"
            )
    elif len(electric) > 1:
        known = ", ".join(repr(p.self_href) for p in electric)
        raise GreenButtonError(f"several electricity UsagePoints; choose one of: {known}")
    elif not electric:
        raise GreenButtonError("the feed has no electricity UsagePoint", where="feed")
    else:
        chosen = electric
    point = chosen[0]

    spans: list[_Span] = []
    readings = [r for r in meter_readings if owner[r.path] == point.path]
    if not readings:
        raise GreenButtonError("UsagePoint has no MeterReading", where=point.path)
    for reading in readings:
        types = [t for t in reading_types if t.self_href in reading.related]
        if len(types) != 1:
            raise GreenButtonError(
                f"MeterReading links to {len(types)} ReadingTypes, expected exactly one",
                where=reading.path,
            )
        reading_type = _reading_type(types[0])
        if reading_type.interval_length and reading_type.interval_length > LONGEST_READING_S:
            continue
        for block in _children_of(reading, blocks):
            for element, path in block.resources:
                if _local(element.tag)[1] == "IntervalBlock":
                    spans.extend(_block_spans(element, path, reading_type))
    if not spans:
        raise GreenButtonError(
            "no interval readings of an hour or less for the UsagePoint", where=point.path
        )
    return _quarters(spans)


# --------------------------------------------------------------------------------------
# Utility CSV
# --------------------------------------------------------------------------------------

_SCE_STAMP = r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}(?::\d{2})?"
_SCE_RANGE = re.compile(rf"({_SCE_STAMP})\s+to\s+({_SCE_STAMP})")


class _LocalClock:
    """Local wall-clock times to UTC, the repeated fall-back hour told apart by order.

    The first time a series of rows (a CSV table, or one kind of SCE section) shows an
    ambiguous local time it is the earlier instant (fold 0); the next time, the later one
    (fold 1). A local time that does not exist (the hour skipped in spring) is an error.
    """

    def __init__(self, timezone: str) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise GreenButtonError(f"unknown timezone {timezone!r}") from exc
        self.seen: set[tuple[str, datetime]] = set()

    def epoch(self, local: datetime, *, series: str, where: str) -> int:
        earlier = local.replace(tzinfo=self.zone, fold=0)
        if earlier.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != local:
            raise GreenButtonError(
                f"local time {local:%Y-%m-%d %H:%M} does not exist in {self.zone.key} "
                "(the hour skipped when clocks go forward)",
                where=where,
            )
        later = local.replace(tzinfo=self.zone, fold=1)
        key = (series, local)
        fold = 1 if earlier.utcoffset() != later.utcoffset() and key in self.seen else 0
        self.seen.add(key)
        return int((later if fold else earlier).timestamp())


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GreenButtonError(f"the CSV is not UTF-8 text (byte {exc.start})") from exc
    return data.removeprefix("\ufeff")


def _kwh_to_wh(text: str, where: str) -> int:
    """kWh as written (decimals allowed) to whole Wh, rounded half away from zero."""
    cleaned = text.strip().replace(",", "")
    try:
        kwh = Decimal(cleaned)
    except InvalidOperation:
        kwh = None
    if kwh is None or not kwh.is_finite() or not cleaned:
        raise GreenButtonError(f"{text!r} is not a number of kWh", where=where)
    return int((kwh * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _date(text: str, where: str) -> date:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise GreenButtonError(f"date {text!r} is neither YYYY-MM-DD nor MM/DD/YYYY", where=where)


def _minutes(text: str, where: str) -> int:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise GreenButtonError(f"time {text!r} is not HH:MM", where=where)
    return int(match[1]) * 60 + int(match[2])


def _rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise GreenButtonError(f"unreadable CSV: {exc}", where=f"line {reader.line_num}") from exc
    return rows


def readings_from_csv(data: bytes | str, *, timezone: str) -> list[Reading]:
    """Quarter-hour readings from a utility's Green Button CSV, its local times in ``timezone``.

    Two families are read, found by their header row (anything above it, such as the
    name, address and account lines, is skipped):

    - "TYPE,DATE,START TIME,END TIME,<energy>,...": energy as "USAGE (kWh)" (negative
      values are export; PG&E, PECO), "USAGE" with a "UNITS" column of kWh (ComEd), or
      "IMPORT (kWh)" and "EXPORT (kWh)" (PG&E net metering). Only "Electric usage" rows
      are accepted. END TIME may be the last minute of the interval (00:00-00:14) or its
      end (00:00-00:15); the interval's length is the difference of the labels.
    - SCE's sections, each headed "Energy Delivered time period,..." (import) or
      "Energy Received time period,..." (export), with rows
      "YYYY-MM-DD HH:MM:SS to YYYY-MM-DD HH:MM:SS",kWh.

    kWh are converted to Wh rounded half away from zero.
    """
    clock = _LocalClock(timezone)
    rows = _rows(_decode(data))
    for index, (_, row) in enumerate(rows):
        first = row[0].strip().upper() if row else ""
        if first == "TYPE":
            return _quarters(_utility_table(rows, index, clock))
        if first.endswith("TIME PERIOD"):
            return _quarters(_sce_sections(rows, index, clock))
    raise GreenButtonError(
        "no Green Button CSV header found: expected a 'TYPE,DATE,START TIME,END TIME,...' row "
        "or an SCE 'Energy Delivered time period' section"
    )


def _utility_table(
    rows: list[tuple[int, list[str]]], index: int, clock: _LocalClock
) -> list[_Span]:
    line, header_row = rows[index]
    header = [cell.strip().upper() for cell in header_row]
    where = f"line {line}"
    if "START DATE" in header:
        raise GreenButtonError(
            "this is a billing-period export (START DATE, END DATE), not interval data",
            where=where,
        )
    columns = {name: i for i, name in reversed(list(enumerate(header)))}
    for name in ("DATE", "START TIME", "END TIME"):
        if name not in columns:
            raise GreenButtonError(f"header has no {name!r} column", where=where)
    if "IMPORT (KWH)" in columns and "EXPORT (KWH)" in columns:
        energy = "import-export"
    elif "USAGE (KWH)" in columns:
        energy = "usage-kwh"
    elif "USAGE" in columns and "UNITS" in columns:
        energy = "usage-units"
    else:
        raise GreenButtonError(
            "header has no energy column: expected 'USAGE (kWh)', 'USAGE' with 'UNITS', "
            "or 'IMPORT (kWh)' and 'EXPORT (kWh)'",
            where=where,
        )

    spans: list[_Span] = []
    for line, row in rows[index + 1 :]:
        where = f"line {line}"
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (len(header) - len(row))

        def cell(name: str, row: list[str] = row, where: str = where) -> str:
            value = row[columns[name]].strip()
            if not value:
                raise GreenButtonError(f"empty {name} value", where=where)
            return value

        kind = cell("TYPE")
        if kind.lower() != "electric usage":
            raise GreenButtonError(f"TYPE {kind!r} is not 'Electric usage'", where=where)
        day = _date(cell("DATE"), where)
        start_min = _minutes(cell("START TIME"), where)
        span_min = (_minutes(cell("END TIME"), where) - start_min) % 1440
        # PG&E and ComEd write the last minute (00:00-00:14); others the end (00:00-00:15).
        minutes = span_min + 1 if (span_min + 1) % 15 == 0 else span_min
        local = datetime(day.year, day.month, day.day) + timedelta(minutes=start_min)
        if energy == "import-export":
            amounts = [
                (False, _kwh_to_wh(cell("IMPORT (KWH)"), where)),
                (True, _kwh_to_wh(cell("EXPORT (KWH)"), where)),
            ]
            if amounts[0][1] < 0 or amounts[1][1] < 0:
                raise GreenButtonError("IMPORT and EXPORT must not be negative", where=where)
        else:
            name = "USAGE (KWH)" if energy == "usage-kwh" else "USAGE"
            if energy == "usage-units" and cell("UNITS").lower() != "kwh":
                raise GreenButtonError(f"UNITS {cell('UNITS')!r} is not kWh", where=where)
            wh = _kwh_to_wh(cell(name), where)
            # A net meter's negative usage is energy the member sent out.
            amounts = [(True, -wh)] if wh < 0 else [(False, wh)]
        start = clock.epoch(local, series="table", where=where)
        for export, wh in amounts:
            spans.append(_Span(start, minutes * 60, wh, export, where))
    if not spans:
        raise GreenButtonError("the CSV has a header but no readings", where=f"line {line}")
    return spans


def _sce_sections(rows: list[tuple[int, list[str]]], index: int, clock: _LocalClock) -> list[_Span]:
    spans: list[_Span] = []
    export: bool | None = None
    for line, row in rows[index:]:
        where = f"line {line}"
        if not any(cell.strip() for cell in row):
            continue
        first = row[0].strip()
        lowered = first.lower()
        if lowered.endswith("time period"):
            if "received" in lowered:
                export = True
            elif "delivered" in lowered or "consumption" in lowered:
                export = False
            else:
                raise GreenButtonError(f"unknown section {first!r}", where=where)
            unit = row[1].lower() if len(row) > 1 else ""
            if "kilowatt-hours" not in unit:
                raise GreenButtonError(f"section is not in kilowatt-hours: {unit!r}", where=where)
            continue
        if lowered.startswith("data for period starting"):
            continue
        match = _SCE_RANGE.fullmatch(first)
        if match is None or export is None:
            raise GreenButtonError(f"unexpected row {first!r}", where=where)
        if len(row) < 2:
            raise GreenButtonError("row has no usage value", where=where)
        begin = _sce_time(match[1], where)
        end = _sce_time(match[2], where)
        start = clock.epoch(begin, series="received" if export else "delivered", where=where)
        seconds = int((end - begin).total_seconds())
        if seconds <= 0:
            # Crossing the fall-back fold (01:45 -> 01:00): use the elapsed time instead.
            seconds = int(end.replace(tzinfo=clock.zone, fold=1).timestamp()) - start
        wh = _kwh_to_wh(row[1], where)
        if wh < 0:
            raise GreenButtonError(f"negative usage {row[1]!r}", where=where)
        spans.append(_Span(start, seconds, wh, export, where))
    if not spans:
        raise GreenButtonError(
            "the CSV has sections but no readings", where=f"line {rows[index][0]}"
        )
    return spans


def _sce_time(text: str, where: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, pattern)  # local: _LocalClock gives it its zone
        except ValueError:
            continue
    raise GreenButtonError(f"time {text!r} is not YYYY-MM-DD HH:MM:SS", where=where)
