"""Tests for voting.tally: hand-worked counts, RCTab's published cases, and properties."""

from __future__ import annotations

import ast
import itertools
import json
import random
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from voting import tally
from voting.tally import (
    ALWAYS_SKIP_TO_NEXT_RANK,
    DUPLICATE_EXHAUST,
    EXHAUST_IF_MULTIPLE_CONTINUING,
    EXHAUST_IMMEDIATELY,
    GENERATE_PERMUTATION,
    OVERVOTE,
    PREVIOUS_ROUND_COUNTS_THEN_ASK,
    PREVIOUS_ROUND_COUNTS_THEN_RANDOM,
    RANDOM,
    STOP_COUNTING_AND_ASK,
    USE_CANDIDATE_ORDER,
    WRITE_IN,
    RcvRules,
    TabulationError,
    Tie,
    approval,
    instant_runoff,
    plurality,
    referendum,
    validate_ranking,
)

RCTAB_CASES = sorted((Path(__file__).parent / "rctab").glob("*.json"))
ORDER = RcvRules(tiebreak=USE_CANDIDATE_ORDER, max_skipped=None)


def test_module_is_pure() -> None:
    source = Path(tally.__file__).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported <= {"__future__", "collections", "dataclasses", "fractions", "typing"}


# -- plurality and approval ----------------------------------------------------------------


def test_plurality_counts_overvotes_and_blanks_apart() -> None:
    ballots = [["A"]] * 3 + [["B"]] * 2 + [["A", "B"], [], "C", ""]
    result = plurality(ballots, ["A", "B", "C"])
    assert result.tallies == {"A": 3, "B": 2, "C": 1}
    assert (result.ballots, result.valid, result.blank, result.overvotes) == (9, 6, 2, 1)
    assert result.winners == ("A",)
    assert result.tie is None


def test_plurality_reports_a_tie_and_takes_the_drawn_winner() -> None:
    ballots = ["A", "B", "B", "A", "C"]
    result = plurality(ballots, ["A", "B", "C"])
    assert result.winners == ()
    assert result.tie == Tie(round=1, candidates=("A", "B"), selecting="winner", votes=2)
    assert plurality(ballots, ["A", "B", "C"], tie_decisions=["B"]).winners == ("B",)
    with pytest.raises(ValueError, match="tie decisions"):
        plurality(ballots, ["A", "B", "C"], tie_decisions=["C"])


def test_a_mark_that_is_not_a_choice_is_refused() -> None:
    with pytest.raises(TabulationError, match="not choices"):
        plurality([["A"], ["Z"]], ["A", "B"])


def test_vote_for_up_to_two() -> None:
    ballots = [["A", "B"], ["A", "C"], ["B"], ["A", "B", "C"], ["A", "A"]]
    result = approval(ballots, ["A", "B", "C"], seats=2)
    # Marking A twice is one mark; marking three of three is an overvote.
    assert result.tallies == {"A": 3, "B": 2, "C": 1}
    assert result.overvotes == 1
    assert result.winners == ("A", "B")


def test_approval_without_a_limit_and_a_tie_for_the_last_seat() -> None:
    choices = ["A", "B", "C"]
    everyone = approval([["A", "B", "C"], ["A"]], choices, seats=1, max_marks=3)
    assert (everyone.tallies, everyone.overvotes, everyone.winners) == (
        {"A": 2, "B": 1, "C": 1},
        0,
        ("A",),
    )
    ballots = [["A", "B"], ["A", "C"], ["A", "B"], ["C"]]
    tied = approval(ballots, choices, seats=2)
    assert tied.winners == ("A",)
    assert tied.tie == Tie(round=1, candidates=("B", "C"), selecting="winner", votes=2)
    assert approval(ballots, choices, seats=2, tie_decisions=["C"]).winners == ("A", "C")


# -- referendum ----------------------------------------------------------------------------


def test_referendum_simple_majority() -> None:
    result = referendum(["yes", "yes", "yes", "no", "no", ""])
    assert (result.yes, result.no, result.blank, result.ballots) == (3, 2, 1, 6)
    assert result.passed
    # A tie keeps the status quo.
    assert not referendum(["yes", "no"]).passed
    assert not referendum(["", ""]).passed


