"""Input and output serializers of the energy API (energy.api).

Readings come in batches of up to tens of thousands of rows, so their rows are checked by
one plain loop (:func:`parse_rows`) rather than a serializer per row: the same checks and
the same per-row error format, a hundred times cheaper.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from energy.models import QUARTER, GridSettlement, Interval, Order, Trade
from energy.services import ReadingRow

MAX_ROWS_PER_METER = 10_000  # over 100 days of quarter-hours
MAX_ROWS_PER_UPLOAD = 100_000
MAX_METERS_PER_UPLOAD = 1_000


class RowsRejected(Exception):
    """Rows that cannot be read; ``errors`` in the services' ReadingsRejected format."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} rows refused")


def _parse_start(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _start_error() -> dict[str, list[str]]:
    return {"start": [_("Give the start as an ISO 8601 time with its UTC offset.")]}


def parse_rows(payload: Any, *, limit: int = MAX_ROWS_PER_METER) -> list[ReadingRow]:
    """Rows from ``{"readings": [{start, import_wh, export_wh}, ...]}`` or
    ``{"series": {"start": ..., "import_wh": [...], "export_wh": [...]}}``.

    Types are checked here (the services check ranges, quarter-hours and duplicates);
    raises RowsRejected with per-row errors, or serializers.ValidationError for the shape.
    """
    if not isinstance(payload, dict):
        raise serializers.ValidationError({"detail": [_("Send a JSON object.")]})
    readings, series = payload.get("readings"), payload.get("series")
    if (readings is None) == (series is None):
        raise serializers.ValidationError(
            {"detail": [_('Send either "readings" (a list of rows) or "series".')]}
        )
    rows: list[ReadingRow] = []
    errors: list[dict[str, Any]] = []
    if readings is not None:
        if not isinstance(readings, list) or not readings:
            raise serializers.ValidationError(
                {"readings": [_("Send a non-empty list of readings.")]}
            )
        if len(readings) > limit:
            raise serializers.ValidationError(
                {"readings": [_("Send at most %(limit)d readings at once.") % {"limit": limit}]}
            )
        for index, row in enumerate(readings):
            if not isinstance(row, dict):
                errors.append({"row": index, "errors": {"row": [_("Each reading is an object.")]}})
                continue
            start = _parse_start(row.get("start"))
            if start is None:
                errors.append({"row": index, "errors": _start_error()})
                continue
            rows.append(ReadingRow(start, row.get("import_wh"), row.get("export_wh")))
        if errors:
            raise RowsRejected(errors)
        return rows
    if not isinstance(series, dict):
        raise serializers.ValidationError({"series": [_("Send an object.")]})
    start = _parse_start(series.get("start"))
    imports, exports = series.get("import_wh"), series.get("export_wh")
    if start is None:
        raise serializers.ValidationError({"series": [_start_error()["start"][0]]})
    if not isinstance(imports, list) or not isinstance(exports, list) or not imports:
        raise serializers.ValidationError(
            {"series": [_("Send import_wh and export_wh as lists of whole watt-hours.")]}
        )
    if len(imports) != len(exports):
        raise serializers.ValidationError(
            {"series": [_("import_wh and export_wh must have the same length.")]}
        )
    if len(imports) > limit:
        raise serializers.ValidationError(
            {"series": [_("Send at most %(limit)d readings at once.") % {"limit": limit}]}
        )
    return [
        ReadingRow(start + k * QUARTER, imp, exp)
        for k, (imp, exp) in enumerate(zip(imports, exports, strict=True))
    ]


# --- documentation of the reading payloads (drf-spectacular) -------------------------


class ReadingRowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the quarter-hour, ISO 8601 with offset.")
    import_wh = serializers.IntegerField(min_value=0, help_text="Energy taken from the grid, Wh.")
    export_wh = serializers.IntegerField(min_value=0, help_text="Energy fed into the grid, Wh.")


class ReadingSeriesSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the first quarter-hour.")
    import_wh = serializers.ListField(child=serializers.IntegerField(min_value=0))
    export_wh = serializers.ListField(child=serializers.IntegerField(min_value=0))


class ReadingBatchSerializer(serializers.Serializer):
    """One meter's batch: a list of rows, or consecutive quarter-hours as two columns."""

    readings = ReadingRowSerializer(many=True, required=False)
    series = ReadingSeriesSerializer(required=False)


class MeterBatchSerializer(ReadingBatchSerializer):
    meter_id = serializers.CharField()


class UploadSerializer(serializers.Serializer):
    meters = MeterBatchSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class ReadingRowErrorSerializer(serializers.Serializer):
    meter = serializers.CharField(required=False)
    row = serializers.IntegerField(help_text="0-based index of the row in its batch.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ReadingsRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ReadingRowErrorSerializer(many=True)


class EnergyErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- operator API output -----------------------------------------------------------------


class IntervalSerializer(serializers.ModelSerializer):
    end = serializers.SerializerMethodField()
    settled = serializers.SerializerMethodField()

    class Meta:
        model = Interval
        fields = [
            "id",
            "start",
            "end",
            "status",
            "run",
            "cleared_at",
            "settled",
            "settled_at",
            "mode",
            "retail_price",
            "feed_in_price",
            "offered_wh",
            "bid_wh",
            "matched_wh",
            "max_matchable_wh",
            "traded_cents",
            "average_price",
            "grid_import_wh",
            "grid_import_cents",
            "grid_export_wh",
            "grid_export_cents",
        ]

    @extend_schema_field(serializers.DateTimeField())
    def get_end(self, interval: Interval) -> str:
        return serializers.DateTimeField().to_representation(interval.start + timedelta(minutes=15))

    def get_settled(self, interval: Interval) -> bool:
        return interval.settled_at is not None


class EnergyOrderSerializer(serializers.ModelSerializer):
    member = serializers.UUIDField(source="member.public_id")

    class Meta:
        model = Order
        fields = [
            "public_id",
            "member",
            "side",
            "source",
            "status",
            "wh",
            "limit_price",
            "book_wh",
            "traded_wh",
        ]


class EnergyTradeSerializer(serializers.ModelSerializer):
    seller = serializers.UUIDField(source="seller.public_id")
    buyer = serializers.UUIDField(source="buyer.public_id")

    class Meta:
        model = Trade
        fields = ["seller", "buyer", "wh", "price", "cents", "run"]


class GridSettlementSerializer(serializers.ModelSerializer):
    member = serializers.UUIDField(source="member.public_id")

    class Meta:
        model = GridSettlement
        fields = ["member", "direction", "wh", "price", "cents", "run"]


class IntervalBookSerializer(serializers.Serializer):
    interval = IntervalSerializer()
    orders = EnergyOrderSerializer(many=True)
    trades = EnergyTradeSerializer(many=True)
    grid = GridSettlementSerializer(many=True)


class IntervalQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


class MeterTokenSerializer(serializers.Serializer):
    meter_id = serializers.CharField()
    token = serializers.CharField(help_text="Shown only this once; store it in the meter.")


class MarketSettingsSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["pro_rata", "double_auction"])
    local_price = serializers.IntegerField(
        min_value=0, allow_null=True, required=False, help_text="Pro rata only; m¢/kWh."
    )
    timezone = serializers.CharField(required=False, help_text="IANA name.")


class TariffPeriodOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    retail_price = serializers.IntegerField()
    feed_in_price = serializers.IntegerField()


class TariffOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    effective_from = serializers.DateTimeField()
    retail_price = serializers.IntegerField()
    feed_in_price = serializers.IntegerField()
    periods = TariffPeriodOutSerializer(many=True, source="periods.all")


class MarketSerializer(serializers.Serializer):
    mode = serializers.CharField()
    local_price = serializers.IntegerField(allow_null=True)
    timezone = serializers.CharField()
    clear_delay_minutes = serializers.IntegerField()
    settle_delay_hours = serializers.IntegerField()
    tariff = TariffOutSerializer(allow_null=True, help_text="The tariff in force now.")
