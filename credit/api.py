"""The credit REST API: reporters post and read payments; anyone verifies a report.

A reporter's token belongs to one staff account (issued in the Django admin, Auth Token)
of a reporting organization (a landlord, utility, microgrid or lending-circle fund) with
the credit_reporter role, and everything it does is scoped to that organization: it
reads only its own records, and a record of another reporter is "not found".

Posting payments is idempotent by the reporter's own reference, and a batch is stored
whole or not at all: one bad row refuses the batch, with every bad row's errors.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from citychain import roles
from citychain.api import RatesFromSettings, bad_request
from credit import selectors, services
from credit.serializers import (
    BatchErrorSerializer,
    BatchRequestSerializer,
    BatchResponseSerializer,
    DisputeSerializer,
    ErrorSerializer,
    MarkPaidRequestSerializer,
    PaymentInSerializer,
    PaymentSerializer,
    VerifyRequestSerializer,
    VerifyResponseSerializer,
)

THROTTLE_SCOPE = "credit-api"
VERIFY_THROTTLE_SCOPE = "credit-verify"
TAGS = ["credit"]

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No token, or an unknown one."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="The token's account is not a credit reporter of a reporting organization.",
    ),
    429: OpenApiResponse(
        ErrorSerializer, description="Too many requests; retry after `Retry-After` seconds."
    ),
}
NO_SUCH_PAGE = OpenApiResponse(
    ErrorSerializer, description="No such page: `page` is past the last or not a whole number."
)


class PaymentNotFound(NotFound):
    default_detail = _("Your organization has no payment record with this id.")


class CreditThrottle(RatesFromSettings, ScopedRateThrottle):
    """The reporters' API per account, the public verification per address."""


class IsReporter(BasePermission):
    message = _(
        "Only credit reporters of a landlord, utility, microgrid or lending-circle fund can "
        "use the reporting API. Ask a city admin for a token on such an account."
    )

    def has_permission(self, request, view) -> bool:
        user = request.user
        organization = getattr(user, "organization", None)
        return bool(
            roles.has_role(user, roles.CREDIT_REPORTER)
            and organization is not None
            and organization.kind in services.REPORTER_KINDS
        )


class ReporterAPIView(APIView):
    permission_classes = [IsAuthenticated, IsReporter]
    throttle_classes = [CreditThrottle]
    throttle_scope = THROTTLE_SCOPE


class PaymentPagination(PageNumberPagination):
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"


def _errors(exc: DjangoValidationError) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}


