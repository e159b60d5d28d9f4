"""Sealing: signed, hash-linked blocks over one RFC 9162 tree, and the public API."""

import pytest
from django.conf import settings
from django.urls import reverse

from ledger import canonical, checkpoint, merkle, services, signing
from ledger.models import Block, Entry, Node

pytestmark = pytest.mark.django_db


def record(n, start=0):
    for i in range(start, start + n):
        services.record("ledger.synthetic", f"s{i}", {"n": i})


def public_key():
    return signing.public_key_bytes(signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY))


def test_nothing_pending_means_no_block():
    assert services.seal_pending() is None
    assert not Block.objects.exists()


def test_blocks_are_signed_and_hash_linked():
    sizes = [1, 2, 5, 8, 13]
    done = 0
    for n in sizes:
        record(n, done)
        done += n
        services.seal_all()
    blocks = list(Block.objects.order_by("height"))
    assert [b.entry_count for b in blocks] == sizes
    assert blocks[0].prev_hash == "0" * 64
    leaves = [
        bytes(h) for h in Entry.objects.order_by("leaf_index").values_list("leaf_hash", flat=True)
    ]
    for prev, block in zip([None, *blocks], blocks, strict=False):
        if prev:
            assert block.prev_hash == prev.hash
        digest = canonical.block_hash(
            block.height, block.prev_hash, block.tree_size, block.root_hash, block.sealed_at
        )
        assert digest.hex() == block.hash
        assert signing.verify_block_signature(public_key(), digest, block.signature)
        assert block.root_hash == merkle.root_from_leaves(leaves[: block.tree_size]).hex()
        canonical.parse_timestamp(block.sealed_at)


def test_batch_size_limits_a_block_and_every_entry_is_sealed_once():
    record(25)
    blocks = services.seal_all(batch_size=10)
    assert [b.entry_count for b in blocks] == [10, 10, 5]
    indexes = list(Entry.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert indexes == list(range(25))
    # Full subtrees are stored: one node per completed pair, quad, ...
    assert Node.objects.count() == 25 - bin(25).count("1")


def test_entry_sealed_in_order_of_sealing_not_recording():
    record(3)
    services.seal_all()
    later = services.record("ledger.synthetic", "late", {"n": 99})
    assert later.is_pending
    services.seal_all()
    later.refresh_from_db()
    assert later.leaf_index == 3 and later.block_height == 1


def test_api_head_blocks_entry_and_proofs_verify(client):
    record(7)
    services.seal_all()
    record(6, 7)
    services.seal_all()
    head = client.get("/api/ledger/head/").json()
    assert head["height"] == 1 and head["tree_size"] == 13 and head["entry_count"] == 6
    listing = client.get("/api/ledger/blocks/").json()
    assert [b["height"] for b in listing["results"]] == [1, 0]
    assert client.get("/api/ledger/blocks/0/").json()["tree_size"] == 7
    root = bytes.fromhex(head["root_hash"])
    for i in range(13):
        entry = client.get(f"/api/ledger/entries/{i}/").json()
        assert entry["entry"]["data"] == {"n": i}
        leaf = merkle.leaf_hash(canonical.canonical_json(entry["entry"]))
        assert leaf.hex() == entry["leaf_hash"]
        proof = client.get(f"/api/ledger/entries/{i}/proof/").json()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert merkle.verify_inclusion(leaf, i, 13, path, root)
        old = client.get(f"/api/ledger/entries/{i}/proof/?tree_size=7").json() if i < 7 else None
        if old:
            first_root = bytes.fromhex(client.get("/api/ledger/blocks/0/").json()["root_hash"])
            assert old["root_hash"] == first_root.hex()
    consistency = client.get("/api/ledger/consistency/?first=7&second=13").json()
    first_root = bytes.fromhex(client.get("/api/ledger/blocks/0/").json()["root_hash"])
    proof = [bytes.fromhex(h) for h in consistency["proof"]]
    assert merkle.verify_consistency(7, 13, first_root, root, proof)


def test_private_kinds_publish_only_the_hash(client):
    from ledger import kinds

    kinds.register("ledger.test_private", kinds.Visibility.PRIVATE, "test")
    services.record("ledger.test_private", "s", {"secret_digest": "ab" * 32})
    services.seal_all()
    body = client.get("/api/ledger/entries/0/").json()
    assert body["entry"] is None and body["kind"] == "ledger.test_private"
    assert len(body["leaf_hash"]) == 64
    page = client.get(reverse("ledger:entry", args=[0])).content.decode()
    assert "secret_digest" not in page


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/api/ledger/head/", 404, "no blocks"),
        ("/api/ledger/blocks/5/", 404, "no block at height 5"),
        ("/api/ledger/blocks/x/", 400, "whole number"),
        ("/api/ledger/entries/3/", 400, "beyond the sealed tree"),
        ("/api/ledger/entries/-1/", 400, "whole number"),
        ("/api/ledger/entries/0/proof/?tree_size=abc", 400, "tree_size"),
        ("/api/ledger/consistency/?first=2&second=1", 400, "greater than"),
        ("/api/ledger/consistency/?first=1", 400, "second is required"),
        ("/api/ledger/consistency/?first=1&second=99", 400, "exceed"),
        ("/api/ledger/checkpoint", 404, "no blocks"),
    ],
)
def test_bad_parameters_get_clear_errors(client, url, status, says):
    if "head" not in url and "checkpoint" not in url:
        record(2)
        services.seal_all()
    response = client.get(url)
    assert response.status_code == status
    assert says in response.content.decode()


