"""The ledger's management commands."""

import io

import pytest
from django.core.management import CommandError, call_command

from ledger import signing
from ledger.models import Block, Entry

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_ledger_load_records_synthetic_public_entries_with_progress():
    out, err = run("ledger_load", "--entries", "1500")
    assert Entry.objects.filter(kind="ledger.synthetic", leaf_index__isnull=True).count() == 1500
    assert "recorded 1,500 of 1,500" in err
    assert "Recorded 1,500 synthetic entries." in out


@pytest.mark.parametrize("bad", ["0", "-5", "100000001"])
def test_ledger_load_refuses_bad_counts(bad):
    with pytest.raises(CommandError, match="between 1 and"):
        run("ledger_load", "--entries", bad)
    assert not Entry.objects.exists()


def test_seal_seals_everything_now():
    run("ledger_load", "--entries", "250")
    out, _ = run("seal", "--batch-size", "100")
    assert [b.entry_count for b in Block.objects.order_by("height")] == [100, 100, 50]
    assert "Sealed 250 entries into 3 blocks." in out
    out, _ = run("seal")
    assert "Sealed 0 entries into 0 blocks." in out


def test_ledger_keygen_prints_a_usable_key():
    out, err = run("ledger_keygen")
    seed = out.strip().split("=", 1)[1]
    key = signing.load_private_key(seed)
    assert signing.public_key_hex(key) in err
