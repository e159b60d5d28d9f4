"""Tests for ledger.merkle: published vectors, exhaustive small trees, and properties."""

from __future__ import annotations

import functools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    MissingNodeError,
    Position,
    ProofError,
    append,
    consistency_proof,
    consistency_proof_positions,
    frontier_positions,
    inclusion_proof,
    inclusion_proof_positions,
    leaf_hash,
    node_hash,
    position_from_key,
    position_key,
    root_from_frontier,
    root_from_leaves,
    root_from_nodes,
    subtree_positions,
    verify_consistency,
    verify_inclusion,
)

# --- Published vectors -----------------------------------------------------------------------
# From transparency-dev/merkle, proof/verify_test.go
# (commit 02194e9afb6c1d95b5381350007963aa70fff472): its leaves, roots, inclusionProofs and
# consistencyProofs. That file numbers leaves from 1 in its inclusion vectors; the indexes
# below are 0-based.

VECTOR_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

VECTOR_ROOTS = [  # roots of the trees of sizes 1..8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

VECTOR_INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

VECTOR_CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _store(leaves: list[bytes]) -> dict[Position, bytes]:
    """Every node a caller would hold: leaf hashes at level 0 plus what append creates."""
    created, _ = append(0, [], leaves)
    nodes: dict[Position, bytes] = {(0, i): h for i, h in enumerate(leaves)}
    nodes.update(created)
    return nodes


VECTOR_HASHES = [leaf_hash(d) for d in VECTOR_LEAVES]
VECTOR_NODES = _store(VECTOR_HASHES)


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root_from_frontier([]) == EMPTY_ROOT
    assert root_from_nodes(0, {}) == EMPTY_ROOT
    # RFC 9162 domain separation: a leaf and a node over the same bytes differ.
    assert leaf_hash(b"ab") != node_hash(b"a", b"b")


@pytest.mark.parametrize("size", range(1, 9))
def test_published_roots(size: int) -> None:
    expected = bytes.fromhex(VECTOR_ROOTS[size - 1])
    assert root_from_leaves(VECTOR_HASHES[:size]) == expected
    assert root_from_nodes(size, VECTOR_NODES) == expected
    _, frontier = append(0, [], VECTOR_HASHES[:size])
    assert root_from_frontier(frontier) == expected


@pytest.mark.parametrize(("index", "size", "path"), VECTOR_INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert inclusion_proof(index, size, VECTOR_NODES) == expected
    root = bytes.fromhex(VECTOR_ROOTS[size - 1])
    assert verify_inclusion(VECTOR_HASHES[index], index, size, expected, root)


@pytest.mark.parametrize(("first", "second", "path"), VECTOR_CONSISTENCY)
def test_published_consistency_proofs(first: int, second: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert consistency_proof(first, second, VECTOR_NODES) == expected
    first_root = bytes.fromhex(VECTOR_ROOTS[first - 1])
    second_root = bytes.fromhex(VECTOR_ROOTS[second - 1])
    assert verify_consistency(first, second, first_root, second_root, expected)


# --- Exhaustive small trees, against the RFC's recursive definitions ------------------------

MAX_SIZE = 64
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]
NODES = _store(LEAVES)
ROOTS = [root_from_leaves(LEAVES[:n]) for n in range(MAX_SIZE + 1)]


def _k(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


@functools.cache
def _mth(start: int, end: int) -> bytes:
    return root_from_leaves(LEAVES[start:end])


def _ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) exactly as RFC 9162 2.1.3.1 writes it."""
    if end - start == 1:
        return []
    k = _k(end - start)
    if m < k:
        return [*_ref_path(m, start, start + k), _mth(start + k, end)]
    return [*_ref_path(m - k, start + k, end), _mth(start, start + k)]


def _ref_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) exactly as RFC 9162 2.1.4.1 writes it."""
    n = end - start
    if m == n:
        return [] if b else [_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*_ref_subproof(m, start, start + k, b), _mth(start + k, end)]
    return [*_ref_subproof(m - k, start + k, end, False), _mth(start, start + k)]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _all_perfect_subtrees(size: int) -> set[Position]:
    return {(level, i) for level in range(1, size.bit_length()) for i in range(size >> level)}


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_append_in_random_batches_matches_reference(size: int) -> None:
    rng = random.Random(size)
    for _ in range(6):
        nodes: dict[Position, bytes] = {}
        frontier: list[bytes] = []
        done = 0
        while done < size:
            batch = rng.randint(1, size - done)
            created, frontier = append(done, frontier, LEAVES[done : done + batch])
            for position, h in created:
                assert position not in nodes, "append re-created an existing node"
                nodes[position] = h
            done += batch
            assert root_from_frontier(frontier) == ROOTS[done]
        assert set(nodes) == _all_perfect_subtrees(size)
        for (level, index), h in nodes.items():
            assert h == _mth(index << level, (index + 1) << level)
        nodes.update({(0, i): LEAVES[i] for i in range(size)})
        # The root of every earlier size comes back from the same rows.
        for past in range(size + 1):
            assert root_from_nodes(past, nodes) == ROOTS[past]


@pytest.mark.parametrize("size", range(0, MAX_SIZE + 1))
def test_frontier_positions_cover_the_tree(size: int) -> None:
    positions = frontier_positions(size)
    assert len(positions) == size.bit_count()
    start = 0
    for level, index in positions:
        assert index << level == start
        start += 1 << level
    assert start == size
    assert [level for level, _ in positions] == sorted((lvl for lvl, _ in positions), reverse=True)


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof(size: int) -> None:
    root = ROOTS[size]
    limit = 2 * math.log2(size) + 2
    for index in range(size):
        positions = inclusion_proof_positions(index, size)
        assert len(positions) <= limit
        proof = inclusion_proof(index, size, {p: NODES[p] for p in positions})
        assert proof == _ref_path(index, 0, size)
        leaf = LEAVES[index]
        assert verify_inclusion(leaf, index, size, proof, root)

        for i, element in enumerate(proof):
            for at in range(len(element)):
                bad = [*proof[:i], _flip(element, at), *proof[i + 1 :]]
                assert not verify_inclusion(leaf, index, size, bad, root)
        for at in range(32):
            assert not verify_inclusion(leaf, index, size, proof, _flip(root, at))
            assert not verify_inclusion(_flip(leaf, at), index, size, proof, root)

        for other in range(size):
            if other != index:
                assert not verify_inclusion(leaf, other, size, proof, root)
        # The size is bound through the root (see test_tree_size_is_bound_by_the_root), so a
        # wrong size is checked against the root a tree of that size really has.
        for other in range(index + 1, MAX_SIZE + 1):
            if other != size:
                assert not verify_inclusion(leaf, index, other, proof, ROOTS[other])
        assert not verify_inclusion(leaf, index, size * 2, proof, root)
        if size > 1:
            assert not verify_inclusion(leaf, index, size // 2, proof, root)
        assert not verify_inclusion(leaf, index, size, [*proof, root], root)
        assert not verify_inclusion(leaf, index, size, [root, *proof], root)
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], root)


@pytest.mark.parametrize("second", range(1, MAX_SIZE + 1))
def test_every_consistency_proof(second: int) -> None:
    second_root = ROOTS[second]
    limit = 2 * math.log2(second) + 2
    assert consistency_proof(0, second, NODES) == []
    assert verify_consistency(0, second, EMPTY_ROOT, second_root, [])
    for first in range(1, second + 1):
        first_root = ROOTS[first]
        positions = consistency_proof_positions(first, second)
        assert len(positions) <= limit
        proof = consistency_proof(first, second, {p: NODES[p] for p in positions})
        assert proof == _ref_subproof(first, 0, second, True)
        assert verify_consistency(first, second, first_root, second_root, proof)

        for i, element in enumerate(proof):
            for at in range(len(element)):
                bad = [*proof[:i], _flip(element, at), *proof[i + 1 :]]
                assert not verify_consistency(first, second, first_root, second_root, bad)
        for at in range(32):
            flipped_first, flipped_second = _flip(first_root, at), _flip(second_root, at)
            assert not verify_consistency(first, second, flipped_first, second_root, proof)
            assert not verify_consistency(first, second, first_root, flipped_second, proof)

        if first < second:
            assert not verify_consistency(first, second, first_root, second_root, [])
            assert not verify_consistency(first, second, first_root, second_root, proof[:-1])
            assert not verify_consistency(
                first, second, first_root, second_root, [*proof, second_root]
            )
            assert not verify_consistency(
                first, second, first_root, second_root, [first_root, *proof]
            )
            assert not verify_consistency(second, first, second_root, first_root, proof)
            for other in range(1, second):
                if other != first:
                    assert not verify_consistency(other, second, ROOTS[other], second_root, proof)
            for other in range(first, MAX_SIZE + 1):
                if other != second:
                    assert not verify_consistency(first, other, first_root, ROOTS[other], proof)
            assert not verify_consistency(first, second * 2, first_root, second_root, proof)


def test_tree_size_is_bound_by_the_root() -> None:
    # RFC 9162 verification binds the size only through the root: a proof for leaf 0 of
    # the 4-leaf tree also walks as a 3-leaf proof. Against the true 3-leaf root it fails.
    proof = inclusion_proof(0, 4, NODES)
    assert verify_inclusion(LEAVES[0], 0, 3, proof, ROOTS[4])
    assert not verify_inclusion(LEAVES[0], 0, 3, proof, ROOTS[3])


# --- Requests that cannot be satisfied, and malformed input ----------------------------------


@pytest.mark.parametrize(
    ("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 3), (0, -1), (True, 3), (0, 2.0)]
)
def test_impossible_inclusion_requests(index: object, size: object) -> None:
    with pytest.raises(ProofError):
        inclusion_proof_positions(index, size)  # type: ignore[arg-type]
    with pytest.raises(ProofError):
        inclusion_proof(index, size, NODES)  # type: ignore[arg-type]
    assert not verify_inclusion(LEAVES[0], index, size, [], ROOTS[1])  # type: ignore[arg-type]


@pytest.mark.parametrize(("first", "second"), [(2, 1), (-1, 3), (0, -1), (1, None)])
def test_impossible_consistency_requests(first: object, second: object) -> None:
    with pytest.raises(ProofError):
        consistency_proof_positions(first, second)  # type: ignore[arg-type]
    with pytest.raises(ProofError):
        consistency_proof(first, second, NODES)  # type: ignore[arg-type]
    assert not verify_consistency(first, second, ROOTS[1], ROOTS[1], [])  # type: ignore[arg-type]


def test_error_messages_say_what_was_wrong() -> None:
    with pytest.raises(ProofError, match="leaf index 5 is not in a tree of 3 leaves"):
        inclusion_proof(5, 3, NODES)
    with pytest.raises(ProofError, match="empty tree"):
        inclusion_proof(0, 0, NODES)
    with pytest.raises(ProofError, match="first size 4 is larger than second size 2"):
        consistency_proof(4, 2, NODES)
    with pytest.raises(ProofError, match="must not be negative"):
        frontier_positions(-1)


def test_trivial_consistency_cases() -> None:
    assert consistency_proof(5, 5, NODES) == []
    assert consistency_proof_positions(0, 0) == []
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])


