"""Identity services: enrollment, search, cards, consent, audit, erasure."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from identity import cityid, selectors, services
from identity.models import AccessEvent, CityCard, Consent, Resident
from ledger.models import Entry
from tests.identity.conftest import resident_data

pytestmark = pytest.mark.django_db


def test_enrollment_issues_a_city_id_and_records_consent_and_audit(enroll, caseworker):
    resident = enroll()
    card = services.active_card(resident)
    assert cityid.is_valid(card.city_id)
    assert selectors.access_for(resident, caseworker.organization).ssn
    assert AccessEvent.objects.filter(action="enroll", subject=resident.ledger_subject).exists()
    kinds = set(Entry.objects.values_list("kind", flat=True))
    assert {
        "identity.resident_enrolled",
        "identity.card_issued",
        "identity.consent_recorded",
        "identity.record_accessed",
    } <= kinds


def test_personal_data_is_encrypted_in_a_raw_dump(enroll):
    enroll()
    dump = []
    with connection.cursor() as cursor:
        for table in (
            "identity_resident",
            "identity_citycard",
            "identity_consent",
            "identity_accessevent",
            "ledger_entry",
            "identity_residentsearchtoken",
        ):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump.append(repr(cursor.fetchall()))
    raw = "\n".join(dump)
    for secret in (
        "Ana",
        "García",
        "Garcia",
        "1980-05-17",
        "123456789",
        "6789",
        "555-0100",
        "Prefers mornings",
    ):
        assert secret not in raw


@pytest.mark.parametrize(
    "query",
    ["ana", "gar", "GARCÍA", "annie", "lopez", "1980-05-17", "5/17/1980", "6789", "an ga 6789"],
)
def test_search_finds_people_the_way_caseworkers_look(enroll, caseworker, query):
    resident = enroll()
    enroll(
        legal_first_name="Bob",
        legal_last_name="Stone",
        preferred_name="",
        aliases=[],
        dob=date(1975, 1, 2),
        ssn="387-65-4321",
    )
    assert selectors.search(caseworker, query) == [resident]


def test_search_by_current_and_former_city_id(enroll, caseworker):
    resident = enroll()
    old = services.active_card(resident).city_id
    _, new = services.card_reissue(resident=resident, acting_user=caseworker, reason="lost")
    assert selectors.search(caseworker, cityid.display(old)) == [resident]
    assert selectors.search(caseworker, new.lower().replace("-", " ")) == [resident]
    assert CityCard.objects.filter(resident=resident, status="active").count() == 1
    kinds = list(Entry.objects.values_list("kind", flat=True))
    assert kinds.count("identity.card_revoked") == 1 and kinds.count("identity.card_issued") == 2


def test_another_organization_cannot_find_or_open_without_consent(enroll, other_caseworker):
    resident = enroll()
    assert selectors.search(other_caseworker, "ana") == []
    assert selectors.resident_for(other_caseworker, resident.public_id) is None
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical"],
        status=Consent.Status.VERBAL,
        acting_user=other_caseworker,
    )
    assert selectors.search(other_caseworker, "ana") == [resident]
    access = selectors.access_for(resident, other_caseworker.organization)
    assert access.allows("medical") and not access.ssn


def test_revoked_or_expired_consent_stops_access(enroll, other_caseworker):
    resident = enroll()
    consent = services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["identity"],
        status=Consent.Status.GRANTED,
        acting_user=other_caseworker,
        expires_on=date.today() + timedelta(days=1),
    )
    assert selectors.resident_for(other_caseworker, resident.public_id) == resident
    services.consent_revoke(consent=consent, acting_user=None)
    assert selectors.resident_for(other_caseworker, resident.public_id) is None


def test_possible_duplicates_before_enrolling(enroll):
    resident = enroll()
    assert services.possible_duplicates("ANA", "garcia", date(1980, 5, 17)) == [resident]
    assert services.possible_duplicates("Anabel", "Garcias", date(1980, 5, 17)) == [resident]
    assert services.possible_duplicates("Ana", "Garcia", date(1981, 5, 17)) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ssn": "12345"}, "ssn"),
        ({"ssn": "000-12-3456"}, "ssn"),
        ({"ssn": "123456789", "ssn_data_quality": 9}, "ssn"),
        ({"dob": date.today() + timedelta(days=1)}, "dob"),
        ({"dob": None, "dob_data_quality": 1}, "dob"),
    ],
)
def test_bad_enrollment_is_refused_and_changes_nothing(caseworker, overrides, field):
    with pytest.raises(ValidationError) as excinfo:
        services.resident_enroll(acting_user=caseworker, data=resident_data(**overrides))
    assert field in excinfo.value.message_dict
    assert not Resident.objects.exists() and not Entry.objects.exists()


def test_audit_trail_cannot_be_edited(enroll):
    from django.db import DatabaseError, transaction

    enroll()
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.update(detail="covered up")


def test_vawa_residents_never_reach_the_ledger():
    from citychain import roles
    from identity.models import Organization
    from tests.factories import OrganizationFactory, UserFactory

    vsp = OrganizationFactory(name="Safe Haven", kind=Organization.Kind.VICTIM_SERVICES)
    advocate = UserFactory(username="adv", organization=vsp, role=roles.CASEWORKER)
    resident = services.resident_enroll(acting_user=advocate, data=resident_data())
    services.document_upload(
        acting_user=advocate,
        resident=resident,
        content=b"%PDF-1.4 x",
        category="identity",
        title="ID",
    )
    assert resident.vawa_protected
    assert not Entry.objects.exists()


def test_kiosk_pin_locks_out_after_repeated_failures(enroll):
    resident = enroll(pin="2468")
    for _ in range(services.KIOSK_MAX_FAILURES):
        assert services.kiosk_check_pin(resident=resident, pin="0000") is False
    with pytest.raises(services.KioskLocked):
        services.kiosk_check_pin(resident=resident, pin="2468")


def test_erasure_unlinks_the_ledger_and_it_still_verifies(enroll, caseworker):
    from ledger import services as ledger
    from ledger.verify import verify_ledger

    resident = enroll()
    subject = resident.ledger_subject
    ledger.seal_all()
    services.resident_erase(acting_user=caseworker, resident=resident)
    ledger.seal_all()
    assert not Resident.objects.exists()
    assert verify_ledger().ok
    assert ledger.pseudonym("identity.resident", str(resident.public_id)) != subject
