"""The identity REST API for other systems: a shelter's check-in desk, a clinic's records.

A token belongs to one staff account (issued in the Django admin, Auth Token), and the
API acts as that caseworker: scoped to their organization and under the same consent
rules as the portal. A resident without an active consent to the organization is "not
found", with exactly the body of one that does not exist. Every lookup is written to the
audit trail; the city ID travels in a POST body, never in a URL.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from citychain import roles
from citychain.api import RatesFromSettings
from identity import cityid, selectors, services
from identity.models import AccessEvent, CityCard, Resident
from identity.permissions import DESK_ROLES
from identity.serializers import (
    DocumentSerializer,
    EncounterErrorSerializer,
    EncounterRequestSerializer,
    EncounterSerializer,
    ErrorSerializer,
    LookupErrorSerializer,
    LookupRequestSerializer,
    ResidentLookupSerializer,
)

THROTTLE_SCOPE = "identity-api"

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No token, or an unknown one."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="The token's account is not a caseworker or provider admin of an organization.",
    ),
    404: OpenApiResponse(
        ErrorSerializer,
        description="No resident found: none has this ID, or the resident has no active "
        "consent to your organization (the two are indistinguishable).",
    ),
    429: OpenApiResponse(
        ErrorSerializer, description="Too many requests; retry after `Retry-After` seconds."
    ),
}


class ResidentNotFound(NotFound):
    default_detail = _("No resident found.")


class IsDeskStaff(BasePermission):
    """Caseworkers and provider admins who belong to an organization (as in the portal)."""

    message = _(
        "Only caseworkers and provider admins of a service provider can use the identity "
        "API. Ask a city admin for a token on such an account."
    )

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(roles.has_role(user, *DESK_ROLES) and user.organization_id is not None)


class IdentityApiThrottle(RatesFromSettings, ScopedRateThrottle):
    """The identity API's rate per account (REST_FRAMEWORK's "identity-api")."""


class IdentityAPIView(APIView):
    permission_classes = [IsAuthenticated, IsDeskStaff]
    throttle_classes = [IdentityApiThrottle]
    throttle_scope = THROTTLE_SCOPE

    def resident_or_404(self, public_id) -> Resident:
        resident = selectors.resident_for(self.request.user, public_id)
        if resident is None:
            raise ResidentNotFound()
        return resident


class ResidentLookupView(IdentityAPIView):
    @extend_schema(
        operation_id="identity_lookup",
        summary="Look up a resident by city ID",
        description=(
            "Finds the resident holding a city ID, current or revoked (`active` says which). "
            "The basic profile (names, date of birth, active city ID) is returned under any "
            "active consent to your organization; `consent_categories` says which records "
            "that consent shares. Written to the audit trail as a search."
        ),
        request=LookupRequestSerializer,
        responses={
            200: ResidentLookupSerializer,
            400: OpenApiResponse(LookupErrorSerializer, description="Not a well-formed city ID."),
            **ERRORS,
        },
        tags=["identity"],
    )
    def post(self, request):
        query = LookupRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        user = request.user
        card = (
            CityCard.objects.select_related("resident")
            .filter(city_id_index=services.city_id_index(query.validated_data["city_id"]))
            .first()
        )
        visible = card is not None and (
            selectors.visible_residents(user).filter(pk=card.resident_id).exists()
        )
        if not visible:
            with transaction.atomic():
                services.access_log(
                    actor=user, action=AccessEvent.Action.SEARCH, detail="api lookup: 0 results"
                )
            raise ResidentNotFound()
        resident = card.resident
        is_active = card.status == CityCard.Status.ACTIVE
        current = card if is_active else services.active_card(resident)
        access = selectors.access_for(resident, user.organization)
        with transaction.atomic():
            services.access_log(
                actor=user,
                action=AccessEvent.Action.SEARCH,
                resident=resident,
                detail="api lookup: 1 result" + ("" if is_active else " (revoked card)"),
            )
        resident.city_id = cityid.display(current.city_id) if current else None
        resident.active = is_active
        resident.consent_categories = sorted(access.categories)
        return Response(ResidentLookupSerializer(resident).data)


class EncounterCreateView(IdentityAPIView):
    @extend_schema(
        operation_id="identity_encounter_create",
        summary="Record a service encounter",
        description=(
            "Records that your organization served the resident (a shelter night, a meal...). "
            "Bad input stores nothing."
        ),
        request=EncounterRequestSerializer,
        responses={
            201: EncounterSerializer,
            400: OpenApiResponse(
                EncounterErrorSerializer, description="A field is missing or not valid."
            ),
            **ERRORS,
        },
        tags=["identity"],
    )
    def post(self, request, public_id):
        resident = self.resident_or_404(public_id)
        data = EncounterRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        encounter = services.encounter_record(
            acting_user=request.user,
            resident=resident,
            kind=data.validated_data["kind"],
            on=data.validated_data["date"],
            notes=data.validated_data["notes"],
        )
        return Response(EncounterSerializer(encounter).data, status=status.HTTP_201_CREATED)


class DocumentListView(IdentityAPIView):
    @extend_schema(
        operation_id="identity_document_list",
        summary="List a resident's documents",
        description=(
            "The documents in the categories the resident's active consent to your "
            "organization covers (metadata only, newest first). Written to the audit trail "
            "as a view of the record."
        ),
        responses={200: DocumentSerializer(many=True), **ERRORS},
        tags=["identity"],
    )
    def get(self, request, public_id):
        resident = self.resident_or_404(public_id)
        access = selectors.access_for(resident, request.user.organization)
        documents = list(selectors.documents_for(resident, access).select_related("organization"))
        with transaction.atomic():
            services.access_log(
                actor=request.user,
                action=AccessEvent.Action.VIEW,
                resident=resident,
                detail=f"api documents: {len(documents)} listed",
            )
        return Response(DocumentSerializer(documents, many=True).data)
