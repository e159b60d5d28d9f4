"""The test vectors and API examples of docs/ledger-spec.md, checked against the ledger code.

The spec is the public contract auditors implement without our code, and its vectors are
the known answers they test against. Parsing them out of the document, rather than copying
them here, means the document and the code cannot drift apart: a change that alters any
hashed or signed byte fails here until the spec (and its format version) changes too.

Every tagged block must be present exactly once; a missing, duplicated or unknown tag fails.
Where it is cheap, values are also recomputed independently of the code under test
(hashlib, ``cryptography``, and the spec's own step-list proof algorithms, section 10).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger import canonical, checkpoint, kinds, merkle, signing

SPEC = Path(__file__).resolve().parents[2] / "docs" / "ledger-spec.md"

VECTORS = {
    "limits",
    "entry",
    "jcs",
    "invalid-entries",
    "kind-names",
    "tree",
    "key",
    "block-0",
    "block-1",
    "checkpoint",
}
EXAMPLES = {
    "block-0",
    "blocks",
    "entry-public",
    "entry-private",
    "proof",
    "consistency",
    "key",
    "checkpoint-note",
}

_BLOCK_RE = re.compile(
    r"^```(?P<lang>[a-z]+) (?P<tag>vector|example):(?P<name>[a-z0-9-]+)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
_LOOSE_TAG_RE = re.compile(r"^```.*\b(?:vector|example):", re.MULTILINE)
HEADER_KEYS = ["height", "prev_hash", "tree_size", "root_hash", "sealed_at"]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys in {keys}")
    return dict(pairs)


@cache
def _blocks() -> tuple[dict[tuple[str, str], Any], list[str]]:
    """{(tag, name): parsed value} and a list of problems (duplicates, unknown tags)."""
    text = SPEC.read_text(encoding="utf-8")
    found: dict[tuple[str, str], Any] = {}
    problems = []
    matches = list(_BLOCK_RE.finditer(text))
    if len(matches) != len(_LOOSE_TAG_RE.findall(text)):
        problems.append("a fence mentions vector:/example: but is not of the form ```lang tag:name")
    for match in matches:
        key = (match["tag"], match["name"])
        if key in found:
            problems.append(f"{key[0]}:{key[1]} appears twice")
        body = match["body"]
        if match["lang"] == "json":
            found[key] = json.loads(body, object_pairs_hook=_no_duplicate_keys)
        else:
            found[key] = body
    return found, problems


def vector(name: str, tag: str = "vector") -> Any:
    found, _ = _blocks()
    if (tag, name) not in found:
        pytest.fail(f"docs/ledger-spec.md has no ```json {tag}:{name} block")
    return found[(tag, name)]


def example(name: str) -> Any:
    return vector(name, "example")


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


# --- independent reference implementations (from the spec's text, not from ledger.*) ----------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _spec_verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes):
    """Spec section 10.1, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _spec_verify_consistency(first: int, second: int, r1: bytes, r2: bytes, path: list[bytes]):
    """Spec section 10.2, step by step, with its cases for empty and equal trees."""
    if first > second:
        return False
    if first == 0:
        return not path and r1 == hashlib.sha256(b"").digest()
    if first == second:
        return not path and r1 == r2
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, r1)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == r1 and sr == r2 and sn == 0


def _flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


# --- the document itself ----------------------------------------------------------------------


def test_every_tagged_block_is_present_once_and_parses():
    found, problems = _blocks()
    assert not problems
    vectors = {name for tag, name in found if tag == "vector"}
    examples = {name for tag, name in found if tag == "example"}
    assert vectors == VECTORS, f"missing {VECTORS - vectors}, unknown {vectors - VECTORS}"
    assert examples == EXAMPLES, f"missing {EXAMPLES - examples}, unknown {examples - EXAMPLES}"


def test_the_spec_names_its_format_version_and_test_key():
    text = SPEC.read_text(encoding="utf-8")
    assert "**Format version 1.**" in text
    assert "TEST-ONLY" in text and vector("key")["seed"] in text


# --- limits, entries and JCS ------------------------------------------------------------------


