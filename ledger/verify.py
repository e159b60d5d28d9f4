"""Full verification of the stored ledger, streamed so memory stays flat as it grows.

Recomputes every leaf hash from its leaf data, every stored subtree node, every
block's root, header hash, link and signature, and reports the first thing that
does not hold, naming the block height and the entry (leaf) index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings

from ledger import canonical, merkle, signing
from ledger.models import Block, Entry, Node
from ledger.services import node_hashes

CHUNK = 10_000


@dataclass(frozen=True)
class Problem:
    message: str
    height: int | None = None
    leaf_index: int | None = None

    def __str__(self) -> str:
        where = []
        if self.height is not None:
            where.append(f"block height {self.height}")
        if self.leaf_index is not None:
            where.append(f"entry index {self.leaf_index}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class Report:
    blocks: int = 0
    entries: int = 0
    nodes: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Failed(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _entries() -> Iterator[tuple[int, bytes, bytes, int | None]]:
    rows = (
        Entry.objects.filter(leaf_index__isnull=False)
        .order_by("leaf_index")
        .values_list("leaf_index", "leaf_data", "leaf_hash", "block_height")
    )
    return rows.iterator(chunk_size=CHUNK)


def _check_nodes(created: list[tuple[merkle.Position, bytes]], height: int) -> None:
    keys = {merkle.position_key(*pos): (pos, h) for pos, h in created}
    stored = node_hashes(list(keys))
    for key, (pos, expected) in keys.items():  # creation order: lowest first
        got = stored.get(key)
        level, index = pos
        first_leaf = index << level
        if got is None:
            raise _Failed(
                Problem(f"tree node (level {level}, index {index}) is missing", height, first_leaf)
            )
        if got != expected:
            raise _Failed(
                Problem(
                    f"stored tree node (level {level}, index {index}) does not match the "
                    f"entries {first_leaf}..{first_leaf + (1 << level) - 1}",
                    height,
                    first_leaf,
                )
            )


def verify_ledger(progress: Callable[[int, int], None] | None = None) -> Report:
    """Verify everything; `progress(done, total)` is called every chunk of entries."""
    report = Report()
    public_key = signing.public_key_bytes(
        signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)
    )
    head = Block.objects.order_by("-height").first()
    total = head.tree_size if head else 0
    entries = _entries()
    try:
        _verify(report, public_key, entries, total, progress)
    except _Failed as failed:
        report.problem = failed.problem
    return report


def _verify(report, public_key, entries, total, progress) -> None:
    size, frontier = 0, []
    prev_hash = canonical.GENESIS_PREV_HASH
    pending_row = next(entries, None)
    for block in Block.objects.order_by("height").iterator(chunk_size=1000):
        h = block.height
        if h != report.blocks:
            raise _Failed(Problem(f"block {report.blocks} is missing (next is {h})", report.blocks))
        if block.prev_hash != prev_hash:
            raise _Failed(Problem("prev_hash does not link to the previous block's hash", h))
        try:
            digest = canonical.block_hash(
                h, block.prev_hash, block.tree_size, block.root_hash, block.sealed_at
            )
        except canonical.LedgerDataError as exc:
            raise _Failed(Problem(f"header is malformed: {exc}", h)) from None
        if digest.hex() != block.hash:
            raise _Failed(Problem("block hash does not match its header", h))
        if not signing.verify_block_signature(public_key, digest, block.signature):
            raise _Failed(Problem("signature does not verify with the ledger's public key", h))
        if block.entry_count != block.tree_size - size or block.entry_count < 1:
            raise _Failed(Problem("entry_count does not match the growth of the tree", h))
        while size < block.tree_size:
            leaves = []
            chunk_end = min(block.tree_size, size + CHUNK)
            for index in range(size, chunk_end):
                if pending_row is None or pending_row[0] != index:
                    raise _Failed(Problem("entry is missing", h, index))
                _, leaf_data, stored_hash, block_height = pending_row
                computed = merkle.leaf_hash(bytes(leaf_data))
                if computed != bytes(stored_hash):
                    raise _Failed(Problem("leaf hash does not match the entry's data", h, index))
                if block_height != h:
                    raise _Failed(Problem(f"entry says it is in block {block_height}", h, index))
                leaves.append(computed)
                pending_row = next(entries, None)
            created, frontier = merkle.append(size, frontier, leaves)
            _check_nodes(created, h)
            report.nodes += len(created)
            size = chunk_end
            report.entries = size
            if progress:
                progress(size, total)
        if merkle.root_from_frontier(frontier).hex() != block.root_hash:
            raise _Failed(Problem("root hash does not match the entries", h))
        prev_hash = block.hash
        report.blocks += 1
    if pending_row is not None:
        raise _Failed(
            Problem("entry has a leaf index but is in no signed block", None, pending_row[0])
        )
    stored_nodes = Node.objects.count()
    if stored_nodes != report.nodes:
        raise _Failed(
            Problem(f"{stored_nodes - report.nodes} stored tree nodes belong to no sealed entries")
        )
