"""Credit in a real browser: a reporter records payments; a resident signs in at the kiosk
and sees the score and its factors; a report is printed and verified on the ledger; a
tampered report fails verification. axe-core checks every page on the way. The reporter's
and the resident's main flows are also walked with the keyboard only."""

from __future__ import annotations

import json
import re
import time
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from conftest import assert_accessible as axe
from conftest import focused, tab_to_field, tab_to_text
from credit import selectors, services
from credit.models import CreditReport, PaymentRecord
from identity import cityid
from identity import services as identity
from ledger import services as ledger
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"credit-browser-{time.monotonic_ns()}",
        }
    }


def month_start(months_back: int) -> date:
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def history(resident, reporter, *, months: int = 9, late_months=(3,)):
    for back in range(months, 0, -1):
        due = month_start(back)
        late = 35 if back in late_months else 0
        services.record_payment(
            reporter=reporter,
            resident=resident,
            kind="rent",
            account_reference="LEASE-7",
            reference=f"LEASE-7-{due:%Y-%m}",
            due_date=due,
            amount_due_cents=90_000,
            paid_on=due + timedelta(days=late),
            amount_paid_cents=90_000,
        )


def sign_in_staff(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def sign_in_kiosk(page, live_server, resident) -> None:
    page.goto(f"{live_server.url}/identity/kiosk/")
    page.get_by_label("Your city ID").fill(cityid.display(identity.active_card(resident).city_id))
    page.get_by_label("Your PIN").fill("2468")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your record", exact=True)).to_be_visible()


def test_a_reporter_records_payments(live_server, page, reporter, resident, landlord):
    history(resident, landlord, months=2, late_months=())
    sign_in_staff(page, live_server, reporter.username)
    page.get_by_role("link", name="Payment records").click()
    expect(
        page.get_by_role("heading", name="Payment records of Riverside Housing Co-op")
    ).to_be_visible()
    expect(page.get_by_role("figure")).to_be_visible()  # the chart of the last 12 months
    axe(page, "the reporter's records")

    due = month_start(0)
    page.get_by_role("link", name="Record a payment").first.click()
    page.get_by_label(re.compile("^Resident's city ID")).fill(
        cityid.display(identity.active_card(resident).city_id)
    )
    page.get_by_label(re.compile("^Kind of payment")).select_option("rent")
    page.get_by_label(re.compile("^Account reference")).fill("LEASE-7")
    page.get_by_label(re.compile("^Payment reference")).fill(f"LEASE-7-{due:%Y-%m}")
    page.get_by_label(re.compile("^Due date")).fill(due.isoformat())
    page.get_by_label(re.compile(r"^Amount due")).fill("900")
    page.get_by_label(re.compile(r"^Paid on")).fill(due.isoformat())
    page.get_by_label(re.compile(r"^Amount paid")).fill("abc")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_text("Please correct the errors below.")).to_be_visible()
    axe(page, "the payment form with an error")
    assert PaymentRecord.objects.count() == 2

    page.get_by_label(re.compile(r"^Amount paid")).fill("900.00")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_text(f"Payment LEASE-7-{due:%Y-%m} recorded and attested")).to_be_visible()
    expect(page.get_by_text("Paid on time", exact=True)).to_be_visible()
    axe(page, "the record page")
    record = PaymentRecord.objects.get(reference=f"LEASE-7-{due:%Y-%m}")
    assert record.ledger_entry is not None
    assert identity.active_card(resident).city_id not in page.url

    page.get_by_role("link", name="Records", exact=True).click()
    page.get_by_label(re.compile("^Resident's city ID")).fill(
        cityid.display(identity.active_card(resident).city_id)
    )
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="Records of Ana García")).to_be_visible()
    expect(page.get_by_role("link", name=f"LEASE-7-{due:%Y-%m}")).to_be_visible()
    assert identity.active_card(resident).city_id not in page.url
    axe(page, "a resident's records found by city ID")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "credit-reporter.png"), full_page=True)

    services.dispute_open(payment=record, reason="The amount is wrong: I paid $950.")
    page.get_by_role("link", name="Disputes").click()
    page.get_by_role("link", name=record.reference).click()
    expect(page.get_by_text("The amount is wrong: I paid $950.")).to_be_visible()
    axe(page, "a dispute")
    page.get_by_label("Record upheld as reported").check()
    page.get_by_label(re.compile("^What you found")).fill("Our ledger shows $900 received.")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("The dispute is resolved")).to_be_visible()


