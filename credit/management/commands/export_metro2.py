"""Write the Metro 2 file that furnishes opted-in residents' rent and lending-circle
accounts to the credit bureaus.

    manage.py export_metro2 --output FILE [--as-of YYYY-MM-DD] [--reporter ORG]
                            [--furnisher-name NAME] [--furnisher-address ADDRESS]
                            [--furnisher-phone DIGITS]

The file holds names, dates of birth, SSNs and addresses: it is written with mode 0600,
atomically (a temporary file renamed into place, so a failed run leaves no partial file),
and only counts are printed, never a value. Each reporter's policy (positive only or full
file) applies; see docs/metro2.md and docs/credit.md.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from credit import metro2, selectors, services
from identity.models import Organization


def _day(value: str | None) -> date:
    if value is None:
        return timezone.localdate()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r} is not a date as YYYY-MM-DD.") from None


def _reporter(value: str | None) -> Organization | None:
    if value is None:
        return None
    found = (
        Organization.objects.filter(pk=int(value)).first()
        if value.isdigit()
        else Organization.objects.filter(name=value).first()
    )
    if found is None:
        raise CommandError(f"No organization with ID or name {value!r}.")
    if selectors.reporter_policy(found) is None:
        raise CommandError(
            f"{found.name} has no bureau reporting policy; set one (positive only or full "
            "file, and its Metro 2 identification number) first."
        )
    return found


class Command(BaseCommand):
    help = (
        "Write a Metro 2 (426-byte fixed-length) file of the rent and lending-circle accounts "
        "of residents who opted in to bureau reporting, under each reporter's policy."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", required=True, help="The file to write.")
        parser.add_argument(
            "--as-of", help="Date of account information, YYYY-MM-DD (default: today)."
        )
        parser.add_argument("--reporter", help="Only this organization (ID or exact name).")
        parser.add_argument(
            "--furnisher-name",
            default=getattr(settings, "CITYCHAIN_METRO2_FURNISHER_NAME", ""),
            help="Header reporter name (default: the --reporter's name, or the setting "
            "CITYCHAIN_METRO2_FURNISHER_NAME).",
        )
        parser.add_argument(
            "--furnisher-address",
            default=getattr(settings, "CITYCHAIN_METRO2_FURNISHER_ADDRESS", ""),
            help="Header reporter address (or the setting CITYCHAIN_METRO2_FURNISHER_ADDRESS).",
        )
        parser.add_argument(
            "--furnisher-phone",
            default=getattr(settings, "CITYCHAIN_METRO2_FURNISHER_PHONE", ""),
            help="Header telephone, 10 digits.",
        )
        parser.add_argument(
            "--crlf", action="store_true", help="End each record with CR LF (some intakes)."
        )

    def handle(self, *args, **options) -> None:
        output = Path(options["output"])
        if output.is_dir():
            raise CommandError(f"--output {output} is a folder; give a file name.")
        if not output.parent.exists():
            raise CommandError(f"The folder {output.parent} does not exist.")
        as_of = _day(options["as_of"])
        if as_of > timezone.localdate():
            raise CommandError("--as-of is in the future.")
        reporter = _reporter(options["reporter"])
        name = options["furnisher_name"] or (reporter.name if reporter else "")
        address = options["furnisher_address"]
        if not name or not address:
            raise CommandError(
                "Give the furnisher's name and address (--furnisher-name, --furnisher-address "
                "or the CITYCHAIN_METRO2_FURNISHER_* settings): the header needs them."
            )

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  accounts read: {done}/{total}")

        self.stdout.write(f"Building Metro 2 segments as of {as_of.isoformat()} ...")
        build = selectors.metro2_build(as_of=as_of, reporter=reporter, progress=progress)
        header = metro2.HeaderInfo(
            reporter_name=name,
            reporter_address=address,
            reporter_telephone="".join(c for c in options["furnisher_phone"] if c.isdigit()),
            activity_date=min(build.activity_date or as_of, timezone.localdate()),
            date_created=timezone.localdate(),
        )
        handle, tmp_name = tempfile.mkstemp(prefix=".metro2-", dir=output.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stats = metro2.write_file(
                    header,
                    build.segments,
                    stream,
                    line_separator=b"\r\n" if options["crlf"] else b"",
                )
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, output)
        except metro2.Metro2Error as exc:
            os.unlink(tmp_name)
            # Field names and account numbers only: never a consumer's value.
            lines = "\n".join(f"  - {e}" for e in exc.errors[:50])
            more = f"\n  ... and {len(exc.errors) - 50} more" if len(exc.errors) > 50 else ""
            raise CommandError(
                f"Metro 2 validation failed; no file written. {len(exc.errors)} problems:\n"
                f"{lines}{more}"
            ) from None
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        services.accounts_mark_furnished(account_ids=build.account_ids)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(stats.status_counts.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {output}: {stats.base_records} accounts ({statuses or 'none'}), "
                f"{stats.records} records, {stats.bytes_written} bytes."
            )
        )
        if build.held_by_policy:
            self.stdout.write(f"  held back by positive-only policies: {build.held_by_policy}")
        for reason, count in sorted(build.skipped.items()):
            self.stdout.write(f"  skipped ({reason}): {count}")