def test_referendum_two_thirds_and_quorum() -> None:
    two_thirds = {"threshold": Fraction(2, 3), "inclusive": True}
    assert referendum(["yes"] * 4 + ["no"] * 2, **two_thirds).passed
    assert not referendum(["yes"] * 3 + ["no"] * 2, **two_thirds).passed
    short = referendum(["yes"] * 6, quorum=10)
    assert not short.quorum_met
    assert not short.passed
    with pytest.raises(TabulationError):
        referendum(["yes", "maybe"])


# -- ballot validation ---------------------------------------------------------------------


def test_validate_ranking_messages() -> None:
    choices = ["A", "B", "C"]
    assert validate_ranking(["A", "B"], choices, 3) == []
    assert validate_ranking(["A", "Z"], choices) == [
        "Rank 2: 'Z' is not a choice in this election."
    ]
    assert validate_ranking(["A", "B", "A"], choices) == ["Rank 3: 'A' is already ranked higher."]
    assert validate_ranking(["A", "B", "A"], choices, allow_duplicates=True) == []
    assert validate_ranking(["A", "B", "C"], choices, 2) == [
        "At most 2 rankings are allowed; this ballot has 3."
    ]
    assert validate_ranking(["A", "", ("B", "C")], choices) == [
        "Rank 2 is blank; rank your choices without gaps.",
        "Rank 3 marks more than one choice; mark one.",
    ]


# -- instant runoff, by hand ---------------------------------------------------------------


def test_instant_runoff_worked_example() -> None:
    ballots = [["A", "B"]] * 5 + [["B", "C"]] * 4 + [["C", "B"]] * 3 + [["D", "C"]] * 2
    result = instant_runoff(ballots, ["A", "B", "C", "D"], ORDER)
    assert [r.tallies for r in result.rounds] == [
        {"A": 5, "B": 4, "C": 3, "D": 2},
        {"A": 5, "B": 4, "C": 5},
        {"A": 5, "C": 9},
    ]
    assert [r.eliminated for r in result.rounds] == [("D",), ("B",), ()]
    assert result.rounds[0].transfers == {"D": {"C": 2}}
    assert result.rounds[1].transfers == {"B": {"C": 4}}
    assert [r.threshold for r in result.rounds] == [8, 8, 8]
    assert result.rounds[-1].elected == ("C",)
    assert result.winners == ("C",)
    assert result.winner == "C"


def test_grouped_counts_give_the_same_result() -> None:
    ballots = [["A", "B"]] * 5 + [["B", "C"]] * 4 + [["C", "B"]] * 3
    counts = Counter(tuple(b) for b in ballots)
    assert instant_runoff(counts, ["A", "B", "C"], ORDER) == instant_runoff(
        ballots, ["A", "B", "C"], ORDER
    )


@pytest.mark.parametrize(
    ("rule", "counts_for", "overvotes"),
    [
        (EXHAUST_IMMEDIATELY, None, 1),
        (ALWAYS_SKIP_TO_NEXT_RANK, "C", 0),
        (EXHAUST_IF_MULTIPLE_CONTINUING, None, 1),
    ],
)
def test_overvote_rules(rule: str, counts_for: str | None, overvotes: int) -> None:
    rules = RcvRules(overvote=rule, tiebreak=USE_CANDIDATE_ORDER)
    result = instant_runoff([[("A", "B"), "C"], ["A"], ["A"]], ["A", "B", "C"], rules)
    first = result.rounds[0]
    assert first.overvotes == overvotes
    assert first.tallies["C"] == (1 if counts_for == "C" else 0)


def test_an_overvote_with_one_continuing_candidate_counts_for_it() -> None:
    # With A withdrawn, the overvote for A and B marks only one continuing candidate.
    rules = RcvRules(
        overvote=EXHAUST_IF_MULTIPLE_CONTINUING, tiebreak=USE_CANDIDATE_ORDER, excluded=("A",)
    )
    result = instant_runoff([[("A", "B")], ["C"], ["C"]], ["A", "B", "C"], rules)
    assert result.rounds[0].tallies == {"B": 1, "C": 2}


def test_an_unknown_overvote_cannot_be_counted_if_multiple_continuing() -> None:
    rules = RcvRules(overvote=EXHAUST_IF_MULTIPLE_CONTINUING, tiebreak=USE_CANDIDATE_ORDER)
    with pytest.raises(TabulationError, match="overvote"):
        instant_runoff([[OVERVOTE, "A"]], ["A", "B"], rules)
    skip = RcvRules(overvote=ALWAYS_SKIP_TO_NEXT_RANK, tiebreak=USE_CANDIDATE_ORDER)
    assert instant_runoff([[OVERVOTE, "A"]], ["A", "B"], skip).winner == "A"


