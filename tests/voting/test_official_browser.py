"""An election official in a real browser: create an election with a contest and choices,
upload a roll, print the credential letters, open the election. axe-core checks the pages."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from citychain import roles
from conftest import assert_accessible
from tests.factories import PASSWORD, UserFactory
from voting import services
from voting.models import Election

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = settings.BASE_DIR / "docs" / "screenshots" / "official-election.png"
CREDENTIAL = re.compile(r"(?:[0-9A-Z]{4}-){6}[0-9A-Z]{4}")
ROLL = "voter_id,name,email\nV-001,Ana García,ana@example.org\nV-002,Ben Okafor,\nV-003,Cy Li,\n"


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_an_official_prepares_and_opens_an_election(live_server, page):
    UserFactory(
        username="priya", first_name="Priya", last_name="Shah", role=roles.ELECTION_OFFICIAL
    )
    sign_in(page, live_server, "priya")

    page.goto(f"{live_server.url}/officials/")
    expect(page.get_by_role("heading", name="Elections")).to_be_visible()
    page.get_by_role("link", name="Create an election").click()
    page.get_by_label(re.compile(r"^Title")).fill("Riverside council 2026")
    page.get_by_label("Description").fill("One seat on the council.")
    page.get_by_label("Live, while voting is open").check()
    assert_accessible(page)
    page.get_by_role("button", name="Create the election").click()
    expect(page.get_by_role("heading", name="Riverside council 2026")).to_be_visible()
    expect(page.get_by_text("Election created. Now add its contests.")).to_be_visible()

    page.get_by_label(re.compile(r"^Contest title")).fill("Council member")
    page.get_by_label(re.compile(r"^Voting method")).select_option("plurality")
    page.get_by_role("button", name="Add the contest").click()
    expect(page.get_by_role("heading", name="Council member")).to_be_visible()
    for name in ("Rivera", "Chen", "Okafor"):
        page.get_by_label("New choice in Council member").fill(name)
        page.get_by_role("button", name="Add the choice").click()
        expect(page.get_by_role("listitem").filter(has_text=name)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Voter roll").click()
    page.get_by_label(re.compile(r"^Voter roll \(CSV\)")).set_input_files(
        {"name": "roll.csv", "mimeType": "text/csv", "buffer": ROLL.encode()}
    )
    page.get_by_role("button", name="Upload the roll").click()
    expect(page.get_by_text("3 voters added to the roll.")).to_be_visible()
    expect(page.get_by_role("cell", name="Ana García")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Credential letters").click()
    page.get_by_role("button", name="Issue the credentials").click()
    expect(page.get_by_role("heading", name="3 credential letters")).to_be_visible()
    letters = page.locator("article.letter")
    expect(letters).to_have_count(3)
    expect(letters.first.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    expect(page.get_by_role("button", name="Print the letters")).to_be_visible()
    credentials = CREDENTIAL.findall(page.locator("main").inner_text())
    assert len(set(credentials)) == 3
    pdf = page.pdf(format="Letter")  # printing gives one page per letter
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 3
    assert_accessible(page)

    page.get_by_role("link", name="Back to Riverside council 2026").click()
    page.get_by_role("link", name="Open the election").click()
    page.get_by_role("button", name="Yes: Open the election").click()
    expect(page.get_by_text("The election is open. Voters can cast their ballots.")).to_be_visible()
    expect(
        page.get_by_text("The ballot cannot be edited once the election is open.")
    ).to_be_visible()
    assert_accessible(page)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    election = Election.objects.get(title="Riverside council 2026")
    assert election.status == "open" and election.results_live
    contest = election.contests.get()
    chen = contest.choices.get(name="Chen")
    ballot = services.ballot_cast(
        election_id=election.pk, credential=credentials[0], selections={contest.pk: [chen.pk]}
    )
    assert ballot.tracking_code
