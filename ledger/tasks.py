"""Celery tasks of the ledger: thin, idempotent, safe to run on any number of workers."""

import time

from celery import shared_task

from ledger import services


@shared_task(
    name="ledger.seal_pending",
    acks_late=True,
    max_retries=0,
    soft_time_limit=50,
    time_limit=60,
)
def seal_pending(max_seconds: float = 30.0) -> int:
    """Seal pending entries block by block until none is left (or time is up).

    Returns the number of blocks written. When another worker is already sealing,
    this one returns 0 at once: that worker keeps going until nothing is pending.
    """
    deadline = time.monotonic() + max_seconds
    blocks = 0
    while time.monotonic() < deadline and services.seal_pending() is not None:
        blocks += 1
    return blocks
