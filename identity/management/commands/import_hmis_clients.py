"""Migrate the people of another HMIS: enroll each client of its Client.csv.

    manage.py import_hmis_clients FILE --org ID --user USERNAME
                                  [--version FY2026|FY2024] [--source NAME] [--allow-duplicates]

All or nothing: the file is checked first and every problem is listed by line; then
everyone is enrolled in one transaction, which rolls back whole on any failure. Each
resident gets a city ID and a consent to the importing organization for identity
records, noted "migrated from <source>": that organization must hold each resident's
signed release of information. Possible duplicates of existing residents are reported
by line and skipped unless --allow-duplicates. Only line numbers and counts are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError

from citychain import roles
from identity import hmis, hmis_export
from identity.management.commands.export_hmis import (
    free_version_option,
    organization_arg,
    user_arg,
    version_arg,
)


def _lines(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


class Command(BaseCommand):
    help = (
        "Enroll the clients of another HMIS's Client.csv into one organization, in one "
        "transaction: all of them or, on any problem, none (problems listed by line)."
    )

    def add_arguments(self, parser) -> None:
        free_version_option(parser)
        parser.add_argument("file", help="The Client.csv to import.")
        parser.add_argument("--org", required=True, help="ID of the organization enrolling them.")
        parser.add_argument(
            "--user", required=True, help="Username of a staff member of that organization."
        )
        parser.add_argument(
            "--version",
            default=hmis.DEFAULT_VERSION,
            help=f"HUD HMIS CSV version of the file: {' or '.join(hmis.VERSIONS)}.",
        )
        parser.add_argument(
            "--source",
            default="another HMIS",
            help="Name of the HMIS the file comes from, noted on each consent.",
        )
        parser.add_argument(
            "--allow-duplicates",
            action="store_true",
            help="Enroll possible duplicates of existing residents too (link them later).",
        )

    def handle(self, *args, **options) -> None:
        version = version_arg(options["version"])
        organization = organization_arg(options["org"])
        user = user_arg(options["user"])
        if user.organization_id != organization.pk:
            raise CommandError(f"{user.username!r} is not a staff member of {organization.name}.")
        if not roles.has_role(user, roles.CASEWORKER, roles.PROVIDER_ADMIN):
            raise CommandError(
                f"{user.username!r} is neither a caseworker nor a provider admin, so cannot enroll."
            )
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        content = path.read_bytes()
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text; nothing was imported.") from None

        try:
            clients = hmis.read_clients(text, version)
        except hmis.HmisError as exc:
            self._fail(exc.errors or [(1, str(exc))], path)
        lines = hmis_export.client_lines(text)
        self.stdout.write(f"{path.name}: {len(clients)} clients read; enrolling...")
        try:
            result = hmis_export.clients_import(
                acting_user=user,
                clients=[(lines[client.personal_id], client) for client in clients],
                version=version,
                source=options["source"],
                allow_duplicates=options["allow_duplicates"],
            )
        except hmis_export.ImportFailed as exc:
            self._fail(exc.errors, path)

        if result.duplicate_lines:
            self.stdout.write(
                f"Skipped {len(result.duplicate_lines)} possible duplicates of existing "
                f"residents (lines {_lines(result.duplicate_lines)}); check them at the desk, "
                "or run again with --allow-duplicates."
            )
        if result.deleted_lines:
            self.stdout.write(
                f"Skipped {len(result.deleted_lines)} clients deleted in the source HMIS "
                f"(lines {_lines(result.deleted_lines)})."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Imported {result.imported} clients into {organization.name}.")
        )

    def _fail(self, errors: list[tuple[int, str]], path: Path) -> NoReturn:
        for line, message in errors:
            self.stderr.write(f"{path.name} line {line}: {message}")
        raise CommandError(
            f"{path.name} has {len(errors)} problem(s), listed above; nothing was imported."
        )
