"""The energy portal's pages: what members and operators see, who may see what, uploads,
preferences, manual orders, the clearing mode, bills, and that list pages' query counts do
not grow with the data. Data is set up through energy.services, as meters and operators would.

The fixtures here are imported by test_portal_browser.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from citychain import roles
from energy import services
from energy.models import (
    Bill,
    Interval,
    MarketMode,
    MarketSettings,
    Member,
    Order,
    Reading,
)
from identity.models import Organization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # long past: cleared, billable
Q = timedelta(minutes=15)
RETAIL = 25_000  # 25 ¢/kWh
FEED_IN = 5_000  # 5 ¢/kWh
JUNE = "2026-06"


def make_microgrid(name: str = "Sunny Side Microgrid") -> Organization:
    grid = OrganizationFactory(name=name, kind=Organization.Kind.MICROGRID)
    services.tariff_set(
        microgrid=grid,
        retail_price=RETAIL,
        feed_in_price=FEED_IN,
        effective_from=datetime(2024, 1, 1, tzinfo=UTC),
    )
    services.market_settings_set(microgrid=grid, mode=MarketMode.PRO_RATA, timezone="UTC")
    return grid


def add_member(grid, name: str, *, username: str | None = None) -> Member:
    user = None
    if username:
        user = UserFactory(username=username, organization=None, role=roles.ENERGY_MEMBER)
    member = services.member_register(microgrid=grid, kind="household", name=name, user=user)
    services.meter_register(member=member, meter_id=f"{grid.pk}-{name.split()[0].lower()}")
    return member


def feed(members: dict[str, Member], at: datetime, nets: dict[str, int]) -> None:
    """One interval's readings: a positive net is imported, a negative one exported."""
    for name, net in nets.items():
        services.readings_ingest(
            meter=members[name].meters.get(),
            rows=[services.ReadingRow(at, max(net, 0), max(-net, 0))],
        )


def clear(grid, at: datetime) -> Interval:
    interval = Interval.objects.get(microgrid=grid, start=at)
    return services.market_clear_interval(interval_id=interval.pk, now=at + 2 * Q)


# The worked example of docs/energy-market.md, mode (a): ann and bea export, cal and dov
# import; 1,000 Wh are shared at 15 ¢/kWh: ann -> cal 250 Wh (4 ¢), ann -> dov 350 Wh (5 ¢),
# bea -> dov 400 Wh (6 ¢); cal buys 50 Wh from the grid (1 ¢), dov 150 Wh (4 ¢).
EXAMPLE = {"ann": -600, "bea": -400, "cal": 300, "dov": 900}


@pytest.fixture
def grid():
    return make_microgrid()


@pytest.fixture
def members(grid):
    return {
        "ann": add_member(grid, "Ann Solar", username="ann"),
        "bea": add_member(grid, "Bea Solar"),
        "cal": add_member(grid, "Cal Buyer", username="cal"),
        "dov": add_member(grid, "Dov Buyer"),
    }


@pytest.fixture
def cleared(grid, members) -> Interval:
    feed(members, T0, EXAMPLE)
    return clear(grid, T0)


@pytest.fixture
def operator(grid):
    return UserFactory(username="olga", organization=grid, role=roles.GRID_OPERATOR)


@pytest.fixture
def other_grid():
    return make_microgrid("Far Away Microgrid")


def signed_in(client, member_or_user):
    user = getattr(member_or_user, "user", member_or_user)
    client.force_login(user)
    return client


def summary(response) -> dict[str, tuple[str, str | None]]:
    return {str(r["label"]): (r["value"], r["money"]) for r in response.context["summary"]}


# --- the member's dashboard -----------------------------------------------------------


