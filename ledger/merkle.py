"""The ledger's Merkle tree: RFC 9162 section 2.1 hashing, proofs and verification.

This module owns the tree arithmetic and nothing else. It never touches storage: it tells
the caller which stored subtree hashes it needs (by position) and computes from the hashes
the caller hands back.

Storage model. A *position* ``(level, index)`` names the perfect, aligned subtree covering
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf hash. Once written
such a subtree never changes, so the database keeps one row per perfect subtree and never
updates it. The hash of any range the RFC recursion produces is the right-to-left fold of
the perfect subtrees that decompose it, which is why any proof can be built from
O(log n) stored rows fetched in one query, and why the root of any past tree size can be
recomputed from the same rows.

Verification follows the RFC's iterative algorithms literally, so an auditor can compare
this file line by line with RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

# (level, index): the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level).
Position = tuple[int, int]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# position_key packs the level into the low bits; 6 bits hold levels 0..63 and leave 57 bits
# of index, so every key fits a signed 64-bit integer column.
_LEVEL_BITS = 6
_MAX_LEVEL = (1 << _LEVEL_BITS) - 1
_MAX_INDEX = (1 << (63 - _LEVEL_BITS)) - 1


class ProofError(ValueError):
    """A proof or tree operation was asked for something that cannot exist."""


class MissingNodeError(LookupError):
    """A subtree hash needed for a proof was not among the nodes the caller supplied."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def position_key(level: int, index: int) -> int:
    """Pack a position into one non-negative integer that fits a signed 64-bit column."""
    if not 0 <= level <= _MAX_LEVEL:
        raise ValueError(f"level {level} is outside 0..{_MAX_LEVEL}")
    if not 0 <= index <= _MAX_INDEX:
        raise ValueError(f"index {index} is outside 0..{_MAX_INDEX}")
    return index << _LEVEL_BITS | level


def position_from_key(key: int) -> Position:
    """Inverse of :func:`position_key`."""
    if not 0 <= key < 1 << 63:
        raise ValueError(f"position key {key} is outside 0..2**63-1")
    return key & _MAX_LEVEL, key >> _LEVEL_BITS


def _check_count(name: str, value: int) -> None:
    # bool is an int subclass; True as a tree size is always a caller bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name} must not be negative, got {value}")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes")


def _split(n: int) -> int:
    """The RFC's k: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed directly from leaf hashes, by the RFC's recursive definition.

    This is the reference the storage-oriented functions are tested against; it is
    O(n) time and recursion depth O(log n).
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def frontier_positions(size: int) -> list[Position]:
    """The perfect subtrees covering [0, size), largest (leftmost) first: one per set bit."""
    _check_count("size", size)
    positions: list[Position] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            positions.append((level, start >> level))
            start += 1 << level
    return positions


def root_from_frontier(hashes: Sequence[bytes]) -> bytes:
    """The root of a tree given the hashes of its frontier subtrees, left to right.

    Folding right to left reproduces the RFC recursion, because the RFC always splits off
    the largest power of two on the left, which is exactly the first frontier subtree.
    """
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def append(
    size: int, frontier: Sequence[bytes], new_leaves: Sequence[bytes]
) -> tuple[list[tuple[Position, bytes]], list[bytes]]:
    """Append leaf hashes to a tree of ``size`` leaves whose frontier hashes are given.

    Returns every perfect subtree at level >= 1 that the new leaves complete, with its
    position (in creation order, so children precede parents), and the new frontier.
    Level-0 hashes are not returned as nodes: they are the leaves the caller already has.

    Cost is O(len(new_leaves) + log size): each merge creates exactly one returned node,
    and at most log2(size) of them consume the old frontier.
    """
    _check_count("size", size)
    if len(frontier) != size.bit_count():
        raise ProofError(
            f"a tree of {size} leaves has {size.bit_count()} frontier hashes, got {len(frontier)}"
        )
    for i, h in enumerate(frontier):
        _check_hash(f"frontier[{i}]", h)
    stack: list[tuple[int, bytes]] = [
        (level, h) for (level, _), h in zip(frontier_positions(size), frontier, strict=True)
    ]
    created: list[tuple[Position, bytes]] = []
    for offset, leaf in enumerate(new_leaves):
        _check_hash(f"new_leaves[{offset}]", leaf)
        index = size + offset
        level, h = 0, leaf
        # Like a binary counter's carry: equal-sized neighbours merge into their parent.
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            h = node_hash(left, h)
            level += 1
            created.append(((level, index >> level), h))
        stack.append((level, h))
    return created, [h for _, h in stack]


def subtree_positions(start: int, end: int) -> list[Position]:
    """Decompose the leaf range [start, end) into maximal perfect aligned subtrees.

    For every range the RFC recursion produces (``start`` is a multiple of a power of two
    at least ``end - start``) the subtrees come out largest first and their right-to-left
    fold is MTH(D[start:end]). Other ranges decompose too, but that fold means nothing
    for them.
    """
    _check_count("start", start)
    _check_count("end", end)
    if start > end:
        raise ProofError(f"range start {start} is after its end {end}")
    positions: list[Position] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            # An aligned subtree can be no larger than start's lowest set bit allows.
            level = min(level, (start & -start).bit_length() - 1)
        positions.append((level, start >> level))
        start += 1 << level
    return positions


def _range_hash(start: int, end: int, nodes: Mapping[Position, bytes]) -> bytes:
    hashes = []
    for position in subtree_positions(start, end):
        try:
            hashes.append(nodes[position])
        except KeyError:
            raise MissingNodeError(
                f"no hash supplied for subtree at level {position[0]}, index {position[1]}"
            ) from None
    return root_from_frontier(hashes)


def root_from_nodes(size: int, nodes: Mapping[Position, bytes]) -> bytes:
    """The root of the tree of ``size`` leaves, from stored subtree hashes.

    Needs only :func:`frontier_positions` of ``size``, so the root of any past tree size
    can be recomputed from the same append-only rows.
    """
    return _range_hash(0, size, nodes)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PATH(index, D[0:size]), leaf first (RFC 9162 2.1.3.1)."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    # The RFC appends the sibling after the deeper path, so the top sibling comes last.
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PROOF(first, D[0:second]) (RFC 9162 2.1.4.1)."""
    ranges: list[tuple[int, int]] = []
    if first in (0, second):
        return ranges
    # SUBPROOF(m, D[start:end], b), unrolled; m counts leaves of the old tree inside the range.
    start, end, m, b = 0, second, first, True
    while True:
        if m == end - start:
            if not b:
                ranges.append((start, end))
            break
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            b = False
    ranges.reverse()
    return ranges


