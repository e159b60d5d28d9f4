"""rotate_data_keys: after a new key is put first, everything moves under it and search works."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from citychain import crypto
from identity import cityid, selectors, services
from identity.management.commands.rotate_data_keys import encrypted_models
from identity.models import (
    CityCard,
    Consent,
    Document,
    Encounter,
    Referral,
    Resident,
    ResidentSearchToken,
)

pytestmark = pytest.mark.django_db

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
PDF = b"%PDF-1.4\n" + b"scanned lease " * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x11" * 64


def raw_tokens() -> dict[tuple[str, object, str], bytes]:
    """Every encrypted column value as stored, read without the fields' decryption."""
    tokens = {}
    with connection.cursor() as cursor:
        for model, fields in encrypted_models():
            table, pk = model._meta.db_table, model._meta.pk.column
            columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            cursor.execute(f"SELECT {pk}, {columns} FROM {table}")  # noqa: S608 - model names
            for pk_value, *values in cursor.fetchall():
                for field, value in zip(fields, values, strict=True):
                    if value is not None:
                        tokens[(model._meta.label, pk_value, field.name)] = bytes(value)
    return tokens


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_data_keys", *args, "--batch-size", "2", stdout=out)
    return out.getvalue()


@pytest.fixture
def world(settings, enroll, caseworker, other_caseworker):
    """Residents and every kind of encrypted record, all written under key A."""
    settings.CITYCHAIN_DATA_KEYS = [KEY_A]
    ana = enroll(photo=JPEG, photo_type="image/jpeg")
    bob = enroll(
        legal_first_name="Bob",
        legal_last_name="Stone",
        preferred_name="",
        aliases=[],
        dob=date(1975, 1, 2),
        ssn="387-65-4321",
    )
    enroll(legal_first_name="Chen", legal_last_name="Wei", preferred_name="", aliases=[])
    old_card = services.active_card(ana).city_id
    services.card_reissue(resident=ana, acting_user=caseworker, reason="lost")
    services.document_upload(
        acting_user=caseworker, resident=ana, content=PDF, category="housing", title="Lease"
    )
    services.encounter_record(
        acting_user=caseworker, resident=ana, kind="meal", on=date(2025, 11, 3), notes="Vegan"
    )
    services.consent_record(
        resident=bob,
        organization=other_caseworker.organization,
        categories=[],
        status=Consent.Status.REFUSED,
        reason="Wants to think about it",
        acting_user=caseworker,
    )
    services.consent_record(
        resident=ana,
        organization=other_caseworker.organization,
        categories=["medical"],
        status=Consent.Status.GRANTED,
        acting_user=caseworker,
    )
    services.referral_send(
        acting_user=caseworker,
        resident=ana,
        to_organization=other_caseworker.organization,
        service="Dental",
        note="Tooth pain",
    )
    tokens = raw_tokens()
    assert tokens and not any(crypto.needs_reencryption(t, [KEY_A]) for t in tokens.values())
    return {"ana": ana, "bob": bob, "old_card": old_card}


def search_works(caseworker, world) -> None:
    ana, bob = world["ana"], world["bob"]
    assert selectors.search(caseworker, "ana gar") == [ana]
    assert selectors.search(caseworker, "annie") == [ana]  # preferred name
    assert selectors.search(caseworker, "lopez") == [ana]  # alias
    assert selectors.search(caseworker, "1975-01-02") == [bob]
    assert selectors.search(caseworker, "4321") == [bob]  # last 4 of the SSN
    assert selectors.search(caseworker, cityid.display(services.active_card(ana).city_id)) == [ana]
    assert selectors.search(caseworker, world["old_card"]) == [ana]  # a revoked card
    assert services.possible_duplicates("Bob", "Stone", date(1975, 1, 2)) == [bob]