def test_limits_match_the_code():
    from ledger.models import Entry
    from ledger.services import MAX_SUBJECT_LENGTH

    limits = vector("limits")
    assert limits == {
        "max_safe_integer": 2**53 - 1,
        "max_data_bytes": 16 * 1024,
        "max_data_depth": 32,
        "max_kind_length": 64,
        "max_subject_length": 128,
        "genesis_prev_hash": "0" * 64,
        "empty_tree_root": hashlib.sha256(b"").hexdigest(),
    }
    assert limits["max_safe_integer"] == canonical.MAX_SAFE_INTEGER
    assert limits["max_data_bytes"] == canonical.MAX_DATA_BYTES
    assert limits["max_data_depth"] == canonical.MAX_DATA_DEPTH
    assert limits["max_kind_length"] == Entry._meta.get_field("kind").max_length
    assert limits["max_subject_length"] == MAX_SUBJECT_LENGTH
    assert limits["genesis_prev_hash"] == canonical.GENESIS_PREV_HASH
    assert limits["empty_tree_root"] == merkle.EMPTY_ROOT.hex()


def test_limits_are_the_exact_boundaries():
    limits = vector("limits")
    top = limits["max_safe_integer"]
    canonical.validate_data({"n": [top, -top]})
    for beyond in (top + 1, -top - 1):
        with pytest.raises(canonical.LedgerDataError):
            canonical.validate_data({"n": beyond})

    # {"s":"xxx…"} is 8 bytes of JSON around the string.
    size = limits["max_data_bytes"]
    canonical.validate_data({"s": "x" * (size - 8)})
    with pytest.raises(canonical.LedgerDataError, match="limit"):
        canonical.validate_data({"s": "x" * (size - 7)})

    def nested(levels: int) -> dict:  # data itself is level 1
        value: list = []
        for _ in range(levels - 2):
            value = [value]
        return {"a": value}

    canonical.validate_data(nested(limits["max_data_depth"]))
    with pytest.raises(canonical.LedgerDataError, match="deeper"):
        canonical.validate_data(nested(limits["max_data_depth"] + 1))


def test_entry_vector():
    v = vector("entry")
    entry = v["entry"]
    assert list(entry) == ["kind", "subject", "data", "recorded_at"]
    leaf_data = v["jcs"].encode("utf-8")
    assert canonical.entry_bytes(**entry) == leaf_data
    assert canonical.canonical_json(entry) == leaf_data
    assert len(leaf_data) == v["jcs_length"]
    assert merkle.leaf_hash(leaf_data).hex() == v["leaf_hash"]
    assert hashlib.sha256(b"\x00" + leaf_data).hexdigest() == v["leaf_hash"]
    assert not v["jcs"].isascii(), "the vector must exercise non-ASCII text"
    assert v["jcs"].startswith('{"data":{')
    recorded_at = canonical.parse_timestamp(entry["recorded_at"])
    assert canonical.format_timestamp(recorded_at) == entry["recorded_at"]


def test_jcs_edge_vector():
    v = vector("jcs")
    expected = v["jcs"].encode("utf-8")
    assert expected == h(v["jcs_utf8_hex"])
    assert len(expected) == v["jcs_length"]
    assert canonical.canonical_json(v["value"]) == expected
    canonical.validate_data(v["value"])  # every edge case is allowed ledger data


def _invalid_cases() -> list:
    found, _ = _blocks()
    block = found.get(("vector", "invalid-entries"))
    if block is None:
        return [pytest.param(None, id="missing")]
    return [pytest.param(case, id=case["why"]) for case in block["cases"]]


@pytest.mark.parametrize("case", _invalid_cases())
def test_invalid_entry_is_rejected(case):
    if case is None:
        pytest.fail("docs/ledger-spec.md has no ```json vector:invalid-entries block")
    base = vector("entry")["entry"]
    changes = {key: value for key, value in case.items() if key != "why"}
    assert changes and set(changes) <= set(base)
    entry = {**base, **changes}
    with pytest.raises(canonical.LedgerDataError):
        canonical.entry_bytes(**entry)