def test_lending_circle_pages(live_server, page, fund, fund_staff, enroll):
    members = [enroll(first=name, ssn=f"555-12-00{n:02d}") for n, name in enumerate("ABC")]
    circle = services.circle_create(
        organization=fund,
        name="Spring circle",
        monthly_contribution_cents=10_000,
        first_due_date=month_start(1),
    )
    for member in members:
        services.circle_add_member(circle=circle, resident=member)
    services.circle_start(circle=circle)
    sign_in_staff(page, live_server, fund_staff.username)
    page.goto(f"{live_server.url}/credit/circles/")
    axe(page, "the circles")
    page.get_by_role("link", name="Spring circle").click()
    expect(page.get_by_role("heading", name="Round 1, due", exact=False)).to_be_visible()
    form = page.locator("form", has=page.get_by_role("button", name="Record the contribution"))
    form.get_by_label(re.compile("^Member")).select_option(label="2. B García")
    form.get_by_label(re.compile("^Round")).select_option("1")
    form.get_by_label(re.compile("^Paid on")).fill(month_start(1).isoformat())
    form.get_by_role("button", name="Record the contribution").click()
    expect(page.get_by_text("Contribution recorded")).to_be_visible()
    axe(page, "a circle")

    page.get_by_role("link", name="Lending circles").click()
    page.get_by_label(re.compile("^Name of the circle")).fill("Fall circle")
    page.get_by_label(re.compile(r"^Monthly contribution")).fill("50")
    page.get_by_label(re.compile("^First contribution due")).fill(month_start(-1).isoformat())
    page.get_by_role("button", name="Create the circle").click()
    expect(page.get_by_text("Circle created. Now add its members.")).to_be_visible()
    page.get_by_label(re.compile("^New member's city ID")).fill(
        cityid.display(identity.active_card(members[0]).city_id)
    )
    page.get_by_role("button", name="Add the member").click()
    expect(page.get_by_text("A García joined the circle, in payout position 1.")).to_be_visible()
    axe(page, "a forming circle")