@pytest.mark.parametrize(
    ("max_skipped", "counted"), [(0, False), (1, False), (2, True), (None, True)]
)
def test_skipped_ranks(max_skipped: int | None, counted: bool) -> None:
    rules = RcvRules(max_skipped=max_skipped, tiebreak=USE_CANDIDATE_ORDER)
    first = instant_runoff([["", "", "A"], ["B"], ["B"]], ["A", "B", "C"], rules).rounds[0]
    assert first.tallies["A"] == int(counted)
    assert first.skipped_rankings == int(not counted)


def test_blank_ranks_after_the_last_mark_are_not_skips() -> None:
    rules = RcvRules(max_skipped=0, tiebreak=USE_CANDIDATE_ORDER)
    first = instant_runoff([["A", "", ""], ["", ""]], ["A", "B"], rules).rounds[0]
    assert first.tallies == {"A": 1, "B": 0}
    assert first.undervotes == 1


@pytest.mark.parametrize(("duplicate", "second_round_b"), [("skip", 3), (DUPLICATE_EXHAUST, 2)])
def test_duplicate_rankings(duplicate: str, second_round_b: int) -> None:
    rules = RcvRules(duplicate=duplicate, tiebreak=USE_CANDIDATE_ORDER)
    ballots = [["C", "C", "B"], ["A"], ["A"], ["B"], ["B"], ["A"]]
    result = instant_runoff(ballots, ["A", "B", "C"], rules)
    assert result.rounds[1].tallies["B"] == second_round_b
    assert result.rounds[1].repeated_rankings == (duplicate == DUPLICATE_EXHAUST)


def test_ranks_beyond_max_rankings_are_not_read() -> None:
    rules = RcvRules(max_rankings=1, tiebreak=USE_CANDIDATE_ORDER)
    result = instant_runoff([["C", "B"], ["A"], ["A"], ["B"]], ["A", "B", "C"], rules)
    assert result.rounds[0].transfers == {"C": {"exhausted": 1}}


def test_batch_elimination_removes_everyone_who_cannot_catch_up() -> None:
    ballots = [["A"]] * 8 + [["B"]] * 6 + [["C", "B"]] * 2 + [["D", "B"]]
    rules = RcvRules(batch_elimination=True, tiebreak=USE_CANDIDATE_ORDER)
    result = instant_runoff(ballots, ["A", "B", "C", "D"], rules)
    assert result.rounds[0].eliminated == ("D", "C")
    # 1 + 2 votes cannot reach B's 6, so D and C go together.
    assert result.rounds[1].tallies == {"A": 8, "B": 9}
    assert result.winner == "B"


def test_stop_counting_and_ask_reports_the_tie_and_resumes_with_the_decision() -> None:
    ballots = [["A"]] * 3 + [["B"]] * 2 + [["C", "B"]] * 2
    asking = RcvRules(tiebreak=STOP_COUNTING_AND_ASK)
    assert RcvRules() == asking  # asking is our default for official elections
    stopped = instant_runoff(ballots, ["A", "B", "C"], asking)
    assert stopped.winners == ()
    assert stopped.tie == Tie(round=1, candidates=("B", "C"), selecting="loser", votes=2)
    assert len(stopped.rounds) == 1
    resumed = instant_runoff(ballots, ["A", "B", "C"], asking, tie_decisions=["C"])
    assert resumed.tie is None
    assert resumed.winner == "B"
    assert "recorded decision" in (resumed.rounds[0].tiebreak or "")
    with pytest.raises(ValueError, match="not one of"):
        instant_runoff(ballots, ["A", "B", "C"], asking, tie_decisions=["A"])


def test_a_final_tie_is_broken_for_the_winner() -> None:
    ballots = [["A"]] * 2 + [["B"]] * 2
    result = instant_runoff(ballots, ["B", "A"], ORDER)
    assert len(result.rounds) == 1
    assert result.winner == "B"  # B comes first in the candidate order
    asked = instant_runoff(ballots, ["A", "B"], RcvRules(tiebreak=PREVIOUS_ROUND_COUNTS_THEN_ASK))
    assert asked.tie == Tie(round=1, candidates=("A", "B"), selecting="winner", votes=2)


