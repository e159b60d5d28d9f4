"""Tests for citychain.fields: encryption on the way in, decryption on the way out.

The model lives in an isolated app registry (``isolate_apps``), so it adds no migration to
the project and ``makemigrations --check`` never sees it; the one database test creates and
drops its table itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, models
from django.db.migrations.writer import MigrationWriter
from django.test import override_settings
from django.test.utils import isolate_apps

from citychain.crypto import DecryptionError, decrypt, encrypt, needs_reencryption
from citychain.fields import EncryptedBinaryField, EncryptedTextField

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
KEYS = [NEW_KEY]


@pytest.fixture(scope="module")
def person_model() -> Iterator[type[models.Model]]:
    with isolate_apps("identity"):

        class EncryptedFieldsPerson(models.Model):
            legal_name = EncryptedTextField()
            ssn = EncryptedTextField(null=True, blank=True)
            photo = EncryptedBinaryField(null=True)
            renamed = EncryptedTextField(null=True, context="identity.OldPerson.old_name")

            class Meta:
                app_label = "identity"

            def __str__(self) -> str:
                return f"person {self.pk}"

        yield EncryptedFieldsPerson


@pytest.fixture(autouse=True)
def data_keys() -> Iterator[None]:
    with override_settings(CITYCHAIN_DATA_KEYS=KEYS):
        yield


def field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


# --- Field methods, no database --------------------------------------------------------------


def test_text_is_encrypted_for_its_column(person_model: type[models.Model]) -> None:
    token = field(person_model, "legal_name").get_prep_value("José O'Neil")
    assert isinstance(token, bytes)
    assert b"Jos" not in token
    assert decrypt(token, KEYS, context="identity.EncryptedFieldsPerson.legal_name") == (
        "José O'Neil".encode()
    )
    with pytest.raises(DecryptionError):
        decrypt(token, KEYS, context="identity.EncryptedFieldsPerson.ssn")


def test_text_is_decrypted_from_bytes_and_memoryview(person_model: type[models.Model]) -> None:
    legal_name = field(person_model, "legal_name")
    token = legal_name.get_prep_value("Jane Doe")
    assert legal_name.from_db_value(token, None, connection) == "Jane Doe"
    assert legal_name.from_db_value(memoryview(token), None, connection) == "Jane Doe"


def test_binary_round_trip(person_model: type[models.Model]) -> None:
    photo = field(person_model, "photo")
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    token = photo.get_prep_value(jpeg)
    assert jpeg[4:40] not in token
    assert photo.from_db_value(token, None, connection) == jpeg
    assert photo.get_prep_value(bytearray(b"x")) is not None


def test_null_stays_null(person_model: type[models.Model]) -> None:
    for name in ("ssn", "photo"):
        assert field(person_model, name).get_prep_value(None) is None
        assert field(person_model, name).from_db_value(None, None, connection) is None


def test_empty_string_is_encrypted_not_null(person_model: type[models.Model]) -> None:
    ssn = field(person_model, "ssn")
    token = ssn.get_prep_value("")
    assert token is not None
    assert ssn.from_db_value(token, None, connection) == ""


def test_token_from_another_column_fails(person_model: type[models.Model]) -> None:
    token = field(person_model, "legal_name").get_prep_value("Jane Doe")
    with pytest.raises(DecryptionError, match="another column"):
        field(person_model, "ssn").from_db_value(token, None, connection)


def test_pinned_context(person_model: type[models.Model]) -> None:
    renamed = field(person_model, "renamed")
    token = encrypt(b"kept after a rename", KEYS, context="identity.OldPerson.old_name")
    assert renamed.from_db_value(token, None, connection) == "kept after a rename"


def test_wrong_python_types_are_refused(person_model: type[models.Model]) -> None:
    with pytest.raises(TypeError, match="holds text"):
        field(person_model, "legal_name").get_prep_value(b"bytes")
    with pytest.raises(TypeError, match="holds bytes"):
        field(person_model, "photo").get_prep_value("text")


def test_unbound_field_cannot_encrypt() -> None:
    with pytest.raises(TypeError, match="must belong to a model"):
        EncryptedTextField().get_prep_value("x")


def test_rotation_reads_old_tokens(person_model: type[models.Model]) -> None:
    legal_name = field(person_model, "legal_name")
    with override_settings(CITYCHAIN_DATA_KEYS=[OLD_KEY]):
        old_token = legal_name.get_prep_value("Jane Doe")
    with override_settings(CITYCHAIN_DATA_KEYS=[NEW_KEY, OLD_KEY]):
        assert legal_name.from_db_value(old_token, None, connection) == "Jane Doe"
        assert needs_reencryption(old_token, [NEW_KEY, OLD_KEY])
        assert not needs_reencryption(legal_name.get_prep_value("Jane Doe"), [NEW_KEY, OLD_KEY])


def test_defaults(person_model: type[models.Model]) -> None:
    assert field(person_model, "legal_name").get_default() == ""
    assert field(person_model, "ssn").get_default() is None
    assert field(person_model, "photo").get_default() is None
    assert EncryptedBinaryField().get_default() == b""


def test_binary_serializes_as_base64(person_model: type[models.Model]) -> None:
    photo = field(person_model, "photo")
    person = person_model(legal_name="x", photo=b"\x00\x01")
    assert photo.to_python(photo.value_to_string(person)) == b"\x00\x01"


# --- Migrations ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["legal_name", "ssn", "photo", "renamed"])
def test_deconstruct_round_trip(person_model: type[models.Model], name: str) -> None:
    original = field(person_model, name)
    _, path, args, kwargs = original.deconstruct()
    assert path.startswith("citychain.fields.Encrypted")
    rebuilt = type(original)(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)
    assert rebuilt.null == original.null
    assert rebuilt.context == original.context
    assert rebuilt.editable == original.editable
    source, imports = MigrationWriter.serialize(original)
    assert source.startswith("citychain.fields.Encrypted")
    assert "import citychain.fields" in imports


def test_deconstruct_kwargs(person_model: type[models.Model]) -> None:
    assert field(person_model, "legal_name").deconstruct()[3] == {}
    assert field(person_model, "ssn").deconstruct()[3] == {"null": True, "blank": True}
    assert field(person_model, "photo").deconstruct()[3] == {"null": True}
    assert field(person_model, "renamed").deconstruct()[3] == {
        "null": True,
        "context": "identity.OldPerson.old_name",
    }


def test_column_is_binary(person_model: type[models.Model]) -> None:
    assert field(person_model, "legal_name").db_type(connection) == models.BinaryField().db_type(
        connection
    )


@pytest.mark.parametrize("option", ["unique", "db_index", "primary_key"])
def test_constraints_on_ciphertext_are_refused(option: str) -> None:
    with pytest.raises(TypeError, match="blind index"):
        EncryptedTextField(**{option: True})


# --- Lookups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lookup",
    [
        {"legal_name": "Jane Doe"},
        {"legal_name__exact": "Jane Doe"},
        {"legal_name__iexact": "jane doe"},
        {"legal_name__icontains": "Jane"},
        {"legal_name__startswith": "J"},
        {"legal_name__in": ["Jane Doe"]},
        {"legal_name__gt": "A"},
        {"legal_name__lower": "jane doe"},
        {"photo": b"x"},
    ],
)
def test_lookups_are_refused(person_model: type[models.Model], lookup: dict) -> None:
    with pytest.raises(TypeError, match="blind index"):
        person_model.objects.filter(**lookup)


def test_isnull_lookups_work(person_model: type[models.Model]) -> None:
    for queryset in (
        person_model.objects.filter(ssn__isnull=True),
        person_model.objects.filter(ssn=None),
        person_model.objects.exclude(photo__isnull=False),
    ):
        assert "IS NULL" in str(queryset.query) or "IS NOT NULL" in str(queryset.query)


# --- Database --------------------------------------------------------------------------------


@pytest.fixture
def person_table(person_model: type[models.Model], transactional_db: None) -> Iterator[None]:
    # SQLite's schema editor cannot run inside the test transaction, hence transactional_db.
    with connection.schema_editor() as editor:
        editor.create_model(person_model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(person_model)


def raw_columns(model: type[models.Model], pk: int) -> tuple:
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ("legal_name", "ssn", "photo"))
    with connection.cursor() as cursor:
        # Identifiers come from the model's own metadata, quoted; the id is a parameter.
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return tuple(None if v is None else bytes(v) for v in cursor.fetchone())


@pytest.mark.usefixtures("person_table")
def test_database_holds_only_ciphertext(person_model: type[models.Model]) -> None:
    person = person_model.objects.create(
        legal_name="José O'Neil", ssn="123-45-6789", photo=b"JFIF-secret-photo"
    )
    legal_name, ssn, photo = raw_columns(person_model, person.pk)
    assert "José".encode() not in legal_name and b"Neil" not in legal_name
    assert b"6789" not in ssn
    assert b"secret" not in photo
    assert person.legal_name == "José O'Neil"  # saving leaves the instance in plaintext

    loaded = person_model.objects.get(pk=person.pk)
    assert (loaded.legal_name, loaded.ssn, loaded.photo) == (
        "José O'Neil",
        "123-45-6789",
        b"JFIF-secret-photo",
    )
    assert person_model.objects.values_list("ssn", flat=True).get() == "123-45-6789"


@pytest.mark.usefixtures("person_table")
def test_database_writes_by_update_and_bulk(person_model: type[models.Model]) -> None:
    first, second = person_model.objects.bulk_create(
        [person_model(legal_name="First"), person_model(legal_name="Second", ssn=None)]
    )
    person_model.objects.filter(pk=first.pk).update(ssn="111-22-3333")
    second.legal_name = "Second Renamed"
    person_model.objects.bulk_update([second], ["legal_name"])

    assert b"3333" not in raw_columns(person_model, first.pk)[1]
    assert b"Renamed" not in raw_columns(person_model, second.pk)[0]
    assert raw_columns(person_model, second.pk)[1] is None
    by_pk = {p.pk: p for p in person_model.objects.all()}
    assert by_pk[first.pk].ssn == "111-22-3333"
    assert by_pk[second.pk].legal_name == "Second Renamed"
    assert list(person_model.objects.filter(ssn=None).values_list("pk", flat=True)) == [second.pk]


@pytest.mark.usefixtures("person_table")
def test_database_rotation(person_model: type[models.Model]) -> None:
    with override_settings(CITYCHAIN_DATA_KEYS=[OLD_KEY]):
        person = person_model.objects.create(legal_name="Jane Doe")
    with override_settings(CITYCHAIN_DATA_KEYS=[NEW_KEY, OLD_KEY]):
        assert needs_reencryption(raw_columns(person_model, person.pk)[0], [NEW_KEY, OLD_KEY])
        loaded = person_model.objects.get(pk=person.pk)
        loaded.save()  # re-encrypts under the current key
        assert not needs_reencryption(raw_columns(person_model, person.pk)[0], [NEW_KEY, OLD_KEY])
    assert person_model.objects.get(pk=person.pk).legal_name == "Jane Doe"
