"""Import a member's Green Button "Download My Data" file into one of its meters.

    manage.py import_green_button FILE --meter METER_ID [--timezone America/Chicago]
                                  [--usage-point HREF]

ESPI XML or a utility CSV (CSV times are local: --timezone, default the microgrid's).
All or nothing: a malformed file, or a reading for an interval that is already settled,
stores nothing and names the line, element or row. Progress goes to stdout; no member's
name or address is ever printed.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from energy import services
from energy.models import Meter

MAX_FILE_BYTES = 200 * 1024 * 1024


class Command(BaseCommand):
    help = "Import a Green Button file (ESPI XML or utility CSV) into a meter's readings."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The downloaded file (.xml or .csv).")
        parser.add_argument("--meter", required=True, help="The meter id the readings belong to.")
        parser.add_argument(
            "--timezone",
            help="IANA time zone of a CSV's local times (default: the microgrid's).",
        )
        parser.add_argument(
            "--usage-point",
            help="For an XML file with several electricity UsagePoints: the self href of one.",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(f"{path}: larger than {MAX_FILE_BYTES // 1024 // 1024} MB.")
        meter = (
            Meter.objects.select_related("member__microgrid")
            .filter(meter_id=options["meter"])
            .first()
        )
        if meter is None:
            raise CommandError(f"No meter with id {options['meter']!r}.")
        self.stdout.write(f"{path.name}: importing into meter {meter.meter_id}")
        try:
            result = services.green_button_import(
                meter=meter,
                data=path.read_bytes(),
                timezone=options["timezone"],
                usage_point=options["usage_point"],
                progress=lambda message: self.stdout.write(f"  {message}"),
            )
        except services.ReadingsRejected as exc:
            lines = [exc.messages[0]]
            for problem in exc.row_errors[:20]:
                for field, messages in problem["errors"].items():
                    lines.append(f"  row {problem['row']} ({field}): {'; '.join(messages)}")
            raise CommandError("\n".join(lines)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages) + " Nothing was stored.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {result.created} new, {result.updated} corrected, "
                f"{result.unchanged} unchanged quarter-hours"
            )
        )