def test_kind_names():
    v = vector("kind-names")
    limit = vector("limits")["max_kind_length"]
    for name in v["valid"]:
        assert kinds._KIND_NAME.fullmatch(name), name
        assert len(name) <= limit
    for name in v["invalid"]:
        assert not kinds._KIND_NAME.fullmatch(name), name
        with pytest.raises(ValueError, match="lower-case dotted"):
            kinds.register(name, kinds.Visibility.PUBLIC, "never registered")


# --- the tree ---------------------------------------------------------------------------------


def _leaves() -> list[bytes]:
    return [h(leaf["leaf_hash"]) for leaf in vector("tree")["leaves"]]


def _roots() -> dict[int, bytes]:
    tree = vector("tree")
    roots = {int(n): h(root) for n, root in tree["roots"].items()}
    roots[0] = h(tree["empty_root"])
    return roots


def test_tree_leaves():
    leaves = vector("tree")["leaves"]
    assert [leaf["leaf_index"] for leaf in leaves] == list(range(len(leaves)))
    assert leaves[0]["leaf_data"] == vector("entry")["jcs"]
    for leaf in leaves:
        data = leaf["leaf_data"].encode("utf-8")
        entry = json.loads(data)
        assert canonical.entry_bytes(**entry) == data, "leaf data must be canonical"
        assert merkle.leaf_hash(data).hex() == leaf["leaf_hash"]
        assert hashlib.sha256(b"\x00" + data).hexdigest() == leaf["leaf_hash"]


def test_tree_roots_at_every_size():
    leaves, roots = _leaves(), _roots()
    assert sorted(roots) == list(range(len(leaves) + 1))
    assert roots[0] == merkle.EMPTY_ROOT
    frontier: list[bytes] = []
    for size in range(len(leaves) + 1):
        assert merkle.root_from_leaves(leaves[:size]) == roots[size]
        assert _mth(leaves[:size]) == roots[size]
        assert merkle.root_from_frontier(frontier) == roots[size]
        if size < len(leaves):
            _, frontier = merkle.append(size, frontier, [leaves[size]])


def test_tree_stored_subtrees():
    leaves = _leaves()
    created, _ = merkle.append(0, [], leaves)
    stored = [(n["level"], n["index"], n["hash"]) for n in vector("tree")["stored_nodes"]]
    assert stored == [(level, index, node.hex()) for (level, index), node in created]
    for level, index, node in stored:
        assert _mth(leaves[index << level : (index + 1) << level]).hex() == node


def _nodes() -> dict[merkle.Position, bytes]:
    nodes = {(0, i): leaf for i, leaf in enumerate(_leaves())}
    nodes.update(merkle.append(0, [], _leaves())[0])
    return nodes


def test_tree_inclusion_proofs():
    proofs = vector("tree")["inclusion_proofs"]
    leaves, roots, nodes = _leaves(), _roots(), _nodes()
    assert proofs
    assert any(p["leaf_index"] == p["tree_size"] - 1 and p["tree_size"] & 1 for p in proofs), (
        "include a right-edge leaf of an odd-sized tree"
    )
    for p in proofs:
        index, size = p["leaf_index"], p["tree_size"]
        path, root = [h(x) for x in p["audit_path"]], h(p["root_hash"])
        assert root == roots[size]
        assert merkle.inclusion_proof(index, size, nodes) == path
        assert merkle.root_from_nodes(size, nodes) == root
        assert merkle.verify_inclusion(leaves[index], index, size, path, root)
        assert _spec_verify_inclusion(index, size, leaves[index], path, root)
        # Tampering with anything must fail.
        assert not merkle.verify_inclusion(_flip(leaves[index]), index, size, path, root)
        assert not _spec_verify_inclusion(index, size, leaves[index], path, _flip(root))
        if path:
            bad = [_flip(path[0]), *path[1:]]
            assert not merkle.verify_inclusion(leaves[index], index, size, bad, root)
            assert not _spec_verify_inclusion(index, size, leaves[index], bad, root)


