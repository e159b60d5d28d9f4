"""Browser walks that take the guides' screenshots (docs/screenshots/*.png) of pages no other
browser test photographs: the landing page with the demo tour, a caseworker's search and a
resident's record, a ledger entry verified in the browser, a document check and the system
status. Each page is also checked with axe-core (WCAG 2.1 AA). tests/test_docs.py fails if
a guide shows a screenshot that no browser test writes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect

from citychain import roles
from identity import services as identity
from identity.models import Organization
from ledger import services as ledger
from tests.factories import PASSWORD, OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = django_settings.BASE_DIR / "docs" / "screenshots"
PDF = b"%PDF-1.4\n% A birth certificate, scanned at the desk\n%%EOF\n"


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.fixture
def shelter():
    return OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)


@pytest.fixture
def caseworker(shelter):
    return UserFactory(
        username="caseworker", first_name="Maria", last_name="Lopez", organization=shelter,
        role=roles.CASEWORKER,
    )  # fmt: skip


def enroll(caseworker, **overrides):
    return identity.resident_enroll(
        acting_user=caseworker,
        data=resident_data(**overrides),
        pin="2468",
        consent_categories=["identity", "housing", "case_notes"],
    )


def test_the_landing_page_offers_the_public_services_and_the_demo_tour(
    live_server, page, settings, caseworker, axe
):
    settings.DEBUG = True  # the demo tour shows only in development, with demo accounts
    UserFactory(username="official", first_name="Priya", last_name="Shah",
                role=roles.ELECTION_OFFICIAL)  # fmt: skip
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="City services for every resident")).to_be_visible()
    for link in (
        "Vote from home",
        "Look up a ballot's tracking code",
        "Check that a document is genuine",
        "Check a payment history report",
        "Explore the public ledger",
        "See your own city record",
    ):
        expect(page.get_by_role("link", name=link, exact=True)).to_be_visible()
    demo = page.get_by_role("region", name="Demo sign-ins")
    expect(demo.get_by_role("cell", name="caseworker", exact=True)).to_be_visible()
    expect(demo.get_by_role("cell", name="official", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Try this")).to_be_visible()
    expect(page.get_by_text("Watch it sealed into a block, and verify its proof.")).to_be_visible()
    axe(page, "the landing page")
    screenshot(page, "landing.png")

    page.get_by_role("link", name="Check that a document is genuine").click()
    expect(page.get_by_role("heading", name="Verify a document")).to_be_visible()


def test_the_landing_page_has_no_demo_tour_outside_development(live_server, page, caseworker):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="What you can do here")).to_be_visible()
    expect(page.get_by_role("heading", name="Demo sign-ins")).to_have_count(0)
    expect(page.get_by_text("caseworker", exact=True)).to_have_count(0)


def test_a_caseworker_finds_a_resident_and_opens_the_record(live_server, page, caseworker, axe):
    ana = enroll(caseworker)
    enroll(caseworker, legal_first_name="Andrés", legal_last_name="Garza", preferred_name="",
           dob=date(1991, 2, 3), ssn="", ssn_data_quality=99)  # fmt: skip
    identity.encounter_record(
        acting_user=caseworker, resident=ana, kind="shelter_night",
        on=timezone.localdate() - timedelta(days=3), notes="Bed 12.",
    )  # fmt: skip
    identity.document_upload(
        acting_user=caseworker, resident=ana, content=PDF, category="identity",
        title="Birth certificate",
    )  # fmt: skip

    sign_in(page, live_server, "caseworker")
    page.get_by_role("link", name="Residents").click()
    page.get_by_label("Name, date of birth, last 4 of SSN or city ID").fill("ga")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name="Search results")
    expect(results.get_by_role("link")).to_have_count(2)
    axe(page, "the Residents page with results")
    screenshot(page, "caseworker-search.png")
    help_link = page.get_by_role("link", name="Help for this page")
    expect(help_link).to_have_attribute("href", "/docs/guides/caseworker/#find")

    results.get_by_role("link", name="Annie García").click()
    expect(page.get_by_role("heading", name="Annie García")).to_be_visible()
    expect(page.get_by_text("Birth certificate")).to_be_visible()
    axe(page, "a resident's record")
    screenshot(page, "caseworker-record.png")


def test_a_ledger_entry_verified_in_the_browser(live_server, page, axe):
    for i in range(6):
        ledger.record("ledger.synthetic", f"guide{i}", {"n": i, "note": "guide"})
    ledger.seal_all(batch_size=4)
    page.goto(f"{live_server.url}/ledger/entries/4/")  # waits for "load": the script ran
    expect(page.get_by_role("heading", name="Entry 4")).to_be_visible()
    page.get_by_role("button", name="Verify in your browser").click()
    expect(page.locator("#verify-result")).to_have_text(
        "Verified in your browser: the proof leads to the signed root."
    )
    axe(page, "a ledger entry")
    screenshot(page, "ledger-entry.png")


def test_checking_a_document_by_its_fingerprint(live_server, page, caseworker, axe):
    resident = enroll(caseworker)
    document = identity.document_upload(
        acting_user=caseworker, resident=resident, content=PDF, category="identity",
        title="Birth certificate",
    )  # fmt: skip
    page.goto(f"{live_server.url}/identity/documents/verify/")
    expect(page.get_by_role("heading", name="Verify a document")).to_be_visible()
    page.get_by_label("SHA-256 fingerprint").fill(document.sha256)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("Attested by Harbor Light Shelter on")).to_be_visible()
    expect(page.get_by_text("Birth certificate")).to_have_count(0)
    axe(page, "a document check")
    screenshot(page, "document-verify.png")


def test_a_city_admin_sees_the_system_status(live_server, page, axe):
    UserFactory(username="admin", first_name="Alex", last_name="Morgan", role=roles.CITY_ADMIN)
    sign_in(page, live_server, "admin")
    page.get_by_role("link", name="System status").click()
    expect(page.get_by_role("heading", name="System status")).to_be_visible()
    expect(page.get_by_role("link", name="Help for this page")).to_have_attribute(
        "href", "/docs/guides/admin/#status"
    )
    axe(page, "the system status")
    screenshot(page, "admin-status.png")


@pytest.fixture
def built_guides(tmp_path, monkeypatch):
    """The guides built (as `python3 dev.py run` does) and served at /docs/."""
    import subprocess
    import sys

    from citychain import views

    site = tmp_path / "docs-site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--no-strict", "-d", str(site)],
        cwd=django_settings.BASE_DIR, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    monkeypatch.setattr(views, "DOCS_SITE_DIR", site)
    return site


@pytest.mark.urls("tests.test_docs")
def test_help_for_this_page_opens_its_guide_section(live_server, page, built_guides, axe):
    page.goto(f"{live_server.url}/vote/track/")
    page.get_by_role("link", name="Help for this page").click()
    expect(page).to_have_url(f"{live_server.url}/docs/guides/voter/#track")
    expect(page.get_by_role("heading", name="Voter guide", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="6. Check your ballot later")).to_be_in_viewport()
    receipt = page.get_by_role("img", name="The receipt, with the tracking code")
    receipt.scroll_into_view_if_needed()
    assert receipt.evaluate("img => img.complete && img.naturalWidth > 0")
    axe(page, "the voter guide")

    page.get_by_role("navigation", name="Guides").get_by_role(
        "link", name="Votantes (español)"
    ).click()
    expect(page.get_by_role("heading", name="Guía para votantes", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "es"
    axe(page, "the Spanish voter guide")
