"""Recording entries: inside the caller's transaction, validated, pseudonymous."""

import pytest
from django.db import transaction

from ledger import canonical, merkle, services
from ledger.models import Entry

pytestmark = pytest.mark.django_db


def test_record_returns_a_pending_entry_with_fixed_leaf_hash():
    entry = services.record("ledger.synthetic", "subject-1", {"amount_cents": 125})
    assert entry.is_pending and entry.block_height is None
    assert bytes(entry.leaf_hash) == merkle.leaf_hash(bytes(entry.leaf_data))
    content = canonical.canonical_json(
        {
            "kind": "ledger.synthetic",
            "subject": "subject-1",
            "data": {"amount_cents": 125},
            "recorded_at": canonical.format_timestamp(entry.recorded_at),
        }
    )
    assert bytes(entry.leaf_data) == content


def test_rolled_back_transaction_leaves_no_entry():
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record("ledger.synthetic", "s", {"n": 1})
        raise RuntimeError("the app's own write failed")
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("kind", "subject", "data", "says"),
    [
        ("no.such_kind", "s", {}, "not registered"),
        ("ledger.synthetic", "", {}, "subject"),
        ("ledger.synthetic", "x" * 129, {}, "subject"),
        ("ledger.synthetic", "s", {"kwh": 1.5}, "floats are not allowed"),
        ("ledger.synthetic", "s", {"n": 2**53}, "2^53|9007199254740991"),
        ("ledger.synthetic", "s", {"n": -(2**53)}, "2^53|9007199254740991"),
        ("ledger.synthetic", "s", {"when": object()}, "data.when"),
        ("ledger.synthetic", "s", {"big": "x" * 20_000}, "limit"),
        ("ledger.synthetic", "s", ["not", "a", "dict"], "must be a dict"),
    ],
)
def test_bad_input_raises_a_clear_error_and_records_nothing(kind, subject, data, says):
    with pytest.raises(ValueError, match=says):
        services.record(kind, subject, data)
    assert not Entry.objects.exists()


def test_largest_safe_integer_is_accepted():
    services.record("ledger.synthetic", "s", {"n": 2**53 - 1, "m": -(2**53 - 1)})
    assert Entry.objects.count() == 1


def test_pseudonym_is_stable_opaque_and_erasable():
    first = services.pseudonym("identity.resident", "42")
    assert first == services.pseudonym("identity.resident", "42")
    assert first != services.pseudonym("identity.resident", "43")
    assert first != services.pseudonym("voting.voter", "42")
    assert len(first) == 64 and int(first, 16) >= 0  # hex, not the identifier
    assert services.pseudonym_erase("identity.resident", "42")
    # After erasure the old pseudonym cannot be produced again: it links to no one.
    assert services.pseudonym("identity.resident", "42") != first


def test_record_many_inserts_in_bulk_not_row_by_row(django_assert_max_num_queries):
    items = [("ledger.synthetic", "s", {"n": i}) for i in range(1000)]
    with django_assert_max_num_queries(10):  # SQLite caps parameters per statement
        assert services.record_many(items) == 1000
    assert Entry.objects.filter(leaf_index__isnull=True).count() == 1000
