"""The election officials' pages, the issue_credentials command and the demo elections.

Data is set up through voting.services (and identity.services for residents); pages are
driven through the test client as an official would use them."""

from __future__ import annotations

import csv
import io
import re
import stat

import pytest
import segno
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from citychain import roles
from identity import services as identity
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data
from voting import credentials as codes
from voting import selectors, services
from voting.management.commands.issue_credentials import COLUMNS
from voting.models import Contest, Election, Voter

pytestmark = pytest.mark.django_db

CREDENTIAL = re.compile(r"\b(?:[0-9A-Z]{4}-){6}[0-9A-Z]{4}\b")


@pytest.fixture
def official():
    return UserFactory(username="clerk", role=roles.ELECTION_OFFICIAL)


@pytest.fixture
def official_client(client, official):
    client.force_login(official)
    return client


@pytest.fixture
def election(official):
    return services.election_create(acting_user=official, title="City election 2026")


@pytest.fixture
def ready(election):
    """A draft election with a plurality contest and a roll of three."""
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    for name in ("Rivera", "Chen"):
        services.choice_add(mayor, name=name)
    services.roll_import_csv(
        election, "voter_id,name,email\nV1,Ana García,ana@example.org\nV2,Ben Okafor,\nV3,Cy Li,\n"
    )
    return election, mayor


def url(name, *args):
    return reverse(f"voting-official:{name}", args=args)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _choices(contest) -> dict[str, int]:
    return {c.name: c.pk for c in contest.choices.all()}


def _cast(election, credential, selections):
    return services.ballot_cast(
        election_id=election.pk, credential=credential, selections=selections
    )


# --- who may use the pages ------------------------------------------------------------


def test_only_officials_and_city_admins_may_use_the_pages(client, election):
    pages = [
        url("elections"),
        url("election_new"),
        url("election", election.pk),
        url("roll", election.pk),
        url("credentials", election.pk),
        url("results", election.pk),
        url("open", election.pk),
    ]
    for page in pages:
        assert client.get(page).status_code == 302  # to the sign-in page
    client.force_login(UserFactory(username="maria", role=roles.CASEWORKER))
    for page in pages:
        assert client.get(page).status_code == 403, page
    assert client.post(url("open", election.pk)).status_code == 403
    election.refresh_from_db()
    assert election.status == "draft"
    for role in (roles.ELECTION_OFFICIAL, roles.CITY_ADMIN):
        client.force_login(UserFactory(username=f"user-{role}", role=role))
        for page in pages:
            assert client.get(page).status_code == 200, (role, page)


# --- creating and editing -------------------------------------------------------------


def test_an_official_creates_an_election_with_its_rules(official_client, official):
    response = official_client.post(
        url("election_new"),
        {
            "title": "Parks board 2026",
            "description": "Two seats.",
            "results": "live",
            "overvote": "exhaustImmediately",
            "max_skipped": "1",
            "duplicate": "skip",
            "tiebreak": "useCandidateOrder",
            "minimum_vote_threshold": "0",
        },
    )
    election = Election.objects.get(title="Parks board 2026")
    assert response.status_code == 302
    assert response.url == url("election", election.pk)
    assert election.status == "draft" and election.results_live
    assert election.created_by == official
    assert election.rcv_rules == {"tiebreak": "useCandidateOrder"}


def test_the_defaults_are_the_official_rules_and_results_after_close(official_client):
    response = official_client.get(url("election_new"))
    assert response.status_code == 200
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["title"] = "Defaults"
    data.pop("batch_elimination", None)
    data.pop("continue_until_two", None)
    assert official_client.post(url("election_new"), data).status_code == 302
    election = Election.objects.get(title="Defaults")
    assert election.rcv_rules == {} and not election.results_live


def test_rules_that_cannot_work_are_refused(official_client):
    response = official_client.post(
        url("election_new"),
        {
            "title": "Needs a seed",
            "results": "after_close",
            "overvote": "exhaustImmediately",
            "duplicate": "skip",
            "tiebreak": "random",
            "minimum_vote_threshold": "0",
        },
    )
    assert response.status_code == 400
    assert "needs a seed" in response.content.decode()
    assert not Election.objects.filter(title="Needs a seed").exists()


