"""Browser tests: Playwright drives Debian's Chromium against a live server."""

import pytest
from playwright.sync_api import expect

from citychain import roles
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_caseworker_signs_in_and_sees_the_dashboard(live_server, page):
    UserFactory(username="maria", first_name="Maria", last_name="Lopez", role=roles.CASEWORKER)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Staff sign in").click()
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Signed in as Maria Lopez.")).to_be_visible()


def test_skip_link_is_the_first_tab_stop(live_server, page):
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to main content"
