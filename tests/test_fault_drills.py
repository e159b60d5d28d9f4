"""Fault drills with real processes.

- Redis (broker and cache) stops while ballots and meter readings arrive: nothing may be
  lost or refused for it, and once Redis is back the Celery worker and beat seal everything
  and clear the intervals.
- Two beats started by mistake: still one chain of blocks and one clearing per interval.
- PostgreSQL drops the connection of an import half way: the import is all or nothing.

The other drills live beside what they drill: a worker killed mid-seal and a broker outage
during recording in tests/ledger/test_workers.py, casts racing one credential in
tests/voting/test_concurrency.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import ROOT, wait_for, worker_environment
from energy import services as energy
from energy.models import Interval, MarketMode, Reading, Trade
from identity.models import Organization
from ledger.models import Block, Entry
from ledger.verify import verify_ledger
from tests.factories import OrganizationFactory, UserFactory
from voting import services as voting
from voting.models import Ballot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Q = timedelta(minutes=15)
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # long past: due for clearing at once
VOTERS = 40


@pytest.fixture
def redis_everywhere(private_redis, broker, settings):
    """One Redis for this test process and its worker and beat: broker and cache alike,
    as in production, so stopping it takes both away."""
    broker(private_redis.url)
    settings.CACHES = {
        "default": {
            "BACKEND": "citychain.cache.RedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": "drill",
        }
    }
    return private_redis


def open_election():
    official = UserFactory(username="clerk")
    election = voting.election_create(acting_user=official, title="Drill")
    mayor = voting.contest_add(election, title="Mayor", method="plurality")
    choice = voting.choice_add(mayor, name="Rivera")
    voting.choice_add(mayor, name="Chen")
    rows = "".join(f"V{i},Voter {i}\n" for i in range(VOTERS))
    voting.roll_import_csv(election, "voter_id,name\n" + rows)
    credentials = [code for _voter, code in voting.credentials_issue(election)]
    voting.election_open(election)
    return election, {str(mayor.pk): [choice.pk]}, credentials


def cast(election, selections, credential) -> int:
    response = APIClient().post(
        f"/api/voting/elections/{election.pk}/ballots/",
        {"credential": credential, "selections": selections},
        format="json",
    )
    return response.status_code


def microgrid_meters():
    grid = OrganizationFactory(name="Drill Microgrid", kind=Organization.Kind.MICROGRID)
    energy.tariff_set(
        microgrid=grid, retail_price=25_000, feed_in_price=5_000, effective_from=T0 - Q * 96
    )
    energy.market_settings_set(microgrid=grid, mode=MarketMode.PRO_RATA, timezone="UTC")
    meters = []
    for name in ("sun", "shade"):
        member = energy.member_register(microgrid=grid, kind="household", name=name)
        meters.append(energy.meter_register(member=member, meter_id=f"drill-{name}"))
    return grid, meters


def send_readings(meters, start: datetime, count: int) -> list[int]:
    statuses = []
    for (meter, token), sign in zip(meters, (-1, 1), strict=True):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Meter {token}")
        rows = [
            {
                "start": (start + k * Q).isoformat(),
                "import_wh": max(sign * 400, 0),
                "export_wh": max(-sign * 400, 0),
            }
            for k in range(count)
        ]
        response = client.post(
            f"/api/energy/meters/{meter.meter_id}/readings/", {"readings": rows}, format="json"
        )
        statuses.append(response.status_code)
    return statuses


def pending() -> int:
    return Entry.objects.filter(leaf_index__isnull=True).count()


def test_redis_down_while_ballots_and_readings_arrive(redis_everywhere, celery_processes):
    election, selections, credentials = open_election()
    grid, meters = microgrid_meters()
    celery_processes.worker(broker=redis_everywhere.url)
    celery_processes.beat(broker=redis_everywhere.url)

    assert [cast(election, selections, c) for c in credentials[:10]] == [201] * 10
    assert send_readings(meters, T0, 4) == [201, 201]
    wait_for(lambda: pending() == 0, timeout=90, message="sealing while Redis is up")

    redis_everywhere.stop()
    # Voters and meters are not told to come back later: the database is what counts.
    assert [cast(election, selections, c) for c in credentials[10:30]] == [201] * 20
    assert send_readings(meters, T0 + 4 * Q, 4) == [201, 201]
    assert cast(election, selections, credentials[10]) == 403  # used: still one each
    assert Ballot.objects.filter(election=election).count() == 30
    assert pending() >= 20  # the outage's ballots wait for a seal

    redis_everywhere.start()  # same port: worker, beat and the cache reconnect
    assert [cast(election, selections, c) for c in credentials[30:]] == [201] * 10
    wait_for(
        lambda: (
            pending() == 0
            and not Interval.objects.filter(microgrid=grid)
            .exclude(status=Interval.Status.CLEARED)
            .exists()
        ),
        timeout=120,
        message="beat and worker to seal everything and clear every interval",
    )
    assert Ballot.objects.filter(election=election).count() == VOTERS
    assert Reading.objects.filter(meter__member__microgrid=grid).count() == 2 * 8
    assert Interval.objects.filter(microgrid=grid).count() == 8
    report = verify_ledger()
    assert report.ok, report.problem


def test_two_beats_started_by_mistake_still_one_chain_and_one_clearing(celery_processes):
    grid, meters = microgrid_meters()
    grid.energy_market.settle_delay_hours = 24 * 365 * 10  # cleared once, never settled here
    grid.energy_market.save()
    assert send_readings(meters, T0, 6) == [201, 201]
    workers = 2 if connection.vendor == "postgresql" else 1
    for _n in range(workers):
        celery_processes.worker()
    beats = [celery_processes.beat(), celery_processes.beat()]  # the mistake

    # Entries keep arriving while both beats ask for seals every 2 s.
    from ledger import services as ledger

    for batch in range(20):
        for n in range(10):
            ledger.record("ledger.synthetic", f"drill-{n}", {"batch": batch, "n": n})
        time.sleep(0.25)

    intervals = Interval.objects.filter(microgrid=grid)
    # energy-clear runs every 60 s: both beats send it, and both tasks may run at once.
    wait_for(
        lambda: (
            intervals.count() == 6
            and not intervals.exclude(status=Interval.Status.CLEARED).exists()
        ),
        timeout=150,
        interval=1,
        message="the first energy-clear sweep of both beats",
    )
    wait_for(
        lambda: all("energy.clear_due_intervals" in beat.log() for beat in beats),
        timeout=30,
        message="both beats to have sent the sweep",
    )
    time.sleep(3)  # let the second sweep finish
    wait_for(lambda: pending() == 0, timeout=60, message="every entry sealed")
    assert sorted(intervals.values_list("run", flat=True)) == [1] * 6
    assert Entry.objects.filter(kind="energy.interval_cleared").count() == 6
    assert Entry.objects.filter(kind="energy.trade").count() == Trade.objects.count() > 0
    heights = list(Block.objects.order_by("height").values_list("height", flat=True))
    assert heights == list(range(len(heights)))  # one chain, no fork
    report = verify_ledger()
    assert report.ok, report.problem


def green_button_csv(path, days: int) -> int:
    """A PG&E-style "Download My Data" CSV: `days` of 15-minute usage, some exported."""
    lines = ["TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES"]
    start = datetime(2024, 4, 1)  # no clock change in the next 200 days
    for k in range(days * 96):
        at = start + k * Q
        usage = -0.3 if 10 <= at.hour < 15 else 0.2
        lines.append(
            f"Electric usage,{at:%Y-%m-%d},{at:%H:%M},{at + Q - timedelta(minutes=1):%H:%M},"
            f"{usage:.2f},$0.00,"
        )
    path.write_text("\n".join(lines) + "\n")
    return days * 96


def import_in_progress() -> int | None:
    """The backend of another session inside a transaction that has written (the import)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_connection_dropped_mid_import_stores_nothing(postgres, tmp_path):
    _grid, ((meter, _token), _other) = microgrid_meters()
    rows = green_button_csv(tmp_path / "usage.csv", days=200)
    command = [
        sys.executable, "manage.py", "import_green_button", str(tmp_path / "usage.csv"),
        "--meter", meter.meter_id, "--timezone", "America/Los_Angeles",
    ]  # fmt: skip
    env = worker_environment()
    importer = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pid = wait_for(
        lambda: import_in_progress() or importer.poll() is not None,
        timeout=60,
        interval=0.005,
        message="the import mid-way",
    )
    assert importer.returncode is None, importer.communicate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    importer.communicate(timeout=60)
    assert importer.returncode != 0
    assert Reading.objects.filter(meter=meter).count() == 0  # all or nothing: nothing
    assert not Interval.objects.exists()

    # Run again: all of it goes in.
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert Reading.objects.filter(meter=meter).count() == rows
