"""Output shapes of the public ledger API (the contract in docs/ledger-spec.md)."""

from rest_framework import serializers


class BlockSerializer(serializers.Serializer):
    height = serializers.IntegerField()
    prev_hash = serializers.CharField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    sealed_at = serializers.CharField(help_text="RFC 3339 UTC, exactly as hashed")
    hash = serializers.CharField(help_text="SHA-256 of the JCS header, lowercase hex")
    signature = serializers.CharField(help_text="Ed25519 over the 32 raw hash bytes, hex")
    entry_count = serializers.IntegerField()


class LedgerEntryContentSerializer(serializers.Serializer):
    kind = serializers.CharField()
    subject = serializers.CharField()
    data = serializers.DictField()
    recorded_at = serializers.CharField()


class EntrySerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    block_height = serializers.IntegerField()
    kind = serializers.CharField()
    entry = LedgerEntryContentSerializer(
        allow_null=True, help_text="The full entry for public kinds; null for private ones."
    )


class InclusionProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    audit_path = serializers.ListField(child=serializers.CharField())
    root_hash = serializers.CharField()


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    proof = serializers.ListField(child=serializers.CharField())


class PublicKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="hex of the 32 raw Ed25519 public key bytes")
    pem = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