def test_tree_consistency_proofs():
    proofs = vector("tree")["consistency_proofs"]
    roots, nodes = _roots(), _nodes()
    pairs = {(p["first"], p["second"]) for p in proofs}
    assert {(0, 5), (5, 5), (2, 5), (3, 5)} <= pairs, "cover empty, equal, power of two, blocks"
    for p in proofs:
        first, second = p["first"], p["second"]
        path = [h(x) for x in p["proof"]]
        r1, r2 = h(p["first_root"]), h(p["second_root"])
        assert (r1, r2) == (roots[first], roots[second])
        assert merkle.consistency_proof(first, second, nodes) == path
        assert merkle.verify_consistency(first, second, r1, r2, path)
        assert _spec_verify_consistency(first, second, r1, r2, path)
        assert not merkle.verify_consistency(first, second, _flip(r1), r2, path)
        if first:  # every tree extends the empty one, whatever its root
            assert not merkle.verify_consistency(first, second, r1, _flip(r2), path)
            assert not _spec_verify_consistency(first, second, r1, _flip(r2), path)
        if path:
            bad = [*path[:-1], _flip(path[-1])]
            assert not merkle.verify_consistency(first, second, r1, r2, bad)
            assert not _spec_verify_consistency(first, second, r1, r2, bad)


# --- key, blocks and checkpoint ---------------------------------------------------------------


def _test_key() -> Ed25519PrivateKey:
    seed = vector("key")["seed"]
    assert h(seed) == bytes(range(32)), "the TEST-ONLY seed is the bytes 0x00..0x1f"
    return signing.load_private_key(seed)


def test_key_vector():
    v = vector("key")
    key = _test_key()
    assert signing.public_key_hex(key) == v["public_key"]
    assert signing.public_key_pem(key) == v["pem"]
    direct = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    assert direct.public_key().public_bytes_raw().hex() == v["public_key"]


@pytest.mark.parametrize("name", ["block-0", "block-1"])
def test_block_vector(name):
    v = vector(name)
    header = v["header"]
    assert list(header) == HEADER_KEYS
    args = [header[key] for key in HEADER_KEYS]
    jcs = v["jcs"].encode("ascii")
    assert canonical.block_header_bytes(*args) == jcs
    assert canonical.canonical_json(header) == jcs
    # The exact shape spec section 6.1 promises.
    assert v["jcs"] == (
        f'{{"height":{header["height"]},"prev_hash":"{header["prev_hash"]}",'
        f'"root_hash":"{header["root_hash"]}","sealed_at":"{header["sealed_at"]}",'
        f'"tree_size":{header["tree_size"]}}}'
    )
    digest = canonical.block_hash(*args)
    assert digest.hex() == v["hash"] == hashlib.sha256(jcs).hexdigest()
    assert signing.sign_block_hash(_test_key(), digest) == v["signature"]
    public = h(vector("key")["public_key"])
    assert signing.verify_block_signature(public, digest, v["signature"])
    Ed25519PublicKey.from_public_bytes(public).verify(h(v["signature"]), digest)
    assert not signing.verify_block_signature(public, _flip(digest), v["signature"])
    assert h(header["root_hash"]) == _roots()[header["tree_size"]]


def test_blocks_form_a_chain():
    b0, b1 = vector("block-0"), vector("block-1")
    assert b0["header"]["height"] == 0
    assert b0["header"]["prev_hash"] == canonical.GENESIS_PREV_HASH
    assert b0["entry_count"] == b0["header"]["tree_size"] >= 1
    assert b1["header"]["height"] == 1
    assert b1["header"]["prev_hash"] == b0["hash"]
    assert b1["entry_count"] == b1["header"]["tree_size"] - b0["header"]["tree_size"] >= 1
    first, second = b0["header"]["tree_size"], b1["header"]["tree_size"]
    proof = next(
        p
        for p in vector("tree")["consistency_proofs"]
        if (p["first"], p["second"]) == (first, second)
    )
    assert merkle.verify_consistency(
        first,
        second,
        h(b0["header"]["root_hash"]),
        h(b1["header"]["root_hash"]),
        [h(x) for x in proof["proof"]],
    )


