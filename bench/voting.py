"""Voting benchmark: ballots cast over HTTP by concurrent clients, sealing lag, tallying.

    python bench/voting.py [--voters 20000] [--clients 50] [--workers 4] [--threads 2]
                           [--pause MS] [--warmup S] [--load wrk|python]

Starts gunicorn (and one Celery worker for sealing) against a throwaway PostgreSQL
database and Redis, casts ballots through POST /api/voting/elections/<id>/ballots/ from
--clients concurrent connections, each with a credential never used before, and reports
throughput, latency percentiles, errors, and how long after the load every ballot was
sealed into a block. Then tallies 1,000,000 ranked ballots. Targets: >= 300 ballots/s,
p95 <= 100 ms, no errors, all sealed within 10 s; tally <= 10 s.

The load comes from wrk (C; `apt install wrk`) when it is installed: on a 2-core machine,
Python client threads take CPU the server under test needs. With `--load python` (or
without wrk) the clients are Python threads, one ballot per voter.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import ROOT, cpu_report, cpu_seconds_by_role, servers, setup, summary, timer

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def prepare(voters: int):
    from django.contrib.auth.models import Group

    from citychain import roles
    from identity.models import Organization, User
    from voting import services

    org = Organization.objects.create(name="Bench Clerk", kind="city_department")
    official = User.objects.create_user("bench-official", organization=org)
    roles.sync_roles()
    official.groups.add(Group.objects.get(name=roles.ELECTION_OFFICIAL))
    election = services.election_create(acting_user=official, title="Bench election")
    mayor = services.contest_add(election, title="Mayor", method="plurality", seats=1)
    budget = services.contest_add(election, title="Budget", method="ranked", seats=3)
    mayor_choices = [services.choice_add(mayor, name=f"Candidate {i}") for i in range(4)]
    budget_choices = [services.choice_add(budget, name=f"Project {i}") for i in range(6)]
    rows = ["voter_id,name,email"] + [f"v{i},Voter {i},v{i}@example.invalid" for i in range(voters)]
    services.roll_import_csv(election, "\n".join(rows) + "\n")
    credentials = [c for _, c in services.credentials_issue(election)]
    services.election_open(election, acting_user=official)
    return election, mayor, budget, mayor_choices, budget_choices, credentials


def voter_address(number: int) -> str:
    """Voter `number`'s own address, as the load balancer reports it (X-Forwarded-For)."""
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