def test_a_resident_sees_the_score_prints_a_report_and_it_verifies(
    live_server, page, browser, resident, landlord
):
    history(resident, landlord)
    result = selectors.resident_score(resident)
    assert result.score is not None and result.key_factors

    sign_in_kiosk(page, live_server, resident)
    page.get_by_role("link", name="My credit").first.click()
    expect(page.get_by_role("heading", name="My credit", exact=True)).to_be_visible()
    expect(page.locator(".score-number")).to_contain_text(f"{result.score} out of 100")
    expect(page.get_by_text("not a FICO® Score", exact=False)).to_be_visible()
    factors = page.get_by_role("list", name="What is holding the score back").get_by_role(
        "listitem"
    )
    expect(factors).to_have_count(len(result.key_factors))
    expect(factors.first).to_contain_text(result.key_factors[0].text)
    expect(page.get_by_role("heading", name="What would raise it")).to_be_visible()
    expect(
        page.get_by_role("figure", name=re.compile("Your score, month by month"))
    ).to_be_visible()
    axe(page, "my credit")
    page.screenshot(path=str(SCREENSHOTS / "credit-my-credit.png"), full_page=True)

    page.get_by_role("button", name="Make a printable report").click()
    expect(page.get_by_role("heading", name="Payment history report")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    page.wait_for_function("document.documentElement.dataset.creditReady === '1'")
    expect(page.get_by_role("button", name="Print the report")).to_be_visible()
    axe(page, "the report")
    report = CreditReport.objects.get()
    page.emulate_media(media="print")
    expect(page.locator(".report-actions")).to_be_hidden()
    expect(page.locator(".kiosk-bar")).to_be_hidden()
    expect(page.get_by_role("heading", name="Payment history report")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "credit-report-print.png"), full_page=True)
    page.pdf(format="Letter")  # it prints
    page.emulate_media(media="screen")

    page.get_by_label("The link works for").select_option("7")
    page.get_by_role("button", name="Make a link").click()
    expect(page.get_by_text("Your link is ready")).to_be_visible()
    shared_url = page.locator("#new-link").inner_text().strip()
    axe(page, "the report with a new share link")

    # A landlord, in another browser, scans the QR code: it opens the verification page.
    ledger.seal_all()
    landlord_page = browser.new_page()
    qr_target = f"{live_server.url}/credit/verify/{report.public_id}/?sha256={report.sha256}"
    landlord_page.goto(qr_target)
    expect(
        landlord_page.get_by_role("heading", name="Authentic: the city issued this report")
    ).to_be_visible()
    expect(landlord_page.get_by_text("Ana García")).to_be_visible()
    landlord_page.wait_for_function("document.readyState === 'complete'")
    landlord_page.get_by_role("button", name="Verify in your browser").click()
    expect(landlord_page.get_by_text("Verified in your browser")).to_be_visible()
    axe(landlord_page, "the verification of an authentic report")
    landlord_page.screenshot(path=str(SCREENSHOTS / "credit-verify.png"), full_page=True)

    landlord_page.goto(shared_url)
    expect(landlord_page.get_by_role("heading", name="Payment history report")).to_be_visible()
    expect(landlord_page.get_by_text("This report was shared with you")).to_be_visible()
    axe(landlord_page, "a shared report")

    # The start page, by the report number typed in.
    landlord_page.goto(f"{live_server.url}/credit/verify/")
    landlord_page.get_by_label(re.compile("^Report code")).fill(str(report.public_id))
    landlord_page.get_by_role("button", name="Check").click()
    expect(landlord_page.get_by_role("heading", name=re.compile("^Authentic"))).to_be_visible()
    axe(landlord_page, "the verification start page result")
    landlord_page.close()


def test_a_tampered_report_fails_verification(live_server, page, resident, landlord):
    history(resident, landlord)
    report = services.report_issue(resident=resident)
    ledger.seal_all()
    # A QR code from an altered report carries another fingerprint.
    page.goto(f"{live_server.url}/credit/verify/{report.public_id}/?sha256={'ab' * 32}")
    expect(
        page.get_by_role("heading", name=re.compile("NOT authentic: this report does not match"))
    ).to_be_visible()
    expect(page.get_by_text("Ana García")).to_have_count(0)
    axe(page, "the verification of a tampered report")

    # An edited machine-readable copy: the score raised by hand.
    page.goto(f"{live_server.url}/credit/verify/{report.public_id}/?sha256={report.sha256}")
    edited = json.loads(report.content)
    edited["score"]["value"] = 100
    page.get_by_label(re.compile("^Machine-readable copy")).set_input_files(
        {"name": "report.json", "mimeType": "application/json",
         "buffer": json.dumps(edited).encode()}
    )  # fmt: skip
    page.get_by_role("button", name="Check the copy").click()
    expect(page.get_by_text("This copy was changed")).to_be_visible()
    axe(page, "an edited copy")

    # A report number nobody issued.
    page.goto(f"{live_server.url}/credit/verify/")
    page.get_by_label(re.compile("^Report code")).fill("f" * 64)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name=re.compile("^Not found"))).to_be_visible()
    axe(page, "an unknown report")


PRINTED = "window.print = () => { document.documentElement.dataset.printed = '1'; };"


