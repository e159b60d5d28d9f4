"""Record N synthetic public entries (kind ledger.synthetic) for benchmarks and drills."""

import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ledger import services

CHUNK = 10_000


class Command(BaseCommand):
    help = "Record N synthetic public ledger entries (kind ledger.synthetic)."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, required=True, help="how many to record")
        parser.add_argument("--seal", action="store_true", help="seal them before exiting")

    def handle(self, *args, entries: int, seal: bool = False, **options):
        if entries < 1 or entries > 100_000_000:
            raise CommandError("--entries must be between 1 and 100,000,000")
        run = secrets.token_hex(4)
        done = 0
        while done < entries:
            n = min(CHUNK, entries - done)
            with transaction.atomic():
                services.record_many(
                    (
                        "ledger.synthetic",
                        f"synthetic-{run}",
                        {"run": run, "n": done + i, "amount_cents": (done + i) % 10_000},
                    )
                    for i in range(n)
                )
            done += n
            self.stderr.write(f"  recorded {done:,} of {entries:,}")
        if seal:
            blocks = services.seal_all()
            self.stdout.write(f"Sealed into {len(blocks)} blocks.")
        self.stdout.write(self.style.SUCCESS(f"Recorded {entries:,} synthetic entries."))
