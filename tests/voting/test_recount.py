"""tools/recount.py, the observers' standalone recount, run against a live server.

The tool runs as a subprocess, as an observer runs it: it sees only the public HTTP API, so
these tests show that the bulletin board and the ledger alone suffice to recount an election
and to catch a ballot whose published selections differ from its ledger entry. Its counting
is its own; a property test holds it to voting.tally on random ballots.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.services import seal_all
from tests.voting.test_api import BALLOTS, Setup, cast_all, make_election
from tests.voting.test_api import open_with_credentials as open_election
from voting import services, tally
from voting.models import Ballot

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "recount.py"
AUDITLIB = ROOT / "tools" / "auditlib.py"

live = pytest.mark.django_db(transaction=True)


def recount(url: str, election_id: int | str, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, str(TOOL), url, str(election_id), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recount", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class runs
    spec.loader.exec_module(module)
    return module


def closed_and_sealed(**kwargs) -> Setup:
    setup = make_election(**kwargs)
    cast_all(setup, open_election(setup))
    services.election_close(setup.election)
    seal_all()
    return setup


@live
def test_a_sealed_election_recounts_to_the_published_results(live_server):
    setup = closed_and_sealed()

    result = recount(live_server.url, setup.election.pk)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"election {setup.election.pk} 'City election 2025' (closed)" in out
    assert "board: 7 ballots from 1 page(s)" in out
    assert "ledger: 7 entries checked against the board, re-hashed (rfc8785)" in out
    ids = setup.ids
    assert f"contest {setup.mayor} 'Mayor' (plurality): 7 ballots" in out
    assert f"  Rivera [{ids['Rivera']}]: 3" in out
    assert f"  winners: Rivera [{ids['Rivera']}]" in out
    assert f"; eliminated Di [{ids['Di']}]" in out
    assert f"  round 3: Ada [{ids['Ada']}] 3, Bo [{ids['Bo']}] 4;" in out
    assert f"  winners: Bo [{ids['Bo']}]" in out
    assert out.count("matches the server's published result") == 4
    assert out.splitlines()[-1] == (
        f"OK: election {setup.election.pk}: 7 ballots on the board match the ledger, "
        "4 contest(s) recounted match the published results"
    )


@live
def test_a_ballot_changed_after_it_was_recorded_fails_naming_its_tracking_code(live_server):
    setup = closed_and_sealed()
    rivera = [setup.ids["Rivera"]]
    tampered = next(
        b
        for b in Ballot.objects.order_by("tracking_code")
        if b.selections[str(setup.mayor)] == rivera
    )
    selections = {**tampered.selections, str(setup.mayor): [setup.ids["Okafor"]]}
    Ballot.objects.filter(pk=tampered.pk).update(selections=selections)

    result = recount(live_server.url, setup.election.pk)

    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL:")]
    assert fails[0].startswith(f"FAIL: ballot {tampered.tracking_code} (leaf ")
    assert "selections on the board" in fails[0] and "differ from its ledger entry" in fails[0]
    # The server counts its (altered) table; the recount counts what the ledger recorded.
    assert any(f"contest {setup.mayor} 'Mayor': tally" in line for line in fails)


@live
def test_live_results_recount_while_open_and_hidden_ones_are_not_published(live_server):
    shown = make_election(title="Park names poll", results_live=True)
    cast_all(shown, open_election(shown))
    hidden = make_election(title="Council 2025")
    cast_all(hidden, open_election(hidden))
    seal_all()

    assert recount(live_server.url, shown.election.pk).returncode == 0

    result = recount(live_server.url, hidden.election.pk)
    assert result.returncode == 2
    assert "HTTP 403" in result.stderr and "published when voting closes" in result.stderr


@live
def test_unsealed_ballots_and_rules_it_cannot_count_by_are_incomplete_not_ok(live_server):
    setup = make_election()
    cast_all(setup, open_election(setup))
    services.election_close(setup.election)

    pending = recount(live_server.url, setup.election.pk)
    assert pending.returncode == 2, pending.stdout
    assert "INCOMPLETE: 7 ballot(s) not sealed into the ledger yet" in pending.stdout

    batch = closed_and_sealed(title="Batch", rcv_rules={"batch_elimination": True})
    result = recount(live_server.url, batch.election.pk)
    assert result.returncode == 2, result.stdout
    assert f"INCOMPLETE: contest {batch.parks} 'Parks director' not recounted" in result.stdout
    assert "batch_elimination True" in result.stdout


@live
def test_ties_and_candidate_order_recount_like_the_server(live_server):
    # Two ballots (Ada > Bo; Bo): Cy and Di tie for last at 0 in round 1, and Ada and Bo
    # tie at the end. By candidate order Di goes first and Ada, listed first, wins.
    ordered = make_election(title="Ordered", rcv_rules={"tiebreak": "useCandidateOrder"})
    cast_all(ordered, open_election(ordered), BALLOTS[:2])
    services.election_close(ordered.election)
    # By default the count stops at the first tie for officials; decided by lot (Di out,
    # then Bo the winner), it is counted again.
    asked = make_election(title="Asked")
    cast_all(asked, open_election(asked), BALLOTS[:2])
    services.election_close(asked.election)
    seal_all()

    by_order = recount(live_server.url, ordered.election.pk)
    assert by_order.returncode == 0, by_order.stdout
    assert f"  winners: Ada [{ordered.ids['Ada']}]" in by_order.stdout
    stopped = recount(live_server.url, asked.election.pk)
    assert stopped.returncode == 0, stopped.stdout
    assert "tie for loser among" in stopped.stdout

    parks = asked.election.contests.get(pk=asked.parks)
    services.contest_decide_ties(parks, decisions=[asked.ids["Di"], asked.ids["Bo"]])
    decided = recount(live_server.url, asked.election.pk)
    assert decided.returncode == 0, decided.stdout
    assert f"  winners: Bo [{asked.ids['Bo']}]" in decided.stdout


@live
def test_without_rfc8785_entries_are_rehashed_by_the_built_in_canonical_json(live_server, tmp_path):
    setup = closed_and_sealed()
    # A module that refuses to import stands in for an observer without rfc8785.
    shadow = tmp_path / "no_rfc8785"
    shadow.mkdir()
    (shadow / "rfc8785.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow)}

    result = recount(live_server.url, setup.election.pk, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "re-hashed (built-in canonical JSON)" in result.stdout


@live
def test_usage_and_network_errors_exit_2_without_a_traceback(live_server):
    draft = make_election(title="Draft")
    cases = [
        ((live_server.url, "1", "--public-key", "ab"), "must be 32 bytes"),
        (("ftp://example.org", "1"), "must be an http:// or https:// URL"),
        (("http://127.0.0.1:9", "1"), "cannot connect"),
        ((live_server.url, str(draft.election.pk)), "no such election"),
        ((live_server.url, "0"), "must be a positive whole number"),
    ]
    for args, says in cases:
        result = recount(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr


def test_the_tool_imports_only_the_standard_library_and_cryptography():
    # The tool's only other import is tools/auditlib.py beside it, held to the same rule.
    for path, allowed in ((TOOL, {"cryptography", "auditlib"}), (AUDITLIB, {"cryptography"})):
        tree = ast.parse(path.read_text())
        imported = {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert imported - set(sys.stdlib_module_names) <= allowed, path
    assert "rfc8785" in TOOL.read_text()  # optional, imported by name when installed


def test_the_built_in_canonical_json_agrees_with_rfc8785():
    import rfc8785

    tool = load_tool()
    values = [
        {"b": [1, -2, 2**53 - 1], "a": {"é": 'x\u2028"\\\n\x01\x7f', "A": None, "": True}},
        {"\U0001f600": 1, "\ufb33": 2, "z": "\U0001f600 emoji", "kind": "voting.ballot_cast"},
        [],
        "plain",
    ]
    for value in values:
        assert tool.jcs_without_fractions(value) == rfc8785.dumps(value)
    for bad in (1.5, 2**53, {1: "x"}, "\ud800"):
        with pytest.raises(ValueError):
            tool.jcs_without_fractions(bad)


# --- the tool's own counting, held to voting.tally ------------------------------------------

CHOICES = (11, 12, 13, 14, 15)
rankings = st.lists(
    st.permutations(CHOICES).flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    ballots=rankings,
    tiebreak=st.sampled_from(["stopCountingAndAsk", "useCandidateOrder"]),
    max_rankings=st.sampled_from([None, 2, 3]),
)
def test_the_tools_instant_runoff_agrees_with_voting_tally(ballots, tiebreak, max_rankings):
    tool = load_tool()
    contest = tool.Contest(
        id=1,
        title="t",
        method="ranked",
        seats=5,
        choices=CHOICES,
        names={c: str(c) for c in CHOICES},
        tie_decisions=(),
    )
    rules = {"tiebreak": tiebreak, "max_rankings": max_rankings}
    ours = tool.count_ranked(contest, Counter(map(tuple, ballots)), rules)
    theirs = tally.instant_runoff(
        [tuple(str(c) for c in b) for b in ballots],
        [str(c) for c in CHOICES],
        tally.RcvRules(tiebreak=tiebreak, max_rankings=max_rankings),
    )
    assert [str(w) for w in ours.winners] == list(theirs.winners)
    assert len(ours.rounds) == len(theirs.rounds)
    for mine, r in zip(ours.rounds, theirs.rounds, strict=True):
        assert {str(c): v for c, v in mine.tallies.items()} == r.tallies
        assert (mine.threshold, mine.exhausted) == (r.threshold, r.exhausted)
        assert [str(c) for c in mine.eliminated] == list(r.eliminated)
        assert [str(c) for c in mine.elected] == list(r.elected)
    if theirs.tie is None:
        assert ours.tie is None
    else:
        assert ours.tie == (frozenset(int(c) for c in theirs.tie.candidates), theirs.tie.selecting)


@settings(max_examples=200, deadline=None)
@given(
    ballots=st.lists(st.sets(st.sampled_from(CHOICES), max_size=2), max_size=30),
    seats=st.sampled_from([1, 2]),
)
def test_the_tools_plurality_and_approval_agree_with_voting_tally(ballots, seats):
    tool = load_tool()
    contest = tool.Contest(
        id=1,
        title="t",
        method="approval",
        seats=seats,
        choices=CHOICES,
        names={c: str(c) for c in CHOICES},
        tie_decisions=(),
    )
    marks = [tuple(sorted(b)) for b in ballots if len(b) <= seats]
    ours = tool.count_marks(contest, Counter(marks))
    theirs = tally.approval(
        [[str(c) for c in m] for m in marks], [str(c) for c in CHOICES], seats=seats
    )
    assert {str(c): v for c, v in ours.tally.items()} == theirs.tallies
    assert sorted(str(w) for w in ours.winners) == sorted(theirs.winners)
    assert ours.blank == theirs.blank
    if theirs.tie is None:
        assert ours.tie is None
    else:
        assert ours.tie == (frozenset(int(c) for c in theirs.tie.candidates), "winner")
