"""The caseworker desk: what a caseworker can find, see, change and print, and what they
cannot (a resident of another organization is a plain 404, whatever the URL)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citychain import roles
from identity import cityid, services
from identity.models import (
    AccessEvent,
    CityCard,
    Consent,
    Document,
    Encounter,
    Referral,
    Resident,
    ResidentLink,
)
from identity.views_desk import _throttle_key
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


@pytest.fixture
def desk(client, caseworker):
    client.force_login(caseworker)
    return client


@pytest.fixture(autouse=True)
def _no_request_access_throttle(caseworker, other_caseworker):
    for user in (caseworker, other_caseworker):
        cache.delete(_throttle_key(user))
    yield
    for user in (caseworker, other_caseworker):
        cache.delete(_throttle_key(user))


def city_id(resident) -> str:
    return cityid.display(services.active_card(resident).city_id)


def url(name, resident, *args):
    return reverse(f"identity:{name}", args=[resident.public_id, *args])


def events(action, resident=None):
    qs = AccessEvent.objects.filter(action=action)
    if resident is not None:
        qs = qs.filter(subject=resident.ledger_subject)
    return qs


def enroll_post(**overrides):
    data = {
        "legal_first_name": "Rosa",
        "legal_last_name": "Delgado",
        "preferred_name": "Rosie",
        "aliases": "Rosa D.\nRosita",
        "dob": "1975-03-02",
        "dob_data_quality": "1",
        "ssn": "",
        "ssn_data_quality": "99",
        "race": ["HispanicLatinao", "White"],
        "gender": ["Woman"],
        "sex": "0",
        "veteran_status": "0",
        "disabling_condition": "1",
        "phone": "555-0199",
        "pin": "1357",
        "consent-categories": ["identity", "housing"],
        "consent-status": "granted",
        "consent-expires_on": "",
    }
    data.update(overrides)
    return data


# --- access: who may use the desk, and 404s ---------------------------------------------


def test_desk_needs_a_caseworker_of_an_organization(client):
    assert client.get(reverse("identity:home")).status_code == 302  # to sign in
    client.force_login(UserFactory(username="voter-official", role=roles.ELECTION_OFFICIAL))
    assert client.get(reverse("identity:home")).status_code == 403


def test_nav_shows_residents_to_caseworkers(desk):
    response = desk.get(reverse("dashboard"))
    assert f'href="{reverse("identity:home")}"'.encode() in response.content


def test_another_organizations_resident_is_404_on_every_page(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    for name in ("resident", "card", "photo", "consent_new", "consent_print", "encounter_new"):
        assert client.get(url(name, resident)).status_code == 404, name
    for name in ("ssn_reveal", "card_reissue", "link"):
        assert client.post(url(name, resident), {"reason": "lost"}).status_code == 404, name
    consent = resident.consents.get()
    assert client.post(reverse("identity:consent_revoke", args=[consent.pk])).status_code == 404
    consent.refresh_from_db()
    assert consent.status == Consent.Status.GRANTED
    assert not events("view", resident).exists()


def test_guessed_and_sequential_looking_uuids_are_404(desk, enroll):
    resident = enroll()
    real = resident.public_id.int
    for guess in (uuid.uuid4(), uuid.UUID(int=real + 1), uuid.UUID(int=real - 1), uuid.UUID(int=1)):
        response = desk.get(reverse("identity:resident", args=[guess]))
        assert response.status_code == 404
    assert desk.get("/identity/r/not-a-uuid/").status_code == 404


# --- search ---------------------------------------------------------------------------


def test_home_has_an_autofocused_search_box_and_the_enroll_link(desk):
    response = desk.get(reverse("identity:home"))
    assert response.status_code == 200
    assert b"autofocus" in response.content
    assert b'method="post"' in response.content
    assert reverse("identity:enroll").encode() in response.content


def test_search_finds_by_name_and_dob_and_is_audited(desk, enroll, caseworker):
    resident = enroll()
    response = desk.post(reverse("identity:home"), {"q": "ana 05/17/1980"})
    assert response.status_code == 200
    assert b"Annie Garc" in response.content
    assert city_id(resident).encode() in response.content
    assert b"Harbor Light Shelter" in response.content
    event = events("search").get()
    assert event.actor == caseworker and event.detail == "1"
    assert b"123-45-6789" not in response.content


def test_scanning_a_card_opens_the_record(desk, enroll):
    resident = enroll()
    scanned = services.active_card(resident).city_id.lower()  # what a scanner may type
    response = desk.post(reverse("identity:home"), {"q": scanned})
    assert response.status_code == 302
    assert response["Location"] == url("resident", resident)


def test_search_does_not_find_another_organizations_resident(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    for query in ("ana", "Garcia", city_id(resident), "6789"):
        response = client.post(reverse("identity:home"), {"q": query})
        assert response.status_code == 200
        assert b"Annie" not in response.content
    assert set(events("search").values_list("detail", flat=True)) == {"0"}


def test_empty_search_is_400(desk):
    assert desk.post(reverse("identity:home"), {"q": ""}).status_code == 400
    assert not events("search").exists()


def test_search_results_take_a_fixed_number_of_queries(desk, enroll, django_assert_max_num_queries):
    for i in range(12):
        enroll(legal_first_name=f"Ana{chr(65 + i)}", legal_last_name="Morales")
    with django_assert_max_num_queries(16):
        response = desk.post(reverse("identity:home"), {"q": "morales"})
    assert response.content.count(b'href="/identity/r/') == 12


# --- enrollment -------------------------------------------------------------------------


def test_enroll_creates_the_resident_and_goes_to_the_card(desk, caseworker):
    response = desk.post(reverse("identity:enroll"), enroll_post())
    resident = Resident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("card", resident)
    assert resident.preferred_name == "Rosie"
    assert resident.aliases == "Rosa D.\nRosita"
    assert resident.dob == "1975-03-02"
    assert resident.demographic_data == {
        "race": ["HispanicLatinao", "White"],
        "gender": ["Woman"],
        "sex": 0,
        "veteran_status": 0,
        "disabling_condition": 1,
    }
    assert resident.kiosk_pin
    consent = resident.consents.get()
    assert consent.organization == caseworker.organization
    assert consent.categories == ["housing", "identity"]
    assert cityid.is_valid(services.active_card(resident).city_id)
    followed = desk.get(response["Location"])
    assert b"enrolled and has a city ID" in followed.content


def test_enroll_stores_missing_answers_as_hmis_codes(desk):
    post = enroll_post(race=[], race_none="9", gender=[], ssn="123-45-6789", ssn_data_quality="1")
    assert desk.post(reverse("identity:enroll"), post).status_code == 302
    resident = Resident.objects.get()
    assert resident.demographic_data["race"] == []
    assert resident.demographic_data["race_none"] == 9
    assert resident.demographic_data["gender_none"] == 99
    assert resident.ssn == "123456789"


def test_enroll_with_a_photo(desk):
    from io import BytesIO

    photo = BytesIO(PNG)
    photo.name = "me.png"
    response = desk.post(reverse("identity:enroll"), {**enroll_post(), "photo": photo})
    assert response.status_code == 302
    resident = Resident.objects.get()
    assert resident.photo == PNG and resident.photo_type == "image/png"
    got = desk.get(url("photo", resident))
    assert got.status_code == 200
    assert got["Content-Type"] == "image/png"
    assert got["Cache-Control"] == "no-store"
    assert got.content == PNG
    assert events("view", resident).filter(detail="photo").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"legal_last_name": ""}, "legal_last_name"),
        ({"dob": "2999-01-01"}, "dob"),
        ({"ssn": "12345", "ssn_data_quality": "1"}, "ssn"),
        ({"pin": "12"}, "pin"),
        ({"race_none": "8"}, "race_none"),
        ({"consent-categories": []}, "categories"),
        ({"consent-status": "refused"}, "status"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_enrollment_is_400_and_changes_nothing(desk, overrides, field):
    response = desk.post(reverse("identity:enroll"), enroll_post(**overrides))
    assert response.status_code == 400
    errors = {**response.context["form"].errors, **response.context["consent_form"].errors}
    assert field in errors
    assert not Resident.objects.exists()
    assert not CityCard.objects.exists()


def test_a_photo_is_checked_by_content_not_name(desk):
    from io import BytesIO

    fake = BytesIO(b"MZ\x90\x00 not an image")
    fake.name = "photo.jpg"
    response = desk.post(reverse("identity:enroll"), {**enroll_post(), "photo": fake})
    assert response.status_code == 400
    assert "photo" in response.context["form"].errors
    assert not Resident.objects.exists()


def test_duplicates_the_organization_may_see_are_shown_with_details(desk, enroll):
    existing = enroll(legal_first_name="Rosa", legal_last_name="Delgado", dob=date(1975, 3, 2))
    response = desk.post(reverse("identity:enroll"), enroll_post())
    assert response.status_code == 200
    assert Resident.objects.count() == 1  # nothing enrolled yet
    assert city_id(existing).encode() in response.content
    assert url("resident", existing).encode() in response.content
    assert b"This is a different person" in response.content

    fingerprint = response.context["fingerprint"]
    post = enroll_post(confirmed=fingerprint, link_to=[str(existing.public_id)])
    response = desk.post(reverse("identity:enroll"), post)
    assert response.status_code == 302
    new = Resident.objects.exclude(pk=existing.pk).get()
    link = ResidentLink.objects.get()
    assert {link.first_id, link.second_id} == {existing.pk, new.pk}


def test_duplicates_of_other_organizations_are_hinted_without_details(
    client, enroll, other_caseworker
):
    existing = enroll(legal_first_name="Rosa", legal_last_name="Delgado", dob=date(1975, 3, 2))
    client.force_login(other_caseworker)
    response = client.post(reverse("identity:enroll"), enroll_post(legal_first_name="Rosalia"))
    assert response.status_code == 200
    assert b"A record may already exist, enrolled by another organization" in response.content
    for secret in (city_id(existing), str(existing.public_id), "Annie", "Harbor Light"):
        assert secret.encode() not in response.content
    assert response.context["duplicates"] == []
    # Linking to a record one cannot see is ignored, not honoured.
    post = enroll_post(
        legal_first_name="Rosalia",
        confirmed=response.context["fingerprint"],
        link_to=[str(existing.public_id)],
    )
    assert client.post(reverse("identity:enroll"), post).status_code == 302
    assert Resident.objects.count() == 2
    assert not ResidentLink.objects.exists()


def test_confirmation_is_for_the_name_that_was_checked(desk, enroll):
    enroll(legal_first_name="Rosa", legal_last_name="Delgado", dob=date(1975, 3, 2))
    first = desk.post(reverse("identity:enroll"), enroll_post(legal_first_name="Rosalind"))
    changed = enroll_post(confirmed=first.context["fingerprint"])  # now "Rosa Delgado"
    response = desk.post(reverse("identity:enroll"), changed)
    assert response.status_code == 200
    assert b"may already have a record" in response.content
    assert Resident.objects.count() == 1


# --- the record --------------------------------------------------------------------------


def test_record_shows_what_consent_allows_and_is_audited(desk, enroll, caseworker):
    resident = enroll()
    response = desk.get(url("resident", resident))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Annie García" in content
    assert "Ana García" in content  # legal name
    assert city_id(resident) in content
    assert "•••-••-6789" in content
    assert "123-45-6789" not in content and "123456789" not in content
    assert "Prefers mornings." in content  # case notes consented
    assert "Hispanic/Latina/o" in content
    assert response["Cache-Control"].startswith("max-age=0")
    event = events("view", resident).get()
    assert event.actor == caseworker and event.organization == caseworker.organization
    assert "Viewed the record" in content  # the audit trail shows this very view


def test_case_notes_and_ssn_need_their_categories(client, enroll, other_caseworker):
    resident = enroll()
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["housing"],
        status=Consent.Status.VERBAL,
        acting_user=other_caseworker,
    )
    client.force_login(other_caseworker)
    response = client.get(url("resident", resident))
    assert response.status_code == 200
    assert b"Prefers mornings." not in response.content
    assert b"6789" not in response.content
    assert b"Reveal SSN" not in response.content
    assert client.post(url("ssn_reveal", resident)).status_code == 404
    assert not events("ssn_reveal").exists()


def test_ssn_reveal_shows_it_once_and_is_audited(desk, enroll, caseworker):
    resident = enroll()
    assert desk.get(url("ssn_reveal", resident)).status_code == 405
    response = desk.post(url("ssn_reveal", resident))
    assert response.status_code == 200
    assert b"123-45-6789" in response.content
    assert events("ssn_reveal", resident).get().actor == caseworker
    again = desk.get(url("resident", resident))
    assert b"123-45-6789" not in again.content


def test_documents_follow_the_categories_with_the_part2_notice(desk, enroll, caseworker):
    resident = enroll()
    services.document_upload(
        acting_user=caseworker, resident=resident, content=PDF, category="housing", title="Lease"
    )
    services.document_upload(
        acting_user=caseworker,
        resident=resident,
        content=PDF + b"2",
        category="substance_use",
        title="Treatment plan",
    )
    response = desk.get(url("resident", resident))
    assert b"Lease" in response.content
    assert b"Treatment plan" not in response.content
    assert b"42 CFR part 2" not in response.content

    services.consent_record(
        resident=resident,
        organization=caseworker.organization,
        categories=["substance_use"],
        status=Consent.Status.GRANTED,
        acting_user=caseworker,
    )
    response = desk.get(url("resident", resident))
    assert b"Treatment plan" in response.content
    assert b"protected by federal confidentiality rules (42 CFR part 2)" in response.content


def _fill_record(resident, caseworker, clinic, n):
    """n documents, encounters, consents, referrals and linked records."""
    services.consent_record(
        resident=resident,
        organization=clinic,
        categories=["housing"],
        status=Consent.Status.GRANTED,
        acting_user=caseworker,
    )
    for i in range(n):
        services.document_upload(
            acting_user=caseworker,
            resident=resident,
            content=PDF + str(i).encode(),
            category="housing",
            title=f"Doc {i}",
        )
        services.encounter_record(
            acting_user=caseworker, resident=resident, kind="meal", on=date.today(), notes="ok"
        )
        services.consent_record(
            resident=resident,
            organization=caseworker.organization,
            categories=["identity", "housing", "case_notes"],
            status=Consent.Status.VERBAL,
            acting_user=caseworker,
        )
        services.referral_send(
            acting_user=caseworker, resident=resident, to_organization=clinic, service="Dental"
        )
        other = services.resident_enroll(
            acting_user=caseworker,
            data=resident_data(legal_first_name=f"Other{chr(65 + i)}", ssn="", ssn_data_quality=99),
            consent_categories=["identity"],
        )
        services.resident_link(acting_user=caseworker, a=resident, b=other, reason="same")


def _queries_for_record(client, resident) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("resident", resident))
    assert response.status_code == 200
    return len(queries)


def test_record_page_does_a_fixed_number_of_queries(
    desk, enroll, caseworker, clinic, django_assert_max_num_queries
):
    small, large = enroll(), enroll(legal_first_name="Bea")
    _fill_record(small, caseworker, clinic, 1)
    _fill_record(large, caseworker, clinic, 20)
    assert _queries_for_record(desk, small) == _queries_for_record(desk, large)
    with django_assert_max_num_queries(25):
        response = desk.get(url("resident", large))
    assert response.content.count(b"Doc ") == 20
    assert response.content.count(b"/unlink/") == 20


# --- the card ------------------------------------------------------------------------------


def test_card_shows_the_id_and_a_server_drawn_qr_code(desk, enroll):
    resident = enroll()
    response = desk.get(url("card", resident))
    content = response.content.decode()
    assert response.status_code == 200
    assert city_id(resident) in content
    assert '<svg role="img"' in content and "qr" in content
    assert "Annie García" in content
    assert "123-45-6789" not in content and "•••" not in content
    assert "<script>" not in content and "cdn" not in content.lower()
    assert events("view", resident).filter(detail="card").exists()


def test_reissue_revokes_the_old_id_and_issues_a_new_one(desk, enroll):
    resident = enroll()
    old = city_id(resident)
    assert desk.post(url("card_reissue", resident), {"reason": "bogus"}).status_code == 302
    assert city_id(resident) == old  # an unknown reason changes nothing
    response = desk.post(url("card_reissue", resident), {"reason": "stolen"})
    assert response.status_code == 302 and response["Location"] == url("card", resident)
    assert city_id(resident) != old
    revoked = resident.cards.get(status=CityCard.Status.REVOKED)
    assert revoked.revoked_reason == "stolen"
    assert desk.get(url("card_reissue", resident)).status_code == 405


# --- consent -------------------------------------------------------------------------------


def test_record_a_verbal_consent_and_a_refusal(desk, enroll, caseworker):
    resident = enroll()
    response = desk.post(
        url("consent_new", resident),
        {"categories": ["medical"], "status": "verbal", "expires_on": "", "reason": ""},
    )
    assert response.status_code == 302
    assert resident.consents.filter(status="verbal", categories=["medical"]).exists()
    response = desk.post(url("consent_new", resident), {"categories": [], "status": "refused"})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert not resident.consents.filter(status="refused").exists()


def test_expired_consent_date_is_400(desk, enroll):
    resident = enroll()
    past = (date.today() - timedelta(days=2)).isoformat()
    response = desk.post(
        url("consent_new", resident),
        {"categories": ["medical"], "status": "granted", "expires_on": past},
    )
    assert response.status_code == 400
    assert resident.consents.count() == 1


def test_printed_consent_form(desk, enroll):
    resident = enroll()
    response = desk.get(url("consent_print", resident) + "?categories=housing")
    content = response.content.decode()
    assert "Ana García" in content and "Harbor Light Shelter" in content
    assert "Signature of the resident" in content
    assert "42 CFR part 2" not in content
    response = desk.get(url("consent_print", resident) + "?categories=substance_use")
    assert b"42 CFR part 2" in response.content


def test_revoking_the_last_consent_hides_the_record(desk, enroll):
    resident = enroll()
    consent = resident.consents.get()
    assert desk.get(reverse("identity:consent_revoke", args=[consent.pk])).status_code == 405
    response = desk.post(reverse("identity:consent_revoke", args=[consent.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("identity:home")
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED
    assert desk.get(url("resident", resident)).status_code == 404


# --- request access with a card -------------------------------------------------------------


def test_request_access_with_card_and_dob_then_consent(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    assert client.get(url("resident", resident)).status_code == 404
    response = client.post(
        reverse("identity:request_access"), {"city_id": city_id(resident), "dob": "1980-05-17"}
    )
    assert response.status_code == 200
    assert b"Annie" not in response.content  # nothing shown before consent
    token = response.context["token"]
    response = client.post(
        reverse("identity:request_access"),
        {"token": token, "categories": ["identity"], "status": "granted", "reason": ""},
    )
    assert response.status_code == 302 and response["Location"] == url("resident", resident)
    assert client.get(url("resident", resident)).status_code == 200
    assert events("search", resident).filter(detail="request access: 1").exists()


def test_request_access_gives_no_hint_whether_an_id_exists(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    real = client.post(
        reverse("identity:request_access"), {"city_id": city_id(resident), "dob": "1980-05-18"}
    )
    body = "0123456789"
    unused = cityid.display(body + cityid.check_character(body))
    made_up = client.post(
        reverse("identity:request_access"), {"city_id": unused, "dob": "1980-05-18"}
    )
    assert real.status_code == made_up.status_code == 404
    assert real.context["form"].errors == made_up.context["form"].errors
    assert not Consent.objects.filter(organization=other_caseworker.organization).exists()
    assert set(events("search").values_list("detail", flat=True)) == {"request access: 0"}


def test_request_access_does_not_accept_a_revoked_card(
    client, enroll, caseworker, other_caseworker
):
    resident = enroll()
    old = city_id(resident)
    services.card_reissue(resident=resident, acting_user=caseworker, reason="stolen")
    client.force_login(other_caseworker)
    response = client.post(
        reverse("identity:request_access"), {"city_id": old, "dob": "1980-05-17"}
    )
    assert response.status_code == 404


def test_request_access_token_is_for_one_caseworker(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    token = client.post(
        reverse("identity:request_access"), {"city_id": city_id(resident), "dob": "1980-05-17"}
    ).context["token"]
    third = UserFactory(
        username="third",
        organization=OrganizationFactory(name="Third Place"),
        role=roles.CASEWORKER,
    )
    client.force_login(third)
    response = client.post(
        reverse("identity:request_access"),
        {"token": token, "categories": ["identity"], "status": "granted"},
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "identity:request_access"
    )
    assert not Consent.objects.filter(organization=third.organization).exists()


def test_request_access_is_throttled(client, enroll, other_caseworker):
    resident = enroll()
    client.force_login(other_caseworker)
    for day in range(1, 11):
        client.post(
            reverse("identity:request_access"),
            {"city_id": city_id(resident), "dob": f"1980-01-{day:02d}"},
        )
    response = client.post(
        reverse("identity:request_access"), {"city_id": city_id(resident), "dob": "1980-05-17"}
    )
    assert response.status_code == 429


def test_request_access_with_a_mistyped_id_says_so(client, other_caseworker):
    client.force_login(other_caseworker)
    response = client.post(
        reverse("identity:request_access"), {"city_id": "7K3M-Q9XA-2FE", "dob": "1980-05-17"}
    )
    assert response.status_code == 400
    assert "city_id" in response.context["form"].errors


# --- encounters, referrals -------------------------------------------------------------------


def test_record_a_service(desk, enroll):
    resident = enroll()
    response = desk.post(
        url("encounter_new", resident),
        {"kind": "shelter_night", "date": date.today().isoformat(), "notes": "bed 12"},
    )
    assert response.status_code == 302
    assert Encounter.objects.get().notes == "bed 12"
    future = (date.today() + timedelta(days=3)).isoformat()
    response = desk.post(url("encounter_new", resident), {"kind": "meal", "date": future})
    assert response.status_code == 400
    assert "date" in response.context["form"].errors
    assert Encounter.objects.count() == 1


def test_referral_needs_consent_then_is_answered_by_the_other_organization(
    client, enroll, caseworker, other_caseworker
):
    resident = enroll()
    client.force_login(caseworker)
    post = {"to_organization": other_caseworker.organization.pk, "service": "Dental visit"}
    response = client.post(url("referral_new", resident), post)
    assert response.status_code == 400
    assert "to_organization" in response.context["form"].errors
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical"],
        status=Consent.Status.GRANTED,
        acting_user=caseworker,
    )
    assert client.post(url("referral_new", resident), post).status_code == 302
    referral = Referral.objects.get()
    # The sending organization cannot answer its own referral.
    status_url = reverse("identity:referral_status", args=[referral.pk])
    assert client.post(status_url, {"status": "accepted"}).status_code == 404

    client.force_login(other_caseworker)
    home = client.get(reverse("identity:home"))
    assert b"Dental visit" in home.content and b"Annie" in home.content
    assert client.post(status_url, {"status": "completed"}).status_code == 400
    assert client.post(status_url, {"status": "accepted", "note": "Tue 9am"}).status_code == 302
    assert client.post(status_url, {"status": "completed"}).status_code == 302
    referral.refresh_from_db()
    assert referral.status == "completed" and referral.response_note == "Tue 9am"


def test_referral_targets_exclude_ones_own_organization(desk, enroll, caseworker, clinic):
    resident = enroll()
    response = desk.get(url("referral_new", resident))
    choices = list(response.context["form"].fields["to_organization"].queryset)
    assert clinic in choices and caseworker.organization not in choices


# --- links ----------------------------------------------------------------------------------


def test_link_and_unlink_records_the_organization_sees(desk, enroll):
    a, b = enroll(), enroll(legal_first_name="Anita")
    response = desk.post(url("link", a), {"city_id": city_id(b), "reason": "same photo ID"})
    assert response.status_code == 302
    link = ResidentLink.objects.get()
    record = desk.get(url("resident", b))
    assert url("resident", a).encode() in record.content
    response = desk.post(url("unlink", a, link.pk))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.unlinked_at is not None
    assert desk.post(url("unlink", a, link.pk)).status_code == 404


def test_cannot_link_a_record_the_organization_does_not_see(desk, enroll, other_caseworker):
    mine = enroll()
    theirs = enroll(by=other_caseworker, legal_first_name="Zoe")
    response = desk.post(url("link", mine), {"city_id": city_id(theirs), "reason": "same"})
    assert response.status_code == 400
    assert "city_id" in response.context["link_form"].errors
    assert b"Zoe" not in response.content
    assert not ResidentLink.objects.exists()


# --- erasure ------------------------------------------------------------------------------


def test_only_city_admins_erase_after_typing_the_city_id(client, enroll, caseworker):
    resident = enroll()
    client.force_login(caseworker)
    assert client.get(url("erase", resident)).status_code == 403
    admin = UserFactory(username="admin", organization=None, role=roles.CITY_ADMIN)
    client.force_login(admin)
    assert client.get(url("erase", resident)).status_code == 200
    other = enroll(legal_first_name="Bea")
    response = client.post(url("erase", resident), {"city_id": city_id(other)})
    assert response.status_code == 400
    assert Resident.objects.filter(pk=resident.pk).exists()
    response = client.post(url("erase", resident), {"city_id": city_id(resident)})
    assert response.status_code == 302
    assert not Resident.objects.filter(pk=resident.pk).exists()
    assert not Document.objects.exists()
    assert AccessEvent.objects.filter(action="erase").exists()


def test_referral_queue_takes_a_fixed_number_of_queries(
    client, enroll, caseworker, other_caseworker, django_assert_max_num_queries
):
    def refer(n):
        for i in range(n):
            resident = enroll(legal_first_name=f"Queue{chr(65 + i)}")
            services.consent_record(
                resident=resident,
                organization=other_caseworker.organization,
                categories=["medical"],
                status=Consent.Status.GRANTED,
                acting_user=caseworker,
            )
            services.referral_send(
                acting_user=caseworker,
                resident=resident,
                to_organization=other_caseworker.organization,
                service="Dental",
            )

    client.force_login(other_caseworker)
    refer(1)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("identity:home"))
    refer(10)
    with django_assert_max_num_queries(len(one)):
        response = client.get(reverse("identity:home"))
    assert response.content.count(b"Dental") == 11
