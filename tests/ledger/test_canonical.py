"""Tests for ledger.canonical: RFC 8785 bytes, the rules on entry data, timestamps, headers."""

from __future__ import annotations

import hashlib
import json
import pathlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    GENESIS_PREV_HASH,
    MAX_DATA_BYTES,
    MAX_DATA_DEPTH,
    MAX_SAFE_INTEGER,
    LedgerDataError,
    block_hash,
    block_header_bytes,
    canonical_json,
    entry_bytes,
    format_timestamp,
    parse_timestamp,
    validate_data,
)

# --- RFC 8785 examples that need no floats -------------------------------------------------


def test_rfc8785_property_sorting_example() -> None:
    # RFC 8785 section 3.2.3. Keys sort by UTF-16 code units, so the emoji (lead surrogate
    # U+D83D) comes before U+FB33 although its code point is larger.
    source = r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()
    data = json.loads(source)
    assert canonical_json(data) == expected
    validate_data(data)


def test_rfc8785_string_escaping_and_literals_example() -> None:
    # RFC 8785 section 3.2.2's example, without its "numbers" member (floats are refused
    # on the ledger, and JCS number formatting is rfc8785's job).
    source = r"""{
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    assert canonical_json(json.loads(source)) == expected.encode()


def test_canonical_json_is_compact_utf8_with_sorted_nested_keys() -> None:
    value = {"b": [3, {"z": None, "a": True}], "a": "é"}
    assert canonical_json(value) == '{"a":"é","b":[3,{"a":true,"z":null}]}'.encode()


# --- Rules on data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"trades": [{"price": 1}, {"price": 2}, {"price": 1.5}]},
            "data.trades[2].price: floats are not allowed; use integer cents or watt-hours",
        ),
        ({"a b": {"c": 0.0}}, 'data["a b"].c: floats are not allowed'),
        ({"n": 2**53}, f"data.n: integer {2**53} is beyond ±{MAX_SAFE_INTEGER}"),
        ({"n": [-(2**53)]}, f"data.n[0]: integer {-(2**53)} is beyond"),
        ({"meter": {7: "x"}}, "data.meter: key 7 is int, but object keys must be str"),
        ({"note": "ok \ud800 no"}, "data.note: string contains a lone surrogate (U+D800)"),
        ({"x": {"\udfff": 1}}, "data.x: a key contains a lone surrogate (U+DFFF)"),
        (
            {"ids": (1, 2)},
            "data.ids: tuple is not allowed; only null, bool, int, str, list and dict; use a list",
        ),
        ({"tags": {"a"}}, "data.tags: set is not allowed"),
        ({"raw": b"\x00"}, "data.raw: bytes is not allowed"),
        ({"amount": Decimal("1.10")}, "data.amount: Decimal is not allowed"),
        ({"at": datetime(2026, 1, 1, tzinfo=UTC)}, "data.at: datetime is not allowed"),
    ],
)
def test_validate_data_names_the_path(data: object, message: str) -> None:
    with pytest.raises(LedgerDataError) as raised:
        validate_data(data)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize("data", [None, [], "x", 1, [{"a": 1}]])
def test_data_must_be_a_dict(data: object) -> None:
    with pytest.raises(LedgerDataError, match=r"^data: must be a dict"):
        validate_data(data)


def test_safe_integer_boundary() -> None:
    validate_data({"max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "zero": 0})
    assert MAX_SAFE_INTEGER == 2**53 - 1
    for bad in (MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**30):
        with pytest.raises(LedgerDataError, match="store it as a string"):
            validate_data({"n": bad})


def test_bools_and_nulls_are_not_mistaken_for_integers() -> None:
    validate_data({"paid": True, "late": False, "note": None})
    assert canonical_json({"paid": True}) == b'{"paid":true}'


def test_size_limit_counts_canonical_bytes() -> None:
    overhead = len(canonical_json({"s": ""}))
    validate_data({"s": "x" * (MAX_DATA_BYTES - overhead)})
    with pytest.raises(LedgerDataError, match=f"over the {MAX_DATA_BYTES}-byte limit"):
        validate_data({"s": "x" * (MAX_DATA_BYTES - overhead + 1)})
    # Multi-byte characters count as their UTF-8 length, not as one.
    with pytest.raises(LedgerDataError, match="byte limit"):
        validate_data({"s": "€" * (MAX_DATA_BYTES // 3 + 1)})


def test_nesting_depth_is_limited() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(MAX_DATA_DEPTH - 1):
        deep = {"d": deep}
    validate_data(deep)
    with pytest.raises(LedgerDataError, match="nested deeper than"):
        validate_data({"d": deep})
    very_deep: list[object] = []
    for _ in range(5000):
        very_deep = [very_deep]
    with pytest.raises(LedgerDataError, match="nested deeper than"):
        validate_data({"l": very_deep})


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_valid_data_round_trips_through_any_json_reader(data: dict[str, object]) -> None:
    validate_data(data)
    encoded = canonical_json(data)
    # Re-reading the canonical form and canonicalizing again gives the same bytes: what an
    # auditor does with the JSON the public API returns.
    assert canonical_json(json.loads(encoded)) == encoded
    assert json.loads(encoded) == data


# --- Timestamps -----------------------------------------------------------------------------


def test_format_timestamp_is_utc_with_microseconds_and_z() -> None:
    dt = datetime(2026, 11, 26, 14, 24, 28, 123456, tzinfo=UTC)
    assert format_timestamp(dt) == "2026-11-26T14:24:28.123456Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_timestamp(dt.astimezone(plus_two)) == "2026-11-26T14:24:28.123456Z"
    assert format_timestamp(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000000Z"
    assert format_timestamp(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(LedgerDataError, match="timezone-aware"):
        format_timestamp(datetime(2026, 11, 26, 14, 24, 28))


def test_parse_timestamp_round_trips() -> None:
    text = "2026-11-26T14:24:28.123456Z"
    parsed = parse_timestamp(text)
    assert parsed == datetime(2026, 11, 26, 14, 24, 28, 123456, tzinfo=UTC)
    assert parsed.tzinfo is not None
    assert format_timestamp(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-26T14:24:28Z",
        "2026-11-26T14:24:28.123Z",
        "2026-11-26T14:24:28.123456+00:00",
        "2026-11-26 14:24:28.123456Z",
        "2026-11-26t14:24:28.123456z",
        "2026-02-30T00:00:00.000000Z",
        "2026-11-26T24:00:00.000000Z",
        " 2026-11-26T14:24:28.123456Z",
        "",
    ],
)
def test_parse_timestamp_accepts_only_the_canonical_form(text: str) -> None:
    with pytest.raises(LedgerDataError):
        parse_timestamp(text)


# --- Entries and block headers ----------------------------------------------------------------

RECORDED_AT = "2026-11-26T14:24:28.123456Z"


def test_entry_bytes_exact() -> None:
    got = entry_bytes("energy.trade", "c0ffee", {"wh": 1500, "cents": 42}, RECORDED_AT)
    assert got == (
        b'{"data":{"cents":42,"wh":1500},"kind":"energy.trade",'
        b'"recorded_at":"2026-11-26T14:24:28.123456Z","subject":"c0ffee"}'
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "s", {}, RECORDED_AT), "^kind: must be a non-empty string"),
        (("k", None, {}, RECORDED_AT), "^subject: must be a non-empty string"),
        (("k", "s", {"x": 1.0}, RECORDED_AT), "^data.x: floats"),
        (("k", "s", {}, "2026-11-26T14:24:28Z"), "^recorded_at: timestamp"),
    ],
)
def test_entry_bytes_refuses_bad_fields(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(LedgerDataError, match=message):
        entry_bytes(*args)  # type: ignore[arg-type]


def test_block_header_bytes_exact_and_hash() -> None:
    root = "ab" * 32
    header = block_header_bytes(0, GENESIS_PREV_HASH, 3, root, RECORDED_AT)
    assert header == (
        b'{"height":0,"prev_hash":"' + b"0" * 64 + b'","root_hash":"' + root.encode() + b'",'
        b'"sealed_at":"2026-11-26T14:24:28.123456Z","tree_size":3}'
    )
    assert set(json.loads(header)) == {"height", "prev_hash", "tree_size", "root_hash", "sealed_at"}
    digest = block_hash(0, GENESIS_PREV_HASH, 3, root, RECORDED_AT)
    assert digest == hashlib.sha256(header).digest()
    assert len(digest) == 32
    assert GENESIS_PREV_HASH == "0" * 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, GENESIS_PREV_HASH, 0, "00" * 32, RECORDED_AT), "^height"),
        ((True, GENESIS_PREV_HASH, 0, "00" * 32, RECORDED_AT), "^height"),
        ((0, "AB" * 32, 0, "00" * 32, RECORDED_AT), "^prev_hash: must be 64 lowercase hex"),
        ((0, GENESIS_PREV_HASH, -5, "00" * 32, RECORDED_AT), "^tree_size"),
        ((0, GENESIS_PREV_HASH, 0, "00" * 31, RECORDED_AT), "^root_hash"),
        ((0, GENESIS_PREV_HASH, 0, "00" * 32, "yesterday"), "^sealed_at"),
    ],
)
def test_block_header_refuses_bad_fields(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(LedgerDataError, match=message):
        block_header_bytes(*args)  # type: ignore[arg-type]


def test_pure_ledger_modules_do_not_import_django() -> None:
    ledger_dir = pathlib.Path(__file__).resolve().parents[2] / "ledger"
    for name in ("merkle.py", "canonical.py", "signing.py", "checkpoint.py"):
        source = (ledger_dir / name).read_text(encoding="utf-8")
        assert "import django" not in source and "from django" not in source, name
