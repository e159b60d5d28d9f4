"""The reporter API: token auth scoped to the organization, bulk posts that are idempotent
by reference and refused whole on one bad row, reading own records, public verification."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from citychain import roles
from credit import services
from credit.models import PaymentRecord
from ledger import services as ledger
from ledger.models import Entry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/credit/payments/"
VERIFY = "/api/credit/reports/verify/"


@pytest.fixture(autouse=True)
def api_settings(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "credit-api-tests",
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credit-api": "1000/minute", "credit-verify": "1000/minute"},
    }
    cache.clear()
    return settings


def client_for(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(reporter):
    return client_for(reporter)


def row(who, month=1, **overrides):
    values = {
        "resident": str(who.public_id),
        "kind": "rent",
        "account_reference": "LEASE-7",
        "reference": f"rent-2025-{month:02d}",
        "due_date": f"2025-{month:02d}-01",
        "amount_due_cents": 90_000,
        "paid_on": f"2025-{month:02d}-03",
        "amount_paid_cents": 90_000,
    }
    values.update(overrides)
    return values


def test_post_bulk_creates_and_attests(api, resident):
    response = api.post(
        PAYMENTS, {"payments": [row(resident, m) for m in (1, 2, 3)]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] == 3 and body["unchanged"] == 0
    assert PaymentRecord.objects.count() == 3
    assert Entry.objects.filter(kind="credit.payment_attested").count() == 3


def test_post_again_is_idempotent(api, resident):
    payload = {"payments": [row(resident, 1), row(resident, 2)]}
    api.post(PAYMENTS, payload, format="json")
    again = api.post(PAYMENTS, payload, format="json")
    assert again.status_code == 200
    assert again.json()["created"] == 0 and again.json()["unchanged"] == 2
    assert PaymentRecord.objects.count() == 2
    assert Entry.objects.filter(kind="credit.payment_attested").count() == 2


def test_one_bad_row_refuses_the_whole_batch_with_per_row_errors(api, resident):
    api.post(PAYMENTS, {"payments": [row(resident, 1)]}, format="json")
    payload = {
        "payments": [
            row(resident, 2),
            row(resident, 3, amount_due_cents=-5),
            row(resident, 4, resident="00000000-0000-0000-0000-000000000000"),
            row(resident, 1, amount_paid_cents=1),  # conflicts with what was recorded
            row(resident, 5, due_date="5 May"),
        ]
    }
    response = api.post(PAYMENTS, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "nothing was stored" in body["detail"]
    by_row = {e["row"]: e for e in body["errors"]}
    assert set(by_row) == {1, 2, 3, 4}
    assert "amount_due_cents" in by_row[1]["errors"]
    assert "resident" in by_row[2]["errors"]
    assert "reference" in by_row[3]["errors"]
    assert "due_date" in by_row[4]["errors"]
    assert PaymentRecord.objects.count() == 1


def test_service_level_errors_are_per_row_too(api, resident):
    payload = {
        "payments": [
            row(resident, 2),
            row(resident, 3, resident="00000000-0000-0000-0000-000000000000"),
            row(resident, 4, paid_on=None, amount_paid_cents=100),
            row(resident, 2, reference="rent-2025-02"),
        ]
    }
    response = api.post(PAYMENTS, payload, format="json")
    assert response.status_code == 400
    by_row = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert set(by_row) == {1, 2, 3}
    assert "resident" in by_row[1]
    assert "paid_on" in by_row[2]
    assert "reference" in by_row[3]
    assert not PaymentRecord.objects.exists()
    assert not Entry.objects.filter(kind="credit.payment_attested").exists()


def test_empty_and_malformed_batches(api):
    assert api.post(PAYMENTS, {"payments": []}, format="json").status_code == 400
    assert api.post(PAYMENTS, {"nope": 1}, format="json").status_code == 400
    assert api.post(PAYMENTS, "[]", content_type="application/json").status_code == 400


def test_get_lists_only_own_records(api, resident, utility):
    api.post(PAYMENTS, {"payments": [row(resident, 1)]}, format="json")
    services.record_payment(
        reporter=utility, resident=resident, kind="utility", account_reference="W",
        reference="w1", due_date=date(2025, 1, 5), amount_due_cents=4000,
        paid_on=date(2025, 1, 5), amount_paid_cents=4000,
    )  # fmt: skip
    body = api.get(PAYMENTS).json()
    assert body["count"] == 1
    assert body["results"][0]["reference"] == "rent-2025-01"
    assert body["results"][0]["resident"] == str(resident.public_id)
    other = PaymentRecord.objects.get(reference="w1")
    assert api.get(f"{PAYMENTS}{other.public_id}/").status_code == 404
    assert api.get(PAYMENTS, {"resident": "nope"}).status_code == 400
    assert api.get(PAYMENTS, {"since": "2025-02-01"}).json()["count"] == 0


def test_mark_paid(api, resident):
    created = api.post(
        PAYMENTS, {"payments": [row(resident, 1, paid_on=None, amount_paid_cents=0)]},
        format="json",
    ).json()  # fmt: skip
    url = f"{PAYMENTS}{created['results'][0]['id']}/paid/"
    response = api.post(url, {"paid_on": "2025-01-10", "amount_paid_cents": 90_000}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["paid_on"] == "2025-01-10"
    again = api.post(url, {"paid_on": "2025-01-10", "amount_paid_cents": 90_000}, format="json")
    assert again.status_code == 400


def test_only_reporters_of_reporting_organizations(resident, caseworker, landlord):
    assert APIClient().get(PAYMENTS).status_code == 401
    assert client_for(caseworker).get(PAYMENTS).status_code == 403
    not_reporter = UserFactory(username="clerk", organization=landlord, role=roles.CASEWORKER)
    assert client_for(not_reporter).get(PAYMENTS).status_code == 403


def test_public_verification(resident, landlord):
    for month in range(1, 8):
        services.record_payment(
            reporter=landlord, resident=resident, kind="rent", account_reference="L",
            reference=f"r{month}", due_date=date(2025, month, 1), amount_due_cents=100,
            paid_on=date(2025, month, 1), amount_paid_cents=100,
        )  # fmt: skip
    issued = services.report_issue(resident=resident)
    ledger.seal_all()
    client = APIClient()
    body = client.post(VERIFY, {"report": str(issued.public_id), "sha256": issued.sha256}).json()
    assert body["status"] == "authentic" and body["authentic"] is True
    assert body["proof"]["root_hash"]
    assert "Ana" not in str(body)
    tampered = client.post(VERIFY, {"report": str(issued.public_id), "sha256": "a" * 64}).json()
    assert tampered["status"] == "mismatch" and tampered["proof"] is None
    assert client.post(VERIFY, {}).status_code == 400


def test_the_schema_documents_the_credit_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/credit/payments/", "/api/credit/reports/verify/"):
        assert path in schema["paths"]
    post = schema["paths"]["/api/credit/payments/"]["post"]
    assert {"200", "201", "400", "401", "403", "429"} <= set(post["responses"])
