"""Print a new Ed25519 signing key for CITYCHAIN_LEDGER_SIGNING_KEY, and its public key."""

from django.core.management.base import BaseCommand

from ledger import signing


class Command(BaseCommand):
    help = "Print a new ledger signing key (hex seed) and its public key."

    def handle(self, *args, **options):
        seed = signing.generate_seed_hex()
        key = signing.load_private_key(seed)
        self.stdout.write(f"CITYCHAIN_LEDGER_SIGNING_KEY={seed}")
        self.stderr.write(f"public key (publish this): {signing.public_key_hex(key)}")
        self.stderr.write("Keep the seed secret and in the backup plan; never commit it.")
