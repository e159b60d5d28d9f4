"""The explorer's 'verify in your browser' recomputes the proof with Web Crypto."""

import pytest
from playwright.sync_api import expect

from ledger import services
from ledger.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed_ledger():
    for i in range(11):
        services.record("ledger.synthetic", f"s{i}", {"n": i, "note": "café ✓"})
    services.seal_all(batch_size=4)


def test_proof_verifies_in_the_browser_by_keyboard(live_server, page, axe):
    seed_ledger()
    page.goto(f"{live_server.url}/ledger/")
    axe(page, "the ledger explorer")
    page.get_by_role("link", name="2", exact=True).first.click()
    expect(page.get_by_role("heading", name="Block 2")).to_be_visible()
    axe(page, "a block")
    page.get_by_role("link", name="9", exact=True).click()
    expect(page.get_by_role("heading", name="Entry 9")).to_be_visible()
    page.wait_for_load_state()  # the deferred script has attached its click handler
    page.get_by_role("button", name="Verify in your browser").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#verify-result")).to_have_text(
        "Verified in your browser: the proof leads to the signed root."
    )
    axe(page, "an entry with its verified proof")


def test_tampered_content_fails_in_the_browser(live_server, page):
    seed_ledger()
    page.goto(f"{live_server.url}/ledger/entries/3/")  # waits for "load": scripts ran
    # What a visitor would see if the server altered the content after sealing.
    page.evaluate("document.getElementById('leaf-data').textContent += ' '")
    page.get_by_role("button", name="Verify in your browser").click()
    expect(page.locator("#verify-result")).to_have_text(
        "NOT verified: the content does not hash to the leaf hash."
    )
    assert Entry.objects.count() == 11
