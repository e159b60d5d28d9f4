"""The identity REST API: token auth, organization scope, consent, audit, schema."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from citychain import roles
from identity import cityid, services
from identity.models import AccessEvent, Encounter
from ledger.models import Entry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOOKUP = "/api/identity/lookup/"
NOT_FOUND = {"detail": "No resident found."}
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def encounters_url(resident) -> str:
    return f"/api/identity/residents/{resident.public_id}/encounters/"


def documents_url(resident) -> str:
    return f"/api/identity/residents/{resident.public_id}/documents/"


@pytest.fixture(autouse=True)
def api_settings(settings):
    # A private cache: the file cache of a dev checkout would carry throttle counts over.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "identity-api-tests",
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"identity-api": "1000/minute"},
    }
    cache.clear()
    return settings


def client_for(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(caseworker):
    return client_for(caseworker)


def city_id(resident) -> str:
    return cityid.display(services.active_card(resident).city_id)


def unused_city_id() -> str:
    return cityid.generate()


def events(action: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action).order_by("pk"))


# --- who may call ------------------------------------------------------------------------


def test_a_token_is_required(enroll):
    resident = enroll()
    anonymous = APIClient()
    for response in (
        anonymous.post(LOOKUP, {"city_id": city_id(resident)}, format="json"),
        anonymous.post(encounters_url(resident), {}, format="json"),
        anonymous.get(documents_url(resident)),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert wrong.get(documents_url(resident)).status_code == 401


@pytest.mark.parametrize(
    "make_user",
    [
        lambda org: UserFactory(username="reporter", organization=org, role=roles.CREDIT_REPORTER),
        lambda org: UserFactory(username="nobody", organization=org),
        lambda org: UserFactory(username="adrift", organization=None, role=roles.CASEWORKER),
        lambda org: UserFactory(username="boss", organization=None, role=roles.CITY_ADMIN),
    ],
    ids=["other-role", "no-role", "no-organization", "city-admin"],
)
def test_only_desk_staff_of_an_organization_may_call(enroll, shelter, make_user):
    resident = enroll()
    client = client_for(make_user(shelter))
    response = client.post(LOOKUP, {"city_id": city_id(resident)}, format="json")
    assert response.status_code == 403
    assert "Only caseworkers and provider admins" in response.json()["detail"]
    assert client.get(documents_url(resident)).status_code == 403
    assert not events("search")


def test_a_provider_admin_may_call(enroll, shelter):
    resident = enroll()
    admin = UserFactory(username="lee", organization=shelter, role=roles.PROVIDER_ADMIN)
    response = client_for(admin).post(LOOKUP, {"city_id": city_id(resident)}, format="json")
    assert response.status_code == 200


# --- lookup ----------------------------------------------------------------------------------


def test_lookup_by_city_id_returns_the_basic_profile_and_is_audited(api, enroll, caseworker):
    resident = enroll()
    typed = city_id(resident).replace("-", " ").lower()  # as a person might type it
    response = api.post(LOOKUP, {"city_id": typed}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "resident": str(resident.public_id),
        "display_name": "Annie García",
        "preferred_name": "Annie",
        "dob": "1980-05-17",
        "city_id": city_id(resident),
        "active": True,
        "consent_categories": ["case_notes", "housing", "identity"],
    }
    [event] = events("search")
    assert event.actor == caseworker
    assert event.organization == caseworker.organization
    assert event.subject == resident.ledger_subject
    assert event.detail == "api lookup: 1 result"
    assert Entry.objects.filter(kind="identity.record_accessed").count() >= 2


def test_a_revoked_card_finds_the_resident_with_active_false(api, enroll, caseworker):
    resident = enroll()
    old = city_id(resident)
    _card, new = services.card_reissue(resident=resident, acting_user=caseworker, reason="lost")
    body = api.post(LOOKUP, {"city_id": old}, format="json").json()
    assert body["resident"] == str(resident.public_id)
    assert body["active"] is False
    assert body["city_id"] == new
    assert events("search")[-1].detail == "api lookup: 1 result (revoked card)"
    assert api.post(LOOKUP, {"city_id": new}, format="json").json()["active"] is True


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("7K3M-Q9XA", "has 11 characters"),
        ("7K3M-Q9XA-2F!", "cannot contain '!'"),
        ("", "may not be blank"),
    ],
)
def test_a_malformed_city_id_is_400_with_the_reason(api, enroll, typed, message):
    enroll()
    response = api.post(LOOKUP, {"city_id": typed}, format="json")
    assert response.status_code == 400
    assert message in response.json()["city_id"][0]
    assert not events("search")


def test_a_mistyped_character_is_caught_by_the_check_character(api, enroll):
    real = city_id(enroll())
    wrong = real[:-1] + ("0" if real[-1] != "0" else "1")
    response = api.post(LOOKUP, {"city_id": wrong}, format="json")
    assert response.status_code == 400
    assert "check character" in response.json()["city_id"][0]


def test_a_missing_city_id_is_400(api):
    response = api.post(LOOKUP, {}, format="json")
    assert response.status_code == 400
    assert "city_id" in response.json()


def test_an_unknown_city_id_is_404_and_the_search_is_audited(api, enroll):
    enroll()
    response = api.post(LOOKUP, {"city_id": unused_city_id()}, format="json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    [event] = events("search")
    assert (event.subject, event.detail) == ("", "api lookup: 0 results")


def test_another_organization_without_consent_gets_the_same_404(enroll, other_caseworker):
    resident = enroll()
    client = client_for(other_caseworker)
    hidden = client.post(LOOKUP, {"city_id": city_id(resident)}, format="json")
    unknown = client.post(LOOKUP, {"city_id": unused_city_id()}, format="json")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json() == NOT_FOUND
    assert hidden.content == unknown.content
    assert {e.subject for e in events("search")} == {""}  # nothing names the resident

    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical"],
        status="verbal",
        acting_user=other_caseworker,
    )
    body = client.post(LOOKUP, {"city_id": city_id(resident)}, format="json").json()
    assert body["consent_categories"] == ["medical"]
    assert body["dob"] == "1980-05-17"  # the basic profile comes with any active consent


def test_an_expired_or_revoked_consent_hides_the_resident(enroll, other_caseworker):
    resident = enroll()
    consent = services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical"],
        status="granted",
        acting_user=other_caseworker,
    )
    client = client_for(other_caseworker)
    assert client.post(LOOKUP, {"city_id": city_id(resident)}, format="json").status_code == 200
    services.consent_revoke(consent=consent, acting_user=None)
    response = client.post(LOOKUP, {"city_id": city_id(resident)}, format="json")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- encounters ---------------------------------------------------------------------------------


def test_record_an_encounter(api, enroll, caseworker):
    resident = enroll()
    response = api.post(
        encounters_url(resident),
        {"kind": "shelter_night", "date": "2025-11-03", "notes": "Bed 12"},
        format="json",
    )
    assert response.status_code == 201
    encounter = Encounter.objects.get()
    assert response.json() == {"id": encounter.pk, "kind": "shelter_night", "date": "2025-11-03"}
    assert encounter.resident == resident
    assert encounter.organization == caseworker.organization
    assert encounter.recorded_by == caseworker
    assert encounter.notes == "Bed 12"
    assert Entry.objects.filter(kind="identity.encounter_recorded").count() == 1


def test_notes_are_optional(api, enroll):
    resident = enroll()
    today = timezone.localdate().isoformat()
    response = api.post(encounters_url(resident), {"kind": "meal", "date": today}, format="json")
    assert response.status_code == 201
    assert Encounter.objects.get().notes is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "2025-11-03"}, "kind"),
        ({"kind": "massage", "date": "2025-11-03"}, "kind"),
        ({"kind": "meal"}, "date"),
        ({"kind": "meal", "date": "11/03/2025"}, "date"),
        ({"kind": "meal", "date": "2025-02-30"}, "date"),
        ({"kind": "meal", "date": "2025-11-03", "notes": "x" * 2001}, "notes"),
        ({"kind": "meal", "date": (timezone.localdate() + timedelta(days=3)).isoformat()}, "date"),
    ],
    ids=["no-kind", "bad-kind", "no-date", "us-date", "no-such-day", "long-notes", "future"],
)
def test_bad_encounter_input_is_400_and_stores_nothing(api, enroll, body, field):
    resident = enroll()
    entries = Entry.objects.count()
    response = api.post(encounters_url(resident), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field][0], str)
    assert not Encounter.objects.exists()
    assert Entry.objects.count() == entries


def test_an_encounter_for_a_resident_not_visible_is_404(enroll, other_caseworker):
    resident = enroll()
    client = client_for(other_caseworker)
    body = {"kind": "meal", "date": "2025-11-03"}
    hidden = client.post(encounters_url(resident), body, format="json")
    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    missing = client.post(
        "/api/identity/residents/00000000-0000-4000-8000-000000000000/encounters/",
        body,
        format="json",
    )
    assert missing.content == hidden.content
    assert not Encounter.objects.exists()


# --- documents ----------------------------------------------------------------------------------


@pytest.fixture
def documents(enroll, caseworker):
    resident = enroll()  # consent to the shelter: identity, housing, case notes
    made = {
        category: services.document_upload(
            acting_user=caseworker,
            resident=resident,
            content=PNG if category == "identity" else PDF + category.encode(),
            category=category,
            title=f"{category} paper",
        )
        for category in ("identity", "medical", "housing", "substance_use")
    }
    return resident, made


def test_documents_are_listed_only_in_consented_categories(api, documents, caseworker):
    resident, made = documents
    response = api.get(documents_url(resident))
    assert response.status_code == 200
    listed = {d["category"]: d for d in response.json()}
    assert set(listed) == {"identity", "housing"}
    housing = made["housing"]
    assert listed["housing"] == {
        "id": housing.pk,
        "category": "housing",
        "title": "housing paper",
        "content_type": "application/pdf",
        "size": housing.size,
        "sha256": housing.sha256,
        "uploaded_at": listed["housing"]["uploaded_at"],
        "organization": "Harbor Light Shelter",
    }
    assert listed["identity"]["content_type"] == "image/png"
    [event] = events("view")
    assert (event.actor, event.subject) == (caseworker, resident.ledger_subject)
    assert event.detail == "api documents: 2 listed"


def test_another_organization_sees_only_what_its_consent_names(documents, other_caseworker):
    resident, _made = documents
    client = client_for(other_caseworker)
    hidden = client.get(documents_url(resident))
    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    assert not events("view")
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical", "substance_use"],
        status="granted",
        acting_user=other_caseworker,
    )
    response = client.get(documents_url(resident))
    assert sorted(d["category"] for d in response.json()) == ["medical", "substance_use"]


def test_the_document_list_takes_a_fixed_number_of_queries(
    api, documents, caseworker, django_assert_max_num_queries
):
    resident, _made = documents
    for n in range(5):
        services.document_upload(
            acting_user=caseworker,
            resident=resident,
            content=PDF + bytes([n]),
            category="housing",
            title="lease",
        )
    with django_assert_max_num_queries(14):
        assert len(api.get(documents_url(resident)).json()) == 7


# --- throttling, tokens in the admin, schema ------------------------------------------------


def test_requests_are_throttled_per_token(api_settings, enroll, caseworker, other_caseworker):
    api_settings.REST_FRAMEWORK = {
        **api_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"identity-api": "2/minute"},
    }
    resident = enroll()
    client = client_for(caseworker)
    for _ in range(2):
        assert client.get(documents_url(resident)).status_code == 200
    throttled = client.get(documents_url(resident))
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    # Another organization's token has its own allowance.
    other = client_for(other_caseworker).post(LOOKUP, {"city_id": "x"}, format="json")
    assert other.status_code == 400


def test_a_city_admin_issues_a_token_in_the_django_admin(client, enroll, caseworker):
    resident = enroll()
    admin = UserFactory(username="root", organization=None, role=roles.CITY_ADMIN)
    client.force_login(admin)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 200
    assert client.get("/admin/authtoken/tokenproxy/add/").status_code == 200
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": caseworker.pk})
    assert response.status_code == 302
    token = Token.objects.get(user=caseworker)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(documents_url(resident)).status_code == 200


def test_the_schema_documents_the_three_endpoints_and_their_errors(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        "/api/identity/lookup/": ("post", "200"),
        "/api/identity/residents/{public_id}/encounters/": ("post", "201"),
        "/api/identity/residents/{public_id}/documents/": ("get", "200"),
    }
    error = {"$ref": "#/components/schemas/Error"}
    for path, (method, ok) in operations.items():
        operation = schema["paths"][path][method]
        responses = operation["responses"]
        assert {ok, "401", "403", "404", "429"} <= set(responses), path
        for code in ("401", "403", "404", "429"):
            assert responses[code]["content"]["application/json"]["schema"] == error
        assert {"tokenAuth": []} in operation["security"]
    for path in list(operations)[:2]:
        assert "400" in schema["paths"][path]["post"]["responses"]
    assert schema["components"]["schemas"]["Error"]["properties"] == {"detail": {"type": "string"}}
    lookup = schema["paths"]["/api/identity/lookup/"]["post"]
    assert "any active consent" in lookup["description"]
