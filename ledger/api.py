"""The public, read-only ledger API: no login, JSON, errors as {"detail": ...}."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import checkpoint, selectors, signing
from ledger.models import Block
from ledger.serializers import (
    BlockSerializer,
    ConsistencyProofSerializer,
    EntrySerializer,
    ErrorSerializer,
    InclusionProofSerializer,
    PublicKeySerializer,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A parameter is not valid."),
    404: OpenApiResponse(ErrorSerializer, description="No such block or entry."),
}
NO_SUCH_PAGE = OpenApiResponse(
    ErrorSerializer, description="No such page: `page` is past the last or not a whole number."
)


def _number(value: str | None, name: str, *, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise ValidationError({"detail": f"{name} is required"})
        return default
    if not value.isdigit() or len(value) > 18:
        raise ValidationError({"detail": f"{name} must be a non-negative whole number"})
    return int(value)


def _query_error(exc: selectors.LedgerQueryError):
    return ValidationError({"detail": str(exc)})


class PublicLedgerView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class HeadView(PublicLedgerView):
    @extend_schema(responses={200: BlockSerializer, 404: ERRORS[404]}, summary="Latest block")
    def get(self, request):
        block = selectors.head()
        if block is None:
            raise NotFound("The ledger has no blocks yet.")
        return Response(BlockSerializer(block).data)


class BlockPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema_view(
    get=extend_schema(responses={200: BlockSerializer(many=True), 404: NO_SUCH_PAGE})
)
class BlockListView(generics.ListAPIView):
    """Blocks, newest first."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = BlockSerializer
    pagination_class = BlockPagination
    queryset = Block.objects.order_by("-height")


class BlockDetailView(PublicLedgerView):
    @extend_schema(responses={200: BlockSerializer, **ERRORS}, summary="One block")
    def get(self, request, height: str):
        block = Block.objects.filter(height=_number(height, "height")).first()
        if block is None:
            raise NotFound(f"There is no block at height {height}.")
        return Response(BlockSerializer(block).data)


class EntryDetailView(PublicLedgerView):
    @extend_schema(responses={200: EntrySerializer, **ERRORS}, summary="A sealed entry")
    def get(self, request, leaf_index: str):
        index = _number(leaf_index, "leaf_index")
        size = selectors.head_size()
        if index >= size:
            raise ValidationError(
                {"detail": f"leaf_index {index} is beyond the sealed tree (size {size})"}
            )
        entry = selectors.sealed_entry(index)
        if entry is None:  # a sealed index with no row: the ledger is damaged
            raise NotFound(f"Entry {index} is missing.")
        return Response(
            EntrySerializer(
                {
                    "leaf_index": entry.leaf_index,
                    "leaf_hash": entry.leaf_hash_hex,
                    "block_height": entry.block_height,
                    "kind": selectors.entry_content(entry)["kind"],
                    "entry": selectors.public_entry(entry),
                }
            ).data
        )


class InclusionProofView(PublicLedgerView):
    @extend_schema(
        parameters=[
            OpenApiParameter("tree_size", int, description="Defaults to the head's tree size.")
        ],
        responses={200: InclusionProofSerializer, **ERRORS},
        summary="Inclusion proof of an entry",
    )
    def get(self, request, leaf_index: str):
        index = _number(leaf_index, "leaf_index")
        raw_size = request.query_params.get("tree_size")
        size = None if raw_size in (None, "") else _number(raw_size, "tree_size")
        try:
            proof = selectors.inclusion_proof(index, size)
        except selectors.LedgerQueryError as exc:
            raise _query_error(exc) from None
        return Response(
            {
                "leaf_index": proof.leaf_index,
                "tree_size": proof.tree_size,
                "leaf_hash": proof.leaf_hash.hex(),
                "audit_path": [h.hex() for h in proof.audit_path],
                "root_hash": proof.root_hash.hex(),
            }
        )


class ConsistencyProofView(PublicLedgerView):
    @extend_schema(
        parameters=[
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=True),
        ],
        responses={200: ConsistencyProofSerializer, 400: ERRORS[400]},
        summary="Consistency proof between two tree sizes",
    )
    def get(self, request):
        first = _number(request.query_params.get("first"), "first")
        second = _number(request.query_params.get("second"), "second")
        try:
            proof = selectors.consistency_proof(first, second)
        except selectors.LedgerQueryError as exc:
            raise _query_error(exc) from None
        return Response({"first": first, "second": second, "proof": [h.hex() for h in proof]})


class PublicKeyView(PublicLedgerView):
    @extend_schema(responses={200: PublicKeySerializer}, summary="The ledger's signing key")
    def get(self, request):
        key = signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)
        return Response(
            {
                "algorithm": "Ed25519",
                "public_key": signing.public_key_hex(key),
                "pem": signing.public_key_pem(key),
            }
        )


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):  # an error
            return f"{data.get('detail', '')}\n".encode()
        return data.encode()


class CheckpointView(PublicLedgerView):
    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        responses={(200, "text/plain"): OpenApiTypes.STR, (404, "text/plain"): OpenApiTypes.STR},
        summary="The head as a C2SP tlog-checkpoint signed note",
    )
    def get(self, request):
        block = selectors.head()
        if block is None:
            raise NotFound("The ledger has no blocks yet.")
        key = signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)
        origin = settings.LEDGER_ORIGIN
        body = checkpoint.checkpoint_body(origin, block.tree_size, bytes.fromhex(block.root_hash))
        return Response(checkpoint.sign_note(body, origin, key))
