"""Reports: snapshot, hash on the ledger, verification with an inclusion proof, tampering,
newer reports, share links."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from credit import report as report_format
from credit import selectors, services
from ledger import services as ledger
from ledger.models import Entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(landlord, resident):
    for month in range(1, 9):
        services.record_payment(
            reporter=landlord, resident=resident, kind="rent", account_reference="L1",
            reference=f"r{month}", due_date=date(2025, month, 1), amount_due_cents=70_000,
            paid_on=date(2025, month, 1), amount_paid_cents=70_000,
        )  # fmt: skip
    return resident


def test_issue_stores_the_canonical_snapshot_and_its_hash_on_the_ledger(history):
    issued = services.report_issue(resident=history, as_of=date(2025, 9, 10))
    content = selectors.report_document(issued)
    assert content["format"] == report_format.FORMAT
    assert content["score"]["value"] is not None
    assert len(content["history"]) == 24
    assert report_format.content_hash(content) == issued.sha256
    entry = json.loads(bytes(issued.ledger_entry.leaf_data))
    assert entry["kind"] == "credit.report_issued"
    assert entry["data"] == {"report": str(issued.public_id), "sha256": issued.sha256,
                             "format": report_format.FORMAT}  # fmt: skip
    assert entry["subject"] != history.ledger_subject
    assert "Ana" not in json.dumps(entry)


def test_verification_is_authentic_once_sealed_with_a_proof(history):
    issued = services.report_issue(resident=history)
    assert (
        selectors.report_verify(public_id=issued.public_id, sha256=issued.sha256).status
        == "pending"
    )
    ledger.seal_all()
    result = selectors.report_verify(public_id=issued.public_id, sha256=issued.sha256)
    assert result.authentic
    assert result.leaf_index is not None and result.tree_size >= 1
    assert result.root_hash == result.block.root_hash
    assert not result.newer_exists
    assert selectors.report_verify(sha256=issued.sha256).authentic
    assert selectors.report_verify(document=issued.content).authentic


def test_a_tampered_report_fails(history):
    issued = services.report_issue(resident=history)
    ledger.seal_all()
    forged = "0" * 64
    assert selectors.report_verify(public_id=issued.public_id, sha256=forged).status == "mismatch"
    content = selectors.report_document(issued)
    content["score"]["value"] = 100
    result = selectors.report_verify(document=json.dumps(content))
    assert result.status == "mismatch" and not result.authentic
    assert selectors.report_verify(document=b"not json").status == "invalid"
    assert selectors.report_verify(sha256=forged).status == "unknown"


def test_a_tampered_ledger_entry_fails(history):
    issued = services.report_issue(resident=history)
    ledger.seal_all()
    Entry.objects.filter(pk=issued.ledger_entry_id).update(leaf_hash=b"\0" * 32)
    assert selectors.report_verify(public_id=issued.public_id).status == "mismatch"


def test_a_block_with_a_bad_signature_fails(history):
    from ledger.models import Block

    issued = services.report_issue(resident=history)
    ledger.seal_all()
    Block.objects.update(signature="00" * 64)
    result = selectors.report_verify(public_id=issued.public_id, sha256=issued.sha256)
    assert result.status == "mismatch" and "signature" in result.problem


def test_a_newer_report_supersedes(history):
    first = services.report_issue(resident=history)
    second = services.report_issue(resident=history)
    ledger.seal_all()
    first.refresh_from_db()
    assert first.is_superseded and not second.is_superseded
    old = selectors.report_verify(public_id=first.public_id, sha256=first.sha256)
    assert old.authentic and old.newer_exists
    assert not selectors.report_verify(public_id=second.public_id).newer_exists


def test_share_links_expire_and_can_be_revoked(history, settings):
    issued = services.report_issue(resident=history)
    link, token = services.share_link_create(report=issued, days=7)
    assert link.token_hash != token and token not in link.token_hash
    found = selectors.share_link_resolve(token)
    assert found.status == "ok" and found.report == issued
    assert selectors.share_link_resolve(token + "x").status == "invalid"
    assert selectors.share_link_resolve("garbage").status == "invalid"
    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save()
    assert selectors.share_link_resolve(token).status == "expired"
    other, other_token = services.share_link_create(report=issued)
    services.share_link_revoke(link=other)
    assert selectors.share_link_resolve(other_token).status == "revoked"
    with pytest.raises(ValidationError):
        services.share_link_create(report=issued, days=365)


def test_a_token_signed_elsewhere_is_invalid(history, settings):
    issued = services.report_issue(resident=history)
    _link, token = services.share_link_create(report=issued)
    settings.SECRET_KEY = "another-secret-key-entirely-different-from-the-first-one"
    assert selectors.share_link_resolve(token).status == "invalid"


def test_report_issue_is_idempotent_by_report_id(history):
    import uuid

    key = str(uuid.uuid4())
    first = services.report_issue(resident=history, report_id=key)
    again = services.report_issue(resident=history, report_id=key)
    assert first.pk == again.pk
    assert Entry.objects.filter(kind="credit.report_issued").count() == 1


def test_share_links_purge_deletes_only_long_dead_links(history):
    from credit import tasks
    from credit.models import ShareLink

    issued = services.report_issue(resident=history)
    live, _t = services.share_link_create(report=issued)
    dead, _t = services.share_link_create(report=issued)
    ShareLink.objects.filter(pk=dead.pk).update(expires_at=timezone.now() - timedelta(days=31))
    assert tasks.share_links_purge.apply(kwargs={"older_than_days": 30}).get() == 1
    assert list(ShareLink.objects.values_list("pk", flat=True)) == [live.pk]
    assert tasks.share_links_purge.apply().get() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_issues_a_report_once(landlord, resident, start_worker):
    import uuid

    from django.db import transaction

    from citychain.tasks import enqueue_on_commit
    from conftest import wait_for
    from credit import tasks
    from credit.models import CreditReport

    key = str(uuid.uuid4())
    with transaction.atomic():
        enqueue_on_commit(tasks.report_issue, resident.pk, key)
        enqueue_on_commit(tasks.report_issue, resident.pk, key)  # a duplicate message
    worker = start_worker()
    found = wait_for(
        lambda: CreditReport.objects.filter(public_id=key).first(),
        timeout=60,
        message="the worker to issue the report",
    )
    assert found.resident_id == resident.pk
    wait_for(
        lambda: worker.log().count("succeeded") >= 2,
        timeout=60,
        message="both messages to be processed",
    )
    assert CreditReport.objects.count() == 1
    assert Entry.objects.filter(kind="credit.report_issued").count() == 1
