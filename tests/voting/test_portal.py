"""The voter portal: credential → ballot → review → cast → receipt, tracking and results.

Data is set up through voting.services, as officials would; the voter's side goes through
the pages only.
"""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from citychain import throttle
from ledger.models import Entry
from ledger.services import seal_all
from voting import credentials as codes
from voting import services, views
from voting.forms import CREDENTIAL_MISTYPED, CREDENTIAL_REFUSED
from voting.models import Ballot, Voter

pytestmark = pytest.mark.django_db

ENTER = reverse("voting:enter")
TRACK = reverse("voting:track")


@pytest.fixture(autouse=True)
def private_cache(settings):
    """The credential throttle counts in the cache: each test gets an empty one."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"vote-portal-{time.monotonic_ns()}",
        }
    }


def _ids(contest):
    return {c.name: c.pk for c in contest.choices.all()}


@pytest.fixture
def election_setup():
    """An open election with a contest of each method, and five voters with credentials."""
    election = services.election_create(
        acting_user=None, title="City election 2025", rcv_rules={"tiebreak": "useCandidateOrder"}
    )
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    council = services.contest_add(election, title="Council", method="approval", seats=2)
    parks = services.contest_add(election, title="Parks director", method="ranked", seats=3)
    measure = services.contest_add(election, title="Measure A", method="referendum")
    for name in ("Rivera", "Chen", "Okafor"):
        services.choice_add(mayor, name=name)
    for name in ("Ito", "Lopez", "Nguyen"):
        services.choice_add(council, name=name)
    for name in ("Ada", "Bo", "Cy", "Di"):
        services.choice_add(parks, name=name)
    services.roll_import_csv(
        election, "voter_id,name\n" + "".join(f"V{i},Voter {i}\n" for i in range(5))
    )
    services.election_open(election)
    credentials = [c for _voter, c in services.credentials_issue(election)]
    return election, mayor, council, parks, measure, credentials


@pytest.fixture
def election(election_setup):
    return election_setup[0]


@pytest.fixture
def credential(election_setup):
    return election_setup[-1][0]


def _url(name, election, **kwargs):
    return reverse(f"voting:{name}", kwargs={"election_id": election.pk, **kwargs})


def _stored():
    """Everything a cast writes, to show a refusal wrote nothing."""
    return (
        Ballot.objects.count(),
        Entry.objects.filter(kind="voting.ballot_cast").count(),
        Voter.objects.filter(has_voted=True).count(),
        Voter.objects.filter(credential_hash__isnull=True).count(),
    )


def _ballot_post(election_setup, **overrides):
    _election, mayor, council, parks, measure, _creds = election_setup
    m, c, p, r = _ids(mayor), _ids(council), _ids(parks), _ids(measure)
    data = {
        f"contest_{mayor.pk}": str(m["Chen"]),
        f"contest_{council.pk}": [str(c["Ito"]), str(c["Nguyen"])],
        f"contest_{parks.pk}_rank_1": str(p["Bo"]),
        f"contest_{parks.pk}_rank_2": str(p["Ada"]),
        f"contest_{parks.pk}_rank_3": "",
        f"contest_{measure.pk}": str(r["Yes"]),
    }
    data.update(overrides)
    return data


def _enter(client, election, credential):
    response = client.post(_url("credential", election), {"credential": credential})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == _url("ballot", election)
    return response


@pytest.fixture
def marked(client, election_setup, credential):
    """A voter who entered their credential and marked the ballot (now on the review page)."""
    election = election_setup[0]
    _enter(client, election, credential)
    response = client.post(_url("ballot", election), _ballot_post(election_setup))
    assert response.status_code == 302 and response.url == _url("review", election)
    return election


def _text(response) -> str:
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- the elections ----------------------------------------------------------------------


def test_enter_lists_open_elections_with_a_vote_link(client, election):
    draft = services.election_create(acting_user=None, title="Draft poll")
    response = client.get(ENTER)
    assert response.status_code == 200
    html = response.content.decode()
    assert "City election 2025" in html
    assert f'href="{_url("credential", election)}"' in html
    assert "Draft poll" not in html and f"/vote/{draft.pk}/" not in html
    assert f'href="{ENTER}"' in html and f'href="{TRACK}"' in html  # in the navigation


def test_past_elections_link_to_their_results(client, election):
    services.election_close(election)
    html = client.get(ENTER).content.decode()
    assert "No election is open for voting now." in html
    assert f'href="{_url("results", election)}"' in html


# --- the credential ---------------------------------------------------------------------


def test_qr_credential_is_moved_from_the_url_into_the_session(client, election, credential):
    canonical = codes.normalize(credential)
    response = client.get(_url("credential", election), {"c": canonical})
    assert response.status_code == 302
    assert response.url == _url("credential", election)  # the credential left the URL
    assert "c=" not in response.url and canonical not in response.url
    assert response.headers["Cache-Control"].startswith("max-age=0")
    assert client.session[views.PREFILL_KEY]["credential"] == canonical

    page = client.get(response.url)
    assert page.status_code == 200
    assert f'value="{credential}"' in page.content.decode()  # prefilled, grouped as printed
    assert "filled in from the QR code" in page.content.decode()
    _enter(client, election, page.context["form"].initial["credential"])
    assert views.PREFILL_KEY not in client.session


def test_a_letter_scanned_before_voting_opens_leaves_no_credential_in_the_url(client):
    election = services.election_create(acting_user=None, title="Next month")
    services.roll_import_csv(election, "voter_id,name\nV1,Ana\n")
    credential = services.credentials_issue(election)[0][1]
    response = client.get(_url("credential", election), {"c": codes.normalize(credential)})
    assert response.status_code == 302 and response.url == _url("credential", election)
    page = client.get(response.url)
    assert page.status_code == 403
    assert "Voting in this election has not started yet." in page.content.decode()
    assert codes.normalize(credential) not in page.content.decode()


def test_credential_page_is_labelled_and_not_cached(client, election):
    response = client.get(_url("credential", election))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_credential">Your voting credential' in html
    assert 'aria-describedby="id_credential_helptext"' in html
    assert 'autocomplete="off"' in html
    assert "no-store" in response.headers["Cache-Control"]


def test_a_typed_credential_opens_the_ballot_in_a_new_session(client, election, credential):
    client.get(ENTER)
    session = client.session
    session["before"] = 1
    session.save()
    before = session.session_key
    typed = credential.lower().replace("-", " ")  # as a person might type it
    _enter(client, election, typed)
    assert client.session.session_key != before
    state = client.session[views.SESSION_KEY]
    assert state == {
        "election": election.pk,
        "credential": codes.normalize(credential),
        "selections": None,
    }


def test_a_mistyped_credential_is_said_to_be_mistyped(client, election, credential):
    before = _stored()
    typo = ("0" if credential[0] != "0" else "1") + credential[1:]
    response = client.post(_url("credential", election), {"credential": typo})
    assert response.status_code == 400
    html = response.content.decode()
    assert str(CREDENTIAL_MISTYPED) in html
    # The error summary links to the field, which names its error.
    assert '<a href="#id_credential">' in html
    assert 'aria-invalid="true"' in html and "id_credential_error" in html
    assert views.SESSION_KEY not in client.session
    assert _stored() == before


@pytest.mark.parametrize("case", ["unknown", "used", "voided", "other election"])
def test_unknown_used_and_voided_credentials_get_one_message(client, election_setup, case):
    election, *_contests, credentials = election_setup
    if case == "unknown":
        credential = codes.new_credential()
    elif case == "used":
        credential = credentials[1]
        services.ballot_cast(election_id=election.pk, credential=credential, selections={})
    elif case == "voided":
        credential = credentials[1]
        voter = Voter.objects.get(credential_hash=codes.credential_hash(credential))
        services.credentials_issue(election, voters=[voter])
    else:
        other = services.election_create(acting_user=None, title="Other")
        contest = services.contest_add(other, title="Q", method="referendum")
        assert contest.choices.count() == 2
        services.roll_import_csv(other, "voter_id,name\nX1,Someone\n")
        services.election_open(other)
        credential = services.credentials_issue(other)[0][1]
    before = _stored()
    response = client.post(_url("credential", election), {"credential": credential})
    assert response.status_code == 400
    assert str(CREDENTIAL_REFUSED) in response.content.decode()
    assert views.SESSION_KEY not in client.session
    assert _stored() == before


@pytest.mark.parametrize(
    ("close", "message"),
    [(False, "Voting in this election has not started yet."), (True, "has closed.")],
)
def test_an_election_not_open_says_so(client, close, message):
    election = services.election_create(acting_user=None, title="Not now")
    if close:
        contest = services.contest_add(election, title="Q", method="referendum")
        assert contest.pk
        services.election_open(election)
        services.election_close(election)
    for name in ("credential", "ballot", "review"):
        response = client.get(_url(name, election))
        assert response.status_code == 403
        assert message in response.content.decode()
    response = client.post(_url("credential", election), {"credential": codes.new_credential()})
    assert response.status_code == 403


def test_credential_entry_is_throttled_per_address(client, election, credential):
    for _ in range(views.THROTTLE_ATTEMPTS):
        response = client.post(_url("credential", election), {"credential": "nope"})
        assert response.status_code == 400
    response = client.post(_url("credential", election), {"credential": credential})
    assert response.status_code == 429
    assert "Too many credentials were tried from this connection" in response.content.decode()
    assert views.SESSION_KEY not in client.session
    # Another address is not held back.
    other = client.post(
        _url("credential", election), {"credential": credential}, REMOTE_ADDR="203.0.113.9"
    )
    assert other.status_code == 302


def test_good_credentials_do_not_use_up_the_throttle(client, election_setup):
    election, *_c, credentials = election_setup
    for _ in range(views.THROTTLE_ATTEMPTS + 1):
        _enter(client, election, credentials[0])


def test_the_throttle_window_slides(client, election, credential, monkeypatch):
    now = time.time()
    monkeypatch.setattr(throttle.time, "time", lambda: now)
    for _ in range(views.THROTTLE_ATTEMPTS):
        client.post(_url("credential", election), {"credential": "nope"})
    assert client.post(_url("credential", election), {"credential": credential}).status_code == 429
    monkeypatch.setattr(throttle.time, "time", lambda: now + views.THROTTLE_WINDOW + 1)
    _enter(client, election, credential)


# --- the ballot -------------------------------------------------------------------------


def test_the_ballot_needs_a_credential_first(client, election):
    for name in ("ballot", "review"):
        response = client.get(_url(name, election))
        assert response.status_code == 302 and response.url == _url("credential", election)


def test_the_ballot_has_a_fieldset_per_contest_in_the_right_controls(
    client, election_setup, credential
):
    election, mayor, council, parks, measure, _creds = election_setup
    _enter(client, election, credential)
    response = client.get(_url("ballot", election))
    assert response.status_code == 200
    html = response.content.decode()
    for contest in (mayor, council, parks, measure):
        assert f'<fieldset id="contest-{contest.pk}"' in html
        assert f"<legend>{contest.title}</legend>" in html
    assert html.count(f'type="radio" name="contest_{mayor.pk}"') == 3
    assert html.count(f'type="checkbox" name="contest_{council.pk}"') == 3
    assert "Choose up to 2." in html
    for rank, label in enumerate(("1st choice", "2nd choice", "3rd choice"), start=1):
        assert f'<label for="id_contest_{parks.pk}_rank_{rank}">{label}</label>' in html
        assert f'<select name="contest_{parks.pk}_rank_{rank}"' in html
    assert f'<select name="contest_{parks.pk}_rank_4"' not in html  # seats = 3 ranks
    assert html.count(f'type="radio" name="contest_{measure.pk}"') == 2
    assert ">Yes</label>" in html and ">No</label>" in html
    assert "<script>" not in html  # no inline scripts


def test_marking_the_ballot_keeps_the_selections_for_review(client, election_setup, marked):
    _election, mayor, council, parks, measure, _creds = election_setup
    m, c, p, r = _ids(mayor), _ids(council), _ids(parks), _ids(measure)
    assert client.session[views.SESSION_KEY]["selections"] == {
        str(mayor.pk): [m["Chen"]],
        str(council.pk): [c["Ito"], c["Nguyen"]],
        str(parks.pk): [p["Bo"], p["Ada"]],
        str(measure.pk): [r["Yes"]],
    }
    # "Change" shows the ballot again as it was marked.
    html = client.get(_url("ballot", marked)).content.decode()
    assert re.search(rf'value="{m["Chen"]}"[^>]*checked', html)
    assert re.search(rf'<option value="{p["Bo"]}" selected>', html)


def _ballot_errors(response, contest):
    html = response.content.decode()
    found = re.search(rf'<ul class="errorlist" id="contest-{contest.pk}-errors">(.*?)</ul>', html)
    assert found, "no errors beside the contest"
    return _text(type("R", (), {"content": found.group(1).encode()})())


def test_an_overvote_is_refused_beside_its_contest(client, election_setup, credential):
    election, _mayor, council, *_rest = election_setup
    _enter(client, election, credential)
    before = _stored()
    data = _ballot_post(election_setup, **{f"contest_{council.pk}": list(_ids(council).values())})
    response = client.post(_url("ballot", election), data)
    assert response.status_code == 400
    expected = "Council: you may mark up to 2 choices; this ballot marks 3."
    assert _ballot_errors(response, council) == expected
    html = response.content.decode()
    assert f'<a href="#id_contest_{council.pk}_0">{expected}</a>' in html  # the summary
    assert f'aria-describedby="contest-{council.pk}-errors"' in html
    assert client.session[views.SESSION_KEY]["selections"] is None
    assert _stored() == before


def test_a_duplicate_rank_is_refused_beside_its_contest(client, election_setup, credential):
    election, _mayor, _council, parks, *_rest = election_setup
    _enter(client, election, credential)
    bo = str(_ids(parks)["Bo"])
    data = _ballot_post(
        election_setup,
        **{f"contest_{parks.pk}_rank_1": bo, f"contest_{parks.pk}_rank_2": bo},
    )
    response = client.post(_url("ballot", election), data)
    assert response.status_code == 400
    assert _ballot_errors(response, parks) == (
        "Parks director: Bo is ranked more than once; rank each choice once."
    )
    assert f'<a href="#id_contest_{parks.pk}_rank_1">' in response.content.decode()


def test_a_gap_in_the_ranks_is_refused(client, election_setup, credential):
    election, _mayor, _council, parks, *_rest = election_setup
    _enter(client, election, credential)
    data = _ballot_post(
        election_setup,
        **{f"contest_{parks.pk}_rank_1": "", f"contest_{parks.pk}_rank_2": str(_ids(parks)["Bo"])},
    )
    response = client.post(_url("ballot", election), data)
    assert response.status_code == 400
    assert "rank your choices in order, with no gaps" in _ballot_errors(response, parks)


def test_a_choice_of_another_contest_is_refused(client, election_setup, credential):
    election, mayor, council, *_rest = election_setup
    _enter(client, election, credential)
    data = _ballot_post(election_setup, **{f"contest_{mayor.pk}": str(_ids(council)["Ito"])})
    response = client.post(_url("ballot", election), data)
    assert response.status_code == 400
    assert "Select a valid choice" in _ballot_errors(response, mayor)


def test_a_blank_ballot_may_be_cast(client, election, credential):
    _enter(client, election, credential)
    response = client.post(_url("ballot", election), {})
    assert response.status_code == 302
    html = client.get(_url("review", election)).content.decode()
    assert html.count("No choice: left blank.") == 4


# --- review, cast, receipt --------------------------------------------------------------


def test_review_shows_the_choices_in_words(client, election_setup, marked):
    _election, _mayor, _council, parks, *_rest = election_setup
    response = client.get(_url("review", marked))
    assert response.status_code == 200
    text = _text(response)
    assert "Mayor Chen" in text
    assert "Council Ito Nguyen" in text
    assert "Parks director 1st choice: Bo 2nd choice: Ada" in text
    assert "Measure A Yes" in text
    html = response.content.decode()
    assert f'href="{_url("ballot", marked)}#contest-{parks.pk}"' in html
    assert 'Change<span class="visually-hidden"> — Parks director</span>' in html
    assert "Cast my ballot" in html
    assert Ballot.objects.count() == 0  # nothing is cast by looking


def test_casting_stores_the_ballot_and_forgets_the_credential(client, election_setup, marked):
    _election, mayor, _council, parks, *_rest = election_setup
    response = client.post(_url("review", marked))
    assert response.status_code == 302 and response.url == _url("receipt", marked)
    ballot = Ballot.objects.get()
    assert ballot.selections[str(mayor.pk)] == [_ids(mayor)["Chen"]]
    assert ballot.selections[str(parks.pk)] == [_ids(parks)["Bo"], _ids(parks)["Ada"]]
    assert views.SESSION_KEY not in client.session
    assert all("credential" not in str(value) for value in client.session.values())
    assert Voter.objects.filter(has_voted=True).count() == 1

    receipt = client.get(response.url)
    assert receipt.status_code == 200
    code = codes.format_tracking_code(ballot.tracking_code)
    html = receipt.content.decode()
    assert "Your ballot is cast" in html
    assert "".join(_text(receipt).split()).count(code) >= 1
    assert f'<span class="code-group">{code[:4]}</span>' in html
    assert f'value="{code}"' in html and f'action="{TRACK}"' in html
    assert "does not prove to anyone else" in html
    assert "no-store" in receipt.headers["Cache-Control"]

    # A second click on "Cast my ballot" casts nothing more.
    again = client.post(_url("review", marked))
    assert again.status_code == 302 and again.url == _url("receipt", marked)
    assert Ballot.objects.count() == 1
    # And the credential is gone: the ballot cannot be reopened from this browser.
    assert client.get(_url("ballot", marked)).url == _url("credential", marked)


def test_the_receipt_does_not_stay_for_the_next_person(client, marked, monkeypatch):
    client.post(_url("review", marked))
    now = time.time()
    monkeypatch.setattr(throttle.time, "time", lambda: now + views.RECEIPT_SECONDS + 1)
    response = client.get(_url("receipt", marked))
    assert response.status_code == 302 and response.url == ENTER


def test_the_receipt_needs_a_cast(client, election):
    response = client.get(_url("receipt", election))
    assert response.status_code == 302 and response.url == ENTER


def test_a_credential_used_meanwhile_is_refused_at_the_cast(client, election_setup, marked):
    credential = election_setup[-1][0]
    services.ballot_cast(election_id=marked.pk, credential=credential, selections={})
    before = _stored()
    response = client.post(_url("review", marked))
    assert response.status_code == 403
    assert str(CREDENTIAL_REFUSED) in response.content.decode()
    assert views.SESSION_KEY not in client.session
    assert _stored() == before


def test_an_election_closed_meanwhile_refuses_the_cast(client, marked):
    services.election_close(marked)
    before = _stored()
    response = client.post(_url("review", marked))
    assert response.status_code == 403
    assert "Voting in this election has closed." in response.content.decode()
    assert _stored() == before


# --- tracking ---------------------------------------------------------------------------


@pytest.fixture
def cast(client, marked):
    client.post(_url("review", marked))
    return Ballot.objects.get()


def test_track_finds_a_ballot_waiting_to_be_sealed(client, cast):
    assert client.get(TRACK).status_code == 200
    typed = cast.tracking_code.lower()  # any case, without dashes
    response = client.post(TRACK, {"code": typed})
    assert response.status_code == 200
    text = _text(response)
    assert f"Ballot {codes.format_tracking_code(cast.tracking_code)}" in text
    assert "City election 2025" in text
    assert "Mayor Chen" in text and "1st choice: Bo 2nd choice: Ada" in text
    assert "waiting to be sealed" in text


def test_track_shows_the_sealed_ledger_entry_and_block(client, cast):
    seal_all()
    cast.ledger_entry.refresh_from_db()
    entry = cast.ledger_entry
    response = client.post(TRACK, {"code": codes.format_tracking_code(cast.tracking_code)})
    html = response.content.decode()
    assert f'href="{reverse("ledger:entry", args=[entry.leaf_index])}"' in html
    assert f'href="{reverse("ledger:block", args=[entry.block_height])}"' in html
    assert f"sealed in block {entry.block_height}" in _text(response)
    assert client.get(reverse("ledger:entry", args=[entry.leaf_index])).status_code == 200


def test_track_says_not_found_and_mistyped(client, cast):
    unknown = codes.new_tracking_code()
    response = client.post(TRACK, {"code": unknown})
    assert response.status_code == 404
    assert "No ballot has this tracking code." in response.content.decode()
    assert '<a href="#id_code">' in response.content.decode()
    code = cast.tracking_code
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = client.post(TRACK, {"code": typo})
    assert response.status_code == 400
    assert "probably mistyped" in response.content.decode()


# --- results ----------------------------------------------------------------------------


def _cast_some(election_setup):
    election, mayor, council, parks, measure, credentials = election_setup
    m, c, p, r = _ids(mayor), _ids(council), _ids(parks), _ids(measure)
    ballots = [
        {mayor.pk: [m["Chen"]], parks.pk: [p["Ada"], p["Bo"]], measure.pk: [r["Yes"]]},
        {mayor.pk: [m["Chen"]], parks.pk: [p["Bo"]], council.pk: [c["Ito"]]},
        {mayor.pk: [m["Rivera"]], parks.pk: [p["Cy"], p["Ada"]], measure.pk: [r["No"]]},
        {mayor.pk: [m["Okafor"]], parks.pk: [p["Di"], p["Bo"]], measure.pk: [r["Yes"]]},
    ]
    for credential, selections in zip(credentials, ballots, strict=False):
        services.ballot_cast(election_id=election.pk, credential=credential, selections=selections)


def test_results_are_hidden_while_open_unless_live(client, election_setup):
    election = election_setup[0]
    _cast_some(election_setup)
    response = client.get(_url("results", election))
    assert response.status_code == 200
    text = _text(response)
    assert "Results are published after the polls close." in text
    assert "Voters on the roll 5" in text and "Have voted 4 (80.0%)" in text
    assert "<svg" not in response.content.decode() and "Chen" not in text


def test_live_results_show_tables_charts_and_the_rounds(client, election_setup):
    election, _mayor, _council, parks, *_rest = election_setup
    election.results_live = True  # set before opening by officials; here directly, for the view
    election.save(update_fields=["results_live"])
    _cast_some(election_setup)
    response = client.get(_url("results", election))
    html, text = response.content.decode(), _text(response)
    assert "These results are live" in text
    assert "Votes in Mayor" in text
    assert re.search(r"Chen <strong[^>]*>\(leading\)</strong>", html)
    assert "Chen: 2 (leading)" in text  # the chart's own text label
    assert "Leading so far: Chen." in text
    assert html.count('<svg class="bar-chart"') == 4
    assert 'role="img"' in html and '<title id="chart-' in html
    assert "First choices in Parks director" in text
    assert "Instant runoff, round by round" in text
    assert re.search(r"Round 2", text) and "Exhausted ballots" in text
    assert "eliminated" in text
    assert "Outcome: passed." in text
    assert parks.pk


def test_results_after_close_and_not_for_drafts(client, election_setup):
    election = election_setup[0]
    _cast_some(election_setup)
    services.election_close(election)
    response = client.get(_url("results", election))
    text = _text(response)
    assert "Voting closed on" in text and "Votes in Mayor" in text
    assert "Winner: Chen." in text and "Chen: 2 (winner)" in text
    draft = services.election_create(acting_user=None, title="Draft")
    assert client.get(_url("results", draft)).status_code == 404
