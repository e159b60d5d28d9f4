"""Input and output shapes of the credit REST API (credit.api).

Input serializers validate and convert; they never write. Output serializers say exactly
which fields leave the server: a reporter sees its own records, never another reporter's,
and the verification endpoint shows a report's hash and proof, never its content.
"""

from __future__ import annotations

from rest_framework import serializers

from credit.models import Dispute, PaymentKind, PaymentRecord
from credit.services import MAX_BATCH_ROWS

# 401, 403, 404 and 429 bodies, {"detail": "one message"}: the project's one error shape.
from ledger.serializers import ErrorSerializer

__all__ = [
    "BatchErrorSerializer",
    "BatchRequestSerializer",
    "BatchResponseSerializer",
    "DisputeSerializer",
    "ErrorSerializer",
    "MarkPaidRequestSerializer",
    "PaymentInSerializer",
    "PaymentSerializer",
    "VerifyRequestSerializer",
    "VerifyResponseSerializer",
]


class PaymentInSerializer(serializers.Serializer):
    resident = serializers.UUIDField(help_text="The resident's public id.")
    kind = serializers.ChoiceField(choices=PaymentKind.choices)
    account_reference = serializers.CharField(
        max_length=64,
        help_text="Your own account (lease, meter, membership) reference; one resident each.",
    )
    reference = serializers.CharField(
        max_length=100,
        help_text="Your own unique reference for this bill: posting it again is harmless.",
    )
    due_date = serializers.DateField(input_formats=["%Y-%m-%d"])
    amount_due_cents = serializers.IntegerField(min_value=0)
    paid_on = serializers.DateField(
        input_formats=["%Y-%m-%d"], allow_null=True, required=False, default=None
    )
    amount_paid_cents = serializers.IntegerField(min_value=0, required=False, default=0)


class BatchRequestSerializer(serializers.Serializer):
    payments = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BATCH_ROWS,
        help_text=f"1 to {MAX_BATCH_ROWS} payments (PaymentIn); stored all together or not at all.",
    )


class BatchRowResultSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    reference = serializers.CharField()
    id = serializers.UUIDField(help_text="The payment record's public id.")
    created = serializers.BooleanField(help_text="False: this reference was already recorded.")


class BatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    results = BatchRowResultSerializer(many=True)


class BatchRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="0-based index in `payments`.")
    reference = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchErrorSerializer(serializers.Serializer):
    """400: the batch was refused whole; every bad row is listed."""

    detail = serializers.CharField()
    errors = BatchRowErrorSerializer(many=True)


class PaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    resident = serializers.UUIDField(source="resident.public_id")
    kind = serializers.ChoiceField(choices=PaymentKind.choices)
    account_reference = serializers.CharField(source="account.reference")
    reference = serializers.CharField()
    due_date = serializers.DateField()
    amount_due_cents = serializers.IntegerField()
    paid_on = serializers.DateField(allow_null=True)
    amount_paid_cents = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PaymentRecord.Status.choices)
    in_dispute = serializers.BooleanField()
    digest = serializers.CharField(help_text="SHA-256 attested on the ledger (hex).")
    recorded_at = serializers.DateTimeField()


class MarkPaidRequestSerializer(serializers.Serializer):
    paid_on = serializers.DateField(input_formats=["%Y-%m-%d"])
    amount_paid_cents = serializers.IntegerField(min_value=0)


class DisputeSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    payment = serializers.UUIDField(source="payment.public_id")
    payment_reference = serializers.CharField(source="payment.reference")
    status = serializers.ChoiceField(choices=Dispute.Status.choices)
    outcome = serializers.CharField()
    reason = serializers.CharField(help_text="The resident's explanation.")
    opened_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class VerifyRequestSerializer(serializers.Serializer):
    report = serializers.UUIDField(required=False, help_text="The report id printed on it.")
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", required=False, help_text="The hash printed on the report."
    )
    document = serializers.CharField(
        required=False,
        max_length=1_000_000,
        help_text="The report's machine-readable JSON; its hash is recomputed.",
    )

    def validate(self, attrs):
        if not attrs.get("report") and not attrs.get("sha256") and not attrs.get("document"):
            raise serializers.ValidationError("Give the report id, its SHA-256, or its document.")
        return attrs


class ProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    audit_path = serializers.ListField(child=serializers.CharField())
    root_hash = serializers.CharField()
    block_height = serializers.IntegerField()
    block_hash = serializers.CharField()


class VerifyResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["authentic", "pending", "mismatch", "unknown", "invalid"]
    )
    authentic = serializers.BooleanField()
    report = serializers.UUIDField(allow_null=True)
    sha256 = serializers.CharField(allow_blank=True)
    issued_at = serializers.DateTimeField(allow_null=True)
    newer_exists = serializers.BooleanField()
    proof = ProofSerializer(allow_null=True)
    problem = serializers.CharField(allow_blank=True)
