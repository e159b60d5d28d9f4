"""The energy portal in a real browser: a member signs in, reads the dashboard's charts,
uploads a Green Button file and sets price preferences; the operator reads the community
dashboard and an interval's order book. axe-core checks every page for WCAG 2.1 AA. A
member also goes through the main flow with the keyboard only."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.conf import settings
from playwright.sync_api import expect

from conftest import focused, tab_to_field, tab_to_text
from energy import services, synthetic
from energy.models import Bill, MarketMode, Member, Order, Reading
from energy.views import money
from tests.energy import test_portal as portal
from tests.energy.test_portal import DATA, JUNE
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "docs" / "screenshots"
UTC_SITE = synthetic.Site(timezone="UTC")  # the test microgrid keeps its days in UTC

# The server tests' fixtures: a microgrid, four members, one cleared interval, an operator.
grid, members, cleared, operator = portal.grid, portal.members, portal.cleared, portal.operator
SOLAR = {"ann": 6_000, "bea": 4_500, "cal": 0, "dov": 0}  # rooftop nameplates, W


@pytest.fixture
def june_days(grid, members, cleared):
    """Two more days of June from the synthetic model, cleared, so the charts have a shape
    (and the guides' screenshots show one)."""
    days = [date(2026, 6, 2), date(2026, 6, 3)]
    by_start: dict = {}
    for number, (name, solar_w) in enumerate(SOLAR.items(), start=1):
        home = synthetic.Home(number, "working_family", 1.0, solar_w, 0.9, False, True)
        rows = [r for day in days for r in synthetic.home_day(home, day, seed=7, site=UTC_SITE)]
        services.readings_ingest(
            meter=members[name].meters.get(),
            rows=[services.ReadingRow(r.start, r.import_wh, r.export_wh) for r in rows],
        )
        for r in rows:
            by_start.setdefault(r.start, None)
    for start in sorted(by_start):
        portal.clear(grid, start)


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_a_member_reads_the_dashboard_uploads_data_and_sets_prices(
    live_server, page, axe, members, cleared, june_days
):
    sign_in(page, live_server, "cal")
    page.get_by_role("link", name="My energy").click()
    expect(page.get_by_role("heading", name="My energy", level=1)).to_be_visible()
    axe(page, "the member dashboard (this month, no data yet)")

    page.goto(f"{live_server.url}/energy/?month={JUNE}")
    expect(page.get_by_role("heading", name="June 2026", exact=True)).to_be_visible()
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(3)
    expect(charts.first.locator("svg[role=img]")).to_be_visible()
    if SCREENSHOTS.exists():
        page.screenshot(path=str(SCREENSHOTS / "energy-member.png"), full_page=True)
    page.get_by_text("Show the numbers").first.click()  # the chart's table opens
    june_1 = charts.first.get_by_role("row").filter(has_text="Jun 1").first
    expect(june_1).to_contain_text("0.3")  # cal's consumption in the worked example
    axe(page, "the member dashboard with charts")

    page.get_by_role("link", name="Upload Green Button data").click()
    expect(page.get_by_role("heading", name="Upload Green Button data")).to_be_visible()
    axe(page, "the upload page")
    page.get_by_label(re.compile(r"^Green Button files")).set_input_files(
        [str(DATA / "pge_15min.csv"), str(DATA / "espi_default_ns.xml")]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text(re.compile(r"Imported 2 file\(s\) for meter"))).to_be_visible()
    member = Member.objects.get(user__username="cal")
    imported = Reading.objects.filter(meter__member=member, source="green_button").count()
    assert imported > 4

    # A broken file: named, with its problem, and nothing from the batch is kept.
    page.get_by_role("link", name="Upload Green Button data").click()
    page.get_by_label(re.compile(r"^Green Button files")).set_input_files(
        files=[{"name": "broken.xml", "mimeType": "application/xml", "buffer": b"<feed><"}]
    )
    page.get_by_role("button", name="Upload").click()
    alert = page.get_by_role("alert").filter(has_text="Problems in the files")
    expect(alert).to_contain_text("broken.xml")
    expect(page.get_by_text("Nothing was imported: 1 file has a problem.")).to_be_visible()
    axe(page, "the upload page with a file's errors")
    count = Reading.objects.filter(meter__member=member, source="green_button").count()
    assert count == imported

    page.goto(f"{live_server.url}/energy/preferences/")
    axe(page, "the preferences page")
    page.get_by_label("Lowest price I sell at (¢/kWh)").fill("30")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_text("Choose a price from 5 to 25 ¢/kWh.")).to_be_visible()
    axe(page, "the preferences page with an error")
    page.get_by_label("Lowest price I sell at (¢/kWh)").fill("9.5")
    page.get_by_label("Highest price I buy at (¢/kWh)").fill("18")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_text("Your price preferences are saved.")).to_be_visible()
    expect(page.get_by_text("9.50 ¢/kWh")).to_be_visible()
    member.refresh_from_db()
    assert (member.min_sell, member.max_buy) == (9_500, 18_000)

    page.get_by_role("link", name=re.compile(r"^0?6.0?\d.2026")).first.click()  # a trade's interval
    expect(page.get_by_role("heading", name="Trades")).to_be_visible()
    expect(page.get_by_role("cell", name="You").first).to_be_visible()
    axe(page, "an interval's book as a member sees it")


