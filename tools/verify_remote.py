#!/usr/bin/env python3
"""Standalone verifier for a citychain ledger, working from its public HTTP API alone.

This file owns the auditor's side of the ledger contract (ARCHITECTURE.md, "The ledger"):
fetching the published key, head, blocks, entries and proofs, and checking every block hash,
signature, hash link, size and tree consistency, optional entry inclusion, and, across runs,
that the log only ever grew. It remembers the last verified head in a small state file.

It deliberately imports nothing from the project and not Django: auditors run this one file
with the Python standard library and ``cryptography`` (plus ``rfc8785`` if installed, to
re-hash entry contents). So it carries its own RFC 9162 proof verification and its own
canonical JSON for block headers, written from the RFCs, not shared with the server's code;
a bug on the server cannot hide behind the same bug here.

Usage: python tools/verify_remote.py BASE_URL [--entry LEAF_INDEX] [--state FILE] [--quiet]
Exit status: 0 verified, 1 a verification failure, 2 usage or network errors.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import http.client
import importlib
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2

HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
GENESIS_PREV_HASH = "0" * 64
# RFC 9162 2.1.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
# JSON numbers beyond this lose precision in JavaScript and other double-based readers, and
# JCS (RFC 8785 3.2.2.3) serializes numbers as doubles; the ledger never publishes larger ones.
MAX_SAFE_INTEGER = 2**53 - 1
# A tree of 2**64 leaves needs at most 2 * 64 proof hashes; anything longer is hostile.
MAX_PROOF_LENGTH = 128
# Responses are small JSON documents; a cap keeps a hostile server from exhausting memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0

API = "/api/ledger"
_PRINTABLE_ASCII_RE = re.compile(r"[\x20-\x7e]*")
_HASH_HEX_RE = re.compile(r"[0-9a-f]{64}")
_HOST_SAFE_RE = re.compile(r"[^A-Za-z0-9.-]+")


class VerificationFailure(Exception):
    """The ledger does not verify: exit 1, naming the block height or leaf index."""

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
    """Bad arguments, an unreachable server or an unreadable state file: exit 2."""


@dataclass(frozen=True)
class Where:
    """What a malformed value belongs to, so its failure names the right block or leaf."""

    height: int | None = None
    leaf: int | None = None

    def fail(self, what: str) -> VerificationFailure:
        return VerificationFailure(what, height=self.height, leaf=self.leaf)


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


# --- Block headers ---------------------------------------------------------------------------


def header_jcs(header: dict[str, int | str]) -> bytes:
    """RFC 8785 (JCS) bytes of a block header.

    Not a general JCS implementation, and it need not be: a header holds only non-negative
    integers below 2**53 and printable-ASCII strings (lowercase hex and an RFC 3339 time),
    which :meth:`Block.parse` enforces. For exactly those values JCS is keys sorted (ASCII
    order equals JCS's UTF-16 order), no whitespace, integers in plain decimal, and strings
    with JSON's minimal escaping, which is what ``json.dumps`` below produces.
    """
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def _require_dict(value: Any, what: str, where: Where) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.fail(f"{what} is not a JSON object")
    return value


def _require_count(obj: dict[str, Any], key: str, what: str, where: Where) -> int:
    value = obj.get(key)
    # bool is an int subclass; JSON true is never a valid size or height.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise where.fail(f"{what} has no valid {key!r} (a non-negative integer)")
    return value


def _require_hex(obj: dict[str, Any], key: str, size: int, what: str, where: Where) -> str:
    value = obj.get(key)
    # Lowercase only: the hash input contains these strings, so each must have one spelling.
    if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{2 * size}}}", value):
        raise where.fail(f"{what} has no valid {key!r} ({size} bytes as lowercase hex)")
    return value


def _require_hex_list(obj: dict[str, Any], key: str, what: str, where: Where) -> list[bytes]:
    value = obj.get(key)
    if not isinstance(value, list) or len(value) > MAX_PROOF_LENGTH:
        raise where.fail(f"{what} has no valid {key!r} (a list of at most 128 hashes)")
    hashes = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _HASH_HEX_RE.fullmatch(item):
            raise where.fail(f"{what} {key}[{i}] is not a hash (32 bytes as lowercase hex)")
        hashes.append(bytes.fromhex(item))
    return hashes


@dataclass(frozen=True)
class Block:
    height: int
    prev_hash: str
    tree_size: int
    root_hash: str
    sealed_at: str
    hash: str
    signature: str
    entry_count: int

    @classmethod
    def parse(cls, raw: Any, where: Where | None = None) -> Block:
        """A block from its API JSON, or a failure if any field breaks the contract."""
        where = where or Where()
        obj = _require_dict(raw, "block", where)
        height = _require_count(obj, "height", "block", where)
        where = Where(height=height)
        sealed_at = obj.get("sealed_at")
        # Printable ASCII is what keeps header_jcs exact; see its docstring.
        if not isinstance(sealed_at, str) or not _PRINTABLE_ASCII_RE.fullmatch(sealed_at):
            raise where.fail("block has no valid 'sealed_at' (an RFC 3339 string)")
        return cls(
            height=height,
            prev_hash=_require_hex(obj, "prev_hash", HASH_SIZE, "block", where),
            tree_size=_require_count(obj, "tree_size", "block", where),
            root_hash=_require_hex(obj, "root_hash", HASH_SIZE, "block", where),
            sealed_at=sealed_at,
            hash=_require_hex(obj, "hash", HASH_SIZE, "block", where),
            signature=_require_hex(obj, "signature", SIGNATURE_SIZE, "block", where),
            entry_count=_require_count(obj, "entry_count", "block", where),
        )

    def header(self) -> dict[str, int | str]:
        return {
            "height": self.height,
            "prev_hash": self.prev_hash,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "sealed_at": self.sealed_at,
        }

    def computed_hash(self) -> str:
        return hashlib.sha256(header_jcs(self.header())).hexdigest()


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


class Api:
    """GET requests for JSON under BASE_URL; network trouble becomes :class:`UsageError`."""

    def __init__(self, base_url: str, timeout: float):
        self.base_url = base_url
        self.timeout = timeout

    def get(self, path: str, query: dict[str, int] | str | None = None) -> Any | None:
        """The decoded JSON at ``path``, or None if the server answers 404."""
        url = self.base_url + path
        if query:
            url += "?" + (query if isinstance(query, str) else urllib.parse.urlencode(query))
        request = urllib.request.Request(  # noqa: S310 - scheme checked in normalize_base_url
            url, headers={"Accept": "application/json", "User-Agent": "citychain-verify-remote"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            # Any other status says nothing about the ledger, only that we got no answer:
            # exit 2, never 0, so a server cannot pass by refusing to serve a proof.
            raise UsageError(f"GET {url}: HTTP {exc.code} {exc.reason}") from None
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
            return json.loads(
                text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
            )
        except ValueError as exc:
            # A wrong BASE_URL usually lands on an HTML page; say so rather than "bad ledger".
            raise UsageError(
                f"GET {url}: response is not valid JSON ({exc}); is this a citychain server?"
            ) from None


# --- State between runs ----------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """The head a previous run verified, so this run can prove the log only grew since."""

    base_url: str
    public_key: str
    tree_size: int
    root_hash: str
    height: int
    hash: str


def default_state_path(base_url: str) -> Path:
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or "unknown"
    if parts.port:
        host = f"{host}_{parts.port}"
    return Path.home() / f".citychain-verify-{_HOST_SAFE_RE.sub('_', host)}.json"


def load_state(path: Path, base_url: str) -> State | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot read state file {path}: {exc}") from None
    # A state file we cannot trust is a usage problem, never a reason to start over
    # silently: starting over would forget exactly what the file is there to remember.
    try:
        raw = json.loads(text)
        where = Where()
        if not isinstance(raw, dict) or not isinstance(raw.get("base_url"), str):
            raise ValueError("not an object with a 'base_url' string")
        state = State(
            base_url=raw["base_url"],
            public_key=_require_hex(raw, "public_key", PUBLIC_KEY_SIZE, "state", where),
            tree_size=_require_count(raw, "tree_size", "state", where),
            root_hash=_require_hex(raw, "root_hash", HASH_SIZE, "state", where),
            height=_require_count(raw, "height", "state", where),
            hash=_require_hex(raw, "hash", HASH_SIZE, "state", where),
        )
    except (ValueError, VerificationFailure) as exc:
        raise UsageError(
            f"state file {path} is not valid ({exc}); move it away to start over"
        ) from None
    if state.base_url != base_url:
        raise UsageError(
            f"state file {path} belongs to {state.base_url}, not {base_url}; pass --state FILE"
        )
    return state


def save_state(path: Path, state: State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run leaves the previous state intact.
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(state), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- The checks ------------------------------------------------------------------------------


class Verifier:
    def __init__(self, api: Api, *, quiet: bool):
        self.api = api
        self.quiet = quiet

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def fetch_key(self, pinned: str | None, state: State | None) -> Ed25519PublicKey:
        raw = self.api.get(f"{API}/key/")
        if raw is None:
            raise UsageError(
                f"{self.api.base_url}{API}/key/ not found; is this a citychain server?"
            )
        where = Where()
        obj = _require_dict(raw, "key response", where)
        if obj.get("algorithm") != "Ed25519":
            raise where.fail(f"ledger key algorithm is {obj.get('algorithm')!r}, not 'Ed25519'")
        key_hex = _require_hex(obj, "public_key", PUBLIC_KEY_SIZE, "key response", where)
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
        except ValueError:
            raise where.fail("published public key is not a valid Ed25519 key") from None
        pem = obj.get("pem")
        if pem is not None:
            # Tools like openssl read the PEM; it must be the same key, not a second one.
            try:
                pem_key = load_pem_public_key(str(pem).encode("ascii"))
            except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
                raise where.fail("published PEM is not a valid public key") from None
            if (
                not isinstance(pem_key, Ed25519PublicKey)
                or pem_key.public_bytes_raw() != key.public_bytes_raw()
            ):
                raise where.fail("published PEM is not the same key as 'public_key'")
        if pinned is not None and key_hex != pinned:
            raise where.fail(f"published key {key_hex} is not the pinned key {pinned}")
        if state is not None and key_hex != state.public_key:
            raise where.fail(
                f"ledger key changed since the last verified run: was {state.public_key}, "
                f"now {key_hex}"
            )
        source = "pinned" if pinned else "same as last run" if state else "not pinned"
        self.say(f"key: Ed25519 {key_hex} ({source})")
        return key

    def fetch_head(self) -> Block | None:
        raw = self.api.get(f"{API}/head/")
        return None if raw is None else Block.parse(raw)

    def fetch_chain(self, head: Block) -> list[Block]:
        """Blocks 0..head.height, oldest first, from the newest-first paginated list."""
        by_height: dict[int, Block] = {}
        query = ""
        seen_queries = {query}
        pages = 0
        while True:
            page = self.api.get(f"{API}/blocks/", query)
            if page is None:
                raise UsageError(f"{self.api.base_url}{API}/blocks/ not found")
            pages += 1
            obj = _require_dict(page, "block list page", Where())
            results = obj.get("results")
            if not isinstance(results, list):
                raise VerificationFailure(f"block list page {pages} has no 'results' list")
            for raw in results:
                block = Block.parse(raw)
                if block.height > head.height:
                    continue  # sealed after we read the head; this run verifies up to the head
                known = by_height.setdefault(block.height, block)
                if known != block:
                    raise VerificationFailure(
                        "the block list shows two different blocks at one height",
                        height=block.height,
                    )
            next_url = obj.get("next")
            if not next_url:
                break
            if not isinstance(next_url, str):
                raise VerificationFailure(f"block list page {pages} has an invalid 'next'")
            # Only the query of `next` is used: behind a proxy DRF may build the link with an
            # internal host or scheme, and we talk only to the BASE_URL the auditor chose.
            query = urllib.parse.urlsplit(next_url).query
            if query in seen_queries or pages > head.height + 2:
                raise VerificationFailure("the block list's 'next' links never end")
            seen_queries.add(query)
        # New seals during paging push blocks onto later pages (seen twice, harmless above);
        # anything still missing is fetched by height, so a busy ledger never fails falsely.
        fetched = 0
        for height in range(head.height + 1):
            if height in by_height:
                continue
            raw = self.api.get(f"{API}/blocks/{height}/")
            if raw is None:
                raise VerificationFailure("block is missing below the head", height=height)
            block = Block.parse(raw)
            if block.height != height:
                raise VerificationFailure(
                    f"asked for this block, got height {block.height}", height=height
                )
            by_height[height] = block
            fetched += 1
        if by_height[head.height] != head:
            raise VerificationFailure(
                "the head differs from the block the list shows at its height", height=head.height
            )
        extra = f", {fetched} fetched singly" if fetched else ""
        self.say(f"fetch: {head.height + 1} blocks from {pages} list page(s){extra}")
        return [by_height[h] for h in range(head.height + 1)]

    def check_consistency(
        self, first: int, first_root: str, second: int, second_root: str, where: Where, what: str
    ) -> bool:
        """Verify tree ``first`` is a prefix of tree ``second``; True if a proof was fetched."""
        if first > second:
            raise where.fail(f"{what}: tree shrank from {first} to {second} leaves")
        if first == second:
            if first_root != second_root:
                raise where.fail(f"{what}: same tree size {first} but different root hashes")
            return False
        if first == 0:
            return False  # every tree extends the empty tree; there is nothing to prove
        raw = self.api.get(f"{API}/consistency/", {"first": first, "second": second})
        if raw is None:
            raise where.fail(f"{what}: no consistency proof from tree size {first} to {second}")
        obj = _require_dict(raw, "consistency proof", where)
        if obj.get("first") != first or obj.get("second") != second:
            raise where.fail(f"{what}: asked for proof {first}->{second}, got another one")
        proof = _require_hex_list(obj, "proof", "consistency proof", where)
        if not verify_consistency(
            first, second, bytes.fromhex(first_root), bytes.fromhex(second_root), proof
        ):
            raise where.fail(
                f"{what}: consistency proof from tree size {first} to {second} does not verify"
            )
        return True

    def verify_chain(self, blocks: list[Block], key: Ed25519PublicKey) -> None:
        proofs = 0
        prev: Block | None = None
        for block in blocks:
            where = Where(height=block.height)
            expected_height = 0 if prev is None else prev.height + 1
            if block.height != expected_height:
                raise where.fail(f"heights are not contiguous: expected {expected_height}")
            if block.computed_hash() != block.hash:
                raise where.fail(
                    f"block hash {block.hash} is not SHA-256 of its header "
                    f"({block.computed_hash()})"
                )
            try:
                key.verify(bytes.fromhex(block.signature), bytes.fromhex(block.hash))
            except InvalidSignature:
                raise where.fail("signature does not verify with the ledger key") from None
            expected_prev = GENESIS_PREV_HASH if prev is None else prev.hash
            if block.prev_hash != expected_prev:
                raise where.fail(f"prev_hash {block.prev_hash} is not {expected_prev}")
            prev_size = 0 if prev is None else prev.tree_size
            if block.tree_size < prev_size:
                raise where.fail(f"tree size {block.tree_size} is below {prev_size}")
            if block.entry_count != block.tree_size - prev_size:
                raise where.fail(
                    f"entry_count {block.entry_count} is not tree size growth "
                    f"{block.tree_size - prev_size}"
                )
            if block.tree_size == 0 and block.root_hash != EMPTY_ROOT:
                raise where.fail("an empty tree's root must be SHA-256 of nothing")
            if prev is not None and self.check_consistency(
                prev.tree_size,
                prev.root_hash,
                block.tree_size,
                block.root_hash,
                where,
                f"tree of block {prev.height} -> this block",
            ):
                proofs += 1
            prev = block
        self.say(f"blocks: {len(blocks)} hashes, signatures, links and sizes verified")
        self.say(f"consistency: {proofs} block-to-block proof(s) verified")

    def check_growth(self, state: State, blocks: list[Block]) -> None:
        head = blocks[-1]
        where = Where(height=state.height)
        what = "log is not an extension of the one verified last run"
        if state.height > head.height:
            raise where.fail(f"{what}: head was at height {state.height}, now {head.height}")
        self.check_consistency(
            state.tree_size, state.root_hash, head.tree_size, head.root_hash, where, what
        )
        # The block itself must still be there too, not just a tree that happens to extend.
        if blocks[state.height].hash != state.hash:
            raise where.fail(
                f"{what}: block hash was {state.hash}, now {blocks[state.height].hash}"
            )
        if state.hash == head.hash:
            self.say(f"growth: none, head unchanged since last run (height {head.height})")
        else:
            self.say(
                f"growth: tree size {state.tree_size} (height {state.height}) from last run "
                f"extends to {head.tree_size} (height {head.height})"
            )

    def verify_entry(
        self, leaf: int, blocks: list[Block], jcs: Callable[[Any], bytes] | None
    ) -> None:
        head = blocks[-1]
        where = Where(leaf=leaf)
        if leaf >= head.tree_size:
            raise UsageError(f"leaf index {leaf} is not in the head's tree of {head.tree_size}")
        raw = self.api.get(f"{API}/entries/{leaf}/")
        if raw is None:
            raise where.fail(f"entry is in the tree of {head.tree_size} but the API has no entry")
        obj = _require_dict(raw, "entry response", where)
        if obj.get("leaf_index") != leaf:
            raise where.fail(f"asked for this entry, got leaf index {obj.get('leaf_index')!r}")
        leaf_hex = _require_hex(obj, "leaf_hash", HASH_SIZE, "entry response", where)
        height = _require_count(obj, "block_height", "entry response", where)
        kind = obj.get("kind")
        if not isinstance(kind, str):
            raise where.fail("entry response has no 'kind' string")
        # The block that sealed an entry is the first whose tree contains it.
        sealed_in = next(b.height for b in blocks if leaf < b.tree_size)
        if height != sealed_in:
            raise where.fail(f"entry claims block {height}, but block {sealed_in} sealed it")
        if "entry" not in obj:
            raise where.fail("entry response has no 'entry' field (null for private kinds)")
        entry = obj["entry"]
        if entry is None:
            content = "private kind, content not published"
        else:
            entry = _require_dict(entry, "entry", where)
            if entry.get("kind") != kind:
                raise where.fail(f"entry kind {entry.get('kind')!r} is not {kind!r}")
            if jcs is None:
                content = "rfc8785 not installed: entry content NOT re-hashed, leaf hash only"
            else:
                try:
                    computed = leaf_hash_of(jcs(entry)).hex()
                # rfc8785's errors are ValueErrors: floats, huge integers, lone surrogates,
                # all of which the contract forbids in an entry.
                except (ValueError, TypeError) as exc:
                    raise where.fail(f"entry content has no canonical JSON form: {exc}") from None
                if computed != leaf_hex:
                    raise where.fail(f"leaf hash {leaf_hex} is not the entry's hash {computed}")
                content = "content re-hashed"
        raw = self.api.get(f"{API}/entries/{leaf}/proof/", {"tree_size": head.tree_size})
        if raw is None:
            raise where.fail(f"no inclusion proof in tree size {head.tree_size}")
        obj = _require_dict(raw, "inclusion proof", where)
        if obj.get("leaf_index") != leaf or obj.get("tree_size") != head.tree_size:
            raise where.fail(f"asked for proof of {leaf} in {head.tree_size}, got another one")
        if obj.get("leaf_hash") != leaf_hex:
            raise where.fail("inclusion proof is for a different leaf hash than the entry's")
        path = _require_hex_list(obj, "audit_path", "inclusion proof", where)
        # Against the signed head's root, never the root the proof response offers.
        if not verify_inclusion(
            bytes.fromhex(leaf_hex), leaf, head.tree_size, path, bytes.fromhex(head.root_hash)
        ):
            raise where.fail(
                f"inclusion proof does not verify against head root {head.root_hash} "
                f"(tree size {head.tree_size})"
            )
        self.say(f"entry {leaf}: {kind} in block {height}, included in head tree ({content})")


def load_jcs() -> Callable[[Any], bytes] | None:
    """Full RFC 8785 from the ``rfc8785`` package, if the auditor has it installed."""
    try:
        module = importlib.import_module("rfc8785")
    except ImportError:
        return None
    dumps: Callable[[Any], bytes] = module.dumps
    return dumps


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


def parse_leaf(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a non-negative integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be a non-negative integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Verify a citychain ledger from its public API: block hashes, signatures, "
        "links, tree consistency, entry inclusion, and growth since the last run.",
        epilog="Exit status: 0 verified, 1 verification failure, 2 usage or network error.",
    )
    parser.add_argument("base_url", metavar="BASE_URL", help="e.g. https://city.example")
    parser.add_argument(
        "--entry",
        metavar="LEAF_INDEX",
        type=parse_leaf,
        action="append",
        default=[],
        help="also verify this entry's leaf hash and inclusion in the head (repeatable)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="remembered head (default ~/.citychain-verify-<host>.json)",
    )
    parser.add_argument(
        "--public-key",
        metavar="HEX",
        type=parse_key,
        help="the ledger's Ed25519 public key as obtained out of band; a different one fails",
    )
    parser.add_argument(
        "--timeout", type=parse_timeout, default=DEFAULT_TIMEOUT, help="seconds per HTTP request"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final line")
    return parser


def run(args: argparse.Namespace) -> int:
    base_url = normalize_base_url(args.base_url)
    state_path: Path = args.state or default_state_path(base_url)
    state = load_state(state_path, base_url)
    verifier = Verifier(Api(base_url, args.timeout), quiet=args.quiet)
    key = verifier.fetch_key(args.public_key, state)

    head = verifier.fetch_head()
    if head is None:
        if state is not None:
            raise VerificationFailure(
                f"ledger is empty, but the last run verified a head at tree size {state.tree_size}",
                height=state.height,
            )
        if args.entry:
            raise UsageError("the ledger is empty; it has no entries to verify")
        print("OK: empty ledger (no blocks sealed yet)")
        return EXIT_OK
    verifier.say(f"head: height {head.height}, tree size {head.tree_size}, root {head.root_hash}")

    blocks = verifier.fetch_chain(head)
    verifier.verify_chain(blocks, key)
    if state is None:
        verifier.say(f"growth: no previous run recorded in {state_path}")
    else:
        verifier.check_growth(state, blocks)
    if args.entry:
        jcs = load_jcs()
        for leaf in args.entry:
            verifier.verify_entry(leaf, blocks, jcs)

    try:
        save_state(
            state_path,
            State(
                base_url=base_url,
                public_key=key.public_bytes_raw().hex(),
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                height=head.height,
                hash=head.hash,
            ),
        )
    except OSError as exc:
        raise UsageError(f"verified, but cannot write state file {state_path}: {exc}") from None
    verifier.say(f"state: head saved to {state_path}")
    print(f"OK: {len(blocks)} blocks, tree size {head.tree_size}, root {head.root_hash}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except VerificationFailure as exc:
        print(exc.line(), flush=True)
        return EXIT_FAIL
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
