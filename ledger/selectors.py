"""Every read of the ledger that pages and the API need (no writes)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ledger import kinds, merkle
from ledger.models import Block, Entry
from ledger.services import fetch_nodes


class LedgerQueryError(ValueError):
    """A request about the tree that cannot be answered (e.g. a leaf beyond the tree)."""


def head() -> Block | None:
    return Block.objects.order_by("-height").first()


def head_size() -> int:
    block = head()
    return block.tree_size if block else 0


def pending_count() -> int:
    return Entry.objects.filter(leaf_index__isnull=True).count()


def sealed_entry(leaf_index: int) -> Entry | None:
    return Entry.objects.filter(leaf_index=leaf_index).first()


def entry_content(entry: Entry) -> dict:
    """The entry object exactly as hashed. Its `kind` is authoritative: the `kind`
    column is only an index, so a tampered column can never publish a private entry."""
    return json.loads(bytes(entry.leaf_data))


def public_entry(entry: Entry) -> dict | None:
    """The full entry for public kinds; None for private ones (only the hash is shown)."""
    content = entry_content(entry)
    return content if kinds.is_public(content["kind"]) else None


def block_entries(block: Block):
    return Entry.objects.filter(block_height=block.height).order_by("leaf_index")


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]
    root_hash: bytes


def _sealed_size(tree_size: int | None) -> int:
    size = head_size()
    if tree_size is None:
        return size
    if tree_size < 1 or tree_size > size:
        raise LedgerQueryError(f"tree_size must be between 1 and the sealed size {size}")
    return tree_size


def inclusion_proof(leaf_index: int, tree_size: int | None = None) -> InclusionProof:
    """RFC 9162 inclusion proof of a sealed leaf in the tree of `tree_size` (default: head)."""
    size = _sealed_size(tree_size)
    if size == 0:
        raise LedgerQueryError("the ledger has no sealed entries yet")
    if not 0 <= leaf_index < size:
        raise LedgerQueryError(f"leaf_index must be below the tree size {size}")
    positions = merkle.inclusion_proof_positions(leaf_index, size)
    frontier = merkle.frontier_positions(size)
    nodes = fetch_nodes([*positions, *frontier, (0, leaf_index)])
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=size,
        leaf_hash=nodes[(0, leaf_index)],
        audit_path=merkle.inclusion_proof(leaf_index, size, nodes),
        root_hash=merkle.root_from_nodes(size, nodes),
    )


def consistency_proof(first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof that the tree of `first` leaves is a prefix of `second`."""
    size = head_size()
    if first < 0 or second < 0:
        raise LedgerQueryError("first and second must not be negative")
    if first > second:
        raise LedgerQueryError("first must not be greater than second")
    if second > size:
        raise LedgerQueryError(f"second must not exceed the sealed tree size {size}")
    positions = merkle.consistency_proof_positions(first, second)
    return merkle.consistency_proof(first, second, fetch_nodes(positions))


def block_for_leaf(leaf_index: int) -> Block | None:
    return Block.objects.filter(tree_size__gt=leaf_index).order_by("height").first()
