"""Ledger storage: entries, the Merkle tree's stored subtrees, and signed blocks.

The tables are append-only in normal operation; only ledger.services writes them.
An entry keeps its exact leaf data (RFC 8785 bytes), so verification rehashes
precisely what was signed, and a private kind's content never leaves this table.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Entry(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    leaf_data = models.BinaryField(_("leaf data (RFC 8785 JSON)"))
    leaf_hash = models.BinaryField(_("leaf hash"), max_length=32)
    recorded_at = models.DateTimeField(_("recorded at"))
    # Null while pending; set once, by the sealer, with the block that seals it.
    leaf_index = models.BigIntegerField(_("leaf index"), null=True, blank=True, unique=True)
    block_height = models.BigIntegerField(_("block height"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(
                fields=["id"], condition=Q(leaf_index__isnull=True), name="ledger_entry_pending"
            ),
            models.Index(fields=["block_height", "leaf_index"], name="ledger_entry_block"),
        ]

    def __str__(self) -> str:
        where = f"#{self.leaf_index}" if self.leaf_index is not None else "pending"
        return f"{self.kind} {where}"

    @property
    def is_pending(self) -> bool:
        return self.leaf_index is None

    @property
    def leaf_hash_hex(self) -> str:
        return bytes(self.leaf_hash).hex()


class Node(models.Model):
    """A perfect subtree's hash at level >= 1 (level 0 is Entry.leaf_hash).

    ``position`` packs (level, index) into one integer (ledger.merkle.position_key),
    so a proof's O(log n) nodes are one indexed ``IN`` query.
    """

    position = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = _("tree node")
        verbose_name_plural = _("tree nodes")

    def __str__(self) -> str:
        from ledger.merkle import position_from_key

        level, index = position_from_key(self.position)
        return f"node level {level} index {index}"


class Block(models.Model):
    height = models.BigIntegerField(_("height"), primary_key=True)
    prev_hash = models.CharField(_("previous block hash"), max_length=64)
    tree_size = models.BigIntegerField(_("tree size"))
    root_hash = models.CharField(_("root hash"), max_length=64)
    sealed_at = models.CharField(_("sealed at (RFC 3339)"), max_length=32)
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    signature = models.CharField(_("signature"), max_length=128)
    entry_count = models.BigIntegerField(_("entries"))

    class Meta:
        ordering = ["-height"]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.CheckConstraint(condition=Q(height__gte=0), name="ledger_block_height_gte_0"),
            models.CheckConstraint(condition=Q(entry_count__gte=1), name="ledger_block_not_empty"),
        ]

    def __str__(self) -> str:
        return f"block {self.height}"

    @property
    def first_leaf_index(self) -> int:
        return self.tree_size - self.entry_count


class SealLock(models.Model):
    """One row; the sealer holds it FOR UPDATE so only one seal runs at a time."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_seallock_single")]

    def __str__(self) -> str:
        return "seal lock"


class PseudonymKey(models.Model):
    """A random key per subject: deleting it makes that subject's pseudonym unlinkable."""

    lookup = models.CharField(max_length=64, unique=True)  # keyed HMAC, not the identifier
    key = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pseudonym key {self.pk}"
