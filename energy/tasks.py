"""Celery tasks of the energy market: thin, idempotent, safe on any number of workers.

Beat runs ``energy.clear_due_intervals`` every minute; it closes, clears and settles what
is due. Clearing an interval twice is harmless: the interval's row lock serializes the
runs and a cleared interval without newer readings is left as it is.
"""

from __future__ import annotations

from celery import shared_task

from energy import services


@shared_task(
    name="energy.clear_due_intervals",
    acks_late=True,
    max_retries=0,
    soft_time_limit=240,
    time_limit=300,
)
def clear_due_intervals() -> int:
    """Clear and settle every due interval of every microgrid; returns how many were cleared."""
    # Stop well inside the time limit; a backlog (say, an imported history) goes on next run.
    return len(services.market_clear_due(max_seconds=180))


@shared_task(
    name="energy.clear_interval",
    acks_late=True,
    autoretry_for=(OSError,),
    max_retries=3,
    soft_time_limit=50,
    time_limit=60,
)
def clear_interval(interval_id: int) -> int:
    """Clear one interval (it must have ended); returns its clearing run number."""
    return services.market_clear_interval(interval_id=interval_id).run
