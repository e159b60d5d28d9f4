"""A credit report's canonical bytes and hash, and the checks a verifier makes.

This module owns the report's format, ``citychain.credit-report/1``: a JSON object whose
canonical form is RFC 8785 (JCS), and whose identity is ``SHA-256(JCS(content))`` in
lowercase hex. The same hash is recorded on the ledger when the report is issued
(``credit.report_issued``, a public entry: ``{"report": <public id>, "sha256": <hash>}``),
so anyone holding the report, or its machine-readable copy, can recompute the hash and
find it on the ledger with an inclusion proof, without our code.

Pure: no Django. Dates in the content are ISO 8601 strings; amounts integer cents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

FORMAT = "citychain.credit-report/1"
REQUIRED_KEYS = frozenset({"format", "report", "issued_at", "as_of", "resident", "score"})


class ReportFormatError(ValueError):
    """Bytes that are not a report of a format we know; the message says why."""


def canonical_bytes(content: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of a report's content (floats are refused: cents only)."""
    _check_numbers(content, "content")
    return rfc8785.dumps(content)


def content_hash(content: dict[str, Any]) -> str:
    """The report's identity: SHA-256 of its canonical JSON, lowercase hex."""
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def bytes_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes | str) -> dict[str, Any]:
    """A report's content from its JSON (any formatting); raises ReportFormatError."""
    try:
        content = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportFormatError(f"not JSON: {exc}") from None
    if not isinstance(content, dict):
        raise ReportFormatError("a report is a JSON object")
    if content.get("format") != FORMAT:
        raise ReportFormatError(f"unknown report format {content.get('format')!r}")
    missing = sorted(REQUIRED_KEYS - content.keys())
    if missing:
        raise ReportFormatError(f"missing keys: {', '.join(missing)}")
    try:
        canonical_bytes(content)
    except (ValueError, rfc8785.CanonicalizationError) as exc:
        raise ReportFormatError(str(exc)) from None
    return content


def ledger_data(report_id: str, sha256: str) -> dict[str, str]:
    """The ``data`` of the report's ledger entry: its id and hash, nothing personal."""
    return {"report": report_id, "sha256": sha256, "format": FORMAT}


def _check_numbers(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in a report; use integers")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_numbers(item, f"{path}[{i}]")