def test_write_ins_must_be_allowed_and_cannot_win() -> None:
    with pytest.raises(TabulationError, match="not a choice"):
        instant_runoff([[WRITE_IN]], ["A"], ORDER)
    rules = RcvRules(undeclared_write_ins=True, tiebreak=USE_CANDIDATE_ORDER)
    result = instant_runoff([[WRITE_IN, "B"]] * 5 + [["A"]] * 4, ["A", "B"], rules)
    assert result.rounds[0].eliminated == (WRITE_IN,)
    assert result.winner == "B"


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="seed"):
        RcvRules(tiebreak=RANDOM)
    with pytest.raises(ValueError, match="overvote"):
        RcvRules(overvote="whatever")
    with pytest.raises(ValueError, match="reserved"):
        instant_runoff([], ["A", OVERVOTE])
    with pytest.raises(TabulationError, match="not a string"):
        instant_runoff(["AB"], ["A", "B"])
    with pytest.raises(ValueError, match="single-winner"):
        RcvRules.from_rctab({"rules": {"numberOfWinners": "2"}})


def test_java_compatibility_helpers() -> None:
    # Published values of java.util.Random and String.hashCode.
    assert tally._JavaRandom(0).next_double() == 0.730967787376657
    assert tally._JavaRandom(42).next_double() == 0.7275636800328681
    assert tally._java_string_hash("hello") == 99162322


# -- RCTab's published test cases ----------------------------------------------------------

INACTIVE_FIELDS = {
    "overvotes": "overvotes",
    "skippedRankings": "skipped_rankings",
    "repeatedRankings": "repeated_rankings",
    "exhaustedChoices": "exhausted_choices",
}


@pytest.mark.parametrize("path", RCTAB_CASES, ids=lambda p: p.stem)
def test_rctab_case(path: Path) -> None:
    case = json.loads(path.read_text())
    ballots = [
        [m if isinstance(m, str) else tuple(m) for m in r]
        for n, r in case["ballots"]
        for _ in range(n)
    ]
    choices = [c["name"] for c in case["candidates"]]
    result = instant_runoff(ballots, choices, RcvRules.from_rctab(case))

    expected = case["expected"]["rounds"]
    assert len(result.rounds) == len(expected)
    for got, want in zip(result.rounds, expected, strict=True):
        assert got.tallies == want["tally"], f"round {got.number}"
        assert got.threshold == want["threshold"], f"round {got.number}"
        inactive = {key: getattr(got, name) for key, name in INACTIVE_FIELDS.items()}
        assert inactive == want["inactive"], f"round {got.number}"
        assert got.transfers == want.get("eliminated", {}), f"round {got.number}"
        assert list(got.elected) == want.get("elected", []), f"round {got.number}"
    assert result.winner == case["expected"]["winner"]
    assert result.tie is None


def test_at_least_six_transcribed_cases() -> None:
    transcribed = [
        p for p in RCTAB_CASES if json.loads(p.read_text())["ballots_are"] == "transcribed"
    ]
    assert len(transcribed) >= 6


# -- properties ----------------------------------------------------------------------------

CANDIDATES = ["A", "B", "C", "D", "E"]
DETERMINISTIC = (
    USE_CANDIDATE_ORDER,
    GENERATE_PERMUTATION,
    RANDOM,
    PREVIOUS_ROUND_COUNTS_THEN_RANDOM,
)


@st.composite
def contests(draw, *, modes=DETERMINISTIC, batch=(False, True)):
    choices = CANDIDATES[: draw(st.integers(2, 5))]
    mark = st.one_of(
        st.sampled_from(choices),
        st.just(""),
        st.lists(st.sampled_from(choices), min_size=2, max_size=3, unique=True).map(tuple),
    )
    ranking = st.lists(mark, max_size=len(choices) + 1)
    ballots = draw(st.lists(ranking, max_size=40))
    rules = RcvRules(
        overvote=draw(st.sampled_from(tally.OVERVOTE_RULES)),
        max_skipped=draw(st.sampled_from([None, 0, 1, 2])),
        max_rankings=draw(st.sampled_from([None, 2, 3])),
        tiebreak=draw(st.sampled_from(modes)),
        seed=draw(st.integers(-1000, 1000)),
        batch_elimination=draw(st.sampled_from(batch)),
        continue_until_two=draw(st.booleans()),
        duplicate=draw(st.sampled_from(["skip", DUPLICATE_EXHAUST])),
    )
    return ballots, choices, rules


