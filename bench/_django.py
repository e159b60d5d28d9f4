"""Shared set-up for benchmarks: a throwaway PostgreSQL database, migrated, and timers."""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One database per benchmark script, so two benchmarks can run at once.
DEFAULT_URL = f"postgresql://postgres@127.0.0.1:5432/citychain_{Path(sys.argv[0]).stem}_bench"


def setup(database_url: str | None = None) -> str:
    """Recreate the bench database, point Django at it, migrate. Returns the URL."""
    url = database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgres"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        if not name.endswith("_bench"):
            sys.exit(f"refusing to drop {name!r}: the bench database name must end in _bench")
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citychain.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


@contextmanager
def timer():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, "
        f"p99 {percentile(ms, 99):.2f} ms, mean {statistics.mean(ms):.2f} ms"
    )


def cpu_seconds_by_role() -> dict[str, float]:
    """CPU time (user + system) used so far by the processes on this machine, grouped by
    what they are: a snapshot before and after a load shows where its CPU went. Linux only;
    processes that exited in between are not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    roles = (
        ("gunicorn", "gunicorn"),
        ("celery worker", "worker"),
        ("celery beat", " beat"),
        ("postgres", "postgres"),
        ("redis", "redis-server"),
        ("load generator", "wrk"),
    )
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = next((name for name, marker in roles if marker in cmdline), "other")
        totals[role] = totals.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    # The whole machine, including processes that started and ended in between.
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in cpu[:8])
    totals["machine busy"] = (user + nice + system + irq + softirq + steal) / tick
    totals["machine idle"] = (idle + iowait) / tick
    return totals


def cpu_report(before: dict[str, float], after: dict[str, float], per: int, what: str) -> str:
    """ "role 12.3 s (4.1 ms per ballot)" for each role that used CPU between two snapshots."""
    used = {role: after.get(role, 0.0) - before.get(role, 0.0) for role in after}
    busy, idle = used.pop("machine busy"), used.pop("machine idle")
    parts = [
        f"{role} {seconds:.1f} s ({seconds / per * 1000:.1f} ms per {what})"
        for role, seconds in sorted(used.items(), key=lambda kv: -kv[1])
        if seconds >= 0.05
    ]
    share = busy / (busy + idle) if busy + idle else 0.0
    return (
        f"CPU during the load: machine {share:.0%} busy ({busy:.1f} core-seconds; "
        f"{busy - sum(used.values()):.1f} of them in processes that came and went); "
        + ", ".join(parts)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


@contextmanager
def servers(env: dict, name: str, *, workers: int = 4, threads: int = 2, celery_workers: int = 1):
    """gunicorn (as in the Procfile: 4 workers of 2 threads, no access log), Celery workers
    and one beat, logging to var/bench-<name>-*.log; yields the web port once every process
    is up, and stops them all on the way out."""
    logs = ROOT / "var"
    port = free_port()
    python = [sys.executable, "-m"]
    processes = [
        start(
            [*python, "gunicorn", "citychain.wsgi", "--workers", str(workers),
             "--threads", str(threads), "--bind", f"127.0.0.1:{port}"],
            env, logs / f"bench-{name}-gunicorn.log",
        )
    ]  # fmt: skip
    for n in range(1, celery_workers + 1):
        processes.append(
            start(
                [*python, "celery", "-A", "citychain", "worker", "--concurrency", "1",
                 "--hostname", f"bench{n}@%h", "--loglevel", "WARNING", "--without-gossip",
                 "--without-mingle"],
                env, logs / f"bench-{name}-worker{n}.log",
            )
        )  # fmt: skip
    processes.append(
        start(
            [*python, "celery", "-A", "citychain", "beat", "--loglevel", "WARNING",
             "--schedule", str(logs / f"bench-{name}-beat-schedule")],
            env, logs / f"bench-{name}-beat.log",
        )
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz/")
                break
            except OSError:
                time.sleep(0.3)
        # One web worker answers /healthz/ while the others, the Celery workers and beat may
        # still be importing Django: let them finish, or their start-up counts as load.
        time.sleep(8)
        yield port
    finally:
        for proc in processes:
            os.killpg(proc.pid, 15)
        for proc in processes:
            proc.wait(timeout=30)