def choose(page, value: str) -> None:
    """Choose an option of the focused select with the arrow keys."""
    page.keyboard.press("Home")
    for _ in range(20):
        if focused(page)["value"] == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {value!r}")


def test_a_reporter_records_a_payment_with_the_keyboard_only(live_server, page, reporter, resident):
    """Tab, Enter, arrow keys and typing only, a visible focus at every stop."""
    city_id = cityid.display(identity.active_card(resident).city_id)
    due = month_start(0)
    reference = f"LEASE-7-{due:%Y-%m}"
    page.goto(f"{live_server.url}/accounts/login/")
    username = focused(page)  # the field has autofocus
    assert username["id"] == "id_username" and username["ring"], username
    page.keyboard.type(reporter.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    tab_to_text(page, "Payment records")
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("heading", name="Payment records of Riverside Housing Co-op")
    ).to_be_visible()
    tab_to_text(page, "Record a payment")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Record a payment")).to_be_visible()

    tab_to_field(page, "id_city_id")
    page.keyboard.type(city_id)
    tab_to_field(page, "id_kind")
    choose(page, "rent")
    tab_to_field(page, "id_account_reference")
    page.keyboard.type("LEASE-7")
    tab_to_field(page, "id_reference")
    page.keyboard.type(reference)
    tab_to_field(page, "id_due_date")
    page.keyboard.type(f"{due:%m%d%Y}")  # the date field's month, day and year, in turn
    tab_to_field(page, "id_amount_due")
    page.keyboard.type("900")
    tab_to_field(page, "id_paid_on")
    page.keyboard.type(f"{due:%m%d%Y}")
    tab_to_field(page, "id_amount_paid")
    page.keyboard.type("900.00")
    tab_to_text(page, "Record the payment")
    page.keyboard.press("Enter")

    expect(page.get_by_text(f"Payment {reference} recorded and attested")).to_be_visible()
    expect(page.get_by_text("Paid on time", exact=True)).to_be_visible()
    record = PaymentRecord.objects.get(reference=reference)
    assert (record.kind, record.due_date, record.paid_on) == ("rent", due, due)
    assert (record.amount_due_cents, record.amount_paid_cents) == (90_000, 90_000)
    assert record.resident_id == resident.pk and record.ledger_entry is not None
    assert str(record.public_id) in page.url


def test_a_resident_opens_the_score_and_prints_a_report_with_the_keyboard_only(
    live_server, page, resident, landlord
):
    """At the kiosk: sign in, open My credit, make a report and print it; Tab, Enter, Space
    and typing only, a visible focus at every stop."""
    history(resident, landlord)
    result = selectors.resident_score(resident)
    page.add_init_script(PRINTED)  # the print dialog, which a headless browser has not
    page.goto(f"{live_server.url}/identity/kiosk/")
    city_id = focused(page)  # the field has autofocus
    assert city_id["id"] == "id_city_id" and city_id["ring"], city_id
    page.keyboard.type(cityid.display(identity.active_card(resident).city_id))
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_pin"
    page.keyboard.type("2468")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your record", exact=True)).to_be_visible()

    tab_to_text(page, "My credit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My credit", exact=True)).to_be_visible()
    expect(page.locator(".score-number")).to_contain_text(f"{result.score} out of 100")

    assert not CreditReport.objects.filter(resident=resident).exists()
    tab_to_text(page, "Make a printable report")
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="Payment history report")).to_be_visible()
    report = CreditReport.objects.get(resident=resident)
    assert str(report.public_id) in page.url
    assert json.loads(report.content)["score"]["value"] == result.score

    tab_to_text(page, "Print the report")
    page.keyboard.press("Enter")
    page.wait_for_function("document.documentElement.dataset.printed === '1'")
    # And back to My credit, where the report is listed.
    tab_to_text(page, "Back to my credit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=re.compile("^Report of "))).to_be_visible()
