"""Load the demo data set (idempotent) and print how to sign in."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from citychain import demo


class Command(BaseCommand):
    help = "Load synthetic demo data (organizations, staff per role, each app's data). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load demo accounts even with CITYCHAIN_ENV=production (for a staging site).",
        )

    def handle(self, *args, allow_production=False, **options):
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "refusing to load demo accounts in production; pass --allow-production "
                "for a staging site"
            )
        for position, (name, path) in enumerate(demo.SEEDERS, start=1):
            self.stdout.write(f"[{position}/{len(demo.SEEDERS)}] seeding {name}…")
            demo.seeder(path)(progress=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("")
        self.stdout.write(
            "  citychain is at http://127.0.0.1:8000/  (admin: /admin/, API: /api/docs/)"
        )
        self.stdout.write(f"  Demo sign-ins (password for all: {demo.DEMO_PASSWORD}):")
        for login in demo.DEMO_LOGINS:
            org = f" — {login.organization}" if login.organization else ""
            self.stdout.write(f"    {login.username:<14} {login.role_label}{org}")
        self.stdout.write("")
