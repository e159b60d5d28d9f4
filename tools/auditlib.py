"""The shared auditor-side code of citychain's public contract, deliberately independent of the
server's code.

tools/verify_remote.py and tools/recount.py both import this one file. Like them it imports
nothing from the project and not Django, only the Python standard library and
``cryptography``: RFC 9162 tree hashing and proofs, canonical JSON for block headers, strict
JSON over HTTP and the checks on response fields are written here again from the RFCs and the
API's documentation, so a bug in the server's code cannot hide behind the same bug here.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import http.client
import importlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2

HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
# JSON numbers beyond this lose precision in JavaScript and other double-based readers, and
# JCS (RFC 8785 3.2.2.3) serializes numbers as doubles; citychain never publishes larger ones.
MAX_SAFE_INTEGER = 2**53 - 1
# A tree of 2**64 leaves needs at most 2 * 64 proof hashes; anything longer is hostile.
MAX_PROOF_LENGTH = 128
# Responses are small JSON documents; a cap keeps a hostile server from exhausting memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0

HASH_HEX_RE = re.compile(r"[0-9a-f]{64}")
PRINTABLE_ASCII_RE = re.compile(r"[\x20-\x7e]*")


class VerificationFailure(Exception):
    """The published data does not verify: exit 1, naming the block height or leaf index."""

    def __init__(self, what: str, *, height: int | None = None, leaf: int | None = None):
        super().__init__(what)
        self.what = what
        self.height = height
        self.leaf = leaf

    def line(self) -> str:
        where = []
        if self.height is not None:
            where.append(f"block height {self.height}")
        if self.leaf is not None:
            where.append(f"leaf index {self.leaf}")
        suffix = f" ({' / '.join(where)})" if where else ""
        return f"FAIL: {self.what}{suffix}"


class UsageError(Exception):
    """Bad arguments, an unreachable server, or data not there (yet): exit 2."""


@dataclass(frozen=True)
class Where:
    """What a malformed value belongs to, so its failure names the right block or leaf."""

    height: int | None = None
    leaf: int | None = None

    def fail(self, what: str) -> VerificationFailure:
        return VerificationFailure(what, height=self.height, leaf=self.leaf)


NOWHERE = Where()


# --- RFC 9162 section 2.1: Merkle tree hashing and proof verification -----------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash_of(leaf_data: bytes) -> bytes:
    """RFC 9162 2.1.1 leaf hash: SHA-256(0x00 || leaf data)."""
    return hashlib.sha256(b"\x00" + leaf_data).digest()


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2, step by step: is the leaf at ``leaf_index`` in the tree ``root``?"""
    if not 0 <= leaf_index < tree_size or len(path) > MAX_PROOF_LENGTH:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            # The last node of a level with no right sibling moves up unchanged; skip the
            # levels where that happens.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step: is the tree of ``first`` leaves a prefix of ``second``?

    The RFC's algorithm is for 0 < first < second; callers handle equal and empty trees.
    """
    if not 0 < first < second or not path or len(path) > MAX_PROOF_LENGTH:
        return False
    nodes = list(path)
    # Step 2: a power-of-two old tree is a complete subtree of the new one, so the proof
    # omits its root, which the verifier already holds.
    if first & (first - 1) == 0:
        nodes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- RFC 8785 canonical JSON -----------------------------------------------------------------


def header_jcs(header: dict[str, int | str]) -> bytes:
    """RFC 8785 (JCS) bytes of a block header.

    Not a general JCS implementation, and it need not be: a header holds only non-negative
    integers below 2**53 and printable-ASCII strings (lowercase hex and an RFC 3339 time),
    which the callers enforce. For exactly those values JCS is keys sorted (ASCII order
    equals JCS's UTF-16 order), no whitespace, integers in plain decimal, and strings with
    JSON's minimal escaping, which is what ``json.dumps`` below produces.
    """
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def import_rfc8785() -> Callable[[Any], bytes] | None:
    """Full RFC 8785 from the ``rfc8785`` package, if the auditor has it installed."""
    try:
        module = importlib.import_module("rfc8785")
    except ImportError:
        return None
    dumps: Callable[[Any], bytes] = module.dumps
    return dumps


# --- Published data, checked as it is read ---------------------------------------------------


def require_dict(value: Any, what: str, where: Where = NOWHERE) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.fail(f"{what} is not a JSON object")
    return value


def require_count(
    obj: dict[str, Any], key: str, what: str, where: Where = NOWHERE, *, nullable: bool = False
) -> Any:
    value = obj.get(key)
    if value is None and nullable:
        return None
    # bool is an int subclass; JSON true is never a valid size or height.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise where.fail(f"{what} has no valid {key!r} (a non-negative integer)")
    return value


def require_str(obj: dict[str, Any], key: str, what: str, where: Where = NOWHERE) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise where.fail(f"{what} has no {key!r} string")
    return value


def require_hex(obj: dict[str, Any], key: str, size: int, what: str, where: Where = NOWHERE) -> str:
    value = obj.get(key)
    # Lowercase only: hash inputs contain these strings, so each must have one spelling.
    if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{2 * size}}}", value):
        raise where.fail(f"{what} has no valid {key!r} ({size} bytes as lowercase hex)")
    return value


def require_hex_list(
    obj: dict[str, Any], key: str, what: str, where: Where = NOWHERE
) -> list[bytes]:
    value = obj.get(key)
    if not isinstance(value, list) or len(value) > MAX_PROOF_LENGTH:
        raise where.fail(f"{what} has no valid {key!r} (a list of at most 128 hashes)")
    hashes = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not HASH_HEX_RE.fullmatch(item):
            raise where.fail(f"{what} {key}[{i}] is not a hash (32 bytes as lowercase hex)")
        hashes.append(bytes.fromhex(item))
    return hashes


# --- HTTP ------------------------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys make a document mean different things to different JSON readers.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json_loads(text: str) -> Any:
    """JSON without duplicate keys, NaN or Infinity; a ValueError otherwise."""
    return json.loads(
        text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
    )


def _detail(exc: urllib.error.HTTPError) -> str | None:
    try:
        detail = json.loads(exc.read(65536).decode("utf-8")).get("detail")
    except (ValueError, AttributeError, OSError):
        return None
    return detail if isinstance(detail, str) else None


class Api:
    """GET requests for JSON under BASE_URL; network trouble becomes :class:`UsageError`.

    With ``show_detail`` an error status is reported with the server's ``detail`` (403 says
    why the data is not published yet) rather than the bare reason phrase.
    """

    def __init__(
        self, base_url: str, timeout: float, user_agent: str, *, show_detail: bool = False
    ):
        self.base_url = base_url
        self.timeout = timeout
        self.user_agent = user_agent
        self.show_detail = show_detail

    def get(self, path: str, query: dict[str, Any] | str | None = None) -> Any | None:
        """The decoded JSON at ``path``, or None if the server answers 404."""
        url = self.base_url + path
        if query:
            url += "?" + (query if isinstance(query, str) else urllib.parse.urlencode(query))
        request = urllib.request.Request(  # noqa: S310 - scheme checked in normalize_base_url
            url, headers={"Accept": "application/json", "User-Agent": self.user_agent}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            # Any other status says nothing about the published data, only that we got no
            # answer: exit 2, never 0, so a server cannot pass by refusing to serve a proof.
            reason = (self.show_detail and _detail(exc)) or exc.reason
            raise UsageError(f"GET {url}: HTTP {exc.code} {reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise UsageError(f"GET {url}: cannot connect ({reason})") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise UsageError(f"GET {url}: response larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"GET {url}: response is not UTF-8 JSON") from None
        try:
            return strict_json_loads(text)
        except ValueError as exc:
            # A wrong BASE_URL usually lands on an HTML page; say so rather than "bad data".
            raise UsageError(
                f"GET {url}: response is not valid JSON ({exc}); is this a citychain server?"
            ) from None


# --- Command line ----------------------------------------------------------------------------


def normalize_base_url(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - evaluated for its ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"BASE_URL {url!r} is not a valid URL: {exc}") from None
    # Only http(s): urllib would also open file:// and other schemes.
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"BASE_URL must be an http:// or https:// URL, got {url!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"BASE_URL must not have a query or fragment, got {url!r}")
    return url.rstrip("/")


def parse_key(text: str) -> str:
    value = text.strip().lower()
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise argparse.ArgumentTypeError("must be hex") from None
    if len(raw) != PUBLIC_KEY_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be {PUBLIC_KEY_SIZE} bytes ({2 * PUBLIC_KEY_SIZE} hex)"
        )
    return value


def parse_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def add_public_key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-key",
        metavar="HEX",
        type=parse_key,
        help="the ledger's Ed25519 public key as obtained out of band; a different one fails",
    )


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=parse_timeout, default=DEFAULT_TIMEOUT, help="seconds per HTTP request"
    )


def exit_status(run: Callable[[], int]) -> int:
    """Run a tool: its own status, or 1 on a verification failure and 2 on a usage error."""
    try:
        return run()
    except VerificationFailure as exc:
        print(exc.line(), flush=True)
        return EXIT_FAIL
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR
