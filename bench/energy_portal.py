"""Energy demo and portal benchmark: how long `seed_demo`'s energy part takes, step by step,
and how fast the portal's pages render on the full demo microgrid.

    python bench/energy_portal.py                                  # SQLite (the embedded default)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/citychain_energy_portal_bench \\
        python bench/energy_portal.py                              # PostgreSQL

Seeds the demo people and the energy demo (50 homes, 20 with solar, a week of 15-minute
readings, plus the previous month's last 3 days when it needs a bill) into a throwaway
database, then renders the member dashboard, the operator dashboard, an interval's order
book and a bill 30 times each with Django's test client. Targets: the energy seed <= 60 s
on SQLite; each page p95 <= 250 ms with a fixed number of queries.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import setup, summary

SQLITE = Path("/tmp/citychain_energy_portal_bench.sqlite3")  # noqa: S108 - a throwaway file
SEED_TARGET_S = 60
PAGE_TARGET_MS = 250
RUNS = 30


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{SQLITE}"
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE}{suffix}").unlink(missing_ok=True)
    setup(url)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from citychain import demo as citychain_demo
    from energy import demo
    from energy.models import Bill, Interval, Reading, Trade
    from identity.models import User

    print(f"database: {connection.vendor}")
    citychain_demo.seed_people(progress=lambda _m: None)
    marks: list[tuple[float, str]] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    demo.seed(progress=lambda message: marks.append((time.perf_counter() - start, message)))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    previous = 0.0
    for at, message in marks:
        if "readings to" in message and not message.endswith("0"):
            continue
        print(f"  {at:6.1f} s (+{at - previous:5.1f}) {message.strip()}")
        previous = at
    readings, intervals = Reading.objects.count(), Interval.objects.count()
    print(
        f"energy seed: {total:.1f} s ({cpu:.1f} s of CPU in this process) for "
        f"{readings:,} readings, {intervals:,} intervals "
        f"({Trade.objects.count():,} trades), {Bill.objects.count()} bills; "
        f"target <= {SEED_TARGET_S} s {'✔' if total <= SEED_TARGET_S else '✘'}"
    )

    setup_test_environment()
    # Keep one connection across requests, as a web process does (and so queries are counted).
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    member = Client()
    member.force_login(User.objects.get(username="household"))
    operator = Client()
    operator.force_login(User.objects.get(username="operator"))
    busy = Interval.objects.filter(matched_wh__gt=0).order_by("-matched_wh").first()
    bill = Bill.objects.filter(member__user__username="household").first()
    pages = [
        ("member dashboard", member, "/energy/"),
        ("operator dashboard", operator, "/energy/operator/"),
        ("interval order book (operator)", operator, f"/energy/intervals/{busy.pk}/"),
        ("interval order book (member)", member, f"/energy/intervals/{busy.pk}/"),
    ]
    if bill is not None:
        pages.append(("bill", member, f"/energy/bills/{bill.public_id}/"))
    for name, client, path in pages:
        client.get(path)  # warm up: templates, translations
        times = []
        connection.queries_log.clear()  # a full log (9,000 queries) would hide new ones
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        for _ in range(RUNS):
            began = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - began)
        p95 = sorted(times)[round(0.95 * (len(times) - 1))] * 1000
        mark = "✔" if p95 <= PAGE_TARGET_MS else "✘"
        print(f"{name}: {summary(times)}; {len(captured.captured_queries)} queries; {mark}")


if __name__ == "__main__":
    main()
