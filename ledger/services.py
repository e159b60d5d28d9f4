"""Every write to the ledger: recording entries, sealing blocks, pseudonyms.

Invariants:
- Apps record through `record()` inside their own transaction: no commit, no entry.
- An entry's leaf data and leaf hash are fixed when it is recorded; sealing only
  gives it a leaf index and a block.
- One seal at a time (a row lock on PostgreSQL, the IMMEDIATE write lock on
  SQLite); the block height's primary key backs that up, so the chain never forks.
- A seal is one transaction: a worker killed mid-seal leaves no partial block, and
  its entries stay pending for the next run.
- Nothing personal reaches `data`: apps pass pseudonyms, amounts, codes, digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ledger import canonical, kinds, merkle, signing
from ledger.models import Block, Entry, Node, PseudonymKey, SealLock

DEFAULT_SEAL_BATCH = 10_000
MAX_SUBJECT_LENGTH = 128
_SEAL_DEBOUNCE_KEY = "ledger:seal-scheduled"


class LedgerError(ValueError):
    """A request the ledger cannot honour (bad kind, subject or data)."""


def _signing_key():
    return signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)


# --- recording -----------------------------------------------------------------


def _build(kind: str, subject: str, data: dict[str, Any], at) -> Entry:
    try:
        kinds.get(kind)
    except kinds.UnknownKindError as exc:
        raise LedgerError(str(exc)) from None
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise LedgerError(
            f"subject: must be a pseudonym of 1..{MAX_SUBJECT_LENGTH} characters "
            "(use ledger.services.pseudonym())"
        )
    leaf_data = canonical.entry_bytes(kind, subject, data, canonical.format_timestamp(at))
    return Entry(
        kind=kind, leaf_data=leaf_data, leaf_hash=merkle.leaf_hash(leaf_data), recorded_at=at
    )


def record(kind: str, subject: str, data: dict[str, Any]) -> Entry:
    """Record one pending entry inside the caller's transaction and return it.

    Raises LedgerError (or canonical.LedgerDataError, also a ValueError) for an
    unregistered kind, a bad subject, or data that is not plain JSON without floats.
    """
    entry = prepare(kind, subject, data)
    entry.save(force_insert=True)
    schedule_seal()
    return entry


def prepare(kind: str, subject: str, data: dict[str, Any]) -> Entry:
    """A pending entry built and checked as record() would, but not saved.

    For a caller that inserts it in a statement of its own, such as the ballot cast, which
    writes the voter's mark, the ballot and its entry in one round trip to PostgreSQL. The
    caller must call schedule_seal() once the insert is done.
    """
    return _build(kind, subject, data, timezone.now())


def record_many(items: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
    """Record many entries in one INSERT (bulk imports, benchmarks); returns how many."""
    at = timezone.now()
    entries = [_build(kind, subject, data, at) for kind, subject, data in items]
    Entry.objects.bulk_create(entries, batch_size=5000)
    if entries:
        schedule_seal()
    return len(entries)


def schedule_seal() -> None:
    """Ask a worker to seal once this transaction commits (at most one request a second).

    Beat runs the same task every few seconds, so a lost or skipped request only
    delays sealing; it never loses an entry.
    """
    from citychain.tasks import enqueue_on_commit
    from ledger.tasks import seal_pending

    def maybe_enqueue() -> None:
        # Asked through this cache less than a second ago: it would say no anyway, and
        # asking costs a round trip to Redis on every ballot cast. (On the backend object,
        # which is per thread and replaced when the cache settings change.)
        backend, now = caches["default"], time.monotonic()
        if now - getattr(backend, "_citychain_seal_asked_at", float("-inf")) < 1:
            return
        backend._citychain_seal_asked_at = now
        if cache.add(_SEAL_DEBOUNCE_KEY, 1, timeout=1):
            enqueue_on_commit(seal_pending)

    transaction.on_commit(maybe_enqueue)


# --- pseudonyms ------------------------------------------------------------------


def _lookup(namespace: str, identifier: str) -> str:
    return salted_hmac(
        "citychain.ledger.pseudonym", f"{namespace}\0{identifier}", algorithm="sha256"
    ).hexdigest()


def pseudonym(namespace: str, identifier: str) -> str:
    """The stable, opaque ledger `subject` for (namespace, identifier).

    HMAC-SHA256 under a random key kept for that subject alone: the same person gets
    the same pseudonym every time, and `pseudonym_erase` deletes the key, after which
    nothing (not even the server) can link the published pseudonym to anyone.
    """
    if not namespace or not identifier:
        raise LedgerError("pseudonym: namespace and identifier are both required")
    lookup = _lookup(namespace, str(identifier))
    keys = PseudonymKey.objects.filter(lookup=lookup).values_list("key", flat=True)
    key = keys.first()  # one query on the usual path: the key exists
    if key is None:
        PseudonymKey.objects.bulk_create(
            [PseudonymKey(lookup=lookup, key=secrets.token_bytes(32))], ignore_conflicts=True
        )
        key = keys.get()  # ours, or the one a concurrent caller created first
    key = bytes(key)
    message = f"{namespace}\0{identifier}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonym_erase(namespace: str, identifier: str) -> bool:
    """Forget a subject's pseudonym key (erasure). Returns whether one existed."""
    deleted, _ = PseudonymKey.objects.filter(lookup=_lookup(namespace, str(identifier))).delete()
    return bool(deleted)


