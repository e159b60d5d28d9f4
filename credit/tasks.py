"""Celery tasks of the credit app: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from credit import services


@shared_task(
    name="credit.share_links_purge",
    acks_late=True,
    max_retries=0,
    soft_time_limit=50,
    time_limit=60,
)
def share_links_purge(older_than_days: int = 30) -> int:
    """Delete long-dead share links (run daily from beat). Running it twice is harmless."""
    return services.share_links_purge(older_than_days=older_than_days)


@shared_task(
    name="credit.report_issue",
    acks_late=True,
    max_retries=3,
    default_retry_delay=5,
    soft_time_limit=50,
    time_limit=60,
)
def report_issue(resident_id: int, request_key: str) -> str:
    """Issue a report for a resident (e.g. requested at a kiosk, built off the request).

    Idempotent by `request_key`: a retried or duplicated message finds the report the
    first run issued (its public id is the key) instead of issuing another."""
    from identity.models import Resident

    resident = Resident.objects.get(pk=resident_id)
    return str(services.report_issue(resident=resident, report_id=request_key).public_id)
