"""Energy benchmark: clearing a large order book, and ingesting a million readings.

    python bench/energy.py [--orders 100000] [--readings 1000000] [--meters 1000]
                           [--per-request 50000] [--skip-ingest]

1. Clearing: a seeded random book of --orders bids and offers (half each, limits spread
   between feed-in and retail) cleared by ``energy.market.double_auction``; best of three
   runs, CPU time. Target <= 1 s, with matched energy >= the uniform-price pay-as-clear
   auction on the same book (the ratio is printed, as is the share of the maximum).
2. Ingestion, on a throwaway PostgreSQL database: --meters meters of one microgrid, and
   --readings quarter-hour readings posted through the operator's bulk path
   (POST /api/energy/readings/, DRF token auth, JSON ``series``) by Django's test client,
   so the whole request path runs (middleware, authentication, throttling, parsing, the
   service, COPY, the ledger receipt) without a network in between. Target <= 60 s.
   A retried request is then shown to change nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import setup

CLEAR_TARGET_S = 1.0
INGEST_TARGET_S = 60.0
FEED_IN, RETAIL = 5_000, 25_000


def random_book(orders: int, seed: int = 7):
    from energy import market

    rng = random.Random(seed)
    half = orders // 2
    offers = tuple(
        market.Offer(f"s{k:06d}", rng.randint(1, 5_000), rng.randint(FEED_IN, RETAIL))
        for k in range(half)
    )
    bids = tuple(
        market.Bid(f"b{k:06d}", rng.randint(1, 5_000), rng.randint(FEED_IN, RETAIL))
        for k in range(orders - half)
    )
    return market.OrderBook(offers=offers, bids=bids), market.GridPrices(FEED_IN, RETAIL)


def bench_clearing(orders: int) -> None:
    from energy import market

    book, prices = random_book(orders)
    times = []
    for _run in range(3):
        start = time.process_time()
        auction = market.double_auction(book, prices)
        times.append(time.process_time() - start)
    start = time.process_time()
    reference = market.pay_as_clear(book, prices)
    pac_s = time.process_time() - start
    best = min(times)
    t = auction.totals
    ratio = t.matched_wh / reference.totals.matched_wh
    print(f"clearing {orders:,} orders ({len(book.offers):,} offers, {len(book.bids):,} bids)")
    print(
        f"  double_auction: {best:.3f} s CPU (best of 3; runs "
        f"{', '.join(f'{x:.3f}' for x in times)})"
        f"  target <= {CLEAR_TARGET_S:.1f} s: {best / CLEAR_TARGET_S:.2f} of target"
    )
    print(f"  trades: {len(auction.trades):,}, matched {t.matched_wh:,} Wh")
    print(
        f"  pay_as_clear: {pac_s:.3f} s, matched {reference.totals.matched_wh:,} Wh; "
        f"double auction / pay-as-clear = {ratio:.4f} (must be >= 1)"
    )
    print(
        f"  maximum matchable {t.max_matchable_wh:,} Wh: "
        f"double auction reaches {t.matched_wh / t.max_matchable_wh:.4f} of it"
    )
    assert t.matched_wh >= reference.totals.matched_wh
    assert sum(x.cents for x in auction.trades) == t.traded_cents


def bench_ingest(readings: int, meters: int, per_request: int) -> None:
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from citychain import roles
    from energy import services
    from energy.models import Member, Meter, Reading
    from identity.models import Organization, User
    from ledger.models import Entry

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    grid = Organization.objects.create(name="Bench Microgrid", kind="microgrid")
    user = User.objects.create_user("bench-operator", organization=grid)
    roles.sync_roles()
    user.groups.add(Group.objects.get(name=roles.GRID_OPERATOR))
    token = Token.objects.create(user=user).key
    services.tariff_set(
        microgrid=grid,
        retail_price=RETAIL,
        feed_in_price=FEED_IN,
        effective_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    start = time.perf_counter()
    members = Member.objects.bulk_create(
        [Member(microgrid=grid, kind="household", name=f"bench home {k}") for k in range(meters)]
    )
    Meter.objects.bulk_create(
        [
            Meter(
                member=m,
                meter_id=f"BENCH-{k:05d}",
                token_hash=f"{k:064x}",
                token_prefix=f"{k:08d}",
                token_rotated_at=datetime.now(UTC),
            )
            for k, m in enumerate(members)
        ]
    )
    print(f"\n{meters:,} members and meters set up in {time.perf_counter() - start:.1f} s")

    per_meter = readings // meters
    first = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(11)
    meters_per_request = max(1, per_request // per_meter)
    bodies = []
    for low in range(0, meters, meters_per_request):
        batch = []
        for k in range(low, min(meters, low + meters_per_request)):
            imports = [rng.randint(0, 400) for _q in range(per_meter)]
            exports = [rng.randint(0, 300) if 40 <= q % 96 <= 72 else 0 for q in range(per_meter)]
            batch.append(
                {
                    "meter_id": f"BENCH-{k:05d}",
                    "series": {
                        "start": first.isoformat(),
                        "import_wh": imports,
                        "export_wh": exports,
                    },
                }
            )
        bodies.append(json.dumps({"meters": batch}))
    total_rows = per_meter * meters
    size = sum(len(b) for b in bodies)
    print(
        f"ingesting {total_rows:,} readings ({per_meter:,} quarter-hours x {meters:,} meters, "
        f"{per_meter / 96:.1f} days) in {len(bodies)} requests of {meters_per_request} meters "
        f"({size / len(bodies) / 1e6:.2f} MB each)"
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        response = client.post("/api/energy/readings/", body, content_type="application/json")
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 201:
            sys.exit(f"upload failed: {response.status_code} {response.content[:500]!r}")
    elapsed = time.perf_counter() - start
    stored = Reading.objects.count()
    print(
        f"  {elapsed:.1f} s on {connection.vendor}: {stored / elapsed:,.0f} readings/s; "
        f"per request min {min(latencies):.2f} s, max {max(latencies):.2f} s; "
        f"target <= {INGEST_TARGET_S:.0f} s: {elapsed / INGEST_TARGET_S:.2f} of target"
    )
    assert stored == total_rows, (stored, total_rows)
    entries = Entry.objects.filter(kind="energy.readings_received").count()
    print(f"  stored {stored:,} readings, {entries} ledger receipts")

    t0 = time.perf_counter()
    again = client.post("/api/energy/readings/", bodies[0], content_type="application/json")
    retry = time.perf_counter() - t0
    assert again.status_code == 200, again.content[:300]
    print(
        f"  a retried request: {again.json()} in {retry:.2f} s; "
        f"readings {Reading.objects.count():,}"
    )

    # The market on stored data: one interval of --meters members, from the database
    # (readings, preferences, book, trades, grid lines, ledger entries) and back.
    from energy.models import Interval

    services.market_settings_set(microgrid=grid, mode="double_auction")
    ids = list(
        Interval.objects.filter(microgrid=grid).order_by("start").values_list("pk", flat=True)
    )[40:60]  # around 10:00-15:00 UTC: both sellers and buyers
    times = []
    for interval_id in ids:
        t0 = time.perf_counter()
        interval = services.market_clear_interval(interval_id=interval_id)
        times.append(time.perf_counter() - t0)
    print(
        f"clearing {len(ids)} stored intervals of {meters:,} members each: mean "
        f"{sum(times) / len(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"(last: {interval.matched_wh:,} Wh matched of {interval.max_matchable_wh:,} possible)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--per-request", type=int, default=50_000)
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    url = setup() if not args.skip_ingest else None
    if args.skip_ingest:
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citychain.settings")
        import django

        django.setup()
    bench_clearing(args.orders)
    if not args.skip_ingest:
        print(f"database: {url.rsplit('@', 1)[-1]}")
        bench_ingest(args.readings, args.meters, args.per_request)


if __name__ == "__main__":
    main()