def test_a_buyer_sees_what_it_bought_and_saved(client, members, cleared):
    response = signed_in(client, members["cal"]).get(reverse("energy:home"), {"month": JUNE})
    assert response.status_code == 200
    rows = summary(response)
    assert rows["Consumption (drawn from the grid connection)"][0] == "0.3"
    assert rows["Bought from neighbours"][1] == "$0.04"
    assert rows["Bought from the grid"][1] == "$0.01"
    assert rows["Sold to neighbours"] == ("0.0", "$0.00")
    # 250 Wh at retail would be 6.25 -> 6 ¢; neighbours charged 4 ¢.
    assert response.context["saved"] == "$0.02"
    assert response.context["net"] == "$0.05"
    assert [c.title for c in response.context["charts"]] == [
        "Your production and consumption per day",
        "Your trades per day",
        "Money saved and earned per day",
    ]
    assert b"<svg" in response.content
    [latest] = response.context["recent_trades"]
    assert (latest["bought"], latest["kwh"], latest["money"]) == (True, "0.250", "$0.04")
    assert reverse("energy:interval", args=[cleared.pk]) in response.content.decode()


def test_a_seller_sees_what_it_earned_above_feed_in(client, members, cleared):
    response = signed_in(client, members["ann"]).get(reverse("energy:home"), {"month": JUNE})
    rows = summary(response)
    assert rows["Production (sent out to the grid connection)"][0] == "0.6"
    assert rows["Sold to neighbours"][1] == "$0.09"
    assert response.context["earned"] == "$0.09"
    # 600 Wh at feed-in is 3 ¢: selling locally earned 6 ¢ more.
    assert response.context["extra_earned"] == "$0.06"
    assert response.context["net"] == "\N{MINUS SIGN}$0.09"
    assert response.context["net_cents"] == -9


def test_the_dashboard_shows_only_the_members_own_data(client, members, cleared):
    response = signed_in(client, members["cal"]).get(reverse("energy:home"), {"month": JUNE})
    page = response.content.decode()
    for other in ("ann", "bea", "dov"):
        assert str(members[other].public_id) not in page
    assert "Ann Solar" not in page and "Dov Buyer" not in page
    # dov imported 900 Wh; cal's page never shows it.
    assert "0.9" not in [r[0] for r in summary(response).values()]


def test_an_empty_month_shows_zeroes_and_no_chart(client, members, cleared):
    response = signed_in(client, members["cal"]).get(reverse("energy:home"), {"month": "2026-05"})
    assert response.status_code == 200
    assert summary(response)["Bought from neighbours"] == ("0.0", "$0.00")
    assert all(chart.empty for chart in response.context["charts"])
    assert b"No data for this period yet." in response.content


def test_a_nonsense_month_falls_back_to_this_month(client, members):
    response = signed_in(client, members["cal"]).get(reverse("energy:home"), {"month": "x-99"})
    assert response.status_code == 200
    assert response.context["month"]["this"] == timezone.now().strftime("%Y-%m")


# --- who may see what ------------------------------------------------------------------


