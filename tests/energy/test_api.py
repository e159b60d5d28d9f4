"""The energy REST API: meter ingestion with meter tokens, the operator's bulk upload and views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from citychain import roles
from energy import services
from energy.models import Interval, Reading
from ledger.models import Entry
from tests.energy.test_services import T0, add_member, feed, homes, microgrid  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Q = timedelta(minutes=15)


def meter_client(token: str, keyword: str = "Meter") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token}")
    return client


def url(meter_id: str) -> str:
    return f"/api/energy/meters/{meter_id}/readings/"


def rows(n: int, start=T0, imp: int = 100) -> list[dict]:
    return [
        {"start": (start + k * Q).isoformat(), "import_wh": imp + k, "export_wh": 0}
        for k in range(n)
    ]


@pytest.fixture
def operator(microgrid):  # noqa: F811
    user = UserFactory(username="op", organization=microgrid, role=roles.GRID_OPERATOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_meter_posts_readings_idempotently(homes):  # noqa: F811
    _member, meter, token = homes["ann"]
    response = meter_client(token).post(url(meter.meter_id), {"readings": rows(4)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 4, "updated": 0, "unchanged": 0}
    again = meter_client(token, "Bearer").post(
        url(meter.meter_id), {"readings": rows(4)}, format="json"
    )
    assert again.status_code == 200
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert Reading.objects.count() == 4


def test_series_form(homes):  # noqa: F811
    _member, meter, token = homes["ann"]
    body = {"series": {"start": T0.isoformat(), "import_wh": [1, 2, 3], "export_wh": [0, 5, 0]}}
    response = meter_client(token).post(url(meter.meter_id), body, format="json")
    assert response.status_code == 201
    assert list(
        Reading.objects.order_by("interval_start").values_list("import_wh", "export_wh")
    ) == [(1, 0), (2, 5), (3, 0)]


def test_bad_row_refuses_the_batch_with_row_errors(homes):  # noqa: F811
    _member, meter, token = homes["ann"]
    batch = rows(5)
    batch[1]["import_wh"] = "12"
    batch[3]["start"] = "yesterday"
    entries = Entry.objects.count()
    response = meter_client(token).post(url(meter.meter_id), {"readings": batch}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "nothing was stored" in body["detail"]
    assert [e["row"] for e in body["errors"]] == [3]  # unreadable rows are reported first
    batch[3]["start"] = (T0 + 3 * Q).isoformat()
    response = meter_client(token).post(url(meter.meter_id), {"readings": batch}, format="json")
    assert response.status_code == 400
    assert [e["row"] for e in response.json()["errors"]] == [1]
    assert "import_wh" in response.json()["errors"][0]["errors"]
    assert not Reading.objects.exists() and not Interval.objects.exists()
    assert Entry.objects.count() == entries


def test_wrong_token_or_other_meter_is_401(homes):  # noqa: F811
    _member, meter, token = homes["ann"]
    other = homes["bea"][1]
    assert (
        meter_client("nope")
        .post(url(meter.meter_id), {"readings": rows(1)}, format="json")
        .status_code
        == 401
    )
    response = meter_client(token).post(url(other.meter_id), {"readings": rows(1)}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Meter")
    assert (
        APIClient().post(url(meter.meter_id), {"readings": rows(1)}, format="json").status_code
        == 401
    )
    assert not Reading.objects.exists()


def test_shape_errors_are_400(homes):  # noqa: F811
    _member, meter, token = homes["ann"]
    client = meter_client(token)
    assert client.post(url(meter.meter_id), {}, format="json").status_code == 400
    bad = {"series": {"start": T0.isoformat(), "import_wh": [1], "export_wh": [1, 2]}}
    assert client.post(url(meter.meter_id), bad, format="json").status_code == 400
    assert client.post(url(meter.meter_id), [1, 2], format="json").status_code == 400


def test_meter_throttle(homes, settings):  # noqa: F811
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"energy-meter": "2/minute"},
    }
    from django.core.cache import cache

    cache.clear()
    _member, meter, token = homes["ann"]
    client = meter_client(token)
    codes = [
        client.post(url(meter.meter_id), {"readings": rows(1)}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [201, 200, 429]


def test_operator_bulk_upload(homes, operator):  # noqa: F811
    body = {
        "meters": [
            {"meter_id": "M-ann", "readings": rows(3)},
            {
                "meter_id": "M-cal",
                "series": {"start": T0.isoformat(), "import_wh": [0, 0], "export_wh": [50, 60]},
            },
        ]
    }
    response = operator.post("/api/energy/readings/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 5
    body["meters"][1]["meter_id"] = "M-nobody"
    body["meters"][0]["readings"] = rows(3, imp=7)
    response = operator.post("/api/energy/readings/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["meter"] == "M-nobody"
    assert Reading.objects.filter(meter__meter_id="M-ann", import_wh=7).count() == 0


def test_operator_endpoints_need_the_role(homes):  # noqa: F811
    from tests.factories import OrganizationFactory

    user = UserFactory(
        username="caseworker", organization=OrganizationFactory(), role=roles.CASEWORKER
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/energy/intervals/").status_code == 403
    assert APIClient().get("/api/energy/intervals/").status_code == 401


def test_operator_sees_intervals_and_the_book(microgrid, homes, operator):  # noqa: F811
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    services.market_clear_due()
    listing = operator.get("/api/energy/intervals/").json()
    assert listing["count"] == 1
    interval = listing["results"][0]
    assert interval["matched_wh"] == 1000 and interval["traded_cents"] == 15
    book = operator.get(f"/api/energy/intervals/{interval['id']}/").json()
    assert sum(t["wh"] for t in book["trades"]) == 1000
    assert {o["side"] for o in book["orders"]} == {"buy", "sell"}
    text = str(book)
    for name in ("ann", "bea", "cal", "dov"):
        assert f"'{name}'" not in text
    assert operator.get("/api/energy/intervals/999999/").status_code == 404


def test_operator_rotates_a_meter_token(homes, operator):  # noqa: F811
    _member, meter, old = homes["ann"]
    response = operator.post(f"/api/energy/meters/{meter.meter_id}/token/")
    assert response.status_code == 201
    new = response.json()["token"]
    post = {"readings": rows(1)}
    assert meter_client(old).post(url(meter.meter_id), post, format="json").status_code == 401
    assert meter_client(new).post(url(meter.meter_id), post, format="json").status_code == 201


def test_schema_documents_the_energy_api(operator):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/energy/meters/{meter_id}/readings/" in schema["paths"]
    assert "/api/energy/readings/" in schema["paths"]


def test_operator_reads_and_sets_the_market_mode(microgrid, operator):  # noqa: F811
    body = operator.get("/api/energy/market/").json()
    assert body["mode"] == "pro_rata" and body["tariff"]["retail_price"] == 25_000
    response = operator.put("/api/energy/market/", {"mode": "double_auction"}, format="json")
    assert response.status_code == 200 and response.json()["mode"] == "double_auction"
    bad = operator.put(
        "/api/energy/market/", {"mode": "pro_rata", "local_price": 99_000}, format="json"
    )
    assert bad.status_code == 400 and "local_price" in bad.json()
    assert operator.get("/api/energy/market/").json()["mode"] == "double_auction"
