"""Shared REST API pieces: errors as JSON with a clear message, never a traceback."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, ValueError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return response


class RatesFromSettings:
    """Mixed into a DRF throttle: its rate comes from REST_FRAMEWORK's DEFAULT_THROTTLE_RATES
    when a request comes in. DRF copies that setting into the class when it is imported, so a
    changed setting (or override_settings in a test) would otherwise be ignored."""

    @property
    def THROTTLE_RATES(self):  # the name DRF looks up
        return api_settings.DEFAULT_THROTTLE_RATES


def refused_before_any_view(status_code: int) -> JsonResponse:
    """JSON for a request under /api/ that Django refused before any API view ran (a URL
    that names no endpoint, such as an id of the wrong form; a form body over
    DATA_UPLOAD_MAX_MEMORY_SIZE), with the body every API error has: not the portal's page."""
    exc = exceptions.NotFound() if status_code == 404 else exceptions.ParseError()
    return JsonResponse({"detail": str(exc.detail)}, status=status_code)


class FieldErrorsSerializer(serializers.Serializer):
    """400 for a request that is not well formed, in DRF's own shape (see the schema)."""


class FieldErrorsScheme(OpenApiSerializerExtension):
    """Documents FieldErrorsSerializer: field names to their messages, which nest as the
    request's objects and lists do (``{"payments": [{}, {"kind": ["..."]}]}``)."""

    target_class = "citychain.api.FieldErrorsSerializer"

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": "Each field that is wrong (or `non_field_errors`) with its messages.",
            "additionalProperties": {
                "anyOf": [
                    {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
                    {"type": "object"},
                ]
            },
        }


class BadRequestSerializer(serializers.Serializer):
    """A 400 as bad_request() documents it (see BadRequestScheme)."""

    def __init__(self, *args, component_name: str, refusal, **kwargs):
        self.component_name = component_name
        self.refusal = refusal
        super().__init__(*args, **kwargs)


class BadRequestScheme(OpenApiSerializerExtension):
    target_class = "citychain.api.BadRequestSerializer"

    def get_name(self, auto_schema, direction):
        return self.target.component_name

    def get_identity(self, auto_schema, direction):
        return self.target.component_name

    def map_serializer(self, auto_schema, direction):
        return {
            "anyOf": [
                auto_schema.resolve_serializer(self.target.refusal, direction).ref,
                auto_schema.resolve_serializer(FieldErrorsSerializer, direction).ref,
                {
                    "type": "object",
                    "description": "A body that could not be parsed at all.",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                },
            ]
        }


def bad_request(name: str, refusal, description: str) -> OpenApiResponse:
    """A 400 that is the endpoint's own refusal (``refusal``, a serializer); or, for a
    request that is not well formed, DRF's field errors; or, for a body that cannot be
    parsed, only a ``detail``."""
    return OpenApiResponse(
        BadRequestSerializer(component_name=name, refusal=refusal), description=description
    )
