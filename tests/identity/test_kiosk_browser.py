"""A resident signs in at the kiosk and revokes a consent, with the keyboard only."""

import time

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from identity import cityid, services
from identity.models import Consent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = django_settings.BASE_DIR / "docs" / "screenshots" / "kiosk-home.png"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"kiosk-browser-{time.monotonic_ns()}",
        }
    }


def tab_to(page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text contains `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement === document.body ? '' : document.activeElement.textContent"
        )
        if name in " ".join(focused.split()):
            return
    raise AssertionError(f"no focusable element named {name!r}")


def test_kiosk_sign_in_and_revoke_by_keyboard(live_server, page, enroll, other_caseworker, axe):
    resident = enroll()
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical"],
        status="granted",
        acting_user=other_caseworker,
    )
    services.document_upload(
        acting_user=other_caseworker,
        resident=resident,
        content=b"%PDF-1.4 visit summary",
        category="medical",
        title="Clinic visit summary",
    )
    city_id = cityid.display(services.active_card(resident).city_id)

    page.goto(f"{live_server.url}/identity/kiosk/")
    expect(page.get_by_role("heading", name="See your city record")).to_be_visible()
    expect(page.get_by_label("Your city ID")).to_be_focused()  # ready for a card scanner
    axe(page, "the kiosk sign-in")
    page.keyboard.type(city_id)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your PIN")).to_be_focused()
    page.keyboard.type("2468")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your record", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in: Annie García")).to_be_visible()
    expect(page.get_by_role("cell", name="Clinic visit summary")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
    axe(page, "the resident's record at the kiosk")

    tab_to(page, "Stop sharing with Eastside Clinic")
    page.keyboard.press("Enter")
    expect(
        page.get_by_text("You stopped sharing your records with Eastside Clinic.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Stop sharing with Eastside Clinic")).to_have_count(0)
    expect(
        page.get_by_role("button", name="Stop sharing with Harbor Light Shelter")
    ).to_be_visible()
    consent = resident.consents.get(organization=other_caseworker.organization)
    assert consent.status == Consent.Status.REVOKED
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    expect(page.get_by_text("You are signed out. Thank you.")).to_be_visible()
    expect(page.get_by_role("heading", name="See your city record")).to_be_visible()
    page.go_back()
    expect(page.get_by_text("Signed in: Annie García")).to_have_count(0)


def test_kiosk_in_spanish(live_server, page, enroll, axe):
    enroll()
    page.goto(f"{live_server.url}/identity/kiosk/")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    axe(page, "the kiosk in Spanish")