def test_contests_and_choices_are_added_while_draft(official_client, election):
    response = official_client.post(
        url("contest_add", election.pk), {"title": "Parks", "method": "ranked", "seats": "3"}
    )
    assert response.status_code == 302
    parks = election.contests.get(title="Parks")
    assert (parks.method, parks.seats) == ("ranked", 3)
    for name in ("Ada", "Bo", "Cy"):
        response = official_client.post(
            url("choice_add", election.pk, parks.pk), {f"contest-{parks.pk}-name": name}
        )
        assert response.status_code == 302
    assert list(parks.choices.values_list("name", flat=True)) == ["Ada", "Bo", "Cy"]

    # A plurality contest is vote for one, whatever was typed; a referendum gets Yes and No.
    official_client.post(
        url("contest_add", election.pk), {"title": "Mayor", "method": "plurality", "seats": "4"}
    )
    assert election.contests.get(title="Mayor").seats == 1
    official_client.post(
        url("contest_add", election.pk),
        {"title": "Measure A", "method": "referendum", "seats": "1"},
    )
    measure = election.contests.get(title="Measure A")
    assert list(measure.choices.values_list("name", flat=True)) == ["Yes", "No"]

    # A duplicate choice is refused on the form.
    response = official_client.post(
        url("choice_add", election.pk, parks.pk), {f"contest-{parks.pk}-name": "Ada"}
    )
    assert response.status_code == 400
    assert "already has a choice named Ada" in response.content.decode()
    page = official_client.get(url("election", election.pk)).content.decode()
    assert "Parks" in page and "Measure A" in page and "rank up to 3 choices" in page


def test_only_the_methods_the_state_allows_are_offered(official_client, election, settings):
    settings.CITYCHAIN_VOTING_METHODS = ["plurality", "referendum"]
    form = official_client.get(url("election", election.pk)).context["contest_form"]
    assert [value for value, _label in form.fields["method"].choices] == [
        "plurality",
        "referendum",
    ]
    response = official_client.post(
        url("contest_add", election.pk), {"title": "Parks", "method": "ranked", "seats": "3"}
    )
    assert response.status_code == 400
    assert not election.contests.exists()


def test_the_ballot_cannot_be_edited_once_open(official_client, ready):
    election, mayor = ready
    services.election_open(election)
    response = official_client.post(
        url("contest_add", election.pk), {"title": "Sheriff", "method": "plurality", "seats": "1"}
    )
    assert response.status_code == 400
    assert "The ballot cannot be edited once the election is open." in _messages(response)
    response = official_client.post(
        url("choice_add", election.pk, mayor.pk), {f"contest-{mayor.pk}-name": "Wanda"}
    )
    assert response.status_code == 400
    assert "The ballot cannot be edited once the election is open." in _messages(response)
    assert election.contests.count() == 1 and mayor.choices.count() == 2
    page = official_client.get(url("election", election.pk)).content.decode()
    assert "Add the contest" not in page and "Add the choice" not in page


def test_open_close_certify_with_confirmation(official_client, ready):
    election, mayor = ready
    confirm = official_client.get(url("open", election.pk))
    assert confirm.status_code == 200
    assert "Yes: Open the election" in confirm.content.decode()
    election.refresh_from_db()
    assert election.status == "draft"  # a GET changes nothing

    response = official_client.post(url("open", election.pk), follow=True)
    assert "The election is open. Voters can cast their ballots." in _messages(response)
    election.refresh_from_db()
    assert election.status == "open" and election.definition_sha256
    _voter, credential = services.credentials_issue(election)[0]
    _cast(election, credential, {mayor.pk: [_choices(mayor)["Chen"]]})

    official_client.post(url("close", election.pk))
    election.refresh_from_db()
    assert election.status == "closed"
    response = official_client.post(url("certify", election.pk), follow=True)
    assert "The results are certified." in _messages(response)
    election.refresh_from_db()
    assert election.status == "certified"
    # Out of order: refused with the service's reason.
    response = official_client.post(url("close", election.pk), follow=True)
    assert "Only an open election can be closed." in _messages(response)


def test_an_election_without_contests_does_not_open(official_client, election):
    response = official_client.post(url("open", election.pk), follow=True)
    assert "An election needs at least one contest." in _messages(response)
    election.refresh_from_db()
    assert election.status == "draft"