@pytest.mark.parametrize(
    "bad_proof",
    [None, "proof", b"x" * 32, [b"short"], [b"x" * 33], ["a" * 32], [None], [bytearray(32)]],
)
def test_verifiers_reject_malformed_proofs_without_raising(bad_proof: object) -> None:
    assert not verify_inclusion(LEAVES[0], 0, 5, bad_proof, ROOTS[5])  # type: ignore[arg-type]
    assert not verify_consistency(3, 5, ROOTS[3], ROOTS[5], bad_proof)  # type: ignore[arg-type]


def test_verifiers_reject_malformed_hashes_without_raising() -> None:
    proof = inclusion_proof(1, 5, NODES)
    assert not verify_inclusion(b"", 1, 5, proof, ROOTS[5])
    assert not verify_inclusion(LEAVES[1], 1, 5, proof, ROOTS[5][:31])
    assert not verify_inclusion(LEAVES[1].hex(), 1, 5, proof, ROOTS[5])  # type: ignore[arg-type]
    cproof = consistency_proof(3, 5, NODES)
    assert not verify_consistency(3, 5, b"WrongRoot", ROOTS[5], cproof)
    assert not verify_consistency(3, 5, ROOTS[3], None, cproof)  # type: ignore[arg-type]


def test_missing_nodes_are_named() -> None:
    positions = inclusion_proof_positions(3, 7)
    partial = {p: NODES[p] for p in positions[1:]}
    level, index = positions[0]
    with pytest.raises(MissingNodeError, match=f"level {level}, index {index}"):
        inclusion_proof(3, 7, partial)