def test_proof_beyond_the_tree_is_400(client):
    record(3)
    services.seal_all()
    assert client.get("/api/ledger/entries/0/proof/?tree_size=4").status_code == 400
    assert client.get("/api/ledger/entries/0/proof/?tree_size=0").status_code == 400


def test_public_key_and_checkpoint(client):
    record(3)
    services.seal_all()
    key = client.get("/api/ledger/key/").json()
    assert key["algorithm"] == "Ed25519" and key["public_key"] == public_key().hex()
    assert "BEGIN PUBLIC KEY" in key["pem"]
    note = client.get("/api/ledger/checkpoint")
    assert note["Content-Type"].startswith("text/plain")
    body = checkpoint.verify_note(note.content.decode(), settings.LEDGER_ORIGIN, public_key())
    origin, size, root = checkpoint.parse_checkpoint_body(body)
    assert (origin, size, root.hex()) == (settings.LEDGER_ORIGIN, 3, Block.objects.get().root_hash)


def test_explorer_pages(client):
    record(4)
    services.seal_all()
    assert b"Ledger explorer" in client.get(reverse("ledger:explorer")).content
    block = client.get(reverse("ledger:block", args=[0]))
    assert block.status_code == 200 and b"ledger.synthetic" in block.content
    assert b"<h1>Block 0</h1>" in block.content
    assert Block.objects.get().hash.encode() in block.content
    entry = client.get(reverse("ledger:entry", args=[2]))
    assert b"Verify in your browser" in entry.content
    assert client.get(reverse("ledger:entry", args=[9])).status_code == 404
    assert client.get(reverse("ledger:block", args=[9])).status_code == 404


def test_explorer_block_page_query_count_is_fixed(client, django_assert_max_num_queries):
    record(150)
    services.seal_all()
    with django_assert_max_num_queries(4):
        client.get(reverse("ledger:block", args=[0]))


def test_a_tampered_kind_column_never_publishes_a_private_entry(client):
    from ledger import kinds

    kinds.register("ledger.test_private", kinds.Visibility.PRIVATE, "test")
    services.record("ledger.test_private", "s", {"secret_digest": "ab" * 32})
    services.seal_all()
    Entry.objects.update(kind="ledger.synthetic")  # the column is only an index
    body = client.get("/api/ledger/entries/0/").json()
    assert body["entry"] is None and body["kind"] == "ledger.test_private"
    assert "secret_digest" not in client.get(reverse("ledger:entry", args=[0])).content.decode()