# --- sealing -------------------------------------------------------------------


def node_hashes(keys: Sequence[int]) -> dict[int, bytes]:
    """Stored node hashes by packed position key, in one query."""
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter instead of thousands: far cheaper to send and plan.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT position, hash FROM ledger_node WHERE position = ANY(%s)", [list(keys)]
            )
            return {key: bytes(h) for key, h in cursor.fetchall()}
    found: dict[int, bytes] = {}
    for start in range(0, len(keys), 900):  # SQLite's limit on parameters
        rows = Node.objects.filter(position__in=keys[start : start + 900])
        found.update((key, bytes(h)) for key, h in rows.values_list("position", "hash"))
    return found


def fetch_nodes(positions: Sequence[merkle.Position]) -> dict[merkle.Position, bytes]:
    """Stored hashes for tree positions: level 0 from entries, higher levels from nodes."""
    leaves = [index for level, index in positions if level == 0]
    keys = [merkle.position_key(level, index) for level, index in positions if level > 0]
    found: dict[merkle.Position, bytes] = {}
    if leaves:
        for index, h in Entry.objects.filter(leaf_index__in=leaves).values_list(
            "leaf_index", "leaf_hash"
        ):
            found[(0, index)] = bytes(h)
    for key, h in node_hashes(keys).items():
        found[merkle.position_from_key(key)] = h
    return found


def _take_seal_lock() -> bool:
    SealLock.objects.bulk_create([SealLock(id=1)], ignore_conflicts=True)
    if connection.features.has_select_for_update_skip_locked:
        # Another worker is sealing: it loops until nothing is pending, so just leave.
        return SealLock.objects.select_for_update(skip_locked=True).filter(id=1).exists()
    return True  # SQLite: the IMMEDIATE transaction already holds the write lock


def _insert_nodes(created: list[tuple[merkle.Position, bytes]]) -> None:
    if connection.vendor == "postgresql":
        # COPY streams rows without building an INSERT statement: about twice as fast.
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY ledger_node (position, hash) FROM STDIN") as copy,
        ):
            for pos, h in created:
                copy.write_row((merkle.position_key(*pos), h))
        return
    Node.objects.bulk_create(
        [Node(position=merkle.position_key(*pos), hash=h) for pos, h in created], batch_size=5000
    )


def _assign_leaves(entry_ids: list[int], first_index: int, height: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE ledger_entry SET leaf_index = %s + v.n - 1, block_height = %s "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS v(id, n) "
                "WHERE ledger_entry.id = v.id AND ledger_entry.leaf_index IS NULL",
                [first_index, height, entry_ids],
            )
            updated = cursor.rowcount
        else:
            cursor.executemany(
                "UPDATE ledger_entry SET leaf_index = %s, block_height = %s "
                "WHERE id = %s AND leaf_index IS NULL",
                [(first_index + n, height, entry_id) for n, entry_id in enumerate(entry_ids)],
            )
            updated = len(entry_ids)
    if updated != len(entry_ids):
        raise RuntimeError("entries changed while sealing; the seal is rolled back")


def seal_pending(*, batch_size: int | None = None) -> Block | None:
    """Seal up to `batch_size` pending entries into one new signed block.

    Returns the block, or None when nothing is pending or another worker is sealing.
    """
    batch_size = batch_size or getattr(settings, "LEDGER_SEAL_BATCH", DEFAULT_SEAL_BATCH)
    with transaction.atomic():
        if not _take_seal_lock():
            return None
        pending = list(
            Entry.objects.filter(leaf_index__isnull=True)
            .order_by("id")
            .values_list("id", "leaf_hash")[:batch_size]
        )
        if not pending:
            return None
        head = Block.objects.order_by("-height").only("height", "tree_size", "hash").first()
        size = head.tree_size if head else 0
        height = head.height + 1 if head else 0
        positions = merkle.frontier_positions(size)
        stored = fetch_nodes(positions)
        frontier = [stored[p] for p in positions]
        created, new_frontier = merkle.append(size, frontier, [bytes(h) for _, h in pending])
        _insert_nodes(created)
        _assign_leaves([entry_id for entry_id, _ in pending], size, height)
        return _write_block(
            height=height,
            prev_hash=head.hash if head else canonical.GENESIS_PREV_HASH,
            tree_size=size + len(pending),
            root_hash=merkle.root_from_frontier(new_frontier).hex(),
            entry_count=len(pending),
        )


def _write_block(*, height: int, prev_hash: str, tree_size: int, root_hash: str, entry_count: int):
    sealed_at = canonical.format_timestamp(timezone.now())
    block_hash = canonical.block_hash(height, prev_hash, tree_size, root_hash, sealed_at)
    return Block.objects.create(
        height=height,
        prev_hash=prev_hash,
        tree_size=tree_size,
        root_hash=root_hash,
        sealed_at=sealed_at,
        hash=block_hash.hex(),
        signature=signing.sign_block_hash(_signing_key(), block_hash),
        entry_count=entry_count,
    )


def seal_all(*, batch_size: int | None = None) -> list[Block]:
    """Seal until nothing is pending (the `seal` command and tests)."""
    blocks = []
    while (block := seal_pending(batch_size=batch_size)) is not None:
        blocks.append(block)
    return blocks
