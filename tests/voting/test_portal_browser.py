"""A voter votes with the keyboard only, and axe-core finds no WCAG 2.1 AA violation on any
voter page (enter, credential, ballot, review, receipt, track, results)."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from conftest import AXE, missing
from voting import credentials as codes
from voting import services
from voting.models import Ballot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = django_settings.BASE_DIR / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"vote-browser-{time.monotonic_ns()}",
        }
    }


AXE_MISSING = f"axe-core at {AXE} (npm ci at the repository root)"


def test_axe_core_is_installed():
    """Without axe-core the checks below cannot run: a skip here, a failure in CI."""
    if not AXE.exists():
        missing(AXE_MISSING)


@pytest.fixture
def election_setup():
    election = services.election_create(
        acting_user=None,
        title="Neighbourhood budget 2025",
        description="Choose a parks director and rank the projects.",
        results_live=True,
    )
    mayor = services.contest_add(election, title="Parks director", method="plurality")
    for name in ("Rivera", "Chen", "Okafor"):
        services.choice_add(mayor, name=name)
    projects = services.contest_add(election, title="Projects", method="ranked", seats=3)
    for name in ("Bike lanes", "Library hours", "Tree planting", "Skate park"):
        services.choice_add(projects, name=name)
    services.roll_import_csv(election, "voter_id,name\nV1,Ana\nV2,Ben\nV3,Cy\n")
    services.election_open(election)
    credentials = [c for _voter, c in services.credentials_issue(election)]
    return election, mayor, projects, credentials


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const e = document.activeElement;
          const label = e.labels && e.labels[0] ? e.labels[0].textContent : '';
          return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.textContent || '').trim(),
                  label: label.trim(), value: e.value || ''};
        }"""
    )


