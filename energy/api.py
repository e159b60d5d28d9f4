"""The energy REST API, under /api/energy/.

- Smart meters post their quarter-hour readings with their own token
  (``Authorization: Meter <token>``, or ``Bearer <token>``), one meter per request.
- The grid operator's systems use a DRF token of a grid operator (or city admin) of the
  microgrid: a bulk upload of many meters' readings (a head-end system), the intervals
  with their clearing totals, an interval's order book and trades, and meter tokens.

Members appear only by their public id; no name ever leaves the portal. A batch with one
bad row is refused whole (400) with per-row errors, and nothing is stored.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from citychain.api import RatesFromSettings, bad_request
from energy import selectors, services
from energy.models import Interval, Meter
from energy.serializers import (
    MAX_METERS_PER_UPLOAD,
    MAX_ROWS_PER_UPLOAD,
    EnergyErrorSerializer,
    IngestResultSerializer,
    IntervalBookSerializer,
    IntervalQuerySerializer,
    IntervalSerializer,
    MarketSerializer,
    MarketSettingsSerializer,
    MeterTokenSerializer,
    ReadingBatchSerializer,
    ReadingsRejectedSerializer,
    RowsRejected,
    UploadSerializer,
    parse_rows,
)

REJECTED = bad_request(
    "ReadingsBadRequest",
    ReadingsRejectedSerializer,
    "The batch was refused whole: per-row errors (0-based `row`), nothing stored; or the "
    "request is not a batch (field errors).",
)
THROTTLED = OpenApiResponse(
    EnergyErrorSerializer, description="Too many requests; retry after `Retry-After` seconds."
)


# --- meters ----------------------------------------------------------------------------


class MeterTokenAuthentication(BaseAuthentication):
    """``Authorization: Meter <token>`` (or ``Bearer``) for the meter named in the URL."""

    keywords = (b"meter", b"bearer")

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in self.keywords:
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(_("Send the meter's token after the keyword."))
        try:
            token = auth[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("The token is not valid.")) from None
        meter_id = request.parser_context["kwargs"].get("meter_id", "")
        meter = selectors.meter_for_token(meter_id, token)
        if meter is None:
            raise exceptions.AuthenticationFailed(
                _("Unknown meter, inactive meter or wrong token.")
            )
        return AnonymousUser(), meter

    def authenticate_header(self, request) -> str:
        return 'Meter realm="api"'


class MeterTokenScheme(OpenApiAuthenticationExtension):
    """Documents the meter token in the OpenAPI schema."""

    target_class = "energy.api.MeterTokenAuthentication"
    name = "meterToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Meter <token>` (or `Bearer <token>`): the meter's own token.",
        }


class IsMeter(BasePermission):
    message = gettext_lazy("Send the meter's token: Authorization: Meter <token>.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Meter)


class _RateFromSettings(RatesFromSettings, SimpleRateThrottle):
    pass


class MeterThrottle(_RateFromSettings):
    scope = "energy-meter"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Meter):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"meter-{request.auth.pk}"}


class OperatorThrottle(_RateFromSettings):
    scope = "energy-operator"

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _rejected(exc: services.ReadingsRejected | RowsRejected, count: int | None = None) -> Response:
    if isinstance(exc, RowsRejected):
        errors = exc.errors
        detail = services.ReadingsRejected(errors).messages[0]
    else:
        errors, detail = exc.row_errors, exc.messages[0]
    return Response({"detail": detail, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


def _ingest_response(result: services.IngestResult) -> Response:
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(IngestResultSerializer(result).data, status=code)


class MeterReadingsView(APIView):
    authentication_classes = [MeterTokenAuthentication]
    permission_classes = [IsMeter]
    throttle_classes = [MeterThrottle]

    @extend_schema(
        operation_id="energy_meter_readings",
        summary="Post a meter's quarter-hour readings",
        description=(
            "A batch of 15-minute readings of the meter in the URL, either as `readings` "
            "(rows with `start`, `import_wh`, `export_wh`) or as `series` (consecutive "
            "quarter-hours from `start`, two lists). Idempotent on meter + interval: the same "
            "values again change nothing; other values correct a reading until its interval "
            "settles. Late and out-of-order readings are accepted until then. One bad row "
            "refuses the whole batch. At most 10,000 rows per request."
        ),
        request=ReadingBatchSerializer,
        responses={
            201: OpenApiResponse(IngestResultSerializer, description="Readings were stored."),
            200: OpenApiResponse(IngestResultSerializer, description="Nothing new (a retry)."),
            400: REJECTED,
            401: OpenApiResponse(EnergyErrorSerializer, description="No token, or a wrong one."),
            404: OpenApiResponse(
                EnergyErrorSerializer,
                description="Not a meter id (letters, digits, hyphens and underscores).",
            ),
            429: THROTTLED,
        },
        tags=["energy"],
    )
    def post(self, request, meter_id: str):
        meter: Meter = request.auth
        try:
            rows = parse_rows(request.data)
            result = services.readings_ingest(meter=meter, rows=rows)
        except (RowsRejected, services.ReadingsRejected) as exc:
            return _rejected(exc)
        return _ingest_response(result)


# --- the operator --------------------------------------------------------------------


class IsMicrogridOperator(BasePermission):
    message = gettext_lazy(
        "Only grid operators of a microgrid can use this API. Ask a city admin for a token "
        "on such an account."
    )

    def has_permission(self, request, view) -> bool:
        return selectors.microgrid_for_user(request.user) is not None


class OperatorAPIView(APIView):
    permission_classes = [IsAuthenticated, IsMicrogridOperator]
    throttle_classes = [OperatorThrottle]

    @property
    def microgrid(self):
        return selectors.microgrid_for_user(self.request.user)


OPERATOR_ERRORS = {
    401: OpenApiResponse(EnergyErrorSerializer, description="No token, or an unknown one."),
    403: OpenApiResponse(
        EnergyErrorSerializer, description="The account is not a grid operator of a microgrid."
    ),
    429: THROTTLED,
}


class UploadView(OperatorAPIView):
    @extend_schema(
        operation_id="energy_readings_upload",
        summary="Upload many meters' readings at once (the bulk path)",
        description=(
            "For the operator's head-end system: `meters` is a list of batches, each with a "
            "`meter_id` of this microgrid and `readings` or `series` as for one meter. All or "
            "nothing: any bad row refuses the whole upload, with errors naming the meter and "
            "row. At most 100,000 rows and 1,000 meters per request."
        ),
        request=UploadSerializer,
        responses={
            201: OpenApiResponse(IngestResultSerializer, description="Readings were stored."),
            200: OpenApiResponse(IngestResultSerializer, description="Nothing new (a retry)."),
            400: REJECTED,
            **OPERATOR_ERRORS,
        },
        tags=["energy"],
    )
    def post(self, request):
        batches_in = request.data.get("meters") if isinstance(request.data, dict) else None
        if not isinstance(batches_in, list) or not batches_in:
            raise exceptions.ValidationError({"meters": [_("Send a non-empty list of meters.")]})
        if len(batches_in) > MAX_METERS_PER_UPLOAD:
            raise exceptions.ValidationError(
                {
                    "meters": [
                        _("Send at most %(limit)d meters at once.")
                        % {"limit": MAX_METERS_PER_UPLOAD}
                    ]
                }
            )
        ids = [b.get("meter_id") if isinstance(b, dict) else None for b in batches_in]
        meters = {
            m.meter_id: m
            for m in Meter.objects.select_related("member").filter(
                meter_id__in=[i for i in ids if isinstance(i, str)],
                member__microgrid=self.microgrid,
            )
        }
        errors: list[dict] = []
        batches = []
        total = 0
        for index, (meter_id, batch) in enumerate(zip(ids, batches_in, strict=True)):
            meter = meters.get(meter_id) if isinstance(meter_id, str) else None
            if meter is None:
                errors.append(
                    {
                        "meter": str(meter_id),
                        "row": 0,
                        "errors": {
                            "meter_id": [
                                _("No meter of your microgrid has this id (batch %(n)d).")
                                % {"n": index}
                            ]
                        },
                    }
                )
                continue
            try:
                rows = parse_rows(batch)
            except RowsRejected as exc:
                errors.extend({"meter": meter_id, **e} for e in exc.errors)
                continue
            except exceptions.ValidationError as exc:
                errors.append({"meter": meter_id, "row": 0, "errors": exc.detail})
                continue
            total += len(rows)
            batches.append((meter, rows))
        if errors:
            return _rejected(RowsRejected(errors))
        if total > MAX_ROWS_PER_UPLOAD:
            raise exceptions.ValidationError(
                {
                    "meters": [
                        _("Send at most %(limit)d rows at once.") % {"limit": MAX_ROWS_PER_UPLOAD}
                    ]
                }
            )
        try:
            result = services.readings_ingest_many(batches=batches)
        except services.ReadingsRejected as exc:
            return _rejected(exc)
        return _ingest_response(result)


class IntervalPagination(PageNumberPagination):
    page_size = 96  # one day of quarter-hours
    max_page_size = 1000
    page_size_query_param = "page_size"


class IntervalListView(OperatorAPIView):
    pagination_class = IntervalPagination

    @extend_schema(
        operation_id="energy_intervals",
        summary="Market intervals and their clearing totals",
        description="Newest first; filter with `start` / `end` (ISO 8601 with offset).",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=False),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=False),
        ],
        responses={
            200: IntervalSerializer(many=True),
            400: bad_request("IntervalQueryError", EnergyErrorSerializer, "A filter is not valid."),
            404: OpenApiResponse(
                EnergyErrorSerializer,
                description="No such page: `page` is past the last or not a whole number.",
            ),
            **OPERATOR_ERRORS,
        },
        tags=["energy"],
    )
    def get(self, request):
        query = IntervalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        intervals = Interval.objects.filter(microgrid=self.microgrid).order_by("-start")
        if "start" in query.validated_data:
            intervals = intervals.filter(start__gte=query.validated_data["start"])
        if "end" in query.validated_data:
            intervals = intervals.filter(start__lt=query.validated_data["end"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(intervals, request, view=self)
        return paginator.get_paginated_response(IntervalSerializer(page, many=True).data)


class IntervalBookView(OperatorAPIView):
    @extend_schema(
        operation_id="energy_interval_book",
        summary="An interval's order book, trades and grid settlements",
        responses={
            200: IntervalBookSerializer,
            404: OpenApiResponse(EnergyErrorSerializer, description="No such interval."),
            **OPERATOR_ERRORS,
        },
        tags=["energy"],
    )
    def get(self, request, pk: int):
        interval = get_object_or_404(Interval, pk=pk, microgrid=self.microgrid)
        book = selectors.interval_book(interval)
        data = {
            "interval": interval,
            "orders": book.orders,
            "trades": book.trades,
            "grid": book.grid,
        }
        return Response(IntervalBookSerializer(data).data)


class MeterTokenView(OperatorAPIView):
    @extend_schema(
        operation_id="energy_meter_token_rotate",
        summary="Issue a new token for a meter",
        description="The old token stops working at once; the new one is shown only here.",
        request=None,
        responses={
            201: MeterTokenSerializer,
            404: OpenApiResponse(EnergyErrorSerializer, description="No such meter."),
            **OPERATOR_ERRORS,
        },
        tags=["energy"],
    )
    def post(self, request, meter_id: str):
        meter = get_object_or_404(Meter, meter_id=meter_id, member__microgrid=self.microgrid)
        token = services.meter_rotate_token(meter=meter, acting_user=request.user)
        return Response(
            MeterTokenSerializer({"meter_id": meter.meter_id, "token": token}).data,
            status=status.HTTP_201_CREATED,
        )


class MarketView(OperatorAPIView):
    def _body(self) -> dict:
        settings_row = selectors.market_settings_for(self.microgrid)
        tariff = selectors.tariff_in_force(self.microgrid, timezone.now())
        return MarketSerializer(
            {
                "mode": settings_row.mode,
                "local_price": settings_row.local_price,
                "timezone": settings_row.timezone,
                "clear_delay_minutes": settings_row.clear_delay_minutes,
                "settle_delay_hours": settings_row.settle_delay_hours,
                "tariff": tariff,
            }
        ).data

    @extend_schema(
        operation_id="energy_market",
        summary="The market's clearing mode and the tariff in force",
        responses={200: MarketSerializer, **OPERATOR_ERRORS},
        tags=["energy"],
    )
    def get(self, request):
        return Response(self._body())

    @extend_schema(
        operation_id="energy_market_set",
        summary="Choose the clearing mode (applies to intervals cleared from now on)",
        request=MarketSettingsSerializer,
        responses={
            200: MarketSerializer,
            400: bad_request("MarketSettingsError", EnergyErrorSerializer, "Field errors."),
            **OPERATOR_ERRORS,
        },
        tags=["energy"],
    )
    def put(self, request):
        data = MarketSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.market_settings_set(
            microgrid=self.microgrid,
            mode=data.validated_data["mode"],
            local_price=data.validated_data.get("local_price"),
            timezone=data.validated_data.get("timezone"),
            acting_user=request.user,
        )
        return Response(self._body())
