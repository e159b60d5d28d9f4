"""Green Button import: ESPI XML in both namespace styles, utility CSVs, DST days, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from energy.greenbutton import (
    QUARTER_S,
    GreenButtonError,
    Reading,
    readings_from_csv,
    readings_from_download,
    readings_from_espi_xml,
)

DATA = Path(__file__).parent / "data"
CHICAGO = "America/Chicago"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def quarter(stamp: str, import_wh: int, export_wh: int = 0) -> Reading:
    start = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    return Reading(start, QUARTER_S, import_wh, export_wh)


def simple(readings: list[Reading]) -> list[tuple[str, int, int]]:
    return [(r.start.strftime("%H:%M"), r.import_wh, r.export_wh) for r in readings]


def assert_contiguous(readings: list[Reading]) -> None:
    for before, after in pairwise(readings):
        assert after.start - before.start == timedelta(seconds=QUARTER_S)
    for r in readings:
        assert r.start.tzinfo is UTC and r.duration_s == QUARTER_S
        assert r.start.timestamp() % QUARTER_S == 0


# --------------------------------------------------------------------------------------
# ESPI XML
# --------------------------------------------------------------------------------------


def test_xml_default_namespace_delivered_and_received():
    readings = readings_from_espi_xml(data("espi_default_ns.xml"))
    # 2024-06-01T17:00:00Z is 1717261200; the gas UsagePoint (therms) is skipped.
    assert readings == [
        quarter("2024-06-01T17:00:00", 250),
        quarter("2024-06-01T17:15:00", 100),
        quarter("2024-06-01T17:30:00", 0, 320),
        quarter("2024-06-01T17:45:00", 40, 10),
    ]


def test_xml_prefixed_back_to_back_readings_and_multiplier():
    readings = readings_from_espi_xml(data("espi_prefixed.xml"))
    assert simple(readings) == [
        # 1_000_500 mWh -> 1000.5 Wh -> 1001 Wh (half up), over four quarters: 251 first
        ("17:00", 251, 12),
        ("17:15", 250, 30),  # received: no timePeriod, as long as the previous reading
        ("17:30", 250, 0),
        ("17:45", 250, 0),
        ("18:00", 500, 0),  # second back-to-back hour: 2_000_000 mWh
        ("18:15", 500, 0),
        ("18:30", 500, 0),
        ("18:45", 500, 0),
        ("19:00", 1, 0),  # 3999 mWh -> 4 Wh, from the second IntervalBlock in the entry
        ("19:15", 1, 0),
        ("19:30", 1, 0),
        ("19:45", 1, 0),
    ]
    assert_contiguous(readings)


def test_both_namespace_styles_read_the_same_content():
    default = data("espi_default_ns.xml").decode()
    prefixed = default.replace(
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        '<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">',
    ).replace(' xmlns="http://naesb.org/espi"', "")
    for tag in ("feed", "id", "title", "updated", "link", "entry", "content"):
        prefixed = prefixed.replace(f"<{tag}", f"<a:{tag}").replace(f"</{tag}>", f"</a:{tag}>")
    for tag in (
        "UsagePoint", "ServiceCategory", "kind", "LocalTimeParameters", "dstEndRule", "dstOffset",
        "dstStartRule", "tzOffset", "MeterReading", "ReadingType", "accumulationBehaviour",
        "commodity", "dataQualifier", "flowDirection", "intervalLength", "powerOfTenMultiplier",
        "uom", "IntervalBlock", "interval", "duration", "start", "IntervalReading", "timePeriod",
        "value", "cost",
    ):  # fmt: skip
        prefixed = prefixed.replace(f"<{tag}>", f"<espi:{tag}>").replace(
            f"<{tag}/>", f"<espi:{tag}/>"
        )
        prefixed = prefixed.replace(f"<{tag} ", f"<espi:{tag} ").replace(
            f"</{tag}>", f"</espi:{tag}>"
        )
    assert "<espi:IntervalReading>" in prefixed and "<a:entry>" in prefixed
    assert readings_from_espi_xml(prefixed) == readings_from_espi_xml(default)


@pytest.mark.parametrize(
    ("multiplier", "value", "total"),
    [(0, 400, 400), (3, 2, 2_000), (-1, 4005, 401), (-2, 38, 0), (-2, 50, 1)],
)
def test_xml_power_of_ten_multiplier(multiplier, value, total):
    text = data("espi_default_ns.xml").decode()
    # The first ReadingType (delivered) becomes hourly with the given multiplier ...
    text = text.replace(
        "<powerOfTenMultiplier>0</powerOfTenMultiplier>",
        f"<powerOfTenMultiplier>{multiplier}</powerOfTenMultiplier>",
        1,
    ).replace("<intervalLength>900</intervalLength>", "<intervalLength>3600</intervalLength>", 1)
    # ... and one hourly reading replaces its four quarter readings.
    start = text.index("<IntervalReading>", text.index("MeterReading/1/IntervalBlock/1"))
    end = text.index("</IntervalBlock>", start)
    reading = (
        "<IntervalReading><timePeriod><duration>3600</duration><start>1717261200</start>"
        f"</timePeriod><value>{value}</value></IntervalReading>\n"
    )
    per_quarter = [r.import_wh for r in readings_from_espi_xml(text[:start] + reading + text[end:])]
    assert sum(per_quarter) == total  # value x 10^multiplier, rounded half up
    assert max(per_quarter) - min(per_quarter) <= 1
    assert per_quarter == sorted(per_quarter, reverse=True)  # remainder to the earliest


def test_download_sniffs_xml_even_with_a_byte_order_mark():
    raw = b"\xef\xbb\xbf\n" + data("espi_default_ns.xml")
    assert readings_from_download(raw) == readings_from_espi_xml(data("espi_default_ns.xml"))


def test_usage_point_must_be_chosen_when_there_are_several():
    text = data("espi_default_ns.xml").decode().replace("<kind>1</kind>", "<kind>0</kind>")
    text = text.replace("<uom>169</uom>", "<uom>72</uom>").replace(
        "<intervalLength>86400</intervalLength>", ""
    )
    with pytest.raises(GreenButtonError, match="several electricity UsagePoints"):
        readings_from_espi_xml(text)
    first = readings_from_espi_xml(text, usage_point="/RetailCustomer/1/UsagePoint/1")
    assert first == readings_from_espi_xml(data("espi_default_ns.xml"))
    with pytest.raises(GreenButtonError, match="cannot be put on the quarter-hour grid"):
        readings_from_espi_xml(text, usage_point="RetailCustomer/1/UsagePoint/2")
    with pytest.raises(GreenButtonError, match="no electricity UsagePoint with self href"):
        readings_from_espi_xml(text, usage_point="RetailCustomer/1/UsagePoint/3")


def test_summary_meter_readings_are_skipped():
    text = data("espi_default_ns.xml").decode()
    text = text.replace(
        "<intervalLength>900</intervalLength>", "<intervalLength>2592000</intervalLength>", 1
    )
    assert simple(readings_from_espi_xml(text)) == [
        ("17:00", 0, 0),
        ("17:15", 0, 0),
        ("17:30", 0, 320),
        ("17:45", 0, 10),
    ]


def xml_error(old: str, new: str, count: int = 1) -> GreenButtonError:
    text = data("espi_default_ns.xml").decode()
    assert old in text, old
    with pytest.raises(GreenButtonError) as caught:
        readings_from_espi_xml(text.replace(old, new, count))
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "message", "where"),
    [
        (
            "<uom>72</uom>",
            "<uom>169</uom>",
            "uom 169 is not watt-hours (72)",
            "feed/entry[4]/content/ReadingType[1]/uom",
        ),
        (
            "<flowDirection>19</flowDirection>",
            "<flowDirection>4</flowDirection>",
            "flowDirection 4 is neither 1 (delivered) nor 19 (received)",
            "feed/entry[7]/content/ReadingType[1]/flowDirection",
        ),
        (
            "<value>100</value>",
            "",
            "missing <value>",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]",
        ),
        (
            "<value>100</value>",
            "<value>12.5</value>",
            "<value> must be an integer, got '12.5'",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]/value",
        ),
        (
            "<value>100</value>",
            "<value>-100</value>",
            "negative value -100",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]/value",
        ),
        (
            '<link rel="up" href="/RetailCustomer/1/UsagePoint/1/MeterReading/2/IntervalBlock"/>',
            '<link rel="up" href="/RetailCustomer/1/UsagePoint/1/MeterReading/9/IntervalBlock"/>',
            "IntervalBlock is linked to no MeterReading",
            "feed/entry[8]",
        ),
        (
            '<link rel="related" href="/ReadingType/2"/>',
            "",
            "MeterReading links to 0 ReadingTypes",
            "feed/entry[6]",
        ),
        (
            "<start>1717262100</start></timePeriod>",
            "<start>1717261200</start></timePeriod>",
            "overlaps the reading at feed/entry[5]/content/IntervalBlock[1]/IntervalReading[1]",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]",
        ),
        (
            "<start>1717262100</start></timePeriod>",
            "<start>1717262160</start></timePeriod>",
            "not on a quarter-hour",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]",
        ),
        (
            "<duration>900</duration><start>1717262100</start>",
            "<duration>600</duration><start>1717262100</start>",
            "a reading of 600 s cannot be put on the quarter-hour grid",
            "feed/entry[5]/content/IntervalBlock[1]/IntervalReading[2]",
        ),
        (
            "<interval><duration>3600</duration><start>1717261200</start></interval>",
            "",
            "missing <interval>",
            "feed/entry[5]/content/IntervalBlock[1]",
        ),
        (
            "<accumulationBehaviour>4</accumulationBehaviour>",
            "<accumulationBehaviour>3</accumulationBehaviour>",
            "is a register reading, not interval energy",
            "feed/entry[4]/content/ReadingType[1]/accumulationBehaviour",
        ),
        (
            '<MeterReading xmlns="http://naesb.org/espi"/>',
            "<MeterReading/>",
            "<MeterReading> is not in the ESPI namespace",
            "feed/entry[3]/content",
        ),
        ("</feed>", "", "not well-formed XML", "line"),
    ],
)
def test_malformed_xml_names_the_element(old, new, message, where):
    error = xml_error(old, new)
    assert message in str(error)
    assert error.where is not None and error.where.startswith(where)


def test_xml_refuses_dtds_and_non_feeds():
    with pytest.raises(GreenButtonError, match="DTD"):
        readings_from_espi_xml(b'<!DOCTYPE feed [<!ENTITY a "b">]><feed/>')
    with pytest.raises(GreenButtonError, match="expected an Atom <feed>"):
        readings_from_espi_xml(b'<feed xmlns="http://naesb.org/espi"/>')
    with pytest.raises(GreenButtonError, match="no UsagePoint"):
        readings_from_espi_xml(b'<feed xmlns="http://www.w3.org/2005/Atom"/>')


def test_xml_back_to_back_without_any_length_shares_the_block():
    text = data("espi_prefixed.xml").decode()
    text = text.replace("<espi:intervalLength>3600</espi:intervalLength>", "")
    readings = readings_from_espi_xml(text)
    assert [r.import_wh for r in readings][:8] == [251, 250, 250, 250, 500, 500, 500, 500]
    text = text.replace(
        "<espi:duration>7200</espi:duration>", "<espi:duration>7201</espi:duration>"
    )
    with pytest.raises(GreenButtonError, match="do not divide into 2 readings"):
        readings_from_espi_xml(text)


# --------------------------------------------------------------------------------------
# Utility CSV
# --------------------------------------------------------------------------------------


def test_pge_usage_column_negative_is_export():
    readings = readings_from_csv(data("pge_15min.csv"), timezone="America/Los_Angeles")
    assert readings == [
        quarter("2024-06-01T19:00:00", 250),  # 12:00 PDT
        quarter("2024-06-01T19:15:00", 100),
        quarter("2024-06-01T19:30:00", 0, 320),
        quarter("2024-06-01T19:45:00", 0),
    ]


def test_peco_hourly_without_cost_column_is_split_into_quarters():
    readings = readings_from_csv(data("peco_hourly.csv"), timezone="America/New_York")
    # 1.08 kWh -> 270 x 4; 2.93 kWh = 2930 Wh -> 733, 733, 732, 732
    assert simple(readings) == [
        ("03:00", 270, 0),
        ("03:15", 270, 0),
        ("03:30", 270, 0),
        ("03:45", 270, 0),
        ("04:00", 733, 0),
        ("04:15", 733, 0),
        ("04:30", 732, 0),
        ("04:45", 732, 0),
    ]


def test_comed_usage_and_units_columns_30_minutes():
    readings = readings_from_csv(data("comed_30min.csv"), timezone=CHICAGO)
    assert simple(readings) == [
        ("06:00", 80, 0),
        ("06:15", 80, 0),
        ("06:30", 105, 0),
        ("06:45", 105, 0),
    ]


def test_pge_net_metering_import_and_export_columns():
    readings = readings_from_csv(data("pge_nem_hourly.csv"), timezone="America/Los_Angeles")
    assert simple(readings)[:5] == [
        ("18:00", 25, 313),  # 1.25 kWh exported over the hour: 313, 313, 312, 312
        ("18:15", 25, 313),
        ("18:30", 25, 312),
        ("18:45", 25, 312),
        ("19:00", 100, 0),
    ]


def test_sce_delivered_and_received_sections():
    readings = readings_from_csv(data("sce_nem.csv"), timezone="America/Los_Angeles")
    assert simple(readings) == [("19:00", 380, 0), ("19:15", 0, 1090)]


def test_download_needs_a_timezone_for_csv():
    with pytest.raises(GreenButtonError, match="timezone"):
        readings_from_download(data("comed_30min.csv"))
    assert readings_from_download(data("comed_30min.csv"), timezone=CHICAGO) == readings_from_csv(
        data("comed_30min.csv"), timezone=CHICAGO
    )


# Daylight saving in America/Chicago: 2024-03-10 has 23 hours, 2024-11-03 has 25.


def test_spring_forward_day_has_92_quarters():
    readings = readings_from_csv(data("comed_chicago_spring.csv"), timezone=CHICAGO)
    assert len(readings) == 92
    assert_contiguous(readings)
    assert readings[0].start == datetime(2024, 3, 10, 6, tzinfo=UTC)  # 00:00 CST
    assert readings[-1].start == datetime(2024, 3, 11, 4, 45, tzinfo=UTC)  # 23:45 CDT
    # 01:30-01:59 CST is followed directly by 03:00 CDT
    assert readings[8].start == datetime(2024, 3, 10, 8, tzinfo=UTC)


def test_fall_back_day_has_100_quarters_the_repeated_hour_in_file_order():
    readings = readings_from_csv(data("comed_chicago_fall.csv"), timezone=CHICAGO)
    assert len(readings) == 100
    assert_contiguous(readings)
    assert readings[0].start == datetime(2024, 11, 3, 5, tzinfo=UTC)  # 00:00 CDT
    # The first 01:00-01:29 (CDT, 0.13 kWh) comes before the second (CST, 0.15 kWh).
    assert [r.import_wh for r in readings[4:6]] == [65, 65]  # 06:00Z
    assert [r.import_wh for r in readings[8:10]] == [75, 75]  # 07:00Z
    total = sum(r.import_wh for r in readings)
    csv_rows = data("comed_chicago_fall.csv").decode().splitlines()[6:]
    assert total == sum(round(float(row.split(",")[4]) * 1000) for row in csv_rows)


def pge_day(day: str, labels: list[tuple[int, int]], minutes: int) -> str:
    rows = ["TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES"]
    for n, (hour, minute) in enumerate(labels):
        end = minute + minutes - 1
        rows.append(
            f"Electric usage,{day},{hour:02d}:{minute:02d},{hour:02d}:{end:02d},0.{n % 9}1,$0.01,"
        )
    return "\n".join(rows) + "\n"


def test_fall_back_day_at_15_minutes_and_spring_day_hourly():
    fall = [(0, m) for m in range(0, 60, 15)] + [(1, m) for m in range(0, 60, 15)] * 2
    fall += [(h, m) for h in range(2, 24) for m in range(0, 60, 15)]
    readings = readings_from_csv(pge_day("2024-11-03", fall, 15), timezone=CHICAGO)
    assert len(readings) == 100
    assert_contiguous(readings)
    spring = [(h, 0) for h in range(24) if h != 2]
    readings = readings_from_csv(pge_day("2024-03-10", spring, 60), timezone=CHICAGO)
    assert len(readings) == 92
    assert_contiguous(readings)


def test_spring_forward_hour_that_does_not_exist_is_refused():
    labels = [(h, 0) for h in range(24)]
    with pytest.raises(GreenButtonError) as caught:
        readings_from_csv(pge_day("2024-03-10", labels, 60), timezone=CHICAGO)
    assert caught.value.where == "line 4"
    assert "does not exist in America/Chicago" in str(caught.value)


def test_an_hour_repeated_three_times_collides():
    labels = [(0, 0), (1, 0), (1, 0), (1, 0)]
    with pytest.raises(GreenButtonError) as caught:
        readings_from_csv(pge_day("2024-11-03", labels, 60), timezone=CHICAGO)
    assert caught.value.where == "line 5"
    assert "overlaps the reading at line 4" in str(caught.value)


HEADER_KWH = "TYPE,DATE,START TIME,END TIME,USAGE (kWh)\n"


@pytest.mark.parametrize(
    ("usage", "import_wh", "export_wh"),
    [("0.0005", 1, 0), ("0.0004", 0, 0), ("-0.0005", 0, 1), ("1,234.5", 1_234_500, 0)],
)
def test_kwh_are_rounded_half_away_from_zero(usage, import_wh, export_wh):
    text = HEADER_KWH + f'Electric usage,2024-01-15,00:00,00:14,"{usage}"\n'
    [reading] = readings_from_csv(text, timezone=CHICAGO)
    assert (reading.import_wh, reading.export_wh) == (import_wh, export_wh)


def test_end_time_may_be_exclusive_and_dates_may_be_us_style():
    text = (
        "TYPE,DATE,START TIME,END TIME,USAGE (kWh)\n"
        "Electric usage,01/15/2024,23:30,23:45,0.1\n"
        "Electric usage,01/15/2024,23:45,00:00,0.2\n"
    )
    assert simple(readings_from_csv(text, timezone=CHICAGO)) == [
        ("05:30", 100, 0),
        ("05:45", 200, 0),
    ]


HEADER = "TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES\n"


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        (
            HEADER + "Electric usage,2024-01-15,00:00,00:14,abc,$0.01,\n",
            "'abc' is not a number",
            "line 2",
        ),
        (
            HEADER + "Electric usage,2024-01-15,00:00,00:14,,$0.01,\n",
            "empty USAGE (KWH) value",
            "line 2",
        ),
        (HEADER + "Electric usage,15.01.2024,00:00,00:14,0.1,,\n", "neither YYYY-MM-DD", "line 2"),
        (
            HEADER + "Electric usage,2024-01-15,25:00,25:14,0.1,,\n",
            "'25:00' is not HH:MM",
            "line 2",
        ),
        (
            HEADER + "Natural gas usage,2024-01-15,00:00,00:14,0.1,,\n",
            "not 'Electric usage'",
            "line 2",
        ),
        (HEADER + "Electric usage,2024-01-15,00:00,00:09,0.1,,\n", "quarter-hour grid", "line 2"),
        (
            HEADER + "Electric usage,2024-01-15,00:00,23:59,0.1,,\n",
            "a reading of 86400 s",
            "line 2",
        ),
        (
            HEADER + "Electric usage,2024-01-15,00:00,00:14,0.1,,\n"
            "Electric usage,2024-01-15,00:00,00:14,0.2,,\n",
            "overlaps the reading at line 2",
            "line 3",
        ),
        (HEADER, "header but no readings", "line 1"),
        ("TYPE,START DATE,END DATE,USAGE (kWh),COST\n", "billing-period export", "line 1"),
        ("TYPE,DATE,START TIME,END TIME,USAGE (therms)\n", "no energy column", "line 1"),
        (
            "TYPE,DATE,START TIME,END TIME,USAGE,UNITS\n"
            "Electric usage,2024-01-15,00:00,00:14,1,therms\n",
            "UNITS 'therms' is not kWh",
            "line 2",
        ),
        (
            'Energy  Delivered time period,Usage Delivered(kilowatt-hours)\n"2024-01-15 00:00:00 to'
            ' 2024-01-15 00:15:00","x"\n',
            "'x' is not a number",
            "line 2",
        ),
        (
            'Energy  Delivered time period,Usage Delivered(kilowatt-hours)\nTotal,"1.0"\n',
            "unexpected row 'Total'",
            "line 2",
        ),
        (
            "Energy  Delivered time period,Usage Delivered(therms)\n",
            "not in kilowatt-hours",
            "line 1",
        ),
    ],
)
def test_malformed_csv_names_the_line(text, message, where):
    with pytest.raises(GreenButtonError) as caught:
        readings_from_csv(text, timezone=CHICAGO)
    assert message in str(caught.value)
    assert caught.value.where == where


def test_csv_without_a_known_header_or_encoding_or_zone():
    with pytest.raises(GreenButtonError, match="no Green Button CSV header"):
        readings_from_csv("date,kwh\n2024-01-15,1\n", timezone=CHICAGO)
    with pytest.raises(GreenButtonError, match="not UTF-8"):
        readings_from_csv(b"TYPE,DATE\n\xff\xfe", timezone=CHICAGO)
    with pytest.raises(GreenButtonError, match="unknown timezone"):
        readings_from_csv(data("comed_30min.csv"), timezone="Mars/Olympus_Mons")


def test_sce_fall_back_rows_crossing_the_fold():
    rows = ["Energy  Delivered time period,Usage Delivered(Real energy in kilowatt-hours)"]
    stamps = [
        "00:45",
        "01:00",
        "01:15",
        "01:30",
        "01:45",
        "01:00",
        "01:15",
        "01:30",
        "01:45",
        "02:00",
    ]
    for begin, end in pairwise(stamps):
        rows.append(f'"2024-11-03 {begin}:00 to 2024-11-03 {end}:00","0.100",""')
    readings = readings_from_csv("\n".join(rows) + "\n", timezone=CHICAGO)
    assert len(readings) == 9
    assert_contiguous(readings)
    assert readings[0].start == datetime(2024, 11, 3, 5, 45, tzinfo=UTC)