def tab_to(page, matches, what: str, limit: int = 80) -> dict:
    """Press Tab until the focused element satisfies `matches`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if matches(element):
            return element
    raise AssertionError(f"Tab never reached {what}")


def tab_to_text(page, text: str) -> dict:
    return tab_to(page, lambda e: text in " ".join(e["text"].split()), repr(text))


def test_a_voter_votes_with_the_keyboard_only(live_server, page, election_setup, axe):
    election, _mayor, projects, credentials = election_setup
    base = live_server.url

    # The list of elections.
    page.goto(f"{base}/vote/")
    expect(page.get_by_role("heading", name="Vote from home")).to_be_visible()
    axe(page, "the election list")
    tab_to_text(page, "Vote — Neighbourhood budget 2025")
    page.keyboard.press("Enter")

    # The credential.
    expect(page.get_by_role("heading", name="Enter your credential")).to_be_visible()
    axe(page, "the credential page")
    tab_to(page, lambda e: e["id"] == "id_credential", "the credential field")
    page.keyboard.type(credentials[0].lower().replace("-", " "))
    page.keyboard.press("Enter")

    # The ballot: radios by arrow keys, ranks by selects.
    expect(page.get_by_role("heading", name="Mark your ballot")).to_be_visible()
    axe(page, "the ballot")
    first = tab_to(page, lambda e: e["label"] == "Rivera", "the first choice for director")
    assert first["tag"] == "input"
    page.keyboard.press("ArrowDown")  # moves to Chen and checks it
    expect(page.get_by_role("radio", name="Chen")).to_be_checked()
    page.keyboard.press("Tab")
    assert focused(page)["label"] == "1st choice"
    pick(page, "Library hours")
    page.keyboard.press("Tab")
    assert focused(page)["label"] == "2nd choice"
    pick(page, "Bike lanes")
    expect(page.get_by_label("1st choice")).to_have_value(choice_id(projects, "Library hours"))
    expect(page.get_by_label("2nd choice")).to_have_value(choice_id(projects, "Bike lanes"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "voter-ballot.png"), full_page=True)
    tab_to_text(page, "Check my choices")
    page.keyboard.press("Enter")

    # Review, then cast.
    expect(page.get_by_role("heading", name="Check your choices")).to_be_visible()
    axe(page, "the review page")
    expect(page.locator("main")).to_contain_text("1st choice: Library hours")
    expect(page.locator("main")).to_contain_text("2nd choice: Bike lanes")
    expect(page.locator("main")).to_contain_text("Chen")
    assert Ballot.objects.count() == 0
    tab_to_text(page, "Cast my ballot")
    page.keyboard.press("Enter")

    # The receipt.
    expect(page.get_by_role("heading", name="Your ballot is cast")).to_be_visible()
    code = page.locator("#tracking-code").inner_text().strip()
    ballot = Ballot.objects.get()
    assert code == codes.format_tracking_code(ballot.tracking_code)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}", code)
    expect(page.get_by_role("button", name="Copy the tracking code")).to_be_visible()
    axe(page, "the receipt")
    page.screenshot(path=str(SCREENSHOTS / "voter-receipt.png"), full_page=True)

    # The track page, from the header's navigation, typing the code.
    page.keyboard.press("Home")
    tab_to_text(page, "Track a ballot")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Track a ballot")).to_be_visible()
    axe(page, "the track page")
    tab_to(page, lambda e: e["id"] == "id_code", "the tracking code field")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Ballot {code}")).to_be_visible()
    found = page.locator(".found")
    expect(found).to_contain_text("Neighbourhood budget 2025")
    expect(found).to_contain_text("1st choice: Library hours")
    expect(found).to_contain_text("waiting to be sealed")
    axe(page, "a found ballot")

    # The live results.
    page.goto(f"{base}/vote/{election.pk}/results/")
    expect(page.get_by_role("table", name="Votes in Parks director")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Bar chart of the votes in Projects"))
    expect(chart).to_be_visible()
    axe(page, "the results")


def pick(page, name: str) -> None:
    """Choose an option of the focused select with the arrow keys."""
    for _ in range(10):
        selected = page.evaluate(
            "document.activeElement.options[document.activeElement.selectedIndex].text"
        )
        if selected == name:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {name!r}")


def choice_id(contest, name: str) -> str:
    return str(contest.choices.get(name=name).pk)


def test_error_pages_are_accessible_too(live_server, page, election_setup, axe):
    election, _mayor, projects, credentials = election_setup
    base = live_server.url
    page.goto(f"{base}/vote/{election.pk}/")
    page.get_by_label("Your voting credential").fill("7K2M-Q9XD")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("probably mistyped")
    expect(summary).to_be_focused()  # voting.js
    axe(page, "a refused credential")

    page.get_by_label("Your voting credential").fill(credentials[1])
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("1st choice").select_option(label="Skate park")
    page.get_by_label("2nd choice").select_option(label="Skate park")
    page.get_by_role("button", name="Check my choices").click()
    expect(page.locator("#error-summary")).to_contain_text("Skate park is ranked more than once")
    expect(page.locator(f"#contest-{projects.pk}-errors")).to_be_visible()
    axe(page, "a ballot with an error")
    page.locator("#error-summary a").first.click()
    expect(page.get_by_label("1st choice")).to_be_focused()

    page.goto(f"{base}/vote/track/")
    page.get_by_label("Tracking code").fill(codes.new_tracking_code())
    page.get_by_role("button", name="Find the ballot").click()
    expect(page.locator("#error-summary")).to_contain_text("No ballot has this tracking code.")
    axe(page, "a tracking code not found")


def test_the_ballot_fits_a_phone_with_large_text(live_server, page, election_setup):
    election, _mayor, _projects, credentials = election_setup
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/vote/{election.pk}/")
    page.get_by_label("Your voting credential").fill(credentials[2])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Mark your ballot")).to_be_visible()
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    overflow = page.evaluate(
        "(b => b.scrollWidth - b.clientWidth)(document.querySelector('.ballot'))"
    )
    assert overflow <= 0
    expect(page.get_by_role("button", name="Check my choices")).to_be_visible()


def test_the_letter_link_fills_the_credential_without_sending_it(live_server, page, election_setup):
    """The QR code's link carries the credential after '#', which the browser never sends:
    the page's script fills the field and drops it from the address bar."""
    election, _mayor, _projects, credentials = election_setup
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    canonical = codes.normalize(credentials[0])
    page.goto(f"{live_server.url}/vote/{election.pk}/#c={canonical}")
    field = page.get_by_label("Credential")
    expect(field).to_have_value(codes.format_credential(credentials[0]))
    expect(page.locator("#from-letter")).to_be_visible()
    assert "#" not in page.url
    assert not any(canonical in url for url in sent)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Check my choices")).to_be_visible()
