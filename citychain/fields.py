"""Model fields that keep personal data encrypted in the database.

This module owns the bridge between Django models and ``citychain.crypto``: a value is
encrypted with ``settings.CITYCHAIN_DATA_KEYS`` whenever Django turns it into a query
parameter (save, ``update()``, ``bulk_create``, ``bulk_update``) and decrypted when a row
is read, so plaintext exists only in Python objects. The column holds a binary token.

Each token is bound to its column: the context is ``"<app_label>.<Model>.<field>"``.
Renaming the model, its app or the field therefore changes the context and makes existing
tokens fail to decrypt; pin the old name with ``context="..."`` (or re-encrypt in a data
migration) when renaming.

Ciphertext is randomized, so the database cannot compare it: the only lookup allowed is
``isnull`` (``field=None`` also works, as Django rewrites it to ``isnull``). Exact-match
search goes through a blind index column (``citychain.crypto.blind_index``).

``dumpdata`` writes these fields in plaintext, as Django serializes Python values; treat a
dump of such a model as personal data.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.lookups import Exact, IsNull, Lookup, Transform

from citychain import crypto

_NO_LOOKUPS = (
    "{field} is encrypted, so the database cannot compare its values ({lookup!r} lookup); "
    "search a blind index column (citychain.crypto.blind_index) instead. Only 'isnull' works."
)


class _ExactNone(Exact):
    """``field=None`` only: Django turns it into ``isnull``; any other value cannot match."""

    def __init__(self, lhs: Any, rhs: Any) -> None:
        if rhs is not None:
            raise TypeError(_NO_LOOKUPS.format(field=lhs.output_field, lookup="exact"))
        super().__init__(lhs, rhs)


class _EncryptedField(models.Field):
    """Shared behaviour: a binary column holding a ``citychain.crypto`` token, or NULL."""

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any) -> None:
        for option in ("unique", "db_index", "primary_key"):
            if kwargs.get(option):
                # A random nonce makes equal values differ in the column: a unique or index
                # constraint on it would accept duplicates while looking like it prevents them.
                raise TypeError(
                    f"{type(self).__name__} cannot be {option}=True: encrypted values never "
                    "compare equal in the database; put it on a blind index column instead"
                )
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        if self.context is not None:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "BinaryField"

    def get_lookup(self, lookup_name: str) -> type[Lookup] | None:
        if lookup_name == "isnull":
            return IsNull
        if lookup_name == "exact":
            return _ExactNone
        raise TypeError(_NO_LOOKUPS.format(field=self, lookup=lookup_name))

    def get_transform(self, lookup_name: str) -> type[Transform] | None:
        raise TypeError(_NO_LOOKUPS.format(field=self, lookup=lookup_name))

    def token_context(self) -> str:
        """The associated data binding this field's tokens to its column."""
        if self.context is not None:
            return self.context
        if not hasattr(self, "model"):
            raise TypeError(f"{type(self).__name__} must belong to a model to encrypt or decrypt")
        return f"{self.model._meta.label}.{self.name}"

    # Subclasses convert between their Python value and the bytes that get encrypted.
    def _to_plaintext(self, value: Any) -> bytes:
        raise NotImplementedError

    def _from_plaintext(self, plaintext: bytes) -> Any:
        raise NotImplementedError

    def get_prep_value(self, value: Any) -> bytes | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return crypto.encrypt(
            self._to_plaintext(value), settings.CITYCHAIN_DATA_KEYS, context=self.token_context()
        )

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        if value is not None:
            return connection.Database.Binary(value)
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        # PostgreSQL returns memoryview for bytea, SQLite bytes.
        plaintext = crypto.decrypt(
            bytes(value), settings.CITYCHAIN_DATA_KEYS, context=self.token_context()
        )
        return self._from_plaintext(plaintext)


class EncryptedTextField(_EncryptedField):
    """Text (a name, a date of birth, an SSN) stored encrypted; the Python value is ``str``."""

    description = "Text encrypted at rest"

    def _to_plaintext(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"{self} holds text, not {type(value).__name__}")
        return value.encode("utf-8")

    def _from_plaintext(self, plaintext: bytes) -> str:
        return plaintext.decode("utf-8")

    def to_python(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return str(value)


class EncryptedBinaryField(_EncryptedField):
    """Bytes (a scanned document, a photo) stored encrypted; the Python value is ``bytes``.

    Not editable by default, like Django's BinaryField: uploads go through a service that
    checks the file before it reaches a model.
    """

    description = "Binary data encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        if self.editable:
            kwargs["editable"] = True
        else:
            del kwargs["editable"]
        return name, path, args, kwargs

    def _to_plaintext(self, value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"{self} holds bytes, not {type(value).__name__}")
        return bytes(value)

    def _from_plaintext(self, plaintext: bytes) -> bytes:
        return plaintext

    def get_default(self) -> Any:
        # Django's implicit default for a NOT NULL field is "", which is text.
        default = super().get_default()
        return b"" if default == "" else default

    def value_to_string(self, obj: models.Model) -> str | None:
        # Serializers need text; base64 is what Django's BinaryField uses, and to_python reads.
        value = self.value_from_object(obj)
        return None if value is None else base64.b64encode(value).decode("ascii")

    def to_python(self, value: Any) -> bytes | None:
        if isinstance(value, str):
            return base64.b64decode(value.encode("ascii"))
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        return value
