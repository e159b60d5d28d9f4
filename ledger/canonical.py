"""The ledger's byte formats: entries, timestamps and block headers.

This module owns the exact bytes that get hashed. An entry's leaf data and a block's hash
input are RFC 8785 (JCS) canonical JSON, produced by the ``rfc8785`` package, so an
auditor with any JCS implementation re-derives them from the public JSON alone.

The rules on ``data`` exist so that a value means the same thing to every JSON reader:
no floats (a JavaScript or Go reader may round them differently; money is integer cents,
energy integer watt-hours), no integers beyond 2**53 - 1 (a double cannot hold them), no
lone surrogates (they have no UTF-8 encoding), and a size cap so one entry cannot bloat
every proof and page that shows it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DATA_BYTES = 16 * 1024
# Containers may nest this many levels, counting data itself as the first. Ledger facts
# never need more, and the cap keeps validation's recursion far from Python's limit.
MAX_DATA_DEPTH = 32
GENESIS_PREV_HASH = "0" * 64

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
)  # ASCII only
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HASH_HEX_RE = re.compile(r"[0-9a-f]{64}")


class LedgerDataError(ValueError):
    """A value cannot go on the ledger; the message names where and why."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise LedgerDataError(f"value has no canonical JSON form: {exc}") from exc


def _child_path(path: str, key: str) -> str:
    if _IDENTIFIER_RE.fullmatch(key):
        return f"{path}.{key}"
    # JCS quoting keeps odd keys unambiguous; the key was already checked for surrogates.
    return f"{path}[{rfc8785.dumps(key).decode()}]"


def _check_string(path: str, value: str, what: str) -> None:
    found = _SURROGATE_RE.search(value)
    if found:
        raise LedgerDataError(
            f"{path}: {what} contains a lone surrogate (U+{ord(found.group()):04X}); "
            "strings must be valid Unicode"
        )


def _check_value(path: str, value: object, parent_level: int) -> None:
    # bool is an int subclass: settle it first so it is never treated as a number.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise LedgerDataError(
                f"{path}: integer {value} is beyond ±{MAX_SAFE_INTEGER} (2**53 - 1), "
                "which JSON readers cannot hold exactly; store it as a string"
            )
        return
    if isinstance(value, float):
        raise LedgerDataError(f"{path}: floats are not allowed; use integer cents or watt-hours")
    if isinstance(value, str):
        _check_string(path, value, "string")
        return
    if isinstance(value, (list, dict)):
        level = parent_level + 1
        if level > MAX_DATA_DEPTH:
            raise LedgerDataError(f"{path}: nested deeper than {MAX_DATA_DEPTH} levels")
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check_value(f"{path}[{i}]", item, level)
        else:
            _check_object(path, value, level)
        return
    hint = "; use a list" if isinstance(value, tuple) else ""
    raise LedgerDataError(
        f"{path}: {type(value).__name__} is not allowed; "
        f"only null, bool, int, str, list and dict{hint}"
    )


def _check_object(path: str, value: dict[Any, Any], level: int) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            raise LedgerDataError(
                f"{path}: key {key!r} is {type(key).__name__}, but object keys must be str"
            )
        _check_string(path, key, "a key")
        _check_value(_child_path(path, key), item, level)


def validate_data(data: object) -> None:
    """Raise :class:`LedgerDataError` unless ``data`` may be an entry's ``data`` object."""
    if not isinstance(data, dict):
        raise LedgerDataError(f"data: must be a dict (JSON object), got {type(data).__name__}")
    _check_object("data", data, 1)
    size = len(canonical_json(data))
    if size > MAX_DATA_BYTES:
        raise LedgerDataError(
            f"data: canonical JSON is {size} bytes, over the {MAX_DATA_BYTES}-byte limit; "
            "put large records in an app table and record their SHA-256 digest"
        )


def format_timestamp(dt: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``: the only timestamp form on the ledger."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise LedgerDataError("timestamp must be timezone-aware; use django.utils.timezone.now()")
    # isoformat, unlike strftime's %Y, always pads the year to four digits.
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(s: str) -> datetime:
    """Parse a timestamp written by :func:`format_timestamp` into an aware UTC datetime.

    Only that exact form is accepted, so every timestamp has one spelling and hashes the
    same wherever it is re-serialized.
    """
    if not isinstance(s, str) or not _TIMESTAMP_RE.fullmatch(s):
        raise LedgerDataError(
            f"timestamp {s!r} is not of the form 2026-11-26T14:24:28.123456Z (UTC, microseconds)"
        )
    try:
        return datetime.strptime(s, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise LedgerDataError(f"timestamp {s!r} is not a valid date and time: {exc}") from exc


def _check_timestamp(name: str, value: str) -> None:
    try:
        parse_timestamp(value)
    except LedgerDataError as exc:
        raise LedgerDataError(f"{name}: {exc}") from None


def _check_label(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise LedgerDataError(f"{name}: must be a non-empty string")
    _check_string(name, value, "string")


def entry_bytes(kind: str, subject: str, data: dict[str, Any], recorded_at: str) -> bytes:
    """The leaf data of an entry: JCS of ``{"kind", "subject", "data", "recorded_at"}``."""
    _check_label("kind", kind)
    _check_label("subject", subject)
    validate_data(data)
    _check_timestamp("recorded_at", recorded_at)
    return canonical_json(
        {"kind": kind, "subject": subject, "data": data, "recorded_at": recorded_at}
    )


def _check_height(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise LedgerDataError(f"{name}: must be an integer in 0..{MAX_SAFE_INTEGER}")


def _check_hash_hex(name: str, value: object) -> None:
    if not isinstance(value, str) or not _HASH_HEX_RE.fullmatch(value):
        raise LedgerDataError(f"{name}: must be 64 lowercase hex digits")


def block_header_bytes(
    height: int, prev_hash_hex: str, tree_size: int, root_hash_hex: str, sealed_at: str
) -> bytes:
    """JCS of a block header: exactly the five keys of the public contract."""
    _check_height("height", height)
    _check_hash_hex("prev_hash", prev_hash_hex)
    _check_height("tree_size", tree_size)
    _check_hash_hex("root_hash", root_hash_hex)
    _check_timestamp("sealed_at", sealed_at)
    return canonical_json(
        {
            "height": height,
            "prev_hash": prev_hash_hex,
            "tree_size": tree_size,
            "root_hash": root_hash_hex,
            "sealed_at": sealed_at,
        }
    )


def block_hash(
    height: int, prev_hash_hex: str, tree_size: int, root_hash_hex: str, sealed_at: str
) -> bytes:
    """SHA-256 of :func:`block_header_bytes`; the 32 bytes the ledger key signs."""
    return hashlib.sha256(
        block_header_bytes(height, prev_hash_hex, tree_size, root_hash_hex, sealed_at)
    ).digest()
