"""Tests for the voting services and selectors: lifecycle, roll, credentials, casting, secrecy,
results. Data is set up through the services, as officials and voters would."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models

from citychain import roles
from identity import services as identity
from ledger import canonical
from ledger.models import Entry
from ledger.services import pseudonym
from tests.factories import UserFactory
from voting import credentials as codes
from voting import selectors, services
from voting.models import Ballot, Choice, Contest, Election, Voter

pytestmark = pytest.mark.django_db

ROLL_CSV = "voter_id,name,email\nV-001,Ana García,ana@example.org\nV-002,Ben Okafor,\n"


@pytest.fixture
def official():
    return UserFactory(username="clerk", role=roles.ELECTION_OFFICIAL)


def _names(contest):
    return {c.name: c.pk for c in contest.choices.all()}


@pytest.fixture
def ballot_setup(official):
    """A draft election with one contest of each method."""
    election = services.election_create(
        acting_user=official,
        title="City election 2025",
        rcv_rules={"tiebreak": "useCandidateOrder"},
    )
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    council = services.contest_add(election, title="Council", method="approval", seats=2)
    parks = services.contest_add(election, title="Parks director", method="ranked", seats=3)
    measure = services.contest_add(election, title="Measure A", method="referendum")
    for name in ("Rivera", "Chen", "Okafor"):
        services.choice_add(mayor, name=name)
    for name in ("Ito", "Lopez", "Nguyen", "Smith"):
        services.choice_add(council, name=name)
    for name in ("Ada", "Bo", "Cy", "Di"):
        services.choice_add(parks, name=name)
    return election, mayor, council, parks, measure


@pytest.fixture
def open_election(ballot_setup):
    election = ballot_setup[0]
    services.roll_import_csv(
        election, "voter_id,name\n" + "".join(f"V{i},Voter {i}\n" for i in range(12))
    )
    services.election_open(election)
    return ballot_setup


def _credentials(election, **kwargs):
    return [credential for _voter, credential in services.credentials_issue(election, **kwargs)]


def _entries(kind):
    return [json.loads(bytes(e.leaf_data)) for e in Entry.objects.filter(kind=kind).order_by("id")]


# --- lifecycle ------------------------------------------------------------------------


def test_lifecycle_draft_open_closed_certified_on_the_ledger(ballot_setup, official):
    election, mayor, council, parks, _measure = ballot_setup
    services.roll_import_csv(election, ROLL_CSV)
    assert election.status == "draft" and election.created_by == official
    services.election_open(election, acting_user=official)
    election.refresh_from_db()
    assert election.status == "open" and election.opened_at is not None
    definition = services.ballot_definition(election)
    digest = hashlib.sha256(canonical.canonical_json(definition)).hexdigest()
    assert election.definition_sha256 == digest
    m, c, p = _names(mayor), _names(council), _names(parks)
    _cast_many(
        election,
        [{mayor.pk: [m["Chen"]], council.pk: [c["Ito"], c["Smith"]], parks.pk: [p["Bo"]]}],
    )

    services.election_close(election)
    services.election_certify(election)
    election.refresh_from_db()
    assert election.status == "certified"
    assert election.opened_at <= election.closed_at <= election.certified_at

    entries = _entries("voting.election_status")
    assert [e["data"]["status"] for e in entries] == ["open", "closed", "certified"]
    assert all(e["data"]["election"] == election.pk for e in entries)
    assert all(e["data"]["definition_sha256"] == digest for e in entries)
    assert all(e["subject"] == pseudonym("voting.election", str(election.pk)) for e in entries)
    results = selectors.results(election)
    assert entries[-1]["data"]["results_sha256"] == (
        hashlib.sha256(canonical.canonical_json(results)).hexdigest()
    )


def test_the_ballot_cannot_be_edited_once_open(ballot_setup):
    election, mayor, *_ = ballot_setup
    services.election_open(election)
    with pytest.raises(ValidationError, match="cannot be edited once the election is open"):
        services.contest_add(election, title="Sheriff", method="plurality")
    with pytest.raises(ValidationError, match="cannot be edited once the election is open"):
        services.choice_add(mayor, name="Write-in Wanda")
    assert election.contests.count() == 4 and mayor.choices.count() == 3


def test_transitions_out_of_order_are_refused(ballot_setup):
    election = ballot_setup[0]
    with pytest.raises(ValidationError, match="Only an open election can be closed"):
        services.election_close(election)
    with pytest.raises(ValidationError, match="Only a closed election can be certified"):
        services.election_certify(election)
    services.election_open(election)
    with pytest.raises(ValidationError, match="Only a draft election can be opened"):
        services.election_open(election)
    with pytest.raises(ValidationError, match="Only a closed election can be certified"):
        services.election_certify(election)


def test_an_election_opens_only_with_a_complete_ballot(official):
    election = services.election_create(acting_user=official, title="Empty")
    with pytest.raises(ValidationError, match="at least one contest"):
        services.election_open(election)
    contest = services.contest_add(election, title="Council", method="approval", seats=3)
    services.choice_add(contest, name="Ito")
    with pytest.raises(ValidationError, match="mark 3 choices but has only 1 choice"):
        services.election_open(election)
    assert Election.objects.get(pk=election.pk).status == "draft"


def test_bad_ranked_choice_rules_are_refused(official):
    with pytest.raises(ValidationError, match="tiebreak must be one of"):
        services.election_create(acting_user=official, title="X", rcv_rules={"tiebreak": "coin"})
    with pytest.raises(ValidationError, match="unknown ranked-choice rules: quota"):
        services.election_create(acting_user=official, title="X", rcv_rules={"quota": "hare"})


def test_plurality_is_vote_for_one(official):
    election = services.election_create(acting_user=official, title="X")
    with pytest.raises(ValidationError, match="vote for one"):
        services.contest_add(election, title="Mayor", method="plurality", seats=2)


def test_a_method_the_city_does_not_allow_is_refused(official, settings):
    settings.CITYCHAIN_VOTING_METHODS = ["plurality", "referendum"]
    election = services.election_create(acting_user=official, title="X")
    with pytest.raises(ValidationError, match="does not allow Ranked choice"):
        services.contest_add(election, title="Mayor", method="ranked", seats=3)
    with pytest.raises(ValidationError, match="does not allow Vote for up to N"):
        services.contest_add(election, title="Council", method="approval", seats=2)
    assert not election.contests.exists()
    services.contest_add(election, title="Mayor", method="plurality")


def test_opening_rechecks_the_allowed_methods(ballot_setup, settings):
    settings.CITYCHAIN_VOTING_METHODS = ["plurality", "approval", "referendum"]
    with pytest.raises(ValidationError, match="Parks director: this city's election law"):
        services.election_open(ballot_setup[0])


def test_a_referendum_has_yes_and_no(ballot_setup):
    measure = ballot_setup[4]
    assert list(measure.choices.values_list("name", flat=True)) == ["Yes", "No"]
    with pytest.raises(ValidationError, match="Yes and No"):
        services.choice_add(measure, name="Maybe")
    # A referendum made another way (the admin) is checked when the election opens.
    Choice.objects.create(contest=measure, name="Maybe", position=2)
    with pytest.raises(ValidationError, match="Measure A is a referendum"):
        services.election_open(ballot_setup[0])


# --- the roll ---------------------------------------------------------------------------


def test_roll_import_csv(ballot_setup):
    election = ballot_setup[0]
    voters = services.roll_import_csv(election, "\ufeff" + ROLL_CSV)
    assert len(voters) == 2
    ana = Voter.objects.get(election=election, reference_index=services.reference_index("V-001"))
    assert (ana.name, ana.email, ana.reference) == ("Ana García", "ana@example.org", "V-001")
    assert Voter.objects.get(pk=voters[1].pk).email is None
    # Names and emails are encrypted at rest: the column holds no plaintext.
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, email FROM voting_voter WHERE id = %s", [ana.pk])
        raw = b"".join(bytes(value) for value in cursor.fetchone())
    assert b"Ana" not in raw and b"example.org" not in raw
    assert _entries("voting.roll_updated")[-1]["data"] == {
        "election": election.pk,
        "added": 2,
        "voters": 2,
        "voted": 0,
    }


def test_roll_import_is_atomic_and_names_lines(ballot_setup):
    election = ballot_setup[0]
    services.roll_import_csv(election, ROLL_CSV)
    text = (
        "Voter_ID, Name ,email\n"  # header case and spaces do not matter
        "V-003,Cy Ward,cy@example.org\n"  # line 2: fine
        ",No Id,\n"  # line 3
        "V-004,,not-an-email\n"  # line 4: two problems
        "\n"  # line 5: blank, skipped
        "V-003,Cy Again,\n"  # line 6: duplicate of line 2
        "V-001,Ana Again,\n"  # line 7: already on the roll
        "V-005,Eve,e@example.org,extra\n"  # line 8
    )
    with pytest.raises(ValidationError) as caught:
        services.roll_import_csv(election, text)
    assert caught.value.messages == [
        "Line 3: the voter ID is empty.",
        "Line 4: the name is empty.",
        "Line 4: not-an-email is not an email address.",
        "Line 6: voter ID V-003 is already on line 2.",
        "Line 7: voter ID V-001 is already on the roll.",
        "Line 8: it has more columns than the header.",
    ]
    assert Voter.objects.filter(election=election).count() == 2  # nothing from the bad file


def test_roll_import_needs_the_columns(ballot_setup):
    with pytest.raises(ValidationError, match=r"Line 1: .*missing: name"):
        services.roll_import_csv(ballot_setup[0], "voter_id,email\nV1,a@example.org\n")
    with pytest.raises(ValidationError, match="no voters"):
        services.roll_import_csv(ballot_setup[0], "voter_id,name\n")


def test_roll_from_residents_skips_those_already_on_it(ballot_setup):
    caseworker = UserFactory(username="maria", role=roles.CASEWORKER)
    residents = [
        identity.resident_enroll(
            acting_user=caseworker,
            data=identity.ResidentData(
                legal_first_name=first,
                legal_last_name="Doe",
                dob=date(1980, 1, day),
                dob_data_quality=1,
                preferred_name=preferred,
                email=email,
            ),
        )
        for day, (first, preferred, email) in enumerate(
            [("Jane", "Jay", "jay@example.org"), ("John", "", "")], start=1
        )
    ]
    election = ballot_setup[0]
    added = services.roll_from_residents(election, residents[:1])
    again = services.roll_from_residents(election, residents)
    assert len(added) == 1 and len(again) == 1
    voters = {v.reference: v for v in Voter.objects.filter(election=election)}
    jane = voters[str(residents[0].public_id)]
    assert (jane.name, jane.email) == ("Jay Doe", "jay@example.org")
    assert voters[str(residents[1].public_id)].email is None


def test_the_roll_is_closed_with_the_election(open_election):
    election = open_election[0]
    services.roll_import_csv(election, "voter_id,name\nLATE,Late Registrant\n")  # open: fine
    services.election_close(election)
    with pytest.raises(ValidationError, match="cannot change once voting has closed"):
        services.roll_import_csv(election, "voter_id,name\nLATER,Too Late\n")
    with pytest.raises(ValidationError, match="cannot change once voting has closed"):
        services.credentials_issue(election)


# --- credentials ------------------------------------------------------------------------


def test_credentials_are_issued_and_kept_only_as_hashes(ballot_setup):
    election = ballot_setup[0]
    services.roll_import_csv(election, ROLL_CSV)
    issued = services.credentials_issue(election)
    assert len(issued) == 2
    for voter, credential in issued:
        stored = Voter.objects.get(pk=voter.pk)
        assert stored.credential_hash == codes.credential_hash(credential)
        assert (
            stored.credential_hash
            == hashlib.sha256(codes.normalize(credential).encode()).hexdigest()
        )
        assert stored.credential_issued_at is not None
    assert len({credential for _v, credential in issued}) == 2
    assert _entries("voting.credentials_issued")[-1]["data"] == {
        "election": election.pk,
        "issued": 2,
    }


def test_reissuing_voids_the_old_credential(open_election):
    election = open_election[0]
    old = _credentials(election)
    voter = Voter.objects.get(credential_hash=codes.credential_hash(old[0]))
    (new,) = _credentials(election, voters=[voter])
    with pytest.raises(services.CredentialRefused):
        services.ballot_cast(election_id=election.pk, credential=old[0], selections={})
    services.ballot_cast(election_id=election.pk, credential=new, selections={})
    # Everyone else's credential is untouched by one voter's reissue.
    services.ballot_cast(election_id=election.pk, credential=old[1], selections={})
    assert Ballot.objects.count() == 2


def test_voters_who_voted_get_no_credential(open_election):
    election = open_election[0]
    credentials = _credentials(election)
    services.ballot_cast(election_id=election.pk, credential=credentials[0], selections={})
    reissued = services.credentials_issue(election)
    assert len(reissued) == len(credentials) - 1
    with pytest.raises(ValidationError, match="already voted"):
        services.credentials_issue(election, only_not_voted=False)


def _nothing_stored(election, before_entries):
    assert Ballot.objects.count() == 0
    assert Entry.objects.count() == before_entries
    assert not Voter.objects.filter(election=election, has_voted=True).exists()


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(None, id="unknown"),
        pytest.param("used", id="used"),
        pytest.param("other-election", id="other election"),
    ],
)
def test_refused_credentials_are_refused_alike(open_election, official, credential):
    election, mayor, *_ = open_election
    credentials = _credentials(election)
    if credential is None:
        credential = codes.new_credential()
        expected_ballots = 0
    elif credential == "used":
        credential = credentials[0]
        services.ballot_cast(election_id=election.pk, credential=credential, selections={})
        expected_ballots = 1
    else:
        other = services.election_create(acting_user=official, title="Other")
        contest = services.contest_add(other, title="Q", method="referendum")
        assert contest.choices.count() == 2
        services.roll_import_csv(other, "voter_id,name\nV0,Voter 0\n")
        services.election_open(other)
        (credential,) = _credentials(other)
        expected_ballots = 0
    entries = Entry.objects.count()
    voted = Voter.objects.filter(has_voted=True).count()
    with pytest.raises(services.CredentialRefused) as caught:
        services.ballot_cast(
            election_id=election.pk, credential=credential, selections={str(mayor.pk): []}
        )
    assert type(caught.value) is services.CredentialRefused
    assert "not valid for this election, or it has already been used" in str(caught.value)
    assert Ballot.objects.count() == expected_ballots
    assert Entry.objects.count() == entries
    assert Voter.objects.filter(has_voted=True).count() == voted


def test_a_mistyped_credential_is_caught_by_its_check_symbol(open_election):
    election = open_election[0]
    (credential, *_rest) = _credentials(election)
    typo = codes.normalize(credential)
    typo = typo[:5] + ("A" if typo[5] != "A" else "B") + typo[6:]
    entries = Entry.objects.count()
    with pytest.raises(services.CredentialMistyped, match="typo"):
        services.ballot_cast(election_id=election.pk, credential=typo, selections={})
    _nothing_stored(election, entries)
    # Typed in lower case, without dashes, with O for 0: still the voter's credential.
    loose = codes.normalize(credential).lower().replace("0", "o")
    services.ballot_cast(election_id=election.pk, credential=loose, selections={})


def test_an_invalid_ballot_stores_nothing_and_keeps_the_credential(open_election):
    election, mayor, *_ = open_election
    (credential, *_rest) = _credentials(election)
    entries = Entry.objects.count()
    with pytest.raises(ValidationError):
        services.ballot_cast(
            election_id=election.pk,
            credential=credential,
            selections={str(mayor.pk): list(_names(mayor).values())},
        )
    _nothing_stored(election, entries)
    services.ballot_cast(election_id=election.pk, credential=credential, selections={})


def test_ballots_are_accepted_only_while_open(ballot_setup):
    election = ballot_setup[0]
    services.roll_import_csv(election, ROLL_CSV)
    credentials = _credentials(election)
    with pytest.raises(services.VotingClosed, match="has not started"):
        services.ballot_cast(election_id=election.pk, credential=credentials[0], selections={})
    services.election_open(election)
    services.election_close(election)
    with pytest.raises(services.VotingClosed, match="has closed"):
        services.ballot_cast(election_id=election.pk, credential=credentials[0], selections={})
    assert Ballot.objects.count() == 0
    assert not Voter.objects.filter(has_voted=True).exists()


# --- ballot validation ----------------------------------------------------------------


def _problems(election, selections):
    with pytest.raises(ValidationError) as caught:
        services.ballot_validate(election, selections)
    return caught.value.messages


def test_ballot_validation_names_the_contest(open_election):
    election, mayor, council, parks, _measure = open_election
    m, c, p = _names(mayor), _names(council), _names(parks)
    assert _problems(election, {"999": []}) == ["There is no contest 999 on this ballot."]
    assert _problems(election, {mayor.pk: [m["Rivera"], m["Chen"]]}) == [
        "Mayor: you may mark 1 choice; this ballot marks 2."
    ]
    assert _problems(election, {council.pk: [c["Ito"], c["Lopez"], c["Smith"]]}) == [
        "Council: you may mark up to 2 choices; this ballot marks 3."
    ]
    assert _problems(election, {parks.pk: [p["Ada"], p["Bo"], p["Ada"]]}) == [
        "Parks director: Ada is ranked more than once; rank each choice once."
    ]
    assert _problems(election, {parks.pk: list(p.values())}) == [
        "Parks director: you may rank up to 3 choices; this ballot ranks 4."
    ]
    assert _problems(election, {mayor.pk: [c["Ito"]]}) == [
        f"Mayor: {c['Ito']} is not a choice in this contest."
    ]
    assert _problems(election, {mayor.pk: "Rivera"}) == ["Mayor: the choices must be a list."]
    assert _problems(election, [1, 2]) == [
        "The selections must map each contest to the list of chosen choices."
    ]
    assert _problems(election, {mayor.pk: [], str(mayor.pk): []}) == ["Mayor is given twice."]


def test_a_valid_ballot_is_cleaned_and_blank_contests_are_undervotes(open_election):
    election, mayor, council, parks, measure = open_election
    p = _names(parks)
    cleaned = services.ballot_validate(
        election, {str(parks.pk): [str(p["Cy"]), p["Ada"]], mayor.pk: []}
    )
    assert cleaned == {
        str(mayor.pk): [],
        str(council.pk): [],
        str(parks.pk): [p["Cy"], p["Ada"]],  # order kept: it is the voter's preference
        str(measure.pk): [],
    }


# --- casting and secrecy ------------------------------------------------------------


def test_a_cast_ballot_is_on_the_ledger_with_nothing_about_the_voter(open_election):
    election, mayor, _council, _parks, measure = open_election
    credential = _credentials(election)[0]
    voter = Voter.objects.get(credential_hash=codes.credential_hash(credential))
    selections = {str(mayor.pk): [_names(mayor)["Chen"]], str(measure.pk): [_names(measure)["No"]]}
    ballot = services.ballot_cast(
        election_id=election.pk, credential=credential, selections=selections
    )

    voter.refresh_from_db()
    assert voter.has_voted and voter.credential_hash is None
    assert isinstance(ballot.pk, uuid.UUID)
    assert codes.normalize_tracking_code(ballot.tracking_code) == ballot.tracking_code

    entry = ballot.ledger_entry
    assert entry.kind == "voting.ballot_cast"
    leaf = json.loads(bytes(entry.leaf_data))
    assert leaf["subject"] == pseudonym("voting.election", str(election.pk))
    assert leaf["data"] == {
        "election": election.pk,
        "tracking_code": ballot.tracking_code,
        "selections": ballot.selections,
    }
    assert ballot.selections[str(mayor.pk)] == [_names(mayor)["Chen"]]
    text = bytes(entry.leaf_data).decode()
    for secret in (voter.reference, voter.name, codes.normalize(credential), voter.reference_index):
        assert secret not in text
    assert pseudonym("voting.voter", str(voter.pk)) not in text
    # The same subject for every ballot of the election: the subject does not single anyone out.
    other = services.ballot_cast(
        election_id=election.pk, credential=_credentials(election)[0], selections={}
    )
    assert json.loads(bytes(other.ledger_entry.leaf_data))["subject"] == leaf["subject"]


def test_the_ballot_table_cannot_name_a_voter_or_a_time():
    fields = {f.name: f for f in Ballot._meta.get_fields()}
    assert set(fields) == {"id", "election", "tracking_code", "selections", "ledger_entry"}
    related = {f.related_model for f in fields.values() if f.is_relation}
    assert related == {Election, Entry}
    assert not any(isinstance(f, models.DateField | models.TimeField) for f in fields.values())
    assert isinstance(Ballot._meta.pk, models.UUIDField)
    assert Ballot._meta.pk.default is uuid.uuid4  # random, so ids do not show the order
    assert Ballot._meta.ordering == ["tracking_code"]
    # The roll says that someone voted, never when.
    voter_fields = {f.name for f in Voter._meta.get_fields()}
    assert "has_voted" in voter_fields
    assert not any(
        isinstance(f, models.DateTimeField) and f.name != "credential_issued_at"
        for f in Voter._meta.get_fields()
    )


def test_a_ballot_is_found_by_its_tracking_code(open_election):
    election = open_election[0]
    ballot = services.ballot_cast(
        election_id=election.pk, credential=_credentials(election)[0], selections={}
    )
    typed = codes.format_tracking_code(ballot.tracking_code).lower()
    assert selectors.ballot_by_tracking_code(typed) == ballot
    assert selectors.ballot_by_tracking_code("not a code") is None
    assert selectors.ballot_by_tracking_code(codes.new_tracking_code()) is None


# --- results --------------------------------------------------------------------------


def _cast_many(election, ballots):
    credentials = _credentials(election)
    assert len(credentials) >= len(ballots)
    for credential, selections in zip(credentials, ballots, strict=False):
        services.ballot_cast(election_id=election.pk, credential=credential, selections=selections)


def _contest(results, contest):
    (found,) = [c for c in results["contests"] if c["id"] == contest.pk]
    return found


def test_results_for_each_method(open_election):
    election, mayor, council, parks, measure = open_election
    m, c, p, q = _names(mayor), _names(council), _names(parks), _names(measure)
    ballots = [
        {mayor.pk: [m["Rivera"]], council.pk: [c["Ito"], c["Lopez"]], parks.pk: [p["Ada"], p["Bo"]], measure.pk: [q["Yes"]]},  # noqa: E501
        {mayor.pk: [m["Rivera"]], council.pk: [c["Ito"]], parks.pk: [p["Ada"]], measure.pk: [q["Yes"]]},  # noqa: E501
        {mayor.pk: [m["Chen"]], council.pk: [c["Ito"], c["Nguyen"]], parks.pk: [p["Bo"], p["Cy"]], measure.pk: [q["No"]]},  # noqa: E501
        {mayor.pk: [m["Chen"]], council.pk: [c["Lopez"]], parks.pk: [p["Bo"], p["Ada"]], measure.pk: [q["Yes"]]},  # noqa: E501
        {mayor.pk: [m["Chen"]], council.pk: [c["Lopez"], c["Ito"]], parks.pk: [p["Cy"], p["Ada"]], measure.pk: []},  # noqa: E501
        {mayor.pk: [], council.pk: [], parks.pk: [p["Di"], p["Cy"]], measure.pk: [q["No"]]},
        {},
    ]  # fmt: skip
    _cast_many(election, ballots)
    results = selectors.results(election)

    plurality = _contest(results, mayor)
    assert plurality["tally"] == {str(m["Rivera"]): 2, str(m["Chen"]): 3, str(m["Okafor"]): 0}
    assert plurality["winners"] == [m["Chen"]]
    assert (plurality["rounds"], plurality["tie"], plurality["blank"]) == ([], None, 2)

    approval = _contest(results, council)
    assert approval["tally"] == {
        str(c["Ito"]): 4, str(c["Lopez"]): 3, str(c["Nguyen"]): 1, str(c["Smith"]): 0
    }  # fmt: skip
    assert approval["winners"] == [c["Ito"], c["Lopez"]]

    # Ranked: first choices Ada 2, Bo 2, Cy 1, Di 1, one undervote. useCandidateOrder
    # eliminates the latest of the tied: Di (to Cy), then Cy of a three-way tie at 2 (one
    # ballot to Ada, one exhausted); Ada wins 3 to 2.
    ranked = _contest(results, parks)
    assert ranked["tally"] == {str(p["Ada"]): 2, str(p["Bo"]): 2, str(p["Cy"]): 1, str(p["Di"]): 1}
    first = ranked["rounds"][0]
    assert first["eliminated"] == [p["Di"]]
    assert first["transfers"] == {str(p["Di"]): {str(p["Cy"]): 1}}
    assert first["undervotes"] == 1 and first["threshold"] == 4
    assert ranked["rounds"][1]["tallies"] == {str(p["Ada"]): 2, str(p["Bo"]): 2, str(p["Cy"]): 2}
    assert ranked["winners"] == [p["Ada"]]
    assert ranked["rounds"][-1]["elected"] == [p["Ada"]]

    referendum = _contest(results, measure)
    assert referendum["tally"] == {str(q["Yes"]): 3, str(q["No"]): 2}
    assert referendum["passed"] is True and referendum["winners"] == [q["Yes"]]
    assert referendum["blank"] == 2
    # The result is plain JSON, and canonical, as the API and the certification digest need.
    canonical.canonical_json(results)

    assert selectors.turnout(election) == {
        "voters": 12, "voted": 7, "ballots": 7, "percent": 58.3
    }  # fmt: skip


def test_results_visibility(official, open_election):
    election = open_election[0]
    assert not selectors.results_visible(election)  # official default: after close
    live = services.election_create(acting_user=official, title="Poll", results_live=True)
    services.contest_add(live, title="Q", method="referendum")
    assert not selectors.results_visible(live)  # a draft has no results
    services.election_open(live)
    assert selectors.results_visible(live)
    services.election_close(election)
    election.refresh_from_db()
    assert selectors.results_visible(election)


def test_a_tie_must_be_decided_before_certification(official):
    election = services.election_create(acting_user=official, title="Tied")
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    a = services.choice_add(mayor, name="A")
    b = services.choice_add(mayor, name="B")
    services.roll_import_csv(election, "voter_id,name\n1,One\n2,Two\n")
    services.election_open(election)
    _cast_many(election, [{mayor.pk: [a.pk]}, {mayor.pk: [b.pk]}])
    services.election_close(election)
    result = _contest(selectors.results(election), mayor)
    assert result["winners"] == [] and result["tie"]["candidates"] == [a.pk, b.pk]
    with pytest.raises(ValidationError, match="Mayor ends in a tie"):
        services.election_certify(election)
    with pytest.raises(ValidationError, match="do not fit"):
        services.contest_decide_ties(mayor, decisions=[a.pk, b.pk])
    services.contest_decide_ties(mayor, decisions=[b.pk])
    assert _contest(selectors.results(election), mayor)["winners"] == [b.pk]
    services.election_certify(election)
    assert _entries("voting.ties_decided")[-1]["data"] == {
        "election": election.pk,
        "contest": mayor.pk,
        "decisions": [b.pk],
    }


def test_a_ranked_candidate_order_must_fit_the_choices(official):
    election = services.election_create(
        acting_user=official,
        title="Order",
        rcv_rules={"tiebreak": "useCandidateOrder", "candidate_order": ["999"]},
    )
    parks = services.contest_add(election, title="Parks", method="ranked", seats=2)
    services.choice_add(parks, name="Ada")
    services.choice_add(parks, name="Bo")
    # 999 names no choice of this contest, so it is dropped: the choices' order applies.
    services.election_open(election)
    assert Contest.objects.get(pk=parks.pk).election.status == "open"


# --- credentials and tracking codes (the pure module) ----------------------------------


def test_credential_format():
    credential = codes.new_credential()
    groups = credential.split("-")
    assert [len(g) for g in groups] == [4] * 7
    assert codes.CREDENTIAL_RANDOM_SYMBOLS * 5 >= 128
    assert set(credential) <= set(codes.ALPHABET) | {"-"}
    assert codes.format_credential(credential.lower().replace("-", " ")) == credential
    assert len(codes.credential_hash(credential)) == 64
    assert codes.new_credential() != credential


def test_every_single_typo_and_neighbour_swap_is_caught():
    canonical_form = codes.normalize(codes.new_credential())
    for i, symbol in enumerate(canonical_form):
        for other in codes.ALPHABET:
            if other != symbol:
                typo = canonical_form[:i] + other + canonical_form[i + 1 :]
                with pytest.raises(codes.CodeFormatError) as caught:
                    codes.normalize(typo)
                assert caught.value.reason == "check"
        if i + 1 < len(canonical_form) and canonical_form[i] != canonical_form[i + 1]:
            swapped = canonical_form[:i] + canonical_form[i + 1] + symbol + canonical_form[i + 2 :]
            with pytest.raises(codes.CodeFormatError):
                codes.normalize(swapped)


def test_code_format_errors_say_why():
    with pytest.raises(codes.CodeFormatError) as caught:
        codes.normalize("ABC")
    assert caught.value.reason == "length"
    with pytest.raises(codes.CodeFormatError) as caught:
        codes.normalize("U" * codes.CREDENTIAL_LENGTH)
    assert caught.value.reason == "character"
    code = codes.new_tracking_code()
    assert len(code) == codes.TRACKING_CODE_LENGTH == 11
    assert codes.format_tracking_code(code).replace("-", "") == code


# --- admin ----------------------------------------------------------------------------------


def test_admin_pages_open_and_the_roll_shows_no_personal_data(client, open_election):
    election, mayor, *_ = open_election
    services.ballot_cast(
        election_id=election.pk, credential=_credentials(election)[0], selections={}
    )
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    voter = Voter.objects.filter(election=election).first()
    ballot = Ballot.objects.get()
    for url in (
        "/admin/voting/election/",
        f"/admin/voting/election/{election.pk}/change/",
        "/admin/voting/contest/",
        f"/admin/voting/contest/{mayor.pk}/change/",
        "/admin/voting/voter/",
        f"/admin/voting/voter/{voter.pk}/change/",
        "/admin/voting/ballot/",
        f"/admin/voting/ballot/{ballot.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"Voter 0" not in response.content, url
    # Once open, the ballot is read-only in the admin too.
    response = client.get(f"/admin/voting/contest/{mayor.pk}/change/")
    assert b'name="title"' not in response.content


@pytest.mark.django_db(transaction=True)
def test_a_tracking_code_collision_draws_again_without_losing_or_doubling_anything(
    open_election, monkeypatch
):
    """50 random bits do collide in theory; the cast then rolls back whole and retries."""
    _collide_once_then_cast(open_election, monkeypatch)


def test_a_tracking_code_collision_inside_a_callers_transaction_is_retried_too(
    open_election, monkeypatch
):
    """Within a transaction (as here) PostgreSQL's one-statement cast uses a savepoint."""
    _collide_once_then_cast(open_election, monkeypatch)


def _collide_once_then_cast(open_election, monkeypatch):
    from voting import credentials as codes

    election, mayor, *_ = open_election
    first_credential, second_credential = _credentials(election)[:2]
    rivera, chen = _names(mayor)["Rivera"], _names(mayor)["Chen"]
    first = services.ballot_cast(
        election_id=election.pk,
        credential=first_credential,
        selections={str(mayor.pk): [rivera]},
    )
    fresh = codes.new_tracking_code()
    drawn = iter([first.tracking_code, fresh])
    monkeypatch.setattr(codes, "new_tracking_code", lambda: next(drawn))

    second = services.ballot_cast(
        election_id=election.pk,
        credential=second_credential,
        selections={str(mayor.pk): [chen]},
    )

    assert second.tracking_code == fresh
    assert election.ballots.count() == 2
    cast = _entries("voting.ballot_cast")
    assert [e["data"]["tracking_code"] for e in cast] == [first.tracking_code, fresh]
    election.refresh_from_db()
    assert {e["subject"] for e in cast} == {election.ledger_subject}
    assert election.ledger_subject == services.election_subject(election.pk)
    assert election.voters.filter(has_voted=True).count() == 2