def test_append_rejects_a_frontier_of_the_wrong_shape() -> None:
    _, frontier = append(0, [], LEAVES[:5])
    with pytest.raises(ProofError, match="2 frontier hashes"):
        append(5, frontier[:1], LEAVES[5:6])
    with pytest.raises(ValueError, match="new_leaves"):
        append(5, frontier, [b"not a hash"])


def test_inclusion_positions_in_a_large_tree_stay_logarithmic() -> None:
    size = 2**40 + 2**20 + 12345
    for index in (0, 1, size // 2, 2**40 - 1, 2**40, size - 2, size - 1):
        positions = inclusion_proof_positions(index, size)
        assert len(positions) <= 2 * math.log2(size) + 2
        assert len(consistency_proof_positions(index + 1, size)) <= 2 * math.log2(size) + 2


# --- Positions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [(0, 0), (1, 0), (0, 1), (63, 0), (0, 2**57 - 1), (7, 12345)])
def test_position_key_round_trips(position: Position) -> None:
    key = position_key(*position)
    assert 0 <= key < 2**63
    assert position_from_key(key) == position


def test_position_keys_are_distinct_and_bounded() -> None:
    keys = {position_key(level, index) for level in range(8) for index in range(64)}
    assert len(keys) == 8 * 64
    with pytest.raises(ValueError):
        position_key(64, 0)
    with pytest.raises(ValueError):
        position_key(0, 2**57)
    with pytest.raises(ValueError):
        position_key(-1, 0)
    with pytest.raises(ValueError):
        position_from_key(-1)


@pytest.mark.parametrize(("start", "end"), [(0, 0), (0, 1), (0, 7), (3, 13), (8, 13), (5, 6)])
def test_subtree_positions_tile_the_range(start: int, end: int) -> None:
    cursor = start
    for level, index in subtree_positions(start, end):
        assert index << level == cursor
        cursor += 1 << level
    assert cursor == end


def test_subtree_positions_of_rfc_ranges_fold_to_their_hash() -> None:
    # Every range the RFC recursion visits starts on a multiple of a power of two at least
    # as large as the range.
    for start in range(MAX_SIZE):
        for end in range(start + 1, MAX_SIZE + 1):
            length = end - start
            if start % (1 << (length - 1).bit_length()) == 0:
                hashes = [NODES[p] for p in subtree_positions(start, end)]
                assert root_from_frontier(hashes) == _mth(start, end)
    with pytest.raises(ProofError):
        subtree_positions(5, 4)


# --- Properties ---------------------------------------------------------------------------------

BIG_LEAVES = [leaf_hash(b"p" + i.to_bytes(4, "big")) for i in range(400)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_append_in_any_batches_equals_the_reference_root(batches: list[int]) -> None:
    nodes: dict[Position, bytes] = {}
    frontier: list[bytes] = []
    size = 0
    for batch in batches:
        created, frontier = append(size, frontier, BIG_LEAVES[size : size + batch])
        assert not nodes.keys() & dict(created).keys()
        nodes.update(created)
        size += batch
        assert root_from_frontier(frontier) == root_from_leaves(BIG_LEAVES[:size])
    assert set(nodes) == _all_perfect_subtrees(size)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**50),
    st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=5),
)
def test_append_is_the_same_in_one_batch_or_many(size: int, batches: list[int]) -> None:
    # A synthetic frontier stands in for a huge existing tree: append must not need more.
    frontier = [leaf_hash(position_key(*p).to_bytes(8, "big")) for p in frontier_positions(size)]
    total = sum(batches)
    new = [leaf_hash(b"n" + i.to_bytes(4, "big")) for i in range(total)]
    all_created, all_frontier = append(size, frontier, new)

    pieces: list[tuple[Position, bytes]] = []
    current, done = frontier, 0
    for batch in batches:
        created, current = append(size + done, current, new[done : done + batch])
        pieces.extend(created)
        done += batch
    assert pieces == all_created
    assert current == all_frontier
    assert len(all_frontier) == (size + total).bit_count()
    # Exactly the perfect subtrees completed by the new leaves, each once.
    expected = sum(((size + total) >> level) - (size >> level) for level in range(1, 60))
    assert len(all_created) == expected
    for level, index in (p for p, _ in all_created):
        assert size < (index + 1) << level <= size + total


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_proofs_verify_in_trees_up_to_400(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=len(BIG_LEAVES)), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    first = data.draw(st.integers(min_value=0, max_value=size), label="first")
    nodes = _big_nodes()
    root = root_from_nodes(size, nodes)
    assert root == root_from_leaves(BIG_LEAVES[:size])
    proof = inclusion_proof(index, size, nodes)
    assert verify_inclusion(BIG_LEAVES[index], index, size, proof, root)
    cproof = consistency_proof(first, size, nodes)
    assert verify_consistency(first, size, root_from_nodes(first, nodes), root, cproof)


@functools.cache
def _big_nodes() -> dict[Position, bytes]:
    return _store(BIG_LEAVES)
