"""The caseworker desk in a real browser: enroll past a duplicate warning, print the card,
record consent; another organization's caseworker is refused, then allowed after consent."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings
from playwright.sync_api import expect

from identity import cityid, services
from identity.models import Consent, Resident
from tests.factories import PASSWORD
from tests.identity.conftest import resident_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = settings.BASE_DIR / "docs" / "screenshots" / "caseworker-card.png"


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_enroll_past_a_duplicate_print_the_card_and_record_consent(
    live_server, page, caseworker, axe
):
    services.resident_enroll(
        acting_user=caseworker,
        data=resident_data(
            legal_first_name="Rosa", legal_last_name="Delgado", dob=date(1975, 3, 2), ssn="",
            ssn_data_quality=99, preferred_name="",
        ),
    )  # fmt: skip
    sign_in(page, live_server, caseworker.username)
    page.get_by_role("link", name="Residents").click()
    page.get_by_role("link", name="Enroll a resident").click()
    axe(page, "the enrollment form")

    page.get_by_label("Legal first name").fill("Rosalia")
    page.get_by_label("Legal last name").fill("Delgado")
    page.get_by_label("Preferred name").fill("Lia")
    page.get_by_label("Date of birth", exact=True).fill("1975-03-02")
    page.get_by_label("Hispanic/Latina/o").check()
    page.get_by_label("Woman (girl, if child)").check()
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Kiosk PIN").fill("2468")
    page.get_by_label("Housing").check()
    page.get_by_role("button", name="Enroll", exact=True).click()

    expect(
        page.get_by_role("heading", name="This person may already have a record")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Rosa Delgado")).to_be_visible()
    axe(page, "the possible-duplicate page")
    assert Resident.objects.count() == 1
    page.get_by_role("button", name="This is a different person — enroll").click()

    expect(page.get_by_role("heading", name="City ID card")).to_be_visible()
    resident = Resident.objects.order_by("-pk").first()
    shown = cityid.display(services.active_card(resident).city_id)
    card = page.locator(".id-card")
    expect(card).to_contain_text(shown)
    expect(card).to_contain_text("Lia Delgado")
    expect(card.locator("svg[role=img]")).to_be_visible()
    axe(page, "the city ID card")
    box = card.bounding_box()
    assert 300 < box["width"] < 350  # 85.6 mm at 96 dpi is 323.5 px
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Issue a new card")).to_be_hidden()
    page.emulate_media(media="screen")

    page.get_by_role("link", name="Back to the record").click()
    page.get_by_role("link", name="Record a consent").click()
    axe(page, "the consent form")
    page.get_by_label("Medical").check()
    page.get_by_label("Agreed out loud (verbal consent)").check()
    page.get_by_role("button", name="Record the answer").click()
    expect(page.get_by_text("The consent was recorded.")).to_be_visible()
    assert resident.consents.filter(status=Consent.Status.VERBAL, categories=["medical"]).exists()


def test_another_organization_finds_nothing_then_requests_access_with_the_card(
    live_server, page, enroll, other_caseworker, axe
):
    resident = enroll()
    shown = cityid.display(services.active_card(resident).city_id)
    sign_in(page, live_server, other_caseworker.username)
    page.get_by_role("link", name="Residents").click()
    search = page.get_by_label("Name, date of birth, last 4 of SSN or city ID")
    expect(search).to_be_focused()  # a USB scanner types straight into it
    search.fill(shown)
    search.press("Enter")
    expect(page.get_by_text("No resident your organization may see matches.")).to_be_visible()
    axe(page, "search with no result")

    page.get_by_role("link", name="Request access with a card").first.click()
    axe(page, "the request-access form")
    page.get_by_label("City ID").fill(shown)
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("The city ID and date of birth match a record.")).to_be_visible()
    page.get_by_label("Identity documents").check()
    page.get_by_label("Signed the form").check()
    page.get_by_role("button", name="Record the answer").click()

    expect(page.get_by_role("heading", name="Annie García")).to_be_visible()
    axe(page, "the resident's record")
    expect(page.get_by_text("•••-••-6789")).to_be_visible()
    page.get_by_role("button", name="Reveal SSN").click()
    expect(page.locator("#ssn-revealed")).to_have_text("123-45-6789")