class PaymentListView(ReporterAPIView):
    pagination_class = PaymentPagination

    @extend_schema(
        operation_id="credit_payments_list",
        summary="List your organization's payment records",
        description="Newest due date first. Filter by `resident` (public id) and `since` "
        "(due on or after, YYYY-MM-DD).",
        parameters=[
            OpenApiParameter("resident", str, description="A resident's public id."),
            OpenApiParameter("since", str, description="YYYY-MM-DD"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description="At most 500."),
        ],
        responses={
            200: PaymentSerializer(many=True),
            400: bad_request("PaymentQueryError", ErrorSerializer, "A filter is not valid."),
            404: NO_SUCH_PAGE,
            **ERRORS,
        },
        tags=TAGS,
    )
    def get(self, request):
        found = selectors.reporter_payments(request.user.organization).select_related("resident")
        resident = request.query_params.get("resident")
        if resident:
            try:
                found = found.filter(resident__public_id=uuid.UUID(resident))
            except ValueError:
                raise ApiValidationError({"resident": [_("Not a resident id.")]}) from None
        since = request.query_params.get("since")
        if since:
            try:
                found = found.filter(due_date__gte=date.fromisoformat(since))
            except ValueError:
                raise ApiValidationError({"since": [_("Use YYYY-MM-DD.")]}) from None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="credit_payments_post",
        summary="Record payments in bulk",
        description=(
            "Each payment is attested on the ledger. Idempotent by your `reference`: posting "
            "the same payment again changes nothing (`created: false`); the same reference "
            "with other values is an error. If any row is wrong, nothing is stored and every "
            "bad row is listed with its errors."
        ),
        request=BatchRequestSerializer,
        responses={
            201: OpenApiResponse(BatchResponseSerializer, description="At least one new record."),
            200: OpenApiResponse(BatchResponseSerializer, description="All already recorded."),
            400: bad_request(
                "PaymentBatchError",
                BatchErrorSerializer,
                "Refused whole (per-row errors), or the request is not a batch.",
            ),
            **ERRORS,
        },
        tags=TAGS,
    )
    def post(self, request):
        batch = BatchRequestSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        rows, indexes, errors = [], [], []
        for index, raw in enumerate(batch.validated_data["payments"]):
            row = PaymentInSerializer(data=raw)
            if row.is_valid():
                values = {**row.validated_data, "resident": str(row.validated_data["resident"])}
                rows.append(services.BatchRow(**values))
                indexes.append(index)
            else:
                errors.append(
                    {
                        "row": index,
                        "reference": str(raw.get("reference", "")),
                        "errors": {k: [str(m) for m in v] for k, v in row.errors.items()},
                    }
                )
        results = []
        # The well-formed rows go through the service even when others are malformed, so
        # every bad row is reported at once; then nothing is kept unless all were good.
        with transaction.atomic():
            if rows:
                try:
                    results = services.payments_record_batch(
                        reporter=request.user.organization, rows=rows, acting_user=request.user
                    )
                except services.BatchRejected as exc:
                    errors.extend({**e, "row": indexes[e["row"]]} for e in exc.errors)
            if errors:
                transaction.set_rollback(True)
        if errors:
            return self._refused(sorted(errors, key=lambda e: e["row"]))
        created = sum(r.created for r in results)
        body = {
            "created": created,
            "unchanged": len(results) - created,
            "results": [
                {
                    "row": i,
                    "reference": r.payment.reference,
                    "id": r.payment.public_id,
                    "created": r.created,
                }
                for i, r in enumerate(results)
            ],
        }
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(BatchResponseSerializer(body).data, status=code)

    @staticmethod
    def _refused(errors: list[dict]) -> Response:
        detail = ngettext(
            "The batch was refused: %(count)d bad row; nothing was stored.",
            "The batch was refused: %(count)d bad rows; nothing was stored.",
            len(errors),
        ) % {"count": len(errors)}
        return Response({"detail": detail, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


class OwnPaymentMixin:
    def _payment(self, request, public_id):
        payment = selectors.payment_for_reporter(request.user.organization, public_id)
        if payment is None:
            raise PaymentNotFound()
        return payment


class PaymentDetailView(OwnPaymentMixin, ReporterAPIView):
    @extend_schema(
        operation_id="credit_payment_get",
        summary="One of your payment records",
        responses={200: PaymentSerializer, 404: ErrorSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request, public_id):
        return Response(PaymentSerializer(self._payment(request, public_id)).data)


class PaymentPaidView(OwnPaymentMixin, ReporterAPIView):
    @extend_schema(
        operation_id="credit_payment_paid",
        summary="Record that an unpaid bill was paid",
        request=MarkPaidRequestSerializer,
        responses={
            200: PaymentSerializer,
            400: bad_request("MarkPaidError", ErrorSerializer, "Not a valid payment of this bill."),
            404: ErrorSerializer,
            **ERRORS,
        },
        tags=TAGS,
    )
    def post(self, request, public_id):
        payment = self._payment(request, public_id)
        data = MarkPaidRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            payment = services.payment_mark_paid(
                payment=payment, acting_user=request.user, **data.validated_data
            )
        except DjangoValidationError as exc:
            raise ApiValidationError(_errors(exc)) from None
        return Response(PaymentSerializer(payment).data)


class DisputeListView(ReporterAPIView):
    pagination_class = PaymentPagination

    @extend_schema(
        operation_id="credit_disputes_list",
        summary="Disputes about your organization's records",
        parameters=[OpenApiParameter("open", bool, description="Only open ones.")],
        responses={200: DisputeSerializer(many=True), 404: NO_SUCH_PAGE, **ERRORS},
        tags=TAGS,
    )
    def get(self, request):
        open_only = request.query_params.get("open", "").lower() in ("1", "true", "yes")
        found = selectors.reporter_disputes(request.user.organization, open_only=open_only)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(DisputeSerializer(page, many=True).data)


class ReportVerifyView(APIView):
    """Public: no login. Shows a report's hash and proof, never its content."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [CreditThrottle]
    throttle_scope = VERIFY_THROTTLE_SCOPE

    @extend_schema(
        operation_id="credit_report_verify",
        summary="Verify a credit report against the ledger",
        description=(
            "Give the report id and the SHA-256 printed on it (what the QR code carries), "
            "the hash alone, or the report's machine-readable JSON (the hash is recomputed). "
            "`authentic` means a report with exactly this hash was issued and its ledger "
            "entry is sealed, with an RFC 9162 inclusion proof against the signed root; "
            "`newer_exists` that the resident has issued a newer report since."
        ),
        request=VerifyRequestSerializer,
        responses={
            200: VerifyResponseSerializer,
            400: bad_request(
                "VerifyError", ErrorSerializer, "Nothing to verify, or a field is not valid."
            ),
            429: ERRORS[429],
        },
        tags=TAGS,
        auth=[],
    )
    def post(self, request):
        query = VerifyRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        result = selectors.report_verify(
            public_id=data.get("report"), sha256=data.get("sha256"), document=data.get("document")
        )
        proof = None
        if result.authentic:
            proof = {
                "leaf_index": result.leaf_index,
                "tree_size": result.tree_size,
                "leaf_hash": result.entry.leaf_hash_hex,
                "audit_path": result.audit_path,
                "root_hash": result.root_hash,
                "block_height": result.block.height,
                "block_hash": result.block.hash,
            }
        body = {
            "status": result.status,
            "authentic": result.authentic,
            "report": result.report.public_id if result.report else None,
            "sha256": result.sha256,
            "issued_at": result.report.issued_at if result.report else None,
            "newer_exists": result.newer_exists,
            "proof": proof,
            "problem": result.problem,
        }
        return Response(VerifyResponseSerializer(body).data)
