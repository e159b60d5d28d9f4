"""Write the HUD HMIS CSV files a Continuum of Care loads into its HMIS.

    manage.py export_hmis --output DIR [--org ID] [--start DATE] [--end DATE]
                          [--version FY2026|FY2024] [--user USERNAME] [--coc XX-501]

Residents protected by VAWA are never written; they are counted. Only counts and file
names are printed, never a value; the export is on the audit trail (counts only).
See docs/hmis.md for what each file holds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from identity import hmis, hmis_export
from identity.models import Organization, User


def parse_day(value: str | date | None, option: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a date as YYYY-MM-DD.") from None


def organization_arg(value: object) -> Organization | None:
    if value is None:
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise CommandError(f"--org {value!r} is not an organization ID (a number).") from None
    organization = Organization.objects.filter(pk=pk).first()
    if organization is None:
        raise CommandError(f"No organization with ID {pk}.")
    return organization


def user_arg(username: str | None) -> User | None:
    if username is None:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No staff account named {username!r}.")
    return user


def free_version_option(parser) -> None:
    """Every Django command has a --version (Django's own version); these commands use it
    for HUD's CSV version, as the issue names it, so Django's is removed first."""
    for action in list(parser._actions):
        if "--version" in action.option_strings:
            parser._handle_conflict_resolve(None, [("--version", action)])


def version_arg(version: str) -> str:
    if version not in hmis.VERSIONS:
        raise CommandError(
            f"Unknown HMIS CSV version {version!r}; use one of {', '.join(hmis.VERSIONS)}."
        )
    return version


class Command(BaseCommand):
    help = (
        "Write the HUD HMIS CSV export (Export, Organization, Project, Client, Enrollment, "
        "Exit, Services) for the residents with an enrollment in the period. Residents "
        "protected by VAWA are never exported."
    )

    def add_arguments(self, parser) -> None:
        free_version_option(parser)
        parser.add_argument(
            "--output", required=True, help="Folder to write the seven CSV files into."
        )
        parser.add_argument("--org", help="Only this organization (its ID): default all.")
        parser.add_argument(
            "--start", help="First day of the period, YYYY-MM-DD (default: the first record)."
        )
        parser.add_argument("--end", help="Last day of the period, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--version",
            default=hmis.DEFAULT_VERSION,
            help=f"HUD HMIS CSV version: {' or '.join(hmis.VERSIONS)}"
            f" (default {hmis.DEFAULT_VERSION}).",
        )
        parser.add_argument(
            "--user", help="Staff username the audit trail names (default: none, the system)."
        )
        parser.add_argument(
            "--coc",
            help="CoC code for EnrollmentCoC, like XX-501 (default CITYCHAIN_HMIS_COC_CODE).",
        )

    def handle(self, *args, **options) -> None:
        version = version_arg(options["version"])
        organization = organization_arg(options["org"])
        start = parse_day(options["start"], "--start")
        end = parse_day(options["end"], "--end")
        if start and end and start > end:
            raise CommandError(f"--start {start} is after --end {end}.")
        actor = user_arg(options["user"])
        output = Path(options["output"])
        if output.exists() and not output.is_dir():
            raise CommandError(f"--output {output} is not a directory.")
        if not output.exists() and not output.parent.is_dir():
            raise CommandError(f"--output {output}: its parent folder does not exist.")
        coc = options["coc"] or hmis_export.coc_code()
        if coc == hmis_export.COC_CODE_PLACEHOLDER:
            self.stderr.write(
                self.style.WARNING(
                    f"EnrollmentCoC is the placeholder {coc}: set CITYCHAIN_HMIS_COC_CODE "
                    "or pass --coc before sending this export to a CoC."
                )
            )

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  residents: {done} of {total}")

        scope = organization.name if organization else "all organizations"
        self.stdout.write(f"HMIS CSV {version} export for {scope}:")
        try:
            result = hmis_export.export_write(
                output,
                version=version,
                organization=organization,
                start=start,
                end=end,
                actor=actor,
                coc=coc,
                progress=progress,
            )
        except hmis.HmisError as exc:
            raise CommandError(f"Nothing was written: {exc}") from exc

        self.stdout.write(f"Period {result.start} to {result.end}. Files written:")
        for path in result.files:
            self.stdout.write(f"  {path}")
        counts = result.counts()
        exported = ("organizations", "projects", "clients", "enrollments", "exits", "services")
        self.stdout.write(
            "Exported: " + ", ".join(f"{counts[key]} {key}" for key in exported) + "."
        )
        self.stdout.write(
            f"Left out: {result.vawa_excluded} residents protected by VAWA; "
            f"{result.vsp_enrollments_excluded} enrollments at victim-service providers; "
            f"{result.encounters_unmapped} encounters of kinds HUD has no service for; "
            f"{result.encounters_unenrolled} encounters no enrollment covers."
        )
        self.stdout.write(self.style.SUCCESS("Done. The export is on the audit trail."))
