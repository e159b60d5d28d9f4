"""Finish a data-key rotation: re-encrypt under the current key and recompute blind indexes.

How a key is rotated:

1. Generate a key and put it FIRST in CITYCHAIN_DATA_KEYS, keeping the old keys after it,
   and restart the web and worker processes. New values are now encrypted under the new
   key and old ones still decrypt; but blind indexes follow the first key, so residents
   enrolled before are found by name, date of birth or city ID again only once their
   indexes are recomputed. Run this command right away.
2. ``manage.py rotate_data_keys`` (``--dry-run`` first to see what it would do). It works
   in batches, each in its own transaction, with the rows locked (on PostgreSQL), so it
   may run while the site is up and may be stopped and run again.
3. When a run reports nothing to change, remove the old keys.

Only counts and model names are printed: never a value.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import F, Prefetch
from django.db.models.functions import Substr

from citychain import crypto
from citychain.fields import EncryptedBinaryField, EncryptedTextField
from identity import services
from identity.models import CityCard, Resident, ResidentSearchToken

INDEX_FIELDS = ["name_dob_index", "dob_index", "ssn_last4_index"]
# What services._reindex and services._retokenize read.
INDEX_SOURCES = [
    "legal_first_name",
    "legal_middle_name",
    "legal_last_name",
    "preferred_name",
    "aliases",
    "dob",
    "ssn",
]
# Rows holding an encrypted file are loaded this many at a time (documents are up to 10 MB).
BINARY_CHUNK = 10


def encrypted_models() -> Iterator[tuple[type[models.Model], list[models.Field]]]:
    """Every model of INSTALLED_APPS with its own encrypted columns, in a stable order."""
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        opts = model._meta
        if opts.proxy or opts.swapped or not opts.managed:
            continue
        fields = [
            f
            for f in opts.local_concrete_fields
            if isinstance(f, EncryptedTextField | EncryptedBinaryField)
        ]
        if fields:
            yield model, fields


def token_head(field: models.Field) -> Substr:
    """The first bytes of the stored token, enough for crypto.needs_reencryption.

    Read through an expression with a plain BinaryField output, so the field's from_db_value
    (which decrypts) does not run and a whole file is not read just to check its header.
    """
    return Substr(F(field.attname), 1, crypto.MIN_TOKEN_BYTES, output_field=models.BinaryField())


def resident_search_tokens(resident: Resident) -> set[str]:
    """The tokens services._retokenize writes for this resident, without writing them."""
    return services.name_tokens(
        resident.legal_first_name,
        resident.legal_middle_name,
        resident.legal_last_name,
        resident.preferred_name,
        *(resident.aliases or "").splitlines(),
    )


class Progress:
    """Prints "<model>: n of N checked, m changed" about every tenth of the way and at the end."""

    def __init__(self, command: BaseCommand, label: str, total: int, verb: str):
        self.command, self.label, self.total, self.verb = command, label, total, verb
        self.checked = self.changed = 0
        self.step = max(1, total // 10)
        self.next_report = self.step

    def add(self, checked: int, changed: int) -> None:
        self.checked += checked
        self.changed += changed
        if self.checked >= self.next_report and self.checked < self.total:
            self.report()
            self.next_report = self.checked + self.step

    def report(self) -> None:
        total = max(self.total, self.checked)  # rows added while it runs
        self.command.stdout.write(
            f"  {self.label}: {self.checked} of {total} checked, {self.changed} {self.verb}"
        )


class Command(BaseCommand):
    help = (
        "After a new key is put first in CITYCHAIN_DATA_KEYS: re-encrypt every encrypted "
        "value under it and recompute the blind indexes and search tokens. Idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; write nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=200, help="Rows per transaction (default 200)."
        )

    def handle(self, *, dry_run: bool, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.dry_run, self.batch_size = dry_run, batch_size
        self.keys = settings.CITYCHAIN_DATA_KEYS
        self.stdout.write(
            f"Current key: the first of {len(self.keys)} in CITYCHAIN_DATA_KEYS."
            + (" Dry run: nothing will be written." if dry_run else "")
        )
        try:
            self.stdout.write("Blind indexes and search tokens:")
            changes = self.reindex_residents() + self.reindex_cards()
            self.stdout.write("Encrypted values:")
            for model, fields in encrypted_models():
                changes += self.reencrypt(model, fields)
        except crypto.DecryptionError as exc:
            raise CommandError(f"A value cannot be decrypted: {exc}") from None

        if changes == 0:
            self.stdout.write(
                self.style.SUCCESS(
                    "Nothing to change: every value is encrypted under the current key and "
                    "every blind index is current."
                )
            )
        elif dry_run:
            self.stdout.write(f"Dry run: {changes} changes to make. Nothing was written.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Done: {changes} changes. Run again to confirm nothing is left; "
                    "then the old keys can be removed from CITYCHAIN_DATA_KEYS."
                )
            )

    # --- blind indexes -------------------------------------------------------------------

    def _batches(self, queryset: models.QuerySet) -> Iterator[list]:
        """Batches in primary-key order, each yielded inside its own transaction, locked."""
        last_pk = None
        while True:
            with transaction.atomic():
                rows = queryset.order_by("pk")
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                if not self.dry_run:
                    rows = rows.select_for_update()
                batch = list(rows[: self.batch_size])
                if not batch:
                    return
                last_pk = batch[-1][0] if isinstance(batch[-1], tuple) else batch[-1].pk
                yield batch  # the caller writes before the transaction commits

    def _verb(self, done: str, to_do: str) -> str:
        return to_do if self.dry_run else done

    def reindex_residents(self) -> int:
        residents = Resident.objects.only("pk", *INDEX_SOURCES, *INDEX_FIELDS).prefetch_related(
            Prefetch(
                "search_tokens",
                queryset=ResidentSearchToken.objects.only("resident_id", "token"),
                to_attr="stored_tokens",
            )
        )
        progress = Progress(
            self, "identity.Resident", Resident.objects.count(), self._verb("updated", "to update")
        )
        for batch in self._batches(residents):
            stale_indexes, stale_tokens = [], []
            for resident in batch:
                before = [getattr(resident, name) for name in INDEX_FIELDS]
                services._reindex(resident)
                if before != [getattr(resident, name) for name in INDEX_FIELDS]:
                    stale_indexes.append(resident)
                stored = {t.token for t in resident.stored_tokens}
                if stored != resident_search_tokens(resident):
                    stale_tokens.append(resident)
            if not self.dry_run:
                Resident.objects.bulk_update(stale_indexes, INDEX_FIELDS)
                for resident in stale_tokens:
                    services._retokenize(resident)
            progress.add(len(batch), len({r.pk for r in stale_indexes + stale_tokens}))
        progress.report()
        return progress.changed

    def reindex_cards(self) -> int:
        cards = CityCard.objects.only("pk", "city_id", "city_id_index")
        progress = Progress(
            self, "identity.CityCard", CityCard.objects.count(), self._verb("updated", "to update")
        )
        for batch in self._batches(cards):
            stale = []
            for card in batch:
                index = services.city_id_index(card.city_id)
                if card.city_id_index != index:
                    card.city_id_index = index
                    stale.append(card)
            if not self.dry_run:
                CityCard.objects.bulk_update(stale, ["city_id_index"])
            progress.add(len(batch), len(stale))
        progress.report()
        return progress.changed

    # --- re-encryption --------------------------------------------------------------------

    def reencrypt(self, model: type[models.Model], fields: list[models.Field]) -> int:
        manager = model._base_manager
        progress = Progress(
            self, model._meta.label, manager.count(), self._verb("re-encrypted", "to re-encrypt")
        )
        heads = manager.values_list("pk", *[token_head(f) for f in fields])
        for batch in self._batches(heads):
            stale: dict = {}  # pk -> the fields whose token is not under the current key
            for pk, *tokens in batch:
                names = [
                    field
                    for field, token in zip(fields, tokens, strict=True)
                    if token is not None and self._needs_reencryption(model, pk, field, token)
                ]
                if names:
                    stale[pk] = names
            if stale and not self.dry_run:
                self._rewrite(model, stale)
            progress.add(len(batch), len(stale))
        progress.report()
        return progress.changed

    def _needs_reencryption(self, model, pk, field: models.Field, token) -> bool:
        try:
            return crypto.needs_reencryption(bytes(token), self.keys)
        except crypto.DecryptionError as exc:
            raise CommandError(f"{model._meta.label} #{pk}, {field.name}: {exc}") from None

    def _rewrite(self, model: type[models.Model], stale: dict) -> None:
        """Load the stale values (decrypted by the fields) and write them back: update()
        encrypts under the current key. Only those columns change; no save() or signals,
        so `updated_at` and the like keep their meaning."""
        manager = model._base_manager
        attnames = sorted({f.attname for fields in stale.values() for f in fields})
        has_binary = any(
            isinstance(model._meta.get_field(a), EncryptedBinaryField) for a in attnames
        )
        pks = list(stale)
        chunk = BINARY_CHUNK if has_binary else len(pks)
        for start in range(0, len(pks), chunk):
            for instance in manager.filter(pk__in=pks[start : start + chunk]).only(*attnames):
                values = {f.attname: getattr(instance, f.attname) for f in stale[instance.pk]}
                manager.filter(pk=instance.pk).update(**values)