def test_signed_out_people_are_sent_to_sign_in(client, cleared):
    for name in ("energy:home", "energy:upload", "energy:preferences", "energy:operator"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_other_roles_and_unlinked_members_are_refused(client):
    caseworker = UserFactory(username="case", role=roles.CASEWORKER)
    assert signed_in(client, caseworker).get(reverse("energy:home")).status_code == 403
    assert client.get(reverse("energy:operator")).status_code == 403
    unlinked = UserFactory(username="nolink", organization=None, role=roles.ENERGY_MEMBER)
    response = signed_in(client, unlinked).get(reverse("energy:home"))
    assert response.status_code == 403
    assert b"not linked to a microgrid membership" in response.content


def test_members_cannot_use_the_operators_pages(client, members, cleared):
    signed_in(client, members["cal"])
    assert client.get(reverse("energy:operator")).status_code == 403
    response = client.post(reverse("energy:operator_mode"), {"mode": "double_auction"})
    assert response.status_code == 403
    assert MarketSettings.objects.get(microgrid=members["cal"].microgrid).mode == "pro_rata"


def test_a_bill_is_shown_only_to_its_member_and_its_operator(
    client, grid, members, cleared, operator, other_grid
):
    bills = services.bills_make_month(microgrid=grid, year=2026, month=6)
    ann_bill = next(b for b in bills if b.member == members["ann"])
    url = reverse("energy:bill", args=[ann_bill.public_id])
    assert signed_in(client, members["ann"]).get(url).status_code == 200
    assert signed_in(client, members["cal"]).get(url).status_code == 404
    assert signed_in(client, operator).get(url).status_code == 200
    stranger = UserFactory(username="oscar", organization=other_grid, role=roles.GRID_OPERATOR)
    assert signed_in(client, stranger).get(url).status_code == 404
    missing = reverse("energy:bill", args=[uuid.uuid4()])
    assert signed_in(client, members["ann"]).get(missing).status_code == 404


def test_an_interval_of_another_microgrid_is_not_found(client, members, cleared, other_grid):
    outsider = add_member(other_grid, "Out Sider", username="outsider")
    url = reverse("energy:interval", args=[cleared.pk])
    assert signed_in(client, outsider).get(url).status_code == 404
    assert signed_in(client, members["cal"]).get(url).status_code == 200
    stranger = UserFactory(username="oscar", organization=other_grid, role=roles.GRID_OPERATOR)
    assert signed_in(client, stranger).get(url).status_code == 404


# --- the interval page -----------------------------------------------------------------


def test_members_see_the_book_with_others_anonymized(client, members, cleared):
    response = signed_in(client, members["cal"]).get(reverse("energy:interval", args=[cleared.pk]))
    page = response.content.decode()
    assert [r["who"] for r in response.context["offers"]] == ["Seller 1", "Seller 2"]
    assert sorted(r["who"] for r in response.context["bids"]) == ["Buyer 1", "You"]
    trades = {(t["seller"], t["buyer"], t["kwh"], t["money"]) for t in response.context["trades"]}
    # Pairing follows member ids (random UUIDs), so which seller served cal varies.
    assert [t[1:] for t in trades if t[1] == "You"] == [("You", "0.250", "$0.04")]
    assert {t[0] for t in trades} == {"Seller 1", "Seller 2"}
    assert len(trades) == 3
    assert response.context["totals"]["traded"] == "$0.15"
    assert response.context["totals"]["grid_import"] == "0.200"
    for m in members.values():
        assert str(m.public_id)[:8] not in page
    assert "Ann Solar" not in page


def test_operators_see_member_numbers(client, members, cleared, operator):
    response = signed_in(client, operator).get(reverse("energy:interval", args=[cleared.pk]))
    assert response.status_code == 200
    shown = {r["who"] for r in response.context["offers"] + response.context["bids"]}
    assert shown == {f"Member {str(m.public_id)[:8]}" for m in members.values()}
    assert "Ann Solar" not in response.content.decode()  # numbers, not names


# --- the operator's dashboard ----------------------------------------------------------


def test_the_operator_sees_community_totals_and_self_sufficiency(
    client, members, cleared, operator
):
    response = signed_in(client, operator).get(reverse("energy:operator"), {"month": JUNE})
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["matched"] == "1.0"
    assert totals["traded"] == "$0.15"
    assert totals["self_sufficiency"] == "83.3"  # 1,000 of 1,200 Wh of net demand
    assert totals["grid_import_cents"] == "$0.05"
    assert response.context["community"] == {"members": 4, "meters": 4}
    assert response.context["charts"][0].title.startswith("Clearing prices")
    row = response.context["intervals"][0]
    assert row["interval"] == cleared and row["price"] == "15.00"


def test_the_operator_chooses_the_clearing_mode(client, grid, operator):
    signed_in(client, operator)
    response = client.post(
        reverse("energy:operator_mode"), {"mode": "pro_rata", "local_price": "12.5"}
    )
    assert response.status_code == 302
    row = MarketSettings.objects.get(microgrid=grid)
    assert (row.mode, row.local_price) == ("pro_rata", 12_500)
    client.post(reverse("energy:operator_mode"), {"mode": "double_auction"})
    row.refresh_from_db()
    assert (row.mode, row.local_price) == ("double_auction", None)


def test_a_local_price_outside_the_grid_prices_changes_nothing(client, grid, operator):
    signed_in(client, operator)
    response = client.post(
        reverse("energy:operator_mode"), {"mode": "pro_rata", "local_price": "30"}, follow=True
    )
    assert "between the feed-in price" in response.content.decode()
    row = MarketSettings.objects.get(microgrid=grid)
    assert (row.mode, row.local_price) == ("pro_rata", None)


def test_the_operator_marks_a_bill_paid(client, grid, members, cleared, operator):
    bills = services.bills_make_month(microgrid=grid, year=2026, month=6)
    cal_bill = next(b for b in bills if b.member == members["cal"])
    paid_url = reverse("energy:bill_paid", args=[cal_bill.public_id])
    assert signed_in(client, members["cal"]).post(
        paid_url, {"paid_on": "2026-07-10"}
    ).status_code in (403, 404)
    response = signed_in(client, operator).post(paid_url, {"paid_on": "2026-07-10"})
    assert response.status_code == 302
    cal_bill.refresh_from_db()
    assert cal_bill.status == Bill.Status.PAID
    assert cal_bill.payment.paid_on == date(2026, 7, 10)


def test_the_bill_page_is_printable_and_adds_up(client, grid, members, cleared):
    bills = services.bills_make_month(microgrid=grid, year=2026, month=6)
    bill = next(b for b in bills if b.member == members["cal"])
    response = signed_in(client, members["cal"]).get(reverse("energy:bill", args=[bill.public_id]))
    page = response.content.decode()
    assert "Energy bill, June 2026" in page
    assert response.context["figures"]["net"] == "$0.05"
    assert "css/energy.css" in page and "js/energy.js" in page  # print styles, print button
    assert "<script>" not in page  # no inline script (strict CSP)


def test_operators_list_the_months_bills_by_member_number(client, grid, members, cleared, operator):
    services.bills_make_month(microgrid=grid, year=2026, month=6)
    response = signed_in(client, operator).get(reverse("energy:operator_bills"), {"month": JUNE})
    assert response.status_code == 200
    numbers = {row["number"] for row in response.context["bills"]}
    assert numbers == {str(m.public_id)[:8] for m in members.values()}
    assert "Ann Solar" not in response.content.decode()


# --- Green Button upload ----------------------------------------------------------------


def upload(name: str, content: bytes | None = None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content if content is not None else (DATA / name).read_bytes())


def test_a_member_uploads_green_button_files(client, members):
    meter = members["ann"].meters.get()
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"),
        {"meter": meter.pk, "files": [upload("pge_15min.csv"), upload("espi_prefixed.xml")]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Imported 2 file(s) for meter" in response.content.decode()
    readings = Reading.objects.filter(meter=meter)
    # The CSV's local times are read in the microgrid's zone (UTC here), the XML's are UTC:
    # 4 + 12 quarter-hours that do not overlap.
    assert readings.count() == 16
    assert set(readings.values_list("source", flat=True)) == {"green_button"}


def test_a_bad_file_is_named_and_nothing_is_imported(client, members):
    meter = members["ann"].meters.get()
    garbage = upload("broken.csv", b"TYPE,DATE,START TIME\nElectric usage,not-a-date,12:00\n")
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"), {"meter": meter.pk, "files": [upload("pge_15min.csv"), garbage]}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: 1 file has a problem." in page
    assert [item["name"] for item in response.context["file_errors"]] == ["broken.csv"]
    assert response.context["file_errors"][0]["errors"]
    assert not Reading.objects.exists()  # the good file was not kept either


def test_an_empty_or_binary_file_is_refused(client, members):
    meter = members["ann"].meters.get()
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"), {"meter": meter.pk, "files": [upload("empty.xml", b"<feed/>")]}
    )
    assert response.status_code == 400
    assert response.context["file_errors"][0]["name"] == "empty.xml"
    assert not Reading.objects.exists()


def test_a_member_cannot_upload_to_another_members_meter(client, members):
    bea_meter = members["bea"].meters.get()
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"), {"meter": bea_meter.pk, "files": [upload("pge_15min.csv")]}
    )
    assert response.status_code == 400
    assert "meter" in response.context["form"].errors
    assert not Reading.objects.exists()


