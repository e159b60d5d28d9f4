"""Credit benchmark: scoring many residents from the database, and a resident's report page.

    python bench/credit.py [--residents 100000] [--months 24] [--pages 100]

On a throwaway PostgreSQL database: builds --residents residents, each with a rent
account and --months monthly payment records (mostly on time, some late, a few missed,
a few under dispute), in bulk. Then measures:

1. scoring every resident from the database through ``credit.selectors.scores_for_residents``
   (one streamed query, the same ``credit.score`` rules), against the pure
   ``credit.score.score_many`` over the same payments already in memory, and a bare
   streaming read of the same rows (the floor). Target: <= 30 s for 100,000 x 24.
2. a resident's report: the report-building selector (``report_content``), issuing one
   (``services.report_issue``: build, hash, ledger entry, save), and the server time of
   the resident's credit page and printable report page through the Django test client
   (a kiosk session; middleware, views, templates, no network). Target: <= 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import setup, summary, timer

AS_OF = date(2026, 11, 15)


def add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, 28))


def build(n: int, months: int, rng: random.Random):
    """Bulk-create residents, accounts and payment records; returns (landlord, in-memory
    payments by resident pk for the pure comparison, rows written)."""
    from django.db import transaction

    from credit import score
    from credit.models import Account, PaymentRecord
    from identity.models import Organization, Resident

    enroller = Organization.objects.create(name="Bench Shelter", kind="shelter")
    landlord = Organization.objects.create(name="Bench Housing", kind="landlord")
    first_due = add_months(date(AS_OF.year, AS_OF.month, 1), -months)
    digest = hashlib.sha256(b"bench").hexdigest()
    in_memory: dict[int, list] = {}
    rows = 0
    for start in range(0, n, 5000):
        count = min(n, start + 5000) - start
        residents = [
            Resident(
                legal_first_name="Bench", legal_last_name=f"Resident{start + i}",
                dob="1980-01-01", dob_data_quality=1, ssn_data_quality=99,
                enrolled_by=enroller, demographics="{}",
            )
            for i in range(count)
        ]  # fmt: skip
        with transaction.atomic():
            Resident.objects.bulk_create(residents, batch_size=5000)
            accounts = [
                Account(
                    reporter=landlord, resident=r, reference=f"L{r.pk}", kind="rent",
                    opened_on=first_due, scheduled_payment_cents=90_000,
                )
                for r in residents
            ]  # fmt: skip
            Account.objects.bulk_create(accounts, batch_size=5000)
            payments = []
            for resident, account in zip(residents, accounts, strict=True):
                profile = rng.random()  # 85% always on time, 12% some late, 3% a missed one
                mine = []
                for k in range(months):
                    due = add_months(first_due, k)
                    late = 0
                    if profile > 0.85 and rng.random() < 0.15:
                        late = rng.choice((3, 12, 35, 70))
                    missed = profile > 0.97 and k == months - 3
                    paid_on = None if missed else due + timedelta(days=late)
                    disputed = profile > 0.995 and k == months - 5
                    payments.append(
                        PaymentRecord(
                            public_id=uuid.uuid4(), account=account, reporter=landlord,
                            resident=resident, kind="rent", reference=f"R{account.pk}-{k}",
                            due_date=due, amount_due_cents=90_000, paid_on=paid_on,
                            amount_paid_cents=0 if missed else 90_000, in_dispute=disputed,
                            reported_digest=digest, digest=digest,
                        )
                    )  # fmt: skip
                    mine.append(
                        score.Payment(
                            str(account.pk), "rent", due, 90_000, paid_on,
                            0 if missed else 90_000, disputed,
                        )
                    )  # fmt: skip
                in_memory[resident.pk] = mine
            PaymentRecord.objects.bulk_create(payments, batch_size=10_000)
            rows += len(payments)
        print(f"  built {start + count:,} of {n:,} residents ({rows:,} payments)", flush=True)
    return landlord, in_memory, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from credit import score, selectors, services
    from credit.models import PaymentRecord
    from identity.models import Resident

    rng = random.Random(7)
    print(f"Building {args.residents:,} residents x {args.months} months ...")
    gc.disable()  # millions of new objects, no cycles: the collector's passes only cost time
    with timer() as built:
        _landlord, in_memory, _rows = build(args.residents, args.months, rng)
    gc.enable()
    gc.freeze()  # the in-memory copy stays for the comparison; keep it out of later passes
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE credit_paymentrecord")
    print(f"  built in {built['seconds']:.1f} s")

    # --- 1. scoring ------------------------------------------------------------------
    print("\nScoring every resident")
    with timer() as bare:
        streamed = sum(
            1
            for _row in PaymentRecord.objects.filter(status="active", due_date__lt=AS_OF)
            .order_by("resident_id")
            .values_list("resident_id", *selectors._SCORE_FIELDS)
            .iterator(chunk_size=20_000)
        )
    with timer() as pure:
        pure_scores = score.score_many(in_memory, AS_OF)
    with timer() as db:
        db_scores = selectors.scores_for_residents(as_of=AS_OF)
    assert len(db_scores) == args.residents, (len(db_scores), args.residents)
    assert db_scores == pure_scores, "the database path and the pure path disagree"
    scored = sum(1 for v in db_scores.values() if v is not None)
    print(f"  bare streaming read of {streamed:,} rows: {bare['seconds']:.1f} s "
          f"({streamed / bare['seconds']:,.0f} rows/s)")  # fmt: skip
    print(f"  pure score_many (payments in memory): {pure['seconds']:.1f} s "
          f"({args.residents / pure['seconds']:,.0f} residents/s)")  # fmt: skip
    print(f"  from the database (scores_for_residents): {db['seconds']:.1f} s "
          f"({args.residents / db['seconds']:,.0f} residents/s; {scored:,} with a score)"
          f"  target <= 30 s: {'OK' if db['seconds'] <= 30 else 'NOT MET'}")  # fmt: skip
    print(f"  ratios: database path = {db['seconds'] / pure['seconds']:.2f}x the pure path, "
          f"{db['seconds'] / bare['seconds']:.2f}x the bare read")  # fmt: skip

    # --- 2. a resident's report -----------------------------------------------------------
    print("\nA resident's report")
    resident = Resident.objects.order_by("pk")[args.residents // 2]
    times = []
    for _ in range(args.pages):
        start = time.perf_counter()
        selectors.report_content(
            resident, as_of=AS_OF, report_id=str(uuid.uuid4()), issued_at=_now()
        )
        times.append(time.perf_counter() - start)
    print(f"  report_content (build): {summary(times)}")
    times = []
    for _ in range(max(10, args.pages // 5)):
        start = time.perf_counter()
        issued = services.report_issue(resident=resident)
        times.append(time.perf_counter() - start)
    print(f"  report_issue (build, hash, ledger entry, save): {summary(times)}")
    times = []
    for _ in range(args.pages):
        start = time.perf_counter()
        selectors.resident_score(resident, as_of=AS_OF)
        selectors.resident_score_history(resident, as_of=AS_OF)
        times.append(time.perf_counter() - start)
    print(f"  score + 24-month history for one resident: {summary(times)}")

    client = Client()
    session = client.session
    session["kiosk_resident"] = resident.pk
    session["kiosk_seen"] = int(time.time())
    session.save()
    for name, kwargs in (
        ("credit:my_credit", {}),
        ("credit:my_report", {"public_id": issued.public_id}),
    ):
        try:
            url = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            print(f"  {name}: no such page yet (not measured)")
            continue
        response = client.get(url)
        if response.status_code != 200:
            print(f"  {name}: GET answered {response.status_code} (not measured)")
            continue
        times = []
        for _ in range(args.pages):
            start = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - start)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))] * 1000
        print(f"  GET {url} ({len(queries)} queries): {summary(times)}"
              f"  target p95 <= 50 ms: {'OK' if p95 <= 50 else 'NOT MET'}")  # fmt: skip


def _now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    main()