def test_the_list_shows_each_election_and_its_status(official_client, ready):
    election, _mayor = ready
    services.election_open(election)
    services.election_create(acting_user=None, title="Draft one")
    page = official_client.get(url("elections")).content.decode()
    assert "City election 2026" in page and "Draft one" in page
    assert "Open" in page and "Draft" in page


def test_the_list_takes_the_same_queries_for_many_elections(official_client, ready):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert official_client.get(url("elections")).status_code == 200
        return len(queries)

    few = count()
    for n in range(5):
        services.election_create(acting_user=None, title=f"Election {n}")
    assert count() == few


# --- the roll ---------------------------------------------------------------------------


def _upload(client, election, text, name="roll.csv"):
    upload = io.BytesIO(text.encode())
    upload.name = name
    return client.post(url("roll_upload", election.pk), {"file": upload})


def test_a_roll_with_errors_is_refused_whole_with_line_numbers(official_client, election):
    text = "voter_id,name,email\nV1,Ana García,ana@example.org\nV2,,\nV1,Ben Okafor,not-an-email\n"
    response = _upload(official_client, election, text)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "Line 3: the name is empty." in page
    assert "Line 4: voter ID V1 is already on line 2." in page
    assert "Line 4: not-an-email is not an email address." in page
    assert not Voter.objects.exists()

    response = _upload(official_client, election, "voter_id,name\nV1,Ana García\nV2,Ben Okafor\n")
    assert response.status_code == 302
    assert Voter.objects.filter(election=election).count() == 2
    page = official_client.get(url("roll", election.pk)).content.decode()
    assert "Ana García" in page and "Ben Okafor" in page


def test_a_file_that_is_not_utf8_is_refused(official_client, election):
    response = _upload(official_client, election, "")
    assert response.status_code == 400
    upload = io.BytesIO("voter_id,name\nV1,Ana Garc\u00eda\n".encode("latin-1"))
    upload.name = "roll.csv"
    response = official_client.post(url("roll_upload", election.pk), {"file": upload})
    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()
    assert not Voter.objects.exists()


def test_residents_are_added_from_identity(official_client, election):
    caseworker = UserFactory(username="maria", role=roles.CASEWORKER)
    ana = identity.resident_enroll(acting_user=caseworker, data=resident_data())
    identity.resident_enroll(
        acting_user=caseworker,
        data=resident_data(legal_first_name="Ben", ssn="", ssn_data_quality=99),
    )
    response = official_client.post(
        url("roll_residents", election.pk), {"only_active_card": "on"}, follow=True
    )
    assert "2 residents added to the roll (those already on it were skipped)." in _messages(
        response
    )
    voters = {v.reference: v for v in Voter.objects.filter(election=election)}
    assert voters[str(ana.public_id)].name == ana.display_name
    response = official_client.post(url("roll_residents", election.pk), {}, follow=True)
    assert "0 residents added to the roll (those already on it were skipped)." in _messages(
        response
    )


def test_residents_protected_by_vawa_are_not_added(official_client, election):
    advocate = UserFactory(
        username="rosa",
        organization=OrganizationFactory(name="Safe Haven", kind="victim_services"),
        role=roles.CASEWORKER,
    )
    protected = identity.resident_enroll(acting_user=advocate, data=resident_data())
    assert protected.vawa_protected
    official_client.post(url("roll_residents", election.pk), {"only_active_card": "on"})
    assert not Voter.objects.filter(election=election).exists()


# --- credential letters ---------------------------------------------------------------


def _issue_letters(client, election, scope="new"):
    response = client.post(url("credentials", election.pk), {"scope": scope, "delivery": "letters"})
    assert response.status_code == 200
    return response


