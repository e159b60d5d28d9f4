"""One credential, one ballot, under real concurrency on PostgreSQL.

Threads with their own database connections cast at the same instant (a barrier releases
them together), with real commits: the guarantee under test is the database's, not a lock
in this process.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import run_together
from ledger.models import Entry
from tests.factories import UserFactory
from voting import services
from voting.models import Ballot, Voter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

THREADS = 20


@pytest.fixture
def election(postgres):
    official = UserFactory(username="clerk")
    election = services.election_create(acting_user=official, title="Concurrent")
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    services.choice_add(mayor, name="Rivera")
    services.choice_add(mayor, name="Chen")
    rows = "".join(f"V{i},Voter {i}\n" for i in range(THREADS))
    services.roll_import_csv(election, "voter_id,name\n" + rows)
    services.election_open(election)
    return election


def _cast_together(election, credentials, selections):
    """Cast credentials[i] in thread i, all released at once; returns each outcome."""
    return run_together(
        len(credentials),
        lambda i: services.ballot_cast(
            election_id=election.pk, credential=credentials[i], selections=selections
        ),
    )


def test_one_credential_cast_at_once_gives_exactly_one_ballot(election):
    (_voter, credential), *_ = services.credentials_issue(election)
    mayor = election.contests.get()
    selections = {str(mayor.pk): [mayor.choices.first().pk]}

    outcomes = _cast_together(election, [credential] * THREADS, selections)

    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"Ballot": 1, "CredentialRefused": THREADS - 1}, outcomes
    assert Ballot.objects.filter(election=election).count() == 1
    assert Entry.objects.filter(kind="voting.ballot_cast").count() == 1
    assert Voter.objects.filter(election=election, has_voted=True).count() == 1


def test_many_voters_cast_at_once_and_all_count(election):
    credentials = [credential for _voter, credential in services.credentials_issue(election)]
    mayor = election.contests.get()
    selections = {str(mayor.pk): [mayor.choices.first().pk]}

    outcomes = _cast_together(election, credentials, selections)

    assert all(type(outcome).__name__ == "Ballot" for outcome in outcomes), outcomes
    assert Ballot.objects.filter(election=election).count() == THREADS
    assert len({outcome.tracking_code for outcome in outcomes}) == THREADS
    assert not Voter.objects.filter(election=election, has_voted=False).exists()


def test_closing_waits_for_casts_in_flight(election):
    """No ballot commits after the close: a cast either lands first or sees the close."""
    credentials = [credential for _voter, credential in services.credentials_issue(election)]
    mayor = election.contests.get()
    selections = {str(mayor.pk): [mayor.choices.first().pk]}

    def cast_or_close(index: int):
        if index == len(credentials):
            return services.election_close(election)
        return services.ballot_cast(
            election_id=election.pk, credential=credentials[index], selections=selections
        )

    outcomes = run_together(len(credentials) + 1, cast_or_close)[:-1]

    cast_ok = [o for o in outcomes if type(o).__name__ == "Ballot"]
    refused = [o for o in outcomes if isinstance(o, services.VotingClosed)]
    assert len(cast_ok) + len(refused) == len(credentials), outcomes
    election.refresh_from_db()
    assert election.status == "closed"
    # Every ballot that exists was recorded before the close was.
    (status_entry,) = [
        entry
        for entry in Entry.objects.filter(kind="voting.election_status")
        if json.loads(bytes(entry.leaf_data))["data"]["status"] == "closed"
    ]
    ballot_entries = Entry.objects.filter(kind="voting.ballot_cast")
    assert ballot_entries.count() == len(cast_ok) == Ballot.objects.count()
    assert all(entry.id < status_entry.id for entry in ballot_entries)
    assert Voter.objects.filter(has_voted=True).count() == len(cast_ok)


# --- the one-statement cast -------------------------------------------------------------


def test_a_cast_is_one_statement_once_the_process_has_seen_the_election_open(election):
    """Casting's round trips are its cost at scale (bench/voting.py): the voter's mark, the
    ballot and its ledger entry go to PostgreSQL in one statement, atomic by itself."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = [c for _v, c in services.credentials_issue(election)][:2]
    mayor = election.contests.get()
    selections = {str(mayor.pk): [mayor.choices.first().pk]}
    services.ballot_cast(election_id=election.pk, credential=first, selections=selections)

    with CaptureQueriesContext(connection) as queries:
        ballot = services.ballot_cast(
            election_id=election.pk, credential=second, selections=selections
        )

    assert len(queries) == 1, [q["sql"] for q in queries]
    stored = Ballot.objects.select_related("ledger_entry").get(pk=ballot.pk)
    assert stored.tracking_code == ballot.tracking_code
    assert stored.selections == {str(mayor.pk): [mayor.choices.first().pk]}
    assert stored.ledger_entry_id == ballot.ledger_entry_id
    leaf = json.loads(bytes(stored.ledger_entry.leaf_data))
    assert leaf["data"] == {
        "election": election.pk,
        "tracking_code": ballot.tracking_code,
        "selections": stored.selections,
    }
    assert Voter.objects.filter(election=election, has_voted=True).count() == 2


def test_an_election_closed_after_this_process_saw_it_open_refuses_and_stores_nothing(
    election,
):
    first, second, third = [c for _v, c in services.credentials_issue(election)][:3]
    mayor = election.contests.get()
    selections = {str(mayor.pk): [mayor.choices.first().pk]}
    services.ballot_cast(election_id=election.pk, credential=first, selections=selections)
    services.election_close(election)

    with pytest.raises(services.VotingClosed):
        services.ballot_cast(election_id=election.pk, credential=second, selections=selections)

    assert Ballot.objects.filter(election=election).count() == 1
    assert Entry.objects.filter(kind="voting.ballot_cast").count() == 1
    assert Voter.objects.filter(election=election, has_voted=True).count() == 1
    # A used credential and a bad ballot are refused as before, whatever this process saw.
    with pytest.raises(services.VotingClosed):
        services.ballot_cast(election_id=election.pk, credential=first, selections=selections)
    with pytest.raises(services.VotingClosed):
        services.ballot_cast(election_id=election.pk, credential=third, selections={"0": [1]})