def _check_inclusion_request(index: int, size: int) -> None:
    _check_count("index", index)
    _check_count("size", size)
    if size == 0:
        raise ProofError("an empty tree has no inclusion proofs")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")


def _check_consistency_request(first: int, second: int) -> None:
    _check_count("first", first)
    _check_count("second", second)
    if first > second:
        raise ProofError(f"first size {first} is larger than second size {second}")


def _positions_of(ranges: list[tuple[int, int]]) -> list[Position]:
    return [position for start, end in ranges for position in subtree_positions(start, end)]


def _hashes_of(ranges: list[tuple[int, int]], nodes: Mapping[Position, bytes]) -> list[bytes]:
    return [_range_hash(start, end, nodes) for start, end in ranges]


def inclusion_proof_positions(index: int, size: int) -> list[Position]:
    """The stored subtrees (level 0 = leaf hashes) needed to prove leaf ``index`` in ``size``.

    At most about 2 * log2(size) of them: the proof has at most ceil(log2(size)) elements
    and only one of them can be an incomplete (right-edge) range needing decomposition.
    """
    _check_inclusion_request(index, size)
    return _positions_of(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, nodes: Mapping[Position, bytes]) -> list[bytes]:
    """The RFC 9162 2.1.3.1 audit path for leaf ``index`` in the tree of ``size`` leaves.

    ``nodes`` must hold at least :func:`inclusion_proof_positions`; level-0 entries are leaf
    hashes.
    """
    _check_inclusion_request(index, size)
    return _hashes_of(_inclusion_ranges(index, size), nodes)


def consistency_proof_positions(first: int, second: int) -> list[Position]:
    """The stored subtrees needed to prove the tree of ``first`` leaves a prefix of ``second``."""
    _check_consistency_request(first, second)
    return _positions_of(_consistency_ranges(first, second))


def consistency_proof(first: int, second: int, nodes: Mapping[Position, bytes]) -> list[bytes]:
    """The RFC 9162 2.1.4.1 consistency proof between tree sizes ``first`` and ``second``."""
    _check_consistency_request(first, second)
    return _hashes_of(_consistency_ranges(first, second), nodes)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_hash_list(proof: object) -> bool:
    return isinstance(proof, (list, tuple)) and all(_is_hash(p) for p in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` show leaf ``index`` in the tree of ``size`` with ``root``?

    Returns False, never raises, for any malformed input: the inputs usually come from
    whoever is being checked.
    """
    if not (_is_count(index) and _is_count(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_hash_list(proof)):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no sibling at these levels is promoted unchanged.
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree of ``first`` leaves a prefix of the one of ``second``?

    The RFC algorithm covers 0 < first < second. For first == second the proof must be
    empty and the roots equal; for first == 0 the proof must be empty and ``first_root``
    must be the empty-tree hash (every tree extends the empty one). Never raises.
    """
    if not (_is_count(first) and _is_count(second) and first <= second):
        return False
    if not (_is_hash(first_root) and _is_hash(second_root) and _is_hash_list(proof)):
        return False
    if first == 0:
        return len(proof) == 0 and first_root == EMPTY_ROOT
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    # When the old tree is a perfect subtree of the new one, its root is omitted from the
    # proof because the verifier already has it.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