def test_letters_show_each_credential_once_with_its_qr_code(official_client, ready):
    election, mayor = ready
    response = _issue_letters(official_client, election)
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    page = response.content.decode()
    credentials = CREDENTIAL.findall(page)
    assert len(credentials) == 3 and len(set(credentials)) == 3
    assert page.count('class="letter"') == 3
    assert page.count('<svg role="img" aria-label="QR code') == 3
    for name in ("Ana García", "Ben Okafor", "Cy Li"):
        assert name in page
    assert "City election 2026" in page
    # One letter a page: the print rules live in the officials' stylesheet.
    assert "css/voting-official.css" in page
    css = (settings.BASE_DIR / "static" / "css" / "voting-official.css").read_text()
    assert "@media print" in css and "break-after: page" in css
    # The QR code is the voter portal's address with the credential.
    link = f"http://testserver/vote/{election.pk}/#c={codes.normalize(credentials[0])}"
    expected = segno.make(link, error="m", micro=False).svg_inline(scale=3, omitsize=True)
    path = re.search(r'd="([^"]+)"', expected).group(1)
    assert f'd="{path}"' in page
    # Only hashes are stored, and a printed credential casts a ballot.
    stored = set(Voter.objects.values_list("credential_hash", flat=True))
    assert stored == {codes.credential_hash(c) for c in credentials}
    assert not any(c in str(stored) for c in credentials)
    services.election_open(election)
    ballot = _cast(election, credentials[0], {mayor.pk: [_choices(mayor)["Rivera"]]})
    assert ballot.tracking_code

    # Everyone holds a credential: "new" issues nothing more.
    response = official_client.post(
        url("credentials", election.pk), {"scope": "new", "delivery": "letters"}, follow=True
    )
    assert "No voter on the roll needs a credential." in _messages(response)
    # Reissuing to everyone who has not voted voids their old letters.
    page = _issue_letters(official_client, election, scope="all").content.decode()
    reissued = CREDENTIAL.findall(page)
    assert len(reissued) == 2
    with pytest.raises(services.CredentialRefused):
        _cast(election, credentials[1], {mayor.pk: []})
    _cast(election, reissued[0], {mayor.pk: []})
    assert selectors.turnout(election)["voted"] == 2


def test_no_credentials_once_voting_has_closed(official_client, ready):
    election, _mayor = ready
    services.election_open(election)
    services.election_close(election)
    page = official_client.get(url("credentials", election.pk)).content.decode()
    assert "Credentials cannot be issued once voting has closed." in page
    response = official_client.post(
        url("credentials", election.pk), {"scope": "all", "delivery": "letters"}
    )
    assert response.status_code == 400
    assert not Voter.objects.filter(credential_hash__isnull=False).exists()


@pytest.mark.django_db(transaction=True)  # sending happens after the commit
def test_credentials_by_email_reach_only_voters_with_an_address(official_client, ready, mailoutbox):
    election, mayor = ready
    response = official_client.post(
        url("credentials", election.pk), {"scope": "new", "delivery": "email"}, follow=True
    )
    shown = _messages(response)
    assert "Emailed a new credential to 1 voter." in shown
    assert any("2 voters have no email address" in m for m in shown)
    (message,) = mailoutbox
    assert message.to == ["ana@example.org"]
    assert "City election 2026" in message.subject
    (credential,) = CREDENTIAL.findall(message.body)
    link = f"http://testserver/vote/{election.pk}/#c={codes.normalize(credential)}"
    assert link in message.body and "Ana García" in message.body
    # The page that issued them never shows a credential; only Ana holds one.
    assert not CREDENTIAL.findall(response.content.decode())
    assert list(
        Voter.objects.filter(credential_hash__isnull=False).values_list("reference", flat=True)
    ) == ["V1"]
    services.election_open(election)
    assert _cast(election, credential, {mayor.pk: [_choices(mayor)["Chen"]]}).tracking_code