def test_the_operator_reads_the_community_and_an_interval(
    live_server, page, axe, members, cleared, operator, june_days
):
    sign_in(page, live_server, "olga")
    page.get_by_role("link", name="Microgrid").click()
    expect(page.get_by_role("heading", name="Microgrid: Sunny Side Microgrid")).to_be_visible()
    axe(page, "the operator dashboard (this month)")
    page.goto(f"{live_server.url}/energy/operator/?month={JUNE}")
    expect(page.get_by_text(re.compile(r"^\d+\.\d %$"))).to_be_visible()  # self-sufficiency
    expect(page.locator("figure.chart")).to_have_count(3)
    axe(page, "the operator dashboard with charts")
    if SCREENSHOTS.exists():
        page.screenshot(path=str(SCREENSHOTS / "energy-operator.png"), full_page=True)

    page.get_by_role("link", name=re.compile(r"^0?6.0?\d.2026")).first.click()  # the newest
    expect(page.get_by_role("heading", name=re.compile(r"^Interval"))).to_be_visible()
    expect(page.get_by_role("heading", name="Offers (sellers)")).to_be_visible()
    numbers = [str(m.public_id)[:8] for m in members.values()]
    for number in numbers:
        expect(page.get_by_text(f"Member {number}").first).to_be_visible()
    axe(page, "an interval's book as the operator sees it")

    page.goto(f"{live_server.url}/energy/operator/")
    page.get_by_label("Double auction on standing limit prices").check()
    page.get_by_role("button", name="Save the clearing mode").click()
    expect(page.get_by_text("The clearing mode is saved.", exact=False)).to_be_visible()
    expect(page.get_by_text("Now: Double auction on standing limit prices")).to_be_visible()


PRINTED = "window.print = () => { document.documentElement.dataset.printed = '1'; };"


def test_a_member_uses_the_portal_with_the_keyboard_only(live_server, page, grid, members, cleared):
    """Sign in, set price preferences, place an order by hand, read and print the bill: Tab,
    Shift+Tab, Enter, Space, arrow keys and typing only, a visible focus at every stop."""
    services.market_settings_set(microgrid=grid, mode=MarketMode.DOUBLE_AUCTION)
    services.bills_make_month(microgrid=grid, year=2026, month=6)
    bill = Bill.objects.get(member=members["cal"])
    page.add_init_script(PRINTED)  # the print dialog, which a headless browser has not
    page.goto(f"{live_server.url}/accounts/login/")

    username = focused(page)  # the field has autofocus
    assert username["id"] == "id_username" and username["ring"], username
    page.keyboard.type("cal")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    tab_to_text(page, "My energy")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My energy", level=1)).to_be_visible()

    # Price preferences.
    tab_to_text(page, "Price preferences")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Price preferences")).to_be_visible()
    tab_to_field(page, "id_min_sell")
    page.keyboard.type("9.5")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_max_buy"
    page.keyboard.type("18")
    tab_to_text(page, "Save my preferences")
    page.keyboard.press("Space")
    expect(page.get_by_text("Your price preferences are saved.")).to_be_visible()
    member = Member.objects.get(pk=members["cal"].pk)
    assert (member.min_sell, member.max_buy) == (9_500, 18_000)

    # An order by hand, for the next interval.
    tab_to_text(page, "Place an order by hand")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Orders placed by hand")).to_be_visible()
    tab_to_field(page, "id_interval_start")
    page.keyboard.press("ArrowDown")
    interval_start = focused(page)["value"]
    page.keyboard.press("Tab")
    assert focused(page)["label"] == "Buy energy"
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="Buy energy")).to_be_checked()
    tab_to_field(page, "id_kwh")
    page.keyboard.type("1.5")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_limit"
    page.keyboard.type("12")
    tab_to_text(page, "Place the order")
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"^Your order for .+ is placed\.$"))).to_be_visible()
    order = Order.objects.get(member=member, source="manual")
    assert (order.side, order.wh, order.limit_price, order.source) == (
        "buy",
        1_500,
        12_000,
        "manual",
    )
    assert order.interval.start.isoformat() == interval_start
    expect(page.get_by_role("button", name=re.compile("^Cancel the order for"))).to_be_visible()

    # Back up the page to the dashboard, then the bill.
    tab_to_text(page, "← My energy", back=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My energy", level=1)).to_be_visible()
    tab_to_text(page, "June 2026")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Energy bill, June 2026")).to_be_visible()
    assert str(bill.public_id) in page.url
    total = page.locator("tr.energy-total")
    expect(total).to_contain_text("Net amount: you owe")
    expect(total).to_contain_text(money(bill.net_cents))
    tab_to_text(page, "Print this bill")
    page.keyboard.press("Enter")
    page.wait_for_function("document.documentElement.dataset.printed === '1'")
