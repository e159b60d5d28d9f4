"""Every read of the voting app that views, APIs and commands need: results, turnout, ballots.

Results are counted by voting.tally from the stored ballots alone, exactly as anyone can count
them again from the bulletin board. Choice ids are the tally's candidate names, so a result
speaks in ids (strings as JSON object keys, numbers in lists), as the API publishes it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Q, QuerySet

from voting import credentials as codes
from voting import tally
from voting.models import Ballot, Contest, Election, Voter

Grouped = Counter[tuple[int, ...]]


def results_visible(election: Election) -> bool:
    """Whether results may be shown now: after close, or while open if the election says so."""
    if election.status in (Election.Status.CLOSED, Election.Status.CERTIFIED):
        return True
    return election.status == Election.Status.OPEN and election.results_live


def _grouped_selections(ballots: QuerySet[Ballot]) -> Iterator[tuple[dict, int]]:
    # Identical ballots are grouped by the database, so a count reads distinct ballots only.
    rows = ballots.values("selections").annotate(n=Count("pk")).order_by()
    for row in rows.iterator(chunk_size=2000):
        yield row["selections"], row["n"]


def _marks(contest: Contest, selections: dict) -> tuple[int, ...]:
    marks = tuple(selections.get(str(contest.pk)) or ())
    # Order means preference only in a ranked contest; elsewhere group equal sets together.
    return marks if contest.method == Contest.Method.RANKED else tuple(sorted(marks))


def contest_ballots(contest: Contest) -> Grouped:
    """The marks of every ballot in one contest, grouped: {marks: how many ballots}."""
    grouped: Grouped = Counter()
    for selections, count in _grouped_selections(contest.election.ballots.all()):
        grouped[_marks(contest, selections)] += count
    return grouped


def results(election: Election) -> dict[str, Any]:
    """``{"contests": [{id, method, tally, rounds, winners, tie, ballots, ...}]}``.

    ``tally`` maps choice ids to votes (first choices, for a ranked contest); ``rounds`` is
    the instant-runoff count round by round (empty for other methods); ``winners`` are
    choice ids; ``tie`` is null, or the tie the count stopped at for officials to decide.
    Does not check whether results may be shown: see results_visible().
    """
    contests = list(election.contests.prefetch_related("choices").order_by("position", "id"))
    grouped: dict[int, Grouped] = {contest.pk: Counter() for contest in contests}
    for selections, count in _grouped_selections(election.ballots.all()):
        for contest in contests:
            grouped[contest.pk][_marks(contest, selections)] += count
    return {
        "contests": [
            contest_result(contest, grouped[contest.pk], rules=election.get_rcv_rules())
            for contest in contests
        ]
    }


def _expand(grouped: Grouped) -> Iterator[tuple[str, ...]]:
    for marks, count in grouped.items():
        names = tuple(str(m) for m in marks)
        for _ in range(count):
            yield names


def _ids(names: tuple[str, ...] | list[str]) -> list[int]:
    return [int(name) for name in names]


def _tie(tie: tally.Tie | None) -> dict[str, Any] | None:
    if tie is None:
        return None
    return {
        "round": tie.round,
        "candidates": _ids(tie.candidates),
        "selecting": tie.selecting,
        "votes": tie.votes,
        "seats": tie.seats,
    }


def _round(r: tally.Round) -> dict[str, Any]:
    return {
        "number": r.number,
        "tallies": dict(r.tallies),
        "threshold": r.threshold,
        "exhausted": r.exhausted,
        "overvotes": r.overvotes,
        "skipped_rankings": r.skipped_rankings,
        "repeated_rankings": r.repeated_rankings,
        "exhausted_choices": r.exhausted_choices,
        "undervotes": r.undervotes,
        "elected": _ids(r.elected),
        "eliminated": _ids(r.eliminated),
        "transfers": {loser: dict(moved) for loser, moved in r.transfers.items()},
        "tiebreak": r.tiebreak,
    }


def contest_rules(contest: Contest, rules: tally.RcvRules) -> tally.RcvRules:
    """The election's ranked-choice rules narrowed to this contest's choices.

    One election's rules serve all its ranked contests, so a candidate order or an exclusion
    (by choice id) applies to the contest whose choice it names.
    """
    names = {str(choice.pk) for choice in contest.choices.all()}
    return dataclasses.replace(
        rules,
        candidate_order=tuple(n for n in rules.candidate_order if n in names),
        excluded=tuple(n for n in rules.excluded if n in names),
    )


def contest_result(
    contest: Contest, grouped: Grouped, *, rules: tally.RcvRules | None = None
) -> dict[str, Any]:
    """Count one contest from its grouped marks (see contest_ballots)."""
    choices = sorted(contest.choices.all(), key=lambda c: (c.position, c.pk))
    names = [str(choice.pk) for choice in choices]
    decisions = [str(d) for d in contest.tie_decisions]
    base = {"id": contest.pk, "method": contest.method, "ballots": sum(grouped.values())}

    if contest.method == Contest.Method.RANKED:
        rules = contest_rules(contest, rules or contest.election.get_rcv_rules())
        counted = tally.instant_runoff(
            {tuple(str(m) for m in marks): n for marks, n in grouped.items()},
            names,
            rules,
            tie_decisions=decisions,
        )
        return {
            **base,
            "tally": dict(counted.rounds[0].tallies) if counted.rounds else {},
            "rounds": [_round(r) for r in counted.rounds],
            "winners": _ids(counted.winners),
            "tie": _tie(counted.tie),
        }

    if contest.method == Contest.Method.REFERENDUM:
        # A referendum's first choice is yes, its second no (services.contest_add).
        yes, no = names[0], names[1]
        answer = {(): "", (int(yes),): tally.YES, (int(no),): tally.NO}
        counted_ref = tally.referendum(
            answer[marks] for marks, n in grouped.items() for _ in range(n)
        )
        decided = counted_ref.yes + counted_ref.no > 0
        return {
            **base,
            "tally": {yes: counted_ref.yes, no: counted_ref.no},
            "rounds": [],
            "winners": [int(yes if counted_ref.passed else no)] if decided else [],
            "tie": None,
            "blank": counted_ref.blank,
            "passed": counted_ref.passed,
        }

    count = tally.plurality if contest.method == Contest.Method.PLURALITY else tally.approval
    kwargs = {} if contest.method == Contest.Method.PLURALITY else {"seats": contest.seats}
    counted_marks = count(_expand(grouped), names, tie_decisions=decisions, **kwargs)
    return {
        **base,
        "tally": dict(counted_marks.tallies),
        "rounds": [],
        "winners": _ids(counted_marks.winners),
        "tie": _tie(counted_marks.tie),
        "blank": counted_marks.blank,
        "overvotes": counted_marks.overvotes,
    }


def turnout(election: Election) -> dict[str, Any]:
    """``{voters, voted, ballots, percent}``: the roll, its "has voted" marks, the ballots."""
    roll = Voter.objects.filter(election=election).aggregate(
        voters=Count("pk"), voted=Count("pk", filter=Q(has_voted=True))
    )
    voters, voted = roll["voters"], roll["voted"]
    return {
        "voters": voters,
        "voted": voted,
        "ballots": election.ballots.count(),
        "percent": round(100 * voted / voters, 1) if voters else None,
    }


def ballot_by_tracking_code(code: str) -> Ballot | None:
    """The ballot with this tracking code (typed in any case, with or without dashes)."""
    try:
        canonical = codes.normalize_tracking_code(code)
    except codes.CodeFormatError:
        return None
    return (
        Ballot.objects.select_related("election", "ledger_entry")
        .filter(tracking_code=canonical)
        .first()
    )


def board_ballots(election: Election) -> QuerySet[Ballot]:
    """Every ballot of an election, for the bulletin board, with its ledger entry.

    Ordered by tracking code, which is random: the board's order tells nothing of when a
    ballot was cast (its ledger entry's time and leaf index do; see voting-security.md).
    """
    return (
        Ballot.objects.filter(election=election)
        .select_related("ledger_entry")
        .order_by("tracking_code")
    )