@pytest.mark.django_db(transaction=True)  # sending happens after the commit
def test_a_refused_email_voids_the_credential_it_carried(official_client, ready, monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    from ledger.models import Entry

    election, _mayor = ready
    services.roll_import_csv(election, "voter_id,name,email\nV4,Di Park,di@example.org\n")

    def refuse_di(self, messages):
        if messages[0].to == ["di@example.org"]:
            raise OSError("550 mailbox unavailable")
        return original(self, messages)

    original = EmailBackend.send_messages
    monkeypatch.setattr(EmailBackend, "send_messages", refuse_di)
    response = official_client.post(
        url("credentials", election.pk), {"scope": "new", "delivery": "email"}, follow=True
    )
    shown = _messages(response)
    assert "Emailed a new credential to 1 voter." in shown
    assert any("refused 1 message; that credential was voided" in m for m in shown)
    holders = Voter.objects.filter(credential_hash__isnull=False)
    assert list(holders.values_list("reference", flat=True)) == ["V1"]
    voided = Entry.objects.filter(kind="voting.credentials_voided").count()
    assert voided == 1
    # Di is issued a letter afterwards, like the voters without an address.
    page = _issue_letters(official_client, election).content.decode()
    assert len(CREDENTIAL.findall(page)) == 3 and "Di Park" in page


@pytest.mark.django_db(transaction=True)  # sending happens after the commit
def test_issue_credentials_by_email_from_the_command(ready, mailoutbox):
    election, _mayor = ready
    out, _err = _run(election.pk, "--email", "--base-url", "https://vote.example.org")
    assert "Emailed 1 credentials." in out and "2 voters have no email address" in out
    (message,) = mailoutbox
    (credential,) = CREDENTIAL.findall(message.body)
    assert (
        f"https://vote.example.org/vote/{election.pk}/#c={codes.normalize(credential)}"
        in message.body
    )
    with pytest.raises(CommandError):
        _run(election.pk)  # neither --output nor --email


# --- results and ties -----------------------------------------------------------------


def test_results_show_turnout_tallies_and_the_runoff_rounds(official_client, official):
    election = services.election_create(acting_user=official, title="Parks")
    parks = services.contest_add(election, title="Parks director", method="ranked", seats=3)
    for name in ("Ada", "Bo", "Cy"):
        services.choice_add(parks, name=name)
    measure = services.contest_add(election, title="Measure A", method="referendum")
    services.roll_import_csv(
        election, "voter_id,name\n" + "".join(f"V{i},V {i}\n" for i in range(6))
    )
    credentials = [c for _v, c in services.credentials_issue(election)]
    services.election_open(election)
    a, b, c = _choices(parks).values()
    yes, no = _choices(measure).values()
    for credential, ranks, answer in zip(
        credentials,
        [[a], [a], [b, a], [b], [c, b]],
        [yes, yes, no, yes, []],
        strict=False,
    ):
        _cast(election, credential, {parks.pk: ranks, measure.pk: [answer] if answer else []})
    response = official_client.get(url("results", election.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "5 of 6 voters" in page and "83.3" in page
    assert "Instant runoff, round by round" in page
    assert "Round 1" in page and "Round 2" in page
    assert "Only officials see it" in page  # results are not live for the public
    parks_result = response.context["contests"][0]
    assert [row["votes"] for row in parks_result["rows"]] == [2, 2, 1]
    assert parks_result["rounds"]["eliminated"][0] == "Cy"
    assert parks_result["rounds"]["rows"][1]["cells"] == [2, 3]
    assert [r["name"] for r in parks_result["rows"] if r["winner"]] == ["Bo"]
    measure_result = response.context["contests"][1]
    assert [(r["name"], r["votes"]) for r in measure_result["rows"]] == [("Yes", 3), ("No", 1)]
    assert "The measure passes." in page


def test_a_tie_is_decided_by_the_officials_after_close(official_client, official):
    election = services.election_create(acting_user=official, title="Tied")
    contest = services.contest_add(election, title="Chair", method="ranked", seats=2)
    for name in ("Ada", "Bo"):
        services.choice_add(contest, name=name)
    services.roll_import_csv(election, "voter_id,name\nV1,One\nV2,Two\n")
    first, second = (c for _v, c in services.credentials_issue(election))
    services.election_open(election)
    ada, bo = _choices(contest).values()
    _cast(election, first, {contest.pk: [ada]})
    _cast(election, second, {contest.pk: [bo]})
    page = official_client.get(url("results", election.pk)).content.decode()
    assert "The count stops at a tie in round 1" in page
    assert "Ties are decided after voting closes." in page
    services.election_close(election)
    page = official_client.get(url("results", election.pk)).content.decode()
    assert "Record the decision" in page
    response = official_client.post(
        url("ties_decide", election.pk, contest.pk), {f"tie-{contest.pk}-choice": str(bo)}
    )
    assert response.status_code == 302
    contest.refresh_from_db()
    assert contest.tie_decisions == [bo]
    result = selectors.results(election)["contests"][0]
    assert result["winners"] == [bo] and result["tie"] is None
    official_client.post(url("certify", election.pk))
    election.refresh_from_db()
    assert election.status == "certified"


# --- issue_credentials ----------------------------------------------------------------


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_credentials", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_issue_credentials_writes_a_private_csv_for_those_who_have_not_voted(ready, tmp_path):
    election, mayor = ready
    old = {v.reference: c for v, c in services.credentials_issue(election)}
    services.election_open(election)
    _cast(election, old["V1"], {mayor.pk: [_choices(mayor)["Chen"]]})
    output = tmp_path / "letters.csv"
    out, err = _run(election.pk, "--output", output, "--base-url", "https://vote.example.org/")
    assert "Issuing credentials to 2 voters" in out and "Wrote 2 credentials" in out
    assert "live voting credentials" in err
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    with output.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == COLUMNS
    assert [(r["voter_id"], r["name"], r["email"]) for r in rows] == [
        ("V2", "Ben Okafor", ""),
        ("V3", "Cy Li", ""),
    ]
    for row in rows:
        canonical = codes.normalize(row["credential"])
        assert row["url"] == f"https://vote.example.org/vote/{election.pk}/#c={canonical}"
    # The old credentials are void; the new ones cast.
    with pytest.raises(services.CredentialRefused):
        _cast(election, old["V2"], {mayor.pk: []})
    _cast(election, rows[0]["credential"], {mayor.pk: []})
    assert list(tmp_path.iterdir()) == [output]  # no temporary file left behind


def test_issue_credentials_refuses_bad_arguments_and_changes_nothing(ready, tmp_path):
    election, mayor = ready
    services.credentials_issue(election)
    before = set(Voter.objects.values_list("credential_hash", flat=True))
    assert len(before) == 3
    with pytest.raises(CommandError, match="No election with ID 9999"):
        _run(9999, "--output", tmp_path / "x.csv")
    with pytest.raises(CommandError, match="is not a number"):
        _run("abc", "--output", tmp_path / "x.csv")
    with pytest.raises(CommandError, match="Cannot write"):
        _run(election.pk, "--output", tmp_path / "missing" / "x.csv")
    with pytest.raises(CommandError, match="is a folder"):
        _run(election.pk, "--output", tmp_path)
    assert set(Voter.objects.values_list("credential_hash", flat=True)) == before
    services.election_open(election)
    _voter, credential = services.credentials_issue(election, voters=[Voter.objects.first()])[0]
    _cast(election, credential, {mayor.pk: [_choices(mayor)["Chen"]]})
    before = set(Voter.objects.values_list("credential_hash", flat=True))
    services.election_close(election)
    services.election_certify(election)
    with pytest.raises(CommandError, match="is certified"):
        _run(election.pk, "--output", tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []
    assert set(Voter.objects.values_list("credential_hash", flat=True)) == before


def test_issue_credentials_with_nobody_to_issue_to(election, tmp_path):
    with pytest.raises(CommandError, match="Nobody on the roll"):
        _run(election.pk, "--output", tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


# --- demo -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_elections_are_seeded_once(tmp_path):
    from citychain import demo as citychain_demo
    from identity import demo as identity_demo
    from voting import demo

    citychain_demo.seed_people(progress=lambda _m: None)
    identity_demo.seed(progress=lambda _m: None, count=260)
    output = tmp_path / "demo-credentials.csv"
    demo.seed(progress=lambda _m: None, output=output)

    budget = Election.objects.get(title=demo.DEMO_TITLE)
    assert budget.status == "open" and budget.results_live
    methods = list(budget.contests.values_list("method", "seats"))
    assert methods == [("plurality", 1), ("ranked", 3), ("referendum", 1)]
    assert budget.contests.get(method="ranked").choices.count() == 5
    turnout = selectors.turnout(budget)
    assert turnout["voters"] >= 200
    assert turnout["voters"] - turnout["voted"] >= 100
    assert turnout["ballots"] == turnout["voted"] >= 100
    results = selectors.results(budget)["contests"]
    assert len(results[1]["rounds"]) >= 2  # the ranked contest needs a runoff
    past = Election.objects.get(title=demo.PAST_TITLE)
    assert past.status == "certified" and past.ballots.count() > 0
    assert past.contests.get().method == Contest.Method.REFERENDUM

    # The file holds working credentials of the voters who have not voted.
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    with output.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == turnout["voters"] - turnout["voted"]
    waiting = Voter.objects.filter(election=budget, has_voted=False)
    assert {codes.credential_hash(r["credential"]) for r in rows} == set(
        waiting.values_list("credential_hash", flat=True)
    )

    counts = (Election.objects.count(), Voter.objects.count(), budget.ballots.count())
    content = output.read_text()
    demo.seed(progress=lambda _m: None, output=output)
    assert (Election.objects.count(), Voter.objects.count(), budget.ballots.count()) == counts
    assert output.read_text() == content
