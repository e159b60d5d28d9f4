"""Upload a document at the desk, then verify it on the public page by choosing the same
file: the browser computes the fingerprint, and only the fingerprint is sent."""

import hashlib

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from identity.models import Document
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n% A lease agreement, scanned at the desk\n%%EOF\n"


def staff_sign_in(page, live_server, username):
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_upload_then_verify_by_choosing_the_same_file(live_server, page, tmp_path, enroll, axe):
    resident = enroll()
    lease = tmp_path / "lease.pdf"
    lease.write_bytes(PDF)
    digest = hashlib.sha256(PDF).hexdigest()

    staff_sign_in(page, live_server, "maria")
    page.goto(f"{live_server.url}{reverse('identity:document_upload', args=[resident.public_id])}")
    axe(page, "the document upload form")
    page.get_by_label("File").set_input_files(lease)
    page.get_by_label("Kind of record").select_option(label="Housing")
    page.get_by_label("Title").fill("Lease agreement")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text(f"Uploaded. Fingerprint SHA-256 {digest}")).to_be_visible()
    assert Document.objects.get().sha256 == digest

    # A member of the public, in a fresh browser session.
    page.context.clear_cookies()
    posted = []
    page.on("request", lambda r: posted.append(r) if r.method == "POST" else None)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Verify a document").click()
    expect(page.get_by_role("heading", name="Verify a document")).to_be_visible()
    # The script shows the file chooser once it is listening; a file chosen earlier would
    # never be hashed (seen on a busy CI machine).
    expect(page.locator("#verify-file-field")).to_be_visible()
    page.get_by_label("Document (optional)").set_input_files(lease)
    expect(page.locator("#verify-file-status")).to_contain_text("The file itself is not sent.")
    expect(page.get_by_label("SHA-256 fingerprint")).to_have_value(digest)
    page.get_by_role("button", name="Check").click()

    expect(page.get_by_text("Attested by Harbor Light Shelter on")).to_be_visible()
    expect(page.get_by_text("sealing pending")).to_be_visible()
    expect(page.get_by_text("Lease agreement")).to_have_count(0)
    axe(page, "a document's verification")
    [request] = posted
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    body = request.post_data_buffer
    assert b"sha256=" + digest.encode() in body
    assert b"lease" not in body.lower()
    assert b"%PDF" not in body
    assert body.count(b"=") == 2  # the CSRF token and the fingerprint, nothing else


def test_verify_by_typing_a_fingerprint_without_scripts(live_server, browser):
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('identity:document_verify')}")
    expect(page.get_by_text("Type or paste the file's SHA-256 fingerprint below")).to_be_visible()
    expect(page.get_by_label("Document (optional)")).to_be_hidden()
    page.get_by_label("SHA-256 fingerprint").fill(hashlib.sha256(b"unknown").hexdigest())
    page.get_by_role("button", name="Check").click()
    expect(
        page.get_by_text("Not found: no organization has attested this document.")
    ).to_be_visible()
    context.close()