def test_rotation_moves_everything_to_the_new_key(settings, world, caseworker):
    before = raw_tokens()
    updated_at = dict(Resident.objects.values_list("pk", "updated_at"))
    settings.CITYCHAIN_DATA_KEYS = [KEY_B, KEY_A]
    # The indexes follow the first key: until the command runs, old residents are not found.
    assert selectors.search(caseworker, "ana gar") == []

    out = rotate()

    after = raw_tokens()
    assert after.keys() == before.keys()
    assert not any(crypto.needs_reencryption(t, [KEY_B, KEY_A]) for t in after.values())
    assert all(after[k] != before[k] for k in before)
    assert "identity.Resident: 3 of 3 checked, 3 updated" in out
    assert "identity.CityCard: 4 of 4 checked, 4 updated" in out
    assert "identity.Document: 1 of 1 checked, 1 re-encrypted" in out
    assert "identity.Encounter: 1 of 1 checked, 1 re-encrypted" in out
    assert "Done:" in out
    for secret in ("Ana", "García", "1980", "6789", "Lease", "Vegan"):
        assert secret not in out  # counts and model names only
    search_works(caseworker, world)
    # A rotation is not a change to anyone's record.
    assert dict(Resident.objects.values_list("pk", "updated_at")) == updated_at

    # The old key can go: every value decrypts under the new one alone.
    settings.CITYCHAIN_DATA_KEYS = [KEY_B]
    for model, _fields in encrypted_models():
        list(model._base_manager.all())  # decrypts every column of every row
    ana = Resident.objects.get(pk=world["ana"].pk)
    assert (ana.legal_name, ana.dob, ana.ssn, ana.photo) == (
        "Ana García",
        "1980-05-17",
        "123456789",
        JPEG,
    )
    assert Document.objects.get().content == PDF
    assert Document.objects.get().title == "Lease"
    assert Encounter.objects.get().notes == "Vegan"
    assert Referral.objects.get().note == "Tooth pain"
    assert Consent.objects.get(status="refused").reason == "Wants to think about it"
    search_works(caseworker, world)


def test_a_second_run_changes_nothing(settings, world):
    settings.CITYCHAIN_DATA_KEYS = [KEY_B, KEY_A]
    rotate()
    tokens = raw_tokens()
    search_tokens = sorted(ResidentSearchToken.objects.values_list("pk", "token"))
    card_indexes = sorted(CityCard.objects.values_list("pk", "city_id_index"))

    out = rotate()

    assert "Nothing to change" in out
    assert "identity.Resident: 3 of 3 checked, 0 updated" in out
    # Tokens are randomized: any rewrite would show as different bytes.
    assert raw_tokens() == tokens
    assert sorted(ResidentSearchToken.objects.values_list("pk", "token")) == search_tokens
    assert sorted(CityCard.objects.values_list("pk", "city_id_index")) == card_indexes


def test_dry_run_reports_and_writes_nothing(settings, world, caseworker):
    settings.CITYCHAIN_DATA_KEYS = [KEY_B, KEY_A]
    before = raw_tokens()
    search_tokens = sorted(ResidentSearchToken.objects.values_list("pk", "token"))

    out = rotate("--dry-run")

    assert "Dry run" in out
    assert "identity.Resident: 3 of 3 checked, 3 to update" in out
    assert "identity.Document: 1 of 1 checked, 1 to re-encrypt" in out
    assert "changes to make. Nothing was written." in out
    assert raw_tokens() == before
    assert sorted(ResidentSearchToken.objects.values_list("pk", "token")) == search_tokens
    assert selectors.search(caseworker, "ana gar") == []


def test_with_one_key_and_nothing_stale_there_is_nothing_to_do(settings, world):
    assert "Nothing to change" in rotate()


def test_a_value_under_a_removed_key_is_reported_without_personal_data(settings, world):
    settings.CITYCHAIN_DATA_KEYS = [KEY_B]  # key A removed before rotating: a mistake
    with pytest.raises(CommandError, match="no configured data key") as excinfo:
        rotate()
    assert "Ana" not in str(excinfo.value)
