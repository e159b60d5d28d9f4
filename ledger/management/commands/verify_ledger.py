"""Verify every leaf, node, root, block hash, link and signature; exit 1 on the first fault."""

import sys
import time

from django.core.management.base import BaseCommand

from ledger.verify import verify_ledger


class Command(BaseCommand):
    help = (
        "Recompute the whole ledger and compare with what is stored. Exits 0 when all holds, "
        "1 naming the first block height and entry index that does not."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 1 or done == total:
                last[0] = now
                pct = 100 * done / total if total else 100
                self.stderr.write(f"  verified {done:,} of {total:,} entries ({pct:.0f}%)")

        report = verify_ledger(progress)
        elapsed = time.monotonic() - started
        if report.ok:
            rate = report.entries / elapsed if elapsed else 0
            self.stdout.write(
                self.style.SUCCESS(
                    f"OK: {report.blocks:,} blocks, {report.entries:,} entries, "
                    f"{report.nodes:,} tree nodes verified in {elapsed:.1f}s "
                    f"({rate:,.0f} entries/s)"
                )
            )
            return
        self.stderr.write(self.style.ERROR(f"FAILED: {report.problem}"))
        sys.exit(1)
