"""Mixed load: caseworker lookups, ballot casts, meter batches and ledger explorer reads at once.

    python bench/mixed.py [--seconds 300] [--caseworkers 12] [--voters 12] [--meters 8]
                          [--readers 6] [--think 0.2] [--desk-think 1.0]

Starts gunicorn (4 workers of 2 threads, as in the Procfile), two Celery workers and beat against a
throwaway PostgreSQL database and Redis, then runs four kinds of client threads for
--seconds, each in a closed loop with --think seconds between its requests (--desk-think
for caseworkers, each with their own account):

- caseworker: `POST /api/identity/lookup/` by city ID with a caseworker's API token;
- voter: `POST /api/voting/elections/<id>/ballots/` with a credential never used before,
  from an address of its own (X-Forwarded-For behind one trusted proxy);
- meter: `POST /api/energy/meters/<id>/readings/`, the next hour (4 quarter-hours) of a
  meter, with the meter's token;
- reader: `GET /ledger/`, then a block page and an entry page of the explorer.

Prints per action: requests, throughput, p50/p95/p99 latency, errors (target: none); then
how long after the load every ledger entry was sealed (target: under 10 s), and CPU by
process. Results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import cpu_report, cpu_seconds_by_role, percentile, servers, setup, timer
from bench.voting import REDIS_URL, voter_address

Q = timedelta(minutes=15)


def prepare(args):
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from bench.voting import prepare as prepare_election
    from citychain import roles
    from energy import services as energy
    from energy.models import MarketMode
    from identity import cityid
    from identity import services as identity
    from identity.models import Organization, User
    from ledger import services as ledger

    roles.sync_roles()
    shelter = Organization.objects.create(name="Bench Shelter", kind="shelter")
    caseworkers = []
    for n in range(args.caseworkers):
        caseworker = User.objects.create_user(f"bench-caseworker-{n}", organization=shelter)
        caseworker.groups.add(Group.objects.get(name=roles.CASEWORKER))
        caseworkers.append(caseworker)
    city_ids = []
    for n in range(200):
        resident = identity.resident_enroll(
            acting_user=caseworkers[n % len(caseworkers)],
            data=identity.ResidentData(
                legal_first_name=f"Bench{n}",
                legal_last_name="Resident",
                dob=datetime(1970 + n % 40, 1 + n % 12, 1 + n % 28).date(),
                dob_data_quality=1,
            ),
            consent_categories=["identity"],
        )
        city_ids.append(cityid.display(identity.active_card(resident).city_id))
    # Each caseworker signs in with their own token (the API's rate is per account).
    caseworker_tokens = [Token.objects.create(user=c).key for c in caseworkers]

    grid = Organization.objects.create(name="Bench Microgrid", kind="microgrid")
    # Ten days back, with a 30-day settlement delay: every batch of the run is for an
    # interval that has passed and still takes readings (and is re-cleared by beat).
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start_at = now - timedelta(days=10)
    energy.tariff_set(
        microgrid=grid, retail_price=16_000, feed_in_price=5_000, effective_from=start_at - Q
    )
    energy.market_settings_set(microgrid=grid, mode=MarketMode.DOUBLE_AUCTION, timezone="UTC")
    grid.energy_market.settle_delay_hours = 30 * 24
    grid.energy_market.save()
    meters = []
    for n in range(args.meters * 40):
        member = energy.member_register(microgrid=grid, kind="household", name=f"Home {n}")
        meter, token = energy.meter_register(member=member, meter_id=f"bench-{n}")
        meters.append((meter.meter_id, token, n % 3 == 0))  # a third with solar

    voters = int(args.seconds * args.voters / max(args.think, 0.05)) + 1000
    election, mayor, budget, mayor_choices, budget_choices, credentials = prepare_election(voters)
    rng = random.Random(1)
    ballots = []
    for credential in credentials:
        ballots.append({
            "credential": credential,
            "selections": {
                str(mayor.pk): [rng.choice(mayor_choices).pk],
                str(budget.pk): rng.sample([c.pk for c in budget_choices], 3),
            },
        })  # fmt: skip
    # Something for the explorer to show: a few sealed blocks.
    for n in range(500):
        ledger.record("ledger.synthetic", f"bench-{n % 20}", {"n": n})
    ledger.seal_pending()
    return SimpleData(city_ids, caseworker_tokens, meters, start_at, election.pk, ballots)


class SimpleData:
    def __init__(self, city_ids, caseworker_tokens, meters, start_at, election_id, ballots):
        self.city_ids = city_ids
        self.caseworker_tokens = caseworker_tokens
        self.meters = meters
        self.start_at = start_at
        self.election_id = election_id
        self.ballots = ballots


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def add(self, action: str, seconds: float, status: int | str, expected: int) -> None:
        with self.lock:
            self.latencies[action].append(seconds)
            if status != expected:
                self.errors[action].append(str(status))


def request(conn_box, port, method, path, body=None, headers=None):
    """One request on this thread's keep-alive connection (reopened after an error)."""
    payload = json.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    for attempt in (1, 2):
        conn = conn_box.get("conn") or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn_box["conn"] = conn
        try:
            conn.request(method, path, payload, headers)
            response = conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_box["conn"] = None
            return response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn_box["conn"] = None
            if attempt == 2:
                return type(exc).__name__
    return "unreachable"


