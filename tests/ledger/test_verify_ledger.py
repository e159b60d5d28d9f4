"""verify_ledger: all holds → exit 0; each kind of tampering → exit 1 naming the place."""

import io

import pytest
from django.core.management import call_command

from ledger import merkle, services
from ledger.models import Block, Entry, Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    """40 entries in 4 blocks of 10 (leaf indexes 0..39)."""
    for i in range(40):
        services.record("ledger.synthetic", f"s{i}", {"n": i})
    services.seal_all(batch_size=10)


def verify():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_ledger", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def entry(i):
    return Entry.objects.get(leaf_index=i)


def test_intact_ledger_verifies_with_progress(ledger):
    code, output = verify()
    assert code == 0, output
    assert "OK: 4 blocks, 40 entries" in output
    assert "verified 40 of 40 entries (100%)" in output


def test_empty_ledger_verifies():
    assert verify()[0] == 0


def tampered_data(_):
    e = entry(25)
    e.leaf_data = bytes(e.leaf_data).replace(b'"n":25', b'"n":26')
    e.save()


def tampered_leaf_hash(_):
    Entry.objects.filter(leaf_index=25).update(leaf_hash=b"\x01" * 32)


def tampered_node(_):
    # the level-2 subtree over leaves 24..27, stored when block 2 was sealed
    Node.objects.filter(position=merkle.position_key(2, 6)).update(hash=b"\x02" * 32)


def tampered_root(_):
    Block.objects.filter(height=2).update(root_hash="ab" * 32)


def tampered_prev_hash(_):
    Block.objects.filter(height=2).update(prev_hash="cd" * 32)


def tampered_signature(_):
    block = Block.objects.get(height=2)
    flipped = ("0" if block.signature[0] != "0" else "1") + block.signature[1:]
    Block.objects.filter(height=2).update(signature=flipped)


def deleted_entry(_):
    Entry.objects.filter(leaf_index=25).delete()


def inserted_entry(_):
    # Shift leaves 25.. up by one and slip a new entry in at 25.
    for e in Entry.objects.filter(leaf_index__gte=25).order_by("-leaf_index"):
        Entry.objects.filter(pk=e.pk).update(leaf_index=e.leaf_index + 1)
    fake = services._build("ledger.synthetic", "forged", {"n": -1}, entry(24).recorded_at)
    fake.leaf_index, fake.block_height = 25, 2
    fake.save()


def swapped_entries(_):
    a, b = entry(25), entry(26)
    Entry.objects.filter(pk=a.pk).update(leaf_index=None)
    Entry.objects.filter(pk=b.pk).update(leaf_index=25)
    Entry.objects.filter(pk=a.pk).update(leaf_index=26)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (tampered_data, "block height 2, entry index 25: leaf hash does not match"),
        (tampered_leaf_hash, "block height 2, entry index 25: leaf hash does not match"),
        (tampered_node, "block height 2, entry index 24: stored tree node (level 2, index 6)"),
        (tampered_root, "block height 2: block hash does not match its header"),
        (tampered_prev_hash, "block height 2: prev_hash does not link"),
        (tampered_signature, "block height 2: signature does not verify"),
        (deleted_entry, "block height 2, entry index 25: entry is missing"),
        (inserted_entry, "block height 2, entry index 24: stored tree node (level 1, index 12)"),
        (swapped_entries, "block height 2, entry index 24: stored tree node (level 1, index 12)"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_tampering_is_found_and_named(ledger, tamper, expected):
    tamper(None)
    code, output = verify()
    assert code == 1
    assert f"FAILED: {expected}" in output


def test_root_tampered_with_a_consistent_header_is_still_caught(ledger):
    """An attacker who re-hashes the header still cannot forge the signature."""
    from ledger import canonical

    block = Block.objects.get(height=3)
    digest = canonical.block_hash(3, block.prev_hash, block.tree_size, "ab" * 32, block.sealed_at)
    Block.objects.filter(height=3).update(root_hash="ab" * 32, hash=digest.hex())
    code, output = verify()
    assert code == 1 and "block height 3: signature does not verify" in output


def test_an_entry_outside_every_block_is_found(ledger):
    services.record("ledger.synthetic", "s", {"n": 40})
    Entry.objects.filter(leaf_index__isnull=True).update(leaf_index=40, block_height=3)
    code, output = verify()
    assert (
        code == 1 and "entry index 40: entry has a leaf index but is in no signed block" in output
    )
