"""Project-wide Celery tasks and the one safe way to enqueue on commit."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from citychain.models import WorkerHeartbeat

log = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send `task` once the current transaction commits; never fail the caller.

    The database is the source of truth and periodic (beat) tasks sweep up any
    work, so a broker that is down delays work but must not turn a recorded
    event into an error for the person who recorded it.
    """

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs, retry=False)
        except Exception:
            log.warning("broker unavailable: %s not enqueued; beat will catch up", task.name)

    transaction.on_commit(send)


@shared_task(name="citychain.tasks.heartbeat", acks_late=True, max_retries=0, time_limit=30)
def heartbeat(hostname: str | None = None) -> str:
    """Record that a worker is alive (shown on the status page)."""
    from celery import current_task

    name = hostname or (current_task.request.hostname if current_task else None) or "unknown"
    updated = WorkerHeartbeat.objects.filter(hostname=name).update(
        last_seen=timezone.now(), tasks_seen=F("tasks_seen") + 1
    )
    if not updated:
        WorkerHeartbeat.objects.get_or_create(
            hostname=name, defaults={"last_seen": timezone.now(), "tasks_seen": 1}
        )
    return name
