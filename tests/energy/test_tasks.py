"""Clearing by real Celery worker processes: exactly once per interval, re-run for late data."""

from __future__ import annotations

import pytest
from django.db import connection

from conftest import wait_for
from energy import services
from energy.models import Interval, Trade
from energy.tasks import clear_due_intervals, clear_interval
from ledger.models import Entry
from tests.energy.test_services import SOON, T0, feed, homes, microgrid  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_clearing_task_runs_once_per_interval_and_again_for_late_readings(
    celery_processes,
    microgrid,  # noqa: F811
    homes,  # noqa: F811
    settings,
):
    # Keep T0 unsettled while the workers run: settle only after a long delay.
    services.market_settings_set(microgrid=microgrid, mode="double_auction")
    microgrid.energy_market.settle_delay_hours = 24 * 365 * 10
    microgrid.energy_market.save()
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    workers = 2 if connection.vendor == "postgresql" else 1
    for _n in range(workers):
        celery_processes.worker()
    interval = Interval.objects.get(start=T0)
    # Many requests at once, from the sweep and per interval: one clearing.
    for _n in range(3):
        clear_due_intervals.apply_async()
        clear_interval.apply_async(args=[interval.pk])

    def cleared() -> bool:
        interval.refresh_from_db()
        return interval.status == Interval.Status.CLEARED

    wait_for(cleared, timeout=60, message="the interval to be cleared")
    wait_for(
        lambda: Entry.objects.filter(kind="energy.interval_cleared").exists(),
        timeout=30,
        message="the clearing entry",
    )
    # Let every queued task finish, then check nothing cleared it twice.
    import time

    time.sleep(3)
    interval.refresh_from_db()
    assert interval.run == 1
    assert Entry.objects.filter(kind="energy.interval_cleared").count() == 1
    assert Entry.objects.filter(kind="energy.trade").count() == Trade.objects.count() > 0

    # A late reading before settlement: the next sweep clears the interval again.
    feed(homes, T0, {"bea": -900})
    clear_due_intervals.apply_async()

    def rerun() -> bool:
        interval.refresh_from_db()
        return interval.run == 2

    wait_for(rerun, timeout=60, message="the interval to be cleared again")
    assert interval.matched_wh == 1_200
    assert Entry.objects.filter(kind="energy.interval_cleared").count() == 2
