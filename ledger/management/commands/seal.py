"""Seal all pending ledger entries now, without waiting for a worker."""

from django.core.management.base import BaseCommand

from ledger import services


class Command(BaseCommand):
    help = "Seal every pending entry into signed blocks now."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="entries per block")

    def handle(self, *args, batch_size=None, **options):
        if batch_size is not None and batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        total = 0
        blocks = 0
        while (block := services.seal_pending(batch_size=batch_size)) is not None:
            blocks += 1
            total += block.entry_count
            self.stdout.write(
                f"  block {block.height}: {block.entry_count:,} entries (tree size "
                f"{block.tree_size:,})"
            )
        self.stdout.write(self.style.SUCCESS(f"Sealed {total:,} entries into {blocks} blocks."))
