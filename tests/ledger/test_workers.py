"""Sealing by real Celery worker processes: concurrency, SIGKILL mid-seal, broker outage."""

import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from conftest import wait_for
from ledger import services
from ledger.models import Block, Entry, Node
from ledger.tasks import seal_pending
from ledger.verify import verify_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def record_in_transactions(count: int, per_transaction: int, tag: str) -> None:
    for start in range(0, count, per_transaction):
        with transaction.atomic():
            for i in range(start, min(count, start + per_transaction)):
                services.record("ledger.synthetic", f"{tag}-{i % 50}", {"n": i})


def pending() -> int:
    return Entry.objects.filter(leaf_index__isnull=True).count()


def assert_sealed_exactly_once(total: int) -> None:
    indexes = list(Entry.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert indexes == list(range(total))  # none pending, none twice, no gaps
    heights = list(Block.objects.order_by("height").values_list("height", flat=True))
    assert heights == list(range(len(heights)))  # one chain, no fork
    report = verify_ledger()
    assert report.ok, report.problem
    assert report.entries == total


def test_many_workers_seal_every_entry_exactly_once(celery_processes):
    """At least 4 worker processes on PostgreSQL (2 on SQLite, which has one writer)."""
    on_postgres = connection.vendor == "postgresql"
    workers = 4 if on_postgres else 2
    total = 4000 if on_postgres else 1000
    small_blocks = {"CITYCHAIN_LEDGER_SEAL_BATCH": "97"}
    procs = [celery_processes.worker(env=small_blocks) for _ in range(workers)]
    sent = 0
    for chunk in range(0, total, 500):
        record_in_transactions(500, 25, f"c{chunk}")
        for _ in range(workers * 2):  # more seal requests than workers: they contend
            seal_pending.apply_async()
            sent += 1
    wait_for(lambda: pending() == 0, timeout=120, message="all entries to be sealed")
    assert_sealed_exactly_once(total)
    busy = [p.name for p in procs if "ledger.seal_pending" in p.log()]
    assert len(busy) >= 2, "the seal tasks should have been spread over several workers"
    assert Block.objects.count() >= total // 97


def ledger_node_insert_in_progress() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'ledger_node' AND l.mode = 'RowExclusiveLock' "
            "AND l.pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_worker_killed_mid_seal_leaves_no_partial_block(postgres, celery_processes):
    total = 120_000
    call_command("ledger_load", entries=total, stderr=open("/dev/null", "w"))  # noqa: SIM115
    one_block = {"CITYCHAIN_LEDGER_SEAL_BATCH": str(total)}
    worker = celery_processes.worker(env=one_block)
    seal_pending.apply_async()
    wait_for(ledger_node_insert_in_progress, timeout=60, interval=0.02, message="a seal mid-way")
    worker.kill()
    # PostgreSQL rolls the dead worker's transaction back once it sees the socket close.
    wait_for(lambda: not ledger_node_insert_in_progress(), timeout=30, message="the rollback")
    assert Block.objects.count() == 0
    assert Node.objects.count() == 0
    assert pending() == total
    celery_processes.worker(name="replacement", env=one_block)
    seal_pending.apply_async()
    wait_for(lambda: pending() == 0, timeout=120, message="the next run to seal everything")
    assert Block.objects.count() == 1
    assert_sealed_exactly_once(total)


def test_broker_outage_loses_nothing_and_sealing_catches_up(
    private_redis, broker, celery_processes
):
    broker(private_redis.url)
    celery_processes.worker(broker=private_redis.url)
    celery_processes.beat(broker=private_redis.url)
    record_in_transactions(50, 10, "before")
    wait_for(lambda: pending() == 0, timeout=60, message="sealing while the broker is up")

    private_redis.stop()
    started = time.monotonic()
    record_in_transactions(200, 10, "outage")  # every record() still succeeds
    assert time.monotonic() - started < 30, "recording must not hang on a dead broker"
    assert pending() == 200

    private_redis.start()  # same port: worker and beat reconnect by themselves
    wait_for(lambda: pending() == 0, timeout=90, message="beat and worker to catch up")
    assert_sealed_exactly_once(250)
