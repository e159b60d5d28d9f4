"""Ingestion and clearing at the same time (PostgreSQL, real transactions in two threads):
a clearing waits for a batch in flight into its interval and then sees its readings."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from energy import services
from energy.models import Interval
from tests.energy.test_services import SOON, T0, feed, homes, microgrid  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_clearing_waits_for_a_batch_in_flight(postgres, microgrid, homes):  # noqa: F811
    feed(homes, T0, {"ann": -600})  # the interval exists; ann's surplus has no buyer yet
    interval = Interval.objects.get(start=T0)
    release = threading.Event()
    written = threading.Event()
    result: dict = {}

    def ingest() -> None:
        try:
            with transaction.atomic():
                services.readings_ingest(
                    meter=homes["cal"][1], rows=[services.ReadingRow(T0, 400, 0)]
                )
                written.set()
                release.wait(10)
        finally:
            connection.close()

    def clear() -> None:
        try:
            result["interval"] = services.market_clear_interval(interval_id=interval.pk, now=SOON)
        finally:
            connection.close()

    writer = threading.Thread(target=ingest)
    writer.start()
    assert written.wait(10)
    clearer = threading.Thread(target=clear)
    clearer.start()
    time.sleep(0.5)
    assert clearer.is_alive(), "the clearing should wait for the batch's shared lock"
    release.set()
    writer.join(10)
    clearer.join(10)
    assert result["interval"].matched_wh == 400  # cal's reading was seen
    interval.refresh_from_db()
    assert interval.run == 1
