"""import_green_button: a member's Green Button file into a meter, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from energy import services
from energy.models import Interval, Reading
from tests.energy.test_services import add_member, microgrid  # noqa: F401

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"


@pytest.fixture
def meter(microgrid):  # noqa: F811
    return add_member(microgrid, "ann")[1]


def run(*args) -> str:
    out = StringIO()
    call_command("import_green_button", *args, stdout=out)
    return out.getvalue()


def test_imports_espi_xml_with_progress_and_is_idempotent(meter):
    path = DATA / "espi_prefixed.xml"
    out = run(str(path), "--meter", meter.meter_id)
    count = Reading.objects.filter(meter=meter).count()
    assert count > 0
    assert "quarter-hours" in out and f"done: {count} new" in out
    assert set(Reading.objects.values_list("source", flat=True)) == {"green_button"}
    out = run(str(path), "--meter", meter.meter_id)
    assert f"{count} unchanged" in out
    assert Reading.objects.filter(meter=meter).count() == count


def test_imports_a_csv_in_the_given_time_zone(meter):
    run(str(DATA / "pge_15min.csv"), "--meter", meter.meter_id, "--timezone", "America/Los_Angeles")
    first = Reading.objects.filter(meter=meter).order_by("interval_start").first()
    # 12:00 in Oakland in June is 19:00 UTC; the 0.32 kWh negative usage is export.
    assert first.interval_start.hour == 19 and first.import_wh == 250
    assert Reading.objects.filter(meter=meter, export_wh=320).exists()


def test_malformed_file_stores_nothing_and_says_where(meter, tmp_path):
    bad = tmp_path / "bad.csv"
    text = (DATA / "pge_15min.csv").read_text(encoding="utf-8-sig")
    bad.write_text(text.replace("0.10", "zero point one"))
    with pytest.raises(CommandError, match="line 8"):
        run(str(bad), "--meter", meter.meter_id, "--timezone", "America/Los_Angeles")
    assert not Reading.objects.exists() and not Interval.objects.exists()


def test_unknown_meter_and_missing_file(meter, tmp_path):
    with pytest.raises(CommandError, match="No meter"):
        run(str(DATA / "espi_prefixed.xml"), "--meter", "nope")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.xml"), "--meter", meter.meter_id)


def test_settled_interval_refuses_the_whole_file(meter, microgrid):  # noqa: F811
    services.tariff_set(
        microgrid=microgrid,
        retail_price=20_000,
        feed_in_price=4_000,
        effective_from=datetime(2024, 1, 1, tzinfo=UTC),
    )
    services.green_button_import(meter=meter, data=(DATA / "espi_prefixed.xml").read_bytes())
    first = Reading.objects.filter(meter=meter).order_by("interval_start").first()
    Reading.objects.filter(pk=first.pk).update(import_wh=first.import_wh + 1)  # history differs
    services.market_clear_due()  # clears and settles everything (it is long past)
    assert Interval.objects.filter(settled_at__isnull=True).count() == 0
    with pytest.raises(CommandError, match="settled"):
        run(str(DATA / "espi_prefixed.xml"), "--meter", meter.meter_id)
    first.refresh_from_db()
    assert Reading.objects.get(pk=first.pk).import_wh == first.import_wh


def test_service_refuses_csv_without_a_known_time_zone(meter):
    with pytest.raises(ValidationError):
        services.green_button_import(
            meter=meter, data=(DATA / "pge_15min.csv").read_bytes(), timezone="Mars/Olympus"
        )
    assert not Reading.objects.exists()