def test_no_file_is_a_form_error(client, members):
    meter = members["ann"].meters.get()
    response = signed_in(client, members["ann"]).post(reverse("energy:upload"), {"meter": meter.pk})
    assert response.status_code == 400
    assert "files" in response.context["form"].errors


def test_readings_of_a_settled_interval_are_refused_per_reading(client, grid, members):
    meter = members["ann"].meters.get()
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # the CSV's first quarter-hour
    services.readings_ingest(meter=meter, rows=[services.ReadingRow(start, 1, 0)])
    interval = Interval.objects.get(microgrid=grid, start=start)
    services.interval_settle(interval_id=interval.pk)
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"), {"meter": meter.pk, "files": [upload("pge_15min.csv")]}
    )
    assert response.status_code == 400
    errors = response.context["file_errors"][0]["errors"]
    assert errors[0].startswith("Reading 1:") and "settled" in errors[0]
    assert Reading.objects.filter(meter=meter).count() == 1


# --- price preferences -------------------------------------------------------------------


def test_a_member_sets_prices_in_cents_per_kwh(client, members):
    member = members["ann"]
    response = signed_in(client, member).post(
        reverse("energy:preferences"), {"min_sell": "8.5", "max_buy": "20"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (8_500, 20_000)
    response = client.get(reverse("energy:preferences"))
    assert response.context["form"].initial == {"min_sell": 8.5, "max_buy": 20}
    client.post(reverse("energy:preferences"), {"min_sell": "", "max_buy": ""})
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (None, None)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"min_sell": "4.99"}, "min_sell", "Choose a price from 5 to 25 ¢/kWh."),
        ({"max_buy": "25.5"}, "max_buy", "Choose a price from 5 to 25 ¢/kWh."),
        ({"min_sell": "20", "max_buy": "10"}, "min_sell", "cannot be above"),
        ({"min_sell": "abc"}, "min_sell", "Enter a number."),
        ({"min_sell": "8.1234"}, "min_sell", "no more than 3 decimal places"),
    ],
)
def test_bad_prices_change_nothing(client, members, data, field, message):
    member = members["ann"]
    services.member_set_preferences(member=member, min_sell=9_000, max_buy=21_000)
    response = signed_in(client, member).post(reverse("energy:preferences"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (9_000, 21_000)


# --- manual orders -----------------------------------------------------------------------


def test_orders_by_hand_only_in_the_double_auction(client, grid, members):
    signed_in(client, members["cal"])
    response = client.get(reverse("energy:orders"))
    assert response.context["open_for_orders"] is False
    choice = response.context["form"].fields["interval_start"].choices[1][0]
    data = {"interval_start": choice, "side": "buy", "kwh": "1.5", "limit": "12"}
    assert client.post(reverse("energy:orders"), data).status_code == 403
    assert not Order.objects.exists()


def test_a_member_places_and_cancels_an_order(client, grid, members):
    services.market_settings_set(microgrid=grid, mode=MarketMode.DOUBLE_AUCTION)
    signed_in(client, members["cal"])
    response = client.get(reverse("energy:orders"))
    choice = response.context["form"].fields["interval_start"].choices[1][0]
    data = {"interval_start": choice, "side": "buy", "kwh": "1.5", "limit": "12"}
    response = client.post(reverse("energy:orders"), data)
    assert response.status_code == 302
    order = Order.objects.get(member=members["cal"])
    assert (order.side, order.wh, order.limit_price, order.source) == (
        "buy",
        1_500,
        12_000,
        "manual",
    )
    assert order.interval.start == datetime.fromisoformat(choice)
    listed = client.get(reverse("energy:orders")).context["orders"]
    assert [row["order"] for row in listed] == [order]
    # Someone else's order cannot be cancelled from here.
    other = signed_in(client.__class__(), members["ann"])
    assert other.post(reverse("energy:order_cancel", args=[order.public_id])).status_code == 404
    client.post(reverse("energy:order_cancel", args=[order.public_id]))
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_an_order_outside_the_grid_prices_is_refused(client, grid, members):
    services.market_settings_set(microgrid=grid, mode=MarketMode.DOUBLE_AUCTION)
    signed_in(client, members["cal"])
    choice = (
        client.get(reverse("energy:orders")).context["form"].fields["interval_start"].choices[0][0]
    )
    data = {"interval_start": choice, "side": "sell", "kwh": "1", "limit": "30"}
    response = client.post(reverse("energy:orders"), data)
    assert response.status_code == 400
    assert "between the feed-in price (5¢/kWh) and the retail price (25¢/kWh)" in " ".join(
        response.context["form"].errors["limit"]
    )
    bad_time = {**data, "limit": "10", "interval_start": "2020-01-01T00:00:00+00:00"}
    assert client.post(reverse("energy:orders"), bad_time).status_code == 400
    assert not Order.objects.exists()


# --- query counts ------------------------------------------------------------------------


def queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_page_query_counts_do_not_grow_with_the_data(client, grid, members, operator):
    feed(members, T0, EXAMPLE)
    clear(grid, T0)
    op = signed_in(client.__class__(), operator)
    me = signed_in(client, members["cal"])
    first = Interval.objects.get(microgrid=grid, start=T0)
    small = {
        "member": queries(me, reverse("energy:home"), {"month": JUNE}),
        "operator": queries(op, reverse("energy:operator"), {"month": JUNE}),
        "interval": queries(op, reverse("energy:interval", args=[first.pk])),
        "orders": queries(me, reverse("energy:orders")),
    }
    more = {name: add_member(grid, f"{name.title()} More") for name in ("eve", "fay", "gus")}
    members = {**members, **more}
    for step in range(1, 30):
        at = T0 + step * Q
        feed(members, at, {**EXAMPLE, "eve": -200, "fay": 150, "gus": 75})
        clear(grid, at)
    services.bills_make_month(microgrid=grid, year=2026, month=6)
    busy = Interval.objects.get(microgrid=grid, start=T0 + 10 * Q)
    large = {
        "member": queries(me, reverse("energy:home"), {"month": JUNE}),
        "operator": queries(op, reverse("energy:operator"), {"month": JUNE}),
        "interval": queries(op, reverse("energy:interval", args=[busy.pk])),
        "orders": queries(me, reverse("energy:orders")),
    }
    assert large == small
    bills = queries(op, reverse("energy:operator_bills"), {"month": JUNE})
    assert bills <= 8


def test_a_city_admin_picks_the_microgrid_to_look_at(client, grid, members, cleared, other_grid):
    admin = UserFactory(username="ada", role=roles.CITY_ADMIN)
    signed_in(client, admin)
    response = client.get(reverse("energy:operator"), {"month": JUNE})
    assert response.status_code == 200
    assert response.context["microgrid"] == other_grid  # "Far Away…" sorts first
    assert list(response.context["microgrid_choices"]) == [other_grid, grid]
    response = client.get(reverse("energy:operator"), {"month": JUNE, "microgrid": grid.pk})
    assert response.context["microgrid"] == grid
    assert response.context["totals"]["matched"] == "1.0"
    assert client.get(reverse("energy:interval", args=[cleared.pk])).status_code == 200


def test_a_file_over_the_size_limit_is_refused_by_name(client, members, monkeypatch):
    from energy import forms

    monkeypatch.setattr(forms, "MAX_UPLOAD_BYTES", 100)
    meter = members["ann"].meters.get()
    response = signed_in(client, members["ann"]).post(
        reverse("energy:upload"), {"meter": meter.pk, "files": [upload("espi_prefixed.xml")]}
    )
    assert response.status_code == 400
    assert (
        "espi_prefixed.xml: the file is larger than 20 MB."
        in response.context["form"].errors["files"]
    )
    assert not Reading.objects.exists()
