"""A real Celery worker process runs a task end to end, on Redis and on the embedded broker."""

import socket

import pytest
from celery import Celery
from django.conf import settings

from citychain.models import WorkerHeartbeat
from conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def send_heartbeat(broker_url: str, transport_options: dict, hostname: str) -> None:
    """Publish like a web process would, through a client of that broker only."""
    client = Celery("citychain-client", broker=broker_url, set_as_current=False)
    client.conf.broker_transport_options = transport_options
    client.conf.task_serializer = "json"
    # Its own connection, not kombu's global pools, which this process's app shares.
    with client.connection_for_write() as connection:
        client.send_task("citychain.tasks.heartbeat", args=[hostname], connection=connection)


def test_real_worker_runs_a_task_through_redis(redis_url, start_worker, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    worker = start_worker(broker=redis_url)
    send_heartbeat(redis_url, {}, "redis-probe")
    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname="redis-probe").first(),
        message="the worker to record the heartbeat",
    )
    assert beat.tasks_seen == 1
    assert "citychain.tasks.heartbeat" in worker.log()


def test_real_worker_runs_a_task_on_the_embedded_broker(start_worker, test_broker_dir):
    worker = start_worker(broker="filesystem")
    options = {
        "data_folder_in": str(test_broker_dir / "queue"),
        "data_folder_out": str(test_broker_dir / "queue"),
        "processed_folder": str(test_broker_dir / "processed"),
        "control_folder": str(test_broker_dir / "control"),
        "polling_interval": 0.1,
    }
    send_heartbeat("filesystem://", options, "fs-probe")
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname="fs-probe").exists(),
        message="the worker to record the heartbeat",
    )
    assert "citychain.tasks.heartbeat" in worker.log()


def test_enqueue_on_commit_survives_a_dead_broker(broker):
    """Recording work must not fail when the broker is unreachable; beat catches up."""
    from django.db import transaction

    from citychain.tasks import enqueue_on_commit, heartbeat

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        broker(f"redis://127.0.0.1:{s.getsockname()[1]}/0")
    with transaction.atomic():
        WorkerHeartbeat.objects.create(hostname="before", last_seen="2026-01-01T00:00:00Z")
        enqueue_on_commit(heartbeat, "never-sent")
    assert WorkerHeartbeat.objects.filter(hostname="before").exists()


def test_task_settings_are_safe_for_retries():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_TASK_TIME_LIMIT > 0
    assert "heartbeat" in settings.CELERY_BEAT_SCHEDULE