@settings(max_examples=300, deadline=None)
@given(contests())
def test_the_winner_has_a_majority_of_the_ballots_still_counting(contest) -> None:
    ballots, choices, rules = contest
    result = instant_runoff(ballots, choices, rules)
    assert result.tie is None
    assume(result.winner is not None)
    won = next(r for r in result.rounds if result.winner in r.elected)
    votes = won.tallies[result.winner]
    level_pair = len(won.tallies) == 2 and len(set(won.tallies.values())) == 1
    assert votes * 2 > won.active or level_pair or won.active == 0


@settings(max_examples=300, deadline=None)
@given(contests())
def test_every_ballot_is_accounted_for_in_every_round(contest) -> None:
    ballots, choices, rules = contest
    result = instant_runoff(ballots, choices, rules)
    assert result.ballots == len(ballots)
    for r in result.rounds:
        reasons = (
            r.overvotes
            + r.skipped_rankings
            + r.repeated_rankings
            + r.exhausted_choices
            + r.undervotes
        )
        assert r.exhausted == reasons
        assert r.active + r.exhausted == len(ballots)


@settings(max_examples=200, deadline=None)
@given(contests(modes=(USE_CANDIDATE_ORDER, GENERATE_PERMUTATION), batch=(False,)))
def test_one_more_ballot_for_the_winner_never_makes_them_lose(contest) -> None:
    ballots, choices, rules = contest
    before = instant_runoff(ballots, choices, rules).winner
    assume(before is not None)
    assert instant_runoff([*ballots, [before]], choices, rules).winner == before


@settings(max_examples=200, deadline=None)
@given(contests(), st.randoms(use_true_random=False))
def test_grouping_and_ballot_order_do_not_matter(contest, shuffler) -> None:
    ballots, choices, rules = contest
    shuffled = list(ballots)
    shuffler.shuffle(shuffled)
    grouped = Counter(tuple(b) for b in ballots)
    assert instant_runoff(shuffled, choices, rules) == instant_runoff(grouped, choices, rules)


@settings(max_examples=200, deadline=None)
@given(contests())
def test_rounds_match_a_ballot_by_ballot_recount(contest) -> None:
    """Walk every ballot every round, as RCTab does, and compare with the grouped count."""
    ballots, choices, rules = contest
    result = instant_runoff(ballots, choices, rules)
    depth = rules.max_rankings or len(choices)
    count = tally._Count(tuple(choices), rules, Counter(), ())
    holder: list[str | None] = [None] * len(ballots)
    dead = [False] * len(ballots)
    out: set[str] = set()
    for r in result.rounds:
        count.continuing = set(choices) - out
        tallies = dict.fromkeys(sorted(count.continuing), 0)
        for i, ballot in enumerate(ballots):
            if dead[i]:
                continue
            if holder[i] not in count.continuing:
                ranking = tally._canonical(tuple(ballot)[:depth], set(choices), rules)
                holder[i], _ = count._route(ranking)
                dead[i] = holder[i] is None
            if holder[i] is not None:
                tallies[holder[i]] += 1
        assert tallies == dict(sorted(r.tallies.items()))
        out.update(r.eliminated)


# -- scale ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_ranked_ballots(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(2024)
    names = [f"candidate-{i}" for i in range(8)]
    strength = [rng.uniform(0.5, 3) for _ in names]
    orders = list(itertools.permutations(range(8)))
    weights = []
    for order in orders:
        # How likely a voter's top three are, given each candidate's popularity.
        weight, left = 1.0, sum(strength)
        for i in order[:3]:
            weight *= strength[i] / left
            left -= strength[i]
        weights.append(weight)
    picks = rng.choices(range(len(orders)), weights, k=1_000_000)
    lengths = rng.choices(range(1, 9), k=1_000_000)
    ballots = [[names[i] for i in orders[p][:n]] for p, n in zip(picks, lengths, strict=True)]

    started = time.perf_counter()
    result = instant_runoff(
        ballots, names, RcvRules(tiebreak=USE_CANDIDATE_ORDER, max_skipped=None)
    )
    seconds = time.perf_counter() - started

    assert result.winner is not None
    assert all(r.active + r.exhausted == 1_000_000 for r in result.rounds)
    with capsys.disabled():
        print(f"\n1,000,000 ranked ballots, 8 candidates: counted in {seconds:.2f} s")
