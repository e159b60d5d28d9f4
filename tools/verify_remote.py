#!/usr/bin/env python3
"""Standalone verifier for a citychain ledger, working from its public HTTP API alone.

This file owns the auditor's side of the ledger contract (ARCHITECTURE.md, "The ledger"):
fetching the published key, head, blocks, entries and proofs, and checking every block hash,
signature, hash link, size and tree consistency, optional entry inclusion, and, across runs,
that the log only ever grew. It remembers the last verified head in a small state file.

It deliberately imports nothing from the project and not Django: auditors run this file and
tools/auditlib.py beside it with the Python standard library and ``cryptography`` (plus
``rfc8785`` if installed, to re-hash entry contents). So the RFC 9162 proof verification and
the canonical JSON for block headers it uses, in auditlib, are written from the RFCs, not
shared with the server's code; a bug on the server cannot hide behind the same bug here.

Usage: python tools/verify_remote.py BASE_URL [--entry LEAF_INDEX] [--state FILE] [--quiet]
Exit status: 0 verified, 1 a verification failure, 2 usage or network errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# auditlib sits next to this file; importing this file as a module must find it too.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditlib import (
    EXIT_OK,
    HASH_SIZE,
    PRINTABLE_ASCII_RE,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    Api,
    UsageError,
    VerificationFailure,
    Where,
    add_public_key_argument,
    add_timeout_argument,
    exit_status,
    header_jcs,
    import_rfc8785,
    leaf_hash_of,
    normalize_base_url,
    require_count,
    require_dict,
    require_hex,
    require_hex_list,
    require_str,
    verify_consistency,
    verify_inclusion,
)

GENESIS_PREV_HASH = "0" * 64
# RFC 9162 2.1.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
API = "/api/ledger"
_HOST_SAFE_RE = re.compile(r"[^A-Za-z0-9.-]+")


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
        obj = require_dict(raw, "block", where)
        height = require_count(obj, "height", "block", where)
        where = Where(height=height)
        sealed_at = obj.get("sealed_at")
        # Printable ASCII is what keeps header_jcs exact; see its docstring.
        if not isinstance(sealed_at, str) or not PRINTABLE_ASCII_RE.fullmatch(sealed_at):
            raise where.fail("block has no valid 'sealed_at' (an RFC 3339 string)")
        return cls(
            height=height,
            prev_hash=require_hex(obj, "prev_hash", HASH_SIZE, "block", where),
            tree_size=require_count(obj, "tree_size", "block", where),
            root_hash=require_hex(obj, "root_hash", HASH_SIZE, "block", where),
            sealed_at=sealed_at,
            hash=require_hex(obj, "hash", HASH_SIZE, "block", where),
            signature=require_hex(obj, "signature", SIGNATURE_SIZE, "block", where),
            entry_count=require_count(obj, "entry_count", "block", where),
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
            public_key=require_hex(raw, "public_key", PUBLIC_KEY_SIZE, "state", where),
            tree_size=require_count(raw, "tree_size", "state", where),
            root_hash=require_hex(raw, "root_hash", HASH_SIZE, "state", where),
            height=require_count(raw, "height", "state", where),
            hash=require_hex(raw, "hash", HASH_SIZE, "state", where),
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
        obj = require_dict(raw, "key response", where)
        if obj.get("algorithm") != "Ed25519":
            raise where.fail(f"ledger key algorithm is {obj.get('algorithm')!r}, not 'Ed25519'")
        key_hex = require_hex(obj, "public_key", PUBLIC_KEY_SIZE, "key response", where)
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
            obj = require_dict(page, "block list page", Where())
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
        obj = require_dict(raw, "consistency proof", where)
        if obj.get("first") != first or obj.get("second") != second:
            raise where.fail(f"{what}: asked for proof {first}->{second}, got another one")
        proof = require_hex_list(obj, "proof", "consistency proof", where)
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
        obj = require_dict(raw, "entry response", where)
        if obj.get("leaf_index") != leaf:
            raise where.fail(f"asked for this entry, got leaf index {obj.get('leaf_index')!r}")
        leaf_hex = require_hex(obj, "leaf_hash", HASH_SIZE, "entry response", where)
        height = require_count(obj, "block_height", "entry response", where)
        kind = require_str(obj, "kind", "entry response", where)
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
            entry = require_dict(entry, "entry", where)
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
        obj = require_dict(raw, "inclusion proof", where)
        if obj.get("leaf_index") != leaf or obj.get("tree_size") != head.tree_size:
            raise where.fail(f"asked for proof of {leaf} in {head.tree_size}, got another one")
        if obj.get("leaf_hash") != leaf_hex:
            raise where.fail("inclusion proof is for a different leaf hash than the entry's")
        path = require_hex_list(obj, "audit_path", "inclusion proof", where)
        # Against the signed head's root, never the root the proof response offers.
        if not verify_inclusion(
            bytes.fromhex(leaf_hex), leaf, head.tree_size, path, bytes.fromhex(head.root_hash)
        ):
            raise where.fail(
                f"inclusion proof does not verify against head root {head.root_hash} "
                f"(tree size {head.tree_size})"
            )
        self.say(f"entry {leaf}: {kind} in block {height}, included in head tree ({content})")


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
    add_public_key_argument(parser)
    add_timeout_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="print only the final line")
    return parser


def run(args: argparse.Namespace) -> int:
    base_url = normalize_base_url(args.base_url)
    state_path: Path = args.state or default_state_path(base_url)
    state = load_state(state_path, base_url)
    verifier = Verifier(Api(base_url, args.timeout, "citychain-verify-remote"), quiet=args.quiet)
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
        jcs = import_rfc8785()
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
    return exit_status(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