def run_load(port, data: SimpleData, args, recorder: Recorder) -> float:
    stop = time.monotonic() + args.seconds
    ballot_lock = threading.Lock()
    next_ballot = iter(range(len(data.ballots)))

    def loop(action, step, think):
        box: dict = {}
        rng = random.Random(hash(action) ^ threading.get_ident())
        n = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            outcome = step(box, rng, n)
            if outcome is None:
                return
            status, expected = outcome
            recorder.add(action, time.perf_counter() - started, status, expected)
            n += 1
            time.sleep(think * rng.uniform(0.5, 1.5))

    def lookup_as(token):
        def lookup(box, rng, _n):
            status = request(
                box, port, "POST", "/api/identity/lookup/",
                {"city_id": rng.choice(data.city_ids)}, {"Authorization": f"Token {token}"},
            )  # fmt: skip
            return status, 200

        return lookup

    def cast(box, rng, _n):
        with ballot_lock:
            number = next(next_ballot, None)
        if number is None:
            print("  out of credentials: raise the roll")
            return None
        status = request(
            box, port, "POST", f"/api/voting/elections/{data.election_id}/ballots/",
            data.ballots[number], {"X-Forwarded-For": voter_address(number)},
        )  # fmt: skip
        return status, 201

    def meter_batch(meters):
        def send(box, rng, n):
            meter_id, token, solar = meters[n % len(meters)]
            hour = data.start_at + (n // len(meters)) * 4 * Q
            rows = [
                {
                    "start": (hour + k * Q).isoformat(),
                    "import_wh": 0 if solar else rng.randint(100, 400),
                    "export_wh": rng.randint(100, 500) if solar else 0,
                }
                for k in range(4)
            ]
            status = request(
                box, port, "POST", f"/api/energy/meters/{meter_id}/readings/",
                {"readings": rows}, {"Authorization": f"Meter {token}"},
            )  # fmt: skip
            return status, 201

        return send

    def explore(box, rng, n):
        path = ("/ledger/", "/ledger/blocks/0/", "/ledger/entries/1/")[n % 3]
        return request(box, port, "GET", path), 200

    threads = []
    for token in data.caseworker_tokens:
        step = lookup_as(token)
        threads.append(
            threading.Thread(target=loop, args=("caseworker lookup", step, args.desk_think))
        )
    for _ in range(args.voters):
        threads.append(threading.Thread(target=loop, args=("ballot cast", cast, args.think)))
    for m in range(args.meters):
        mine = data.meters[m :: args.meters]
        step = meter_batch(mine)
        threads.append(threading.Thread(target=loop, args=("meter batch", step, args.think)))
    for _ in range(args.readers):
        threads.append(threading.Thread(target=loop, args=("explorer read", explore, args.think)))
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    last_report = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        if time.monotonic() - last_report >= 30:
            last_report = time.monotonic()
            done = sum(len(v) for v in recorder.latencies.values())
            print(f"  {time.perf_counter() - began:.0f}s: {done:,} requests", flush=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--caseworkers", type=int, default=12)
    parser.add_argument("--voters", type=int, default=12)
    parser.add_argument("--meters", type=int, default=8)
    parser.add_argument("--readers", type=int, default=6)
    parser.add_argument(
        "--think",
        type=float,
        default=0.2,
        help="seconds between a voter's, meter's or reader's requests",
    )
    parser.add_argument(
        "--desk-think",
        type=float,
        default=1.0,
        help="seconds between a caseworker's lookups (the API allows 120 a minute per account)",
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = REDIS_URL
    url = setup(args.database_url)

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with timer() as prepared:
        data = prepare(args)
    print(f"prepared in {prepared['seconds']:.0f}s: 200 residents, {len(data.meters)} meters, "
          f"{len(data.ballots):,} voters")  # fmt: skip

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "CITYCHAIN_DEBUG": "0",
        "CITYCHAIN_TRUSTED_PROXIES": "1",
    }
    recorder = Recorder()
    with servers(env, "mixed", celery_workers=2) as port:
        cpu_before = cpu_seconds_by_role()
        elapsed = run_load(port, data, args, recorder)
        total = sum(len(v) for v in recorder.latencies.values())
        print(f"\n{total:,} requests in {elapsed:.0f}s ({total / elapsed:,.0f}/s), "
              f"{sum(len(e) for e in recorder.errors.values())} errors (target 0)")  # fmt: skip
        print("| action | requests | per second | p50 ms | p95 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|")
        for action, values in sorted(recorder.latencies.items()):
            errors = recorder.errors.get(action, [])
            kinds = ", ".join(sorted(set(errors))) if errors else ""
            print(
                f"| {action} | {len(values):,} | {len(values) / elapsed:,.1f} | "
                f"{percentile(values, 50) * 1000:.0f} | {percentile(values, 95) * 1000:.0f} | "
                f"{percentile(values, 99) * 1000:.0f} | {len(errors)} {kinds} |"
            )
        print(cpu_report(cpu_before, cpu_seconds_by_role(), max(total, 1), "request"))

        from ledger.models import Entry

        with timer() as lag:
            deadline = time.monotonic() + 600
            while (
                Entry.objects.filter(leaf_index__isnull=True).exists()
                and time.monotonic() < deadline
            ):
                time.sleep(0.2)
        left = Entry.objects.filter(leaf_index__isnull=True).count()
        print(f"every ledger entry sealed {lag['seconds']:.1f}s after the load ended "
              f"(target < 10 s); {left} still pending")  # fmt: skip


if __name__ == "__main__":
    main()