def load_with_threads(port: int, path: str, bodies: list, clients: int, workers: int) -> None:
    """One ballot per voter from `clients` Python threads (closed loop)."""
    work: queue.Queue = queue.Queue()
    for number, body in enumerate(bodies):
        work.put((number, body))
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                number, body = work.get_nowait()
            except queue.Empty:
                return
            payload = json.dumps(body)
            started = time.perf_counter()
            try:
                headers = {
                    "Content-Type": "application/json",
                    "X-Forwarded-For": voter_address(number),
                }
                conn.request("POST", path, payload, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = "connection error"
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    with timer() as load:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rate = len(latencies) / load["seconds"]
    errors = sum(n for s, n in statuses.items() if s != 201)
    print(
        f"cast {len(latencies):,} ballots in {load['seconds']:.1f}s with {clients} "
        f"clients and {workers} gunicorn workers: {rate:,.0f} ballots/s "
        f"(target >= 300)"
    )
    print(
        f"latency: {summary(latencies)} (target p95 <= 100 ms); statuses {dict(statuses)}; "
        f"errors {errors} (target 0)"
    )


def load_at_rate(port: int, path: str, bodies: list, clients: int, rate: int, seconds: int):
    """Open loop: ballot i is due at start + i/rate, whatever happened to the ones before,
    on at most `clients` connections at once; latency counts from when it was due, so a
    server that stalls is not excused by clients that politely waited (coordinated
    omission)."""
    total = min(len(bodies), rate * seconds)
    latencies: list[float] = []
    statuses: Counter = Counter()

    async def cast(slots: asyncio.Semaphore, due: float, number: int, body: dict) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {voter_address(number)}\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode() + payload
        async with slots:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                response = await reader.read()
                writer.close()
                status = int(response.split(b" ", 2)[1])
            except (OSError, ValueError, IndexError):
                status = "connection error"
        latencies.append(time.perf_counter() - due)
        statuses[status] += 1

    async def run() -> float:
        slots = asyncio.Semaphore(clients)
        start = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies[:total]):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(cast(slots, due, i, body)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    errors = sum(n for s, n in statuses.items() if s != 201)
    print(
        f"offered {rate} ballots/s for {seconds}s on up to {clients} connections: "
        f"cast {statuses[201]:,} in {elapsed:.1f}s ({statuses[201] / elapsed:,.0f} ballots/s)"
    )
    print(
        f"latency from when each ballot was due: {summary(latencies)} (target p95 <= 100 ms); "
        f"statuses {dict(statuses)}; errors {errors} (target 0)"
    )


def load_with_wrk(
    port: int,
    path: str,
    bodies: list,
    clients: int,
    seconds: int,
    logs: Path,
    pause_ms: int = 0,
    *,
    report: bool = True,
) -> dict:
    """`clients` connections from wrk for `seconds`, each request a new credential; with
    `pause_ms`, each connection pauses about that long between its ballots. Returns wrk's
    figures; prints them if `report`."""
    lines = logs / "bench-voting-bodies.jsonl"
    lines.write_text("".join(json.dumps(b, separators=(",", ":")) + "\n" for b in bodies))
    threads = 2
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "voting_wrk.lua"), f"http://127.0.0.1:{port}{path}",
         "--", str(lines), str(threads), str(pause_ms)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if not report:
        return figures
    rate = figures["requests"] / (figures["duration_us"] / 1e6)
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    how = f", each pausing about {pause_ms} ms between ballots" if pause_ms else ""
    print(
        f"cast {figures['requests']:,} ballots in {figures['duration_us'] / 1e6:.1f}s with "
        f"{clients} wrk connections{how}: {rate:,.0f} ballots/s (target >= 300)"
    )
    print(
        f"latency: p50 {figures['p50_us'] / 1000:.0f} ms, p95 {figures['p95_us'] / 1000:.0f} ms, "
        f"p99 {figures['p99_us'] / 1000:.0f} ms, max {figures['max_us'] / 1000:.0f} ms "
        f"(target p95 <= 100 ms); errors {errors} (target 0): {figures}"
    )
    if figures["requests"] > len(bodies):
        print(f"  ran out of credentials after {len(bodies):,}: raise --voters")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=2,
        help="threads per gunicorn worker (as in the Procfile; 1: sync workers, no keep-alive)",
    )  # fmt: skip
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of a run")
    parser.add_argument(
        "--pause", type=int, default=0,
        help="with wrk: each client pauses about this many ms between ballots (a voter who "
        "casts, then another at the same client), instead of sending the next at once",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=int, default=3,
        help="with wrk: first cast this many seconds at the same load, not measured, so "
        "figures are of a running server, not of workers loading code on their first requests",
    )  # fmt: skip
    parser.add_argument(
        "--rate",
        type=int,
        default=None,
        help="offer this many ballots/s (open loop, asyncio client) instead of as many as "
        "the server takes; latency is then measured at that load",
    )
    args = parser.parse_args()
    os.environ["REDIS_URL"] = REDIS_URL
    url = setup(args.database_url)

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    election, mayor, budget, mayor_choices, budget_choices, credentials = prepare(args.voters)
    print(f"election {election.pk}: {len(credentials):,} voters with credentials")

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "CITYCHAIN_DEBUG": "0",
        # Behind one load balancer: each voter's address comes in X-Forwarded-For, and the
        # per-address cast throttle keeps its production rate.
        "CITYCHAIN_TRUSTED_PROXIES": "1",
    }
    logs = Path(ROOT / "var")
    with servers(env, "voting", workers=args.workers, threads=args.threads) as port:
        rng = random.Random(1)
        bodies = []
        for credential in credentials:
            ranking = rng.sample([c.pk for c in budget_choices], 3)
            bodies.append({
                "credential": credential,
                "selections": {
                    str(mayor.pk): [rng.choice(mayor_choices).pk],
                    str(budget.pk): ranking,
                },
            })  # fmt: skip
        path = f"/api/voting/elections/{election.pk}/ballots/"
        warm = 0
        if args.load == "wrk" and not args.rate and args.warmup:
            # Credentials of its own, more than it can use (once they run out it repeats a
            # used one, answered 403, which warms up as well); the measured run gets the rest.
            spare = 600 * args.warmup
            load_with_wrk(
                port, path, bodies[:spare], args.clients, args.warmup, logs, args.pause,
                report=False,
            )  # fmt: skip
            time.sleep(1)  # requests wrk left in flight
            warm, bodies = election.ballots.count(), bodies[spare:]
            print(f"warm-up: {warm:,} ballots in {args.warmup}s, not measured")
        cpu_before = cpu_seconds_by_role()
        if args.rate:
            load_at_rate(port, path, bodies, args.clients, args.rate, args.seconds)
        elif args.load == "wrk":
            load_with_wrk(port, path, bodies, args.clients, args.seconds, logs, args.pause)
        else:
            load_with_threads(port, path, bodies, args.clients, args.workers)
        cast = election.ballots.count() - warm
        print(cpu_report(cpu_before, cpu_seconds_by_role(), max(cast, 1), "ballot"))

        from voting.models import Ballot

        pending = Ballot.objects.filter(ledger_entry__leaf_index__isnull=True)
        with timer() as lag:
            deadline = time.monotonic() + 600
            while pending.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        print(f"every ballot sealed {lag['seconds']:.1f}s after the load ended (target <= 10 s)")

    from voting import tally

    rng = random.Random(2)
    names = [f"c{i}" for i in range(8)]
    ballots = Counter(tuple(rng.sample(names, rng.randint(1, 5))) for _ in range(1_000_000))
    with timer() as t:
        result = tally.instant_runoff(ballots, names, tally.RcvRules())
    print(
        f"tally of 1,000,000 ranked ballots over 8 choices: {t['seconds']:.2f}s "
        f"(target <= 10 s), {len(result.rounds)} rounds, winners {result.winners}"
    )


if __name__ == "__main__":
    main()
