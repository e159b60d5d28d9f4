"""Input and output shapes of the identity REST API (identity.api).

Input serializers validate and convert; they never write. Output serializers say exactly
which fields leave the server, so nothing personal is added by accident.
"""

from rest_framework import serializers

from identity import cityid
from identity.models import Encounter, RecordCategory

# 401, 403, 404 and 429 bodies, {"detail": "one message"}: the project's one error shape,
# re-used so the schema has a single "Error" component (a second class would clash).
from ledger.serializers import ErrorSerializer

__all__ = [
    "DocumentSerializer",
    "EncounterErrorSerializer",
    "EncounterRequestSerializer",
    "EncounterSerializer",
    "ErrorSerializer",
    "LookupErrorSerializer",
    "LookupRequestSerializer",
    "ResidentLookupSerializer",
]


# --- lookup ---------------------------------------------------------------------------


class LookupRequestSerializer(serializers.Serializer):
    city_id = serializers.CharField(
        max_length=64,
        help_text=(
            "The city ID as typed or scanned: any case, with or without hyphens or spaces "
            "(7K3M-Q9XA-2FD, 7k3mq9xa2fd). Sent in the body so it never appears in a URL or "
            "an access log."
        ),
    )

    def validate_city_id(self, value: str) -> str:
        try:
            return cityid.parse(value)
        except cityid.CityIdError as exc:
            raise serializers.ValidationError(str(exc)) from None


class LookupErrorSerializer(serializers.Serializer):
    """400: what is wrong with the city ID (a mistyped character, a wrong length...)."""

    city_id = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The body is not an object."
    )


class ResidentLookupSerializer(serializers.Serializer):
    resident = serializers.UUIDField(
        source="public_id", help_text="The resident's public id, for the other endpoints."
    )
    display_name = serializers.CharField(help_text="Preferred (or legal) first name, last name.")
    preferred_name = serializers.CharField(allow_null=True)
    dob = serializers.DateField(allow_null=True, help_text="Date of birth, if recorded.")
    city_id = serializers.CharField(
        allow_null=True,
        help_text="The resident's active city ID in display form; null if none is active.",
    )
    active = serializers.BooleanField(
        help_text=(
            "False when the city ID sent is a revoked card (lost, stolen or reissued): "
            "`city_id` is then the current one."
        )
    )
    consent_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=RecordCategory.choices),
        help_text="The record categories that the resident's active consent to your "
        "organization covers.",
    )


# --- encounters -------------------------------------------------------------------------


class EncounterRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Encounter.Kind.choices)
    date = serializers.DateField(
        input_formats=["%Y-%m-%d"],
        help_text="The day of the service, YYYY-MM-DD; not in the future.",
    )
    notes = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text="Optional, stored encrypted. Visible to staff under a consent to case notes.",
    )


class EncounterErrorSerializer(serializers.Serializer):
    """400: a list of messages for each field that is wrong."""

    kind = serializers.ListField(child=serializers.CharField(), required=False)
    date = serializers.ListField(child=serializers.CharField(), required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)


class EncounterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Encounter.Kind.choices)
    date = serializers.DateField()


# --- documents ----------------------------------------------------------------------------


class DocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category = serializers.ChoiceField(choices=RecordCategory.choices)
    title = serializers.CharField()
    content_type = serializers.CharField(help_text="application/pdf, image/jpeg or image/png.")
    size = serializers.IntegerField(help_text="In bytes.")
    sha256 = serializers.CharField(
        help_text="SHA-256 of the file, lowercase hex; attested on the ledger by `organization`."
    )
    uploaded_at = serializers.DateTimeField()
    organization = serializers.CharField(
        source="organization.name", help_text="The organization that uploaded the file."
    )