def test_checkpoint_vector():
    v = vector("checkpoint")
    key = _test_key()
    public = signing.public_key_bytes(key)
    root = h(v["root_hash"])
    head = vector("block-1")["header"]
    assert (v["tree_size"], v["root_hash"]) == (head["tree_size"], head["root_hash"])

    body = checkpoint.checkpoint_body(v["origin"], v["tree_size"], root)
    assert body == v["body"]
    assert body == f"{v['origin']}\n{v['tree_size']}\n{base64.b64encode(root).decode()}\n"
    assert checkpoint.parse_checkpoint_body(body) == (v["origin"], v["tree_size"], root)

    key_id = hashlib.sha256(v["origin"].encode() + b"\n\x01" + public).digest()[:4]
    assert checkpoint.key_id(v["origin"], public) == key_id
    assert key_id.hex() == v["key_id"]
    assert checkpoint.verifier_key_string(v["origin"], public) == v["verifier_key"]
    assert checkpoint.parse_verifier_key(v["verifier_key"]) == (v["origin"], public)

    assert checkpoint.sign_note(body, v["origin"], key) == v["note"]
    assert checkpoint.verify_note(v["note"], v["origin"], public) == body
    signature = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(body.encode())
    line = f"\u2014 {v['origin']} {base64.b64encode(key_id + signature).decode()}\n"
    assert v["note"] == f"{body}\n{line}"


# --- API examples -----------------------------------------------------------------------------


def _block_object(name: str) -> dict:
    v = vector(name)
    return {
        **v["header"],
        "hash": v["hash"],
        "signature": v["signature"],
        "entry_count": v["entry_count"],
    }


def test_api_examples_match_the_vectors():
    assert example("block-0") == _block_object("block-0")
    assert example("blocks") == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [_block_object("block-1"), _block_object("block-0")],
    }
    leaves = vector("tree")["leaves"]
    public = example("entry-public")
    assert public["entry"] == json.loads(leaves[public["leaf_index"]]["leaf_data"])
    assert public["kind"] == public["entry"]["kind"]
    leaf_data = canonical.canonical_json(public["entry"])
    assert merkle.leaf_hash(leaf_data).hex() == public["leaf_hash"]
    private = example("entry-private")
    assert private["entry"] is None
    assert private["leaf_hash"] == leaves[private["leaf_index"]]["leaf_hash"]
    assert private["kind"] == json.loads(leaves[private["leaf_index"]]["leaf_data"])["kind"]
    for entry in (public, private):
        block = vector(f"block-{entry['block_height']}")
        first = block["header"]["tree_size"] - block["entry_count"]
        assert first <= entry["leaf_index"] < block["header"]["tree_size"]

    proof = example("proof")
    assert proof["leaf_hash"] == leaves[proof["leaf_index"]]["leaf_hash"]
    assert merkle.verify_inclusion(
        h(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [h(x) for x in proof["audit_path"]],
        _roots()[proof["tree_size"]],
    )
    assert h(proof["root_hash"]) == _roots()[proof["tree_size"]]
    consistency = example("consistency")
    first, second = consistency["first"], consistency["second"]
    assert merkle.verify_consistency(
        first, second, _roots()[first], _roots()[second], [h(x) for x in consistency["proof"]]
    )
    key = vector("key")
    assert example("key") == {
        "algorithm": "Ed25519",
        "public_key": key["public_key"],
        "pem": key["pem"],
    }
    assert example("checkpoint-note") == vector("checkpoint")["note"]


def test_api_examples_have_the_serializers_fields():
    from ledger import serializers

    shapes = {
        "block-0": serializers.BlockSerializer,
        "entry-public": serializers.EntrySerializer,
        "entry-private": serializers.EntrySerializer,
        "proof": serializers.InclusionProofSerializer,
        "consistency": serializers.ConsistencyProofSerializer,
        "key": serializers.PublicKeySerializer,
    }
    for name, serializer in shapes.items():
        assert list(example(name)) == list(serializer().fields), name
    content = serializers.LedgerEntryContentSerializer().fields
    assert list(example("entry-public")["entry"]) == list(content)
    for block in example("blocks")["results"]:
        assert list(block) == list(serializers.BlockSerializer().fields)
