"""Ledger benchmark: record, seal, verify and proof latency at growing sizes on PostgreSQL.

    python bench/ledger.py [--sizes 10000,100000,1000000] [--database-url URL]

Prints each figure with its ratio to raw rates measured in the same run (SHA-256 of
the same leaf bytes; a plain bulk INSERT of the same rows), and the peak memory growth
of sealing and verifying, which must stay flat as the ledger grows. Results go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import setup, summary, timer

TARGETS = {"seal_per_s": 20_000, "verify_per_s": 100_000, "proof_p95_ms": 5.0}


def raw_sha256_rate(samples: list[bytes]) -> float:
    with timer() as t:
        for data in samples:
            hashlib.sha256(b"\x00" + data).digest()
    return len(samples) / t["seconds"]


def plain_insert_rate(rows: list[tuple]) -> float:
    """The same rows, bulk-inserted into a bare table with no index but the key."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS plain_entry (id bigserial PRIMARY KEY, kind text, "
            "leaf_data bytea, leaf_hash bytea, recorded_at timestamptz)"
        )
        cursor.execute("TRUNCATE plain_entry")
    with timer() as t, transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                "INSERT INTO plain_entry (kind, leaf_data, leaf_hash, recorded_at) "
                "VALUES (%s, %s, %s, now())",
                rows[start : start + 5000],
            )
    return len(rows) / t["seconds"]


def record(n: int, offset: int) -> float:
    from django.db import transaction

    from ledger import services

    with timer() as t:
        for start in range(0, n, 10_000):
            with transaction.atomic():
                services.record_many(
                    ("ledger.synthetic", f"bench-{(offset + i) % 997}", {"n": offset + i})
                    for i in range(start, min(n, start + 10_000))
                )
    return n / t["seconds"]


def single_record_latency(samples: int) -> list[float]:
    from django.db import transaction

    from ledger import services

    times = []
    for i in range(samples):
        with timer() as t, transaction.atomic():
            services.record("ledger.synthetic", "bench-single", {"n": i})
        times.append(t["seconds"])
    return times


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def traced(fn):
    """Run fn, timing it and sampling resident memory (tracemalloc would slow it 3-5x).

    Returns (result, seconds, peak RSS growth in bytes over the RSS at the start).
    """
    gc.collect()
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with timer() as t:
            result = fn()
    finally:
        stop.set()
        sampler.join()
    return result, t["seconds"], max(peak[0], _rss()) - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch", type=int, default=50_000, help="entries per sealed block")
    parser.add_argument("--proofs", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    url = setup(args.database_url)

    from django.db import connection

    from ledger import selectors, services
    from ledger.models import Entry
    from ledger.verify import verify_ledger

    print(f"ledger benchmark on {connection.vendor} ({url.rsplit('@', 1)[-1]})")
    done = 0
    results = []
    for size in sizes:
        add = size - done
        print(f"\n== {size:,} entries (adding {add:,})", flush=True)
        rec_rate = record(add, done)
        sample = [
            bytes(d)
            for d in Entry.objects.filter(leaf_index__isnull=True).values_list(
                "leaf_data", flat=True
            )[:50_000]
        ]
        rows = [("ledger.synthetic", d, hashlib.sha256(b"\x00" + d).digest()) for d in sample]
        sha_rate = raw_sha256_rate(sample * max(1, 200_000 // len(sample)))
        insert_rate = plain_insert_rate(rows)
        print(
            f"  record (bulk, JCS + hash + INSERT): {rec_rate:,.0f} entries/s "
            f"= {rec_rate / insert_rate:.2f}x plain bulk INSERT ({insert_rate:,.0f} rows/s)"
        )
        blocks, seal_s, seal_peak = traced(lambda: services.seal_all(batch_size=args.batch))
        seal_rate = add / seal_s
        print(
            f"  seal: {add:,} entries into {len(blocks)} blocks in {seal_s:.2f}s = "
            f"{seal_rate:,.0f} entries/s (target >= {TARGETS['seal_per_s']:,}); "
            f"{seal_rate / insert_rate:.2f}x plain INSERT; {seal_rate / sha_rate:.3f}x raw "
            f"SHA-256 ({sha_rate:,.0f}/s); peak memory growth {seal_peak / 2**20:.1f} MiB"
        )
        report, verify_s, verify_peak = traced(verify_ledger)
        assert report.ok, report.problem
        verify_rate = report.entries / verify_s
        print(
            f"  verify_ledger: {report.entries:,} entries in {verify_s:.2f}s = "
            f"{verify_rate:,.0f} entries/s (target >= {TARGETS['verify_per_s']:,}); "
            f"{verify_rate / sha_rate:.3f}x raw SHA-256; "
            f"peak memory growth {verify_peak / 2**20:.1f} MiB"
        )
        rng = random.Random(size)
        latencies = []
        for _ in range(args.proofs):
            index = rng.randrange(size)
            with timer() as t:
                selectors.inclusion_proof(index)
            latencies.append(t["seconds"])
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000
        print(
            f"  inclusion proof (server time, {args.proofs} random leaves): "
            f"{summary(latencies)} (target p95 <= {TARGETS['proof_p95_ms']} ms)"
        )
        singles = single_record_latency(200)
        services.seal_all()
        print(f"  record() one entry per transaction: {summary(singles)}")
        results.append((size, rec_rate, seal_rate, verify_rate, p95, seal_peak, verify_peak))
        done = size + 200

    print("\nsize | record/s | seal/s | verify/s | proof p95 ms | seal MiB | verify MiB")
    for size, rec, seal, ver, p95, sp, vp in results:
        print(
            f"{size:,} | {rec:,.0f} | {seal:,.0f} | {ver:,.0f} | {p95:.2f} | "
            f"{sp / 2**20:.1f} | {vp / 2**20:.1f}"
        )


if __name__ == "__main__":
    main()
