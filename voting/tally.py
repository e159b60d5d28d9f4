"""How ballots become results: plurality, approval, ranked choice and yes/no referendums.

This module owns the counting rules of citychain elections and nothing else: no Django, no
storage, no knowledge of who voted. It takes ballots (or counts of identical ballots) and
returns results, round by round for ranked choice, that can be published and re-derived by
anyone from the same ballots.

Ranked choice is single-winner instant runoff with the options of RCTab, the open-source
tabulator that US jurisdictions certify (github.com/BrightSpots/rcv). Each option keeps
RCTab's name and meaning, and the count reproduces RCTab's published test cases
(tests/voting/rctab/); docs/voting-tally.md explains every rule and our defaults.

A ranked ballot is a sequence of ranks, first choice first. A rank holds one choice, or
``SKIPPED`` ("") when the voter left it blank, ``OVERVOTE`` ("OV") for an overvote whose
choices are unknown, a tuple of choices for an overvote whose choices are known, or
``WRITE_IN`` ("UWI") for an undeclared write-in.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

OVERVOTE = "OV"
SKIPPED = ""
WRITE_IN = "UWI"
EXHAUSTED = "exhausted"  # where transfers of ballots that count for no one go, as in RCTab
RESERVED_MARKS = frozenset({OVERVOTE, SKIPPED, WRITE_IN, EXHAUSTED})

# RCTab's own labels, so an RCTab rules block and ours read the same.
ALWAYS_SKIP_TO_NEXT_RANK = "alwaysSkipToNextRank"
EXHAUST_IMMEDIATELY = "exhaustImmediately"
EXHAUST_IF_MULTIPLE_CONTINUING = "exhaustIfMultipleContinuing"
OVERVOTE_RULES = (ALWAYS_SKIP_TO_NEXT_RANK, EXHAUST_IMMEDIATELY, EXHAUST_IF_MULTIPLE_CONTINUING)

USE_CANDIDATE_ORDER = "useCandidateOrder"
GENERATE_PERMUTATION = "generatePermutation"
RANDOM = "random"
PREVIOUS_ROUND_COUNTS_THEN_RANDOM = "previousRoundCountsThenRandom"
PREVIOUS_ROUND_COUNTS_THEN_ASK = "previousRoundCountsThenAsk"
STOP_COUNTING_AND_ASK = "stopCountingAndAsk"
TIEBREAK_MODES = (
    USE_CANDIDATE_ORDER,
    GENERATE_PERMUTATION,
    RANDOM,
    PREVIOUS_ROUND_COUNTS_THEN_RANDOM,
    PREVIOUS_ROUND_COUNTS_THEN_ASK,
    STOP_COUNTING_AND_ASK,
)
_SEEDED_MODES = (RANDOM, PREVIOUS_ROUND_COUNTS_THEN_RANDOM, GENERATE_PERMUTATION)

DUPLICATE_SKIP = "skip"
DUPLICATE_EXHAUST = "exhaust"

YES = "yes"
NO = "no"

# The reasons a ranked ballot stops counting, named as in RCTab's round reports.
OVERVOTES = "overvotes"
SKIPPED_RANKINGS = "skipped_rankings"
REPEATED_RANKINGS = "repeated_rankings"
EXHAUSTED_CHOICES = "exhausted_choices"
UNDERVOTES = "undervotes"
_REASONS = (OVERVOTES, SKIPPED_RANKINGS, REPEATED_RANKINGS, EXHAUSTED_CHOICES, UNDERVOTES)

# RCTab seeds java.util.Random, whose seed is a 48-bit signed value.
_SEED_MIN = -(2**47)
_SEED_MAX = 2**47 - 1

Mark = str | tuple[str, ...]


class TabulationError(ValueError):
    """The ballots or the rules cannot be counted as given; the message says why."""


@dataclass(frozen=True)
class Tie:
    """A tie the rules leave to people: decide it (by lot, as the law says) and count again."""

    round: int
    candidates: tuple[str, ...]
    selecting: str  # "winner" or "loser"
    votes: int
    seats: int = 1  # how many of the tied candidates the decision must name


@dataclass(frozen=True)
class Result:
    """The count of a plurality or approval contest."""

    tallies: dict[str, int]
    ballots: int
    valid: int
    blank: int
    overvotes: int
    seats: int
    winners: tuple[str, ...]
    tie: Tie | None = None


@dataclass(frozen=True)
class ReferendumResult:
    yes: int
    no: int
    blank: int
    ballots: int
    quorum_met: bool
    passed: bool


@dataclass(frozen=True)
class Round:
    """One round of an instant-runoff count, in the terms of RCTab's round report.

    ``tallies`` holds every continuing candidate (a winner stays in it while the count goes
    on to two candidates). ``exhausted`` counts every ballot not counting for anyone in this
    round, whatever the reason; the five reason fields split it up. ``transfers`` says, for
    each candidate eliminated in this round, where their ballots went ("exhausted" for none).
    """

    number: int
    tallies: dict[str, int]
    threshold: int
    exhausted: int
    overvotes: int
    skipped_rankings: int
    repeated_rankings: int
    exhausted_choices: int
    undervotes: int
    elected: tuple[str, ...] = ()
    eliminated: tuple[str, ...] = ()
    transfers: dict[str, dict[str, int]] = field(default_factory=dict)
    tiebreak: str | None = None

    @property
    def active(self) -> int:
        return sum(self.tallies.values())


@dataclass(frozen=True)
class RcvResult:
    """An instant-runoff count: its rounds, its winner, or the tie it stopped at."""

    rounds: tuple[Round, ...]
    winners: tuple[str, ...]
    ballots: int
    tie: Tie | None = None

    @property
    def winner(self) -> str | None:
        return self.winners[0] if self.winners else None


@dataclass(frozen=True)
class RcvRules:
    """The ranked-choice options of one election, with RCTab's meaning.

    The defaults are our rules for official elections (docs/voting-tally.md says why).
    ``max_skipped`` and ``max_rankings`` take None for "unlimited" and "as many as there are
    candidates". ``candidate_order`` is the order useCandidateOrder breaks ties by; empty
    means the order of the choices.
    """

    overvote: str = EXHAUST_IMMEDIATELY
    max_skipped: int | None = 1
    max_rankings: int | None = None
    tiebreak: str = STOP_COUNTING_AND_ASK
    batch_elimination: bool = False
    continue_until_two: bool = False
    duplicate: str = DUPLICATE_SKIP
    seed: int | None = None
    candidate_order: tuple[str, ...] = ()
    minimum_vote_threshold: int = 0
    undeclared_write_ins: bool = False
    excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.overvote not in OVERVOTE_RULES:
            raise ValueError(f"overvote must be one of {', '.join(OVERVOTE_RULES)}")
        if self.tiebreak not in TIEBREAK_MODES:
            raise ValueError(f"tiebreak must be one of {', '.join(TIEBREAK_MODES)}")
        if self.duplicate not in (DUPLICATE_SKIP, DUPLICATE_EXHAUST):
            raise ValueError("duplicate must be 'skip' or 'exhaust'")
        if self.max_skipped is not None and self.max_skipped < 0:
            raise ValueError("max_skipped must be 0 or more, or None for unlimited")
        if self.max_rankings is not None and self.max_rankings < 1:
            raise ValueError("max_rankings must be 1 or more, or None for all candidates")
        if self.minimum_vote_threshold < 0:
            raise ValueError("minimum_vote_threshold must be 0 or more")
        if self.tiebreak in _SEEDED_MODES and self.seed is None:
            raise ValueError(f"tiebreak {self.tiebreak} needs a seed")
        if self.seed is not None and not _SEED_MIN <= self.seed <= _SEED_MAX:
            raise ValueError(f"seed must be between {_SEED_MIN} and {_SEED_MAX}")
        if len(set(self.candidate_order)) != len(self.candidate_order):
            raise ValueError("candidate_order names a candidate twice")

    @classmethod
    def from_rctab(cls, config: Mapping[str, Any]) -> RcvRules:
        """Read the rules of an RCTab contest config (its "rules" and "candidates" blocks).

        Options we do not support (multi-seat modes, Hare quota, fractional thresholds,
        first-round threshold, stopping early) are refused rather than ignored.
        """
        rules = config["rules"]
        candidates = config.get("candidates", [])

        def flag(name: str) -> bool:
            value = rules.get(name, False)
            return value if isinstance(value, bool) else str(value).lower() == "true"

        if str(rules.get("numberOfWinners", "1")) != "1":
            raise ValueError("only single-winner contests are supported")
        mode = rules.get("winnerElectionMode", "singleWinnerMajority")
        if mode != "singleWinnerMajority":
            raise ValueError(f"winnerElectionMode {mode!r} is not supported")
        for name in ("hareQuota", "nonIntegerWinningThreshold", "doesFirstRoundDetermineThreshold"):
            if flag(name):
                raise ValueError(f"{name} is not supported")
        if str(rules.get("stopTabulationEarlyAfterRound", "") or ""):
            raise ValueError("stopTabulationEarlyAfterRound is not supported")

        skipped = str(rules["maxSkippedRanksAllowed"])
        rankings = str(rules["maxRankingsAllowed"])
        seed = str(rules.get("randomSeed", "") or "")
        minimum = str(rules.get("minimumVoteThreshold", "") or "0")
        write_in_sources = [*config.get("cvrFileSources", []), rules]
        return cls(
            overvote=rules["overvoteRule"],
            max_skipped=None if skipped.lower() == "unlimited" else int(skipped),
            max_rankings=None if rankings.lower() == "max" else int(rankings),
            tiebreak=rules["tiebreakMode"],
            batch_elimination=flag("batchElimination"),
            continue_until_two=flag("continueUntilTwoCandidatesRemain"),
            duplicate=DUPLICATE_EXHAUST if flag("exhaustOnDuplicateCandidate") else DUPLICATE_SKIP,
            seed=int(seed) if seed else None,
            candidate_order=tuple(c["name"] for c in candidates),
            minimum_vote_threshold=int(minimum),
            undeclared_write_ins=any(
                source.get("undeclaredWriteInLabel") or source.get("treatBlankAsUndeclaredWriteIn")
                for source in write_in_sources
            ),
            excluded=tuple(c["name"] for c in candidates if c.get("excluded")),
        )


def _check_choices(choices: Sequence[str]) -> tuple[str, ...]:
    names = tuple(choices)
    if not names:
        raise ValueError("an election needs at least one choice")
    if len(set(names)) != len(names):
        raise ValueError("the choices name a candidate twice")
    reserved = RESERVED_MARKS.intersection(names)
    if reserved:
        raise ValueError(f"{sorted(reserved)!r} are reserved words and cannot be choices")
    return names


# -- plurality, approval, referendum ------------------------------------------------------


def plurality(
    ballots: Iterable[Sequence[str] | str],
    choices: Sequence[str],
    *,
    tie_decisions: Sequence[str] = (),
) -> Result:
    """Vote for one: the most votes wins; a ballot marking two or more is an overvote."""
    return approval(ballots, choices, seats=1, tie_decisions=tie_decisions)


def approval(
    ballots: Iterable[Sequence[str] | str],
    choices: Sequence[str],
    seats: int = 1,
    *,
    max_marks: int | None = None,
    tie_decisions: Sequence[str] = (),
) -> Result:
    """Vote for up to ``max_marks`` (default: ``seats``); the ``seats`` most-voted win.

    A ballot is the collection of choices it marks (a bare string is one mark, "" none).
    Marking the same choice twice counts once. A ballot marking more than ``max_marks``
    choices is an overvote: it counts for no one and is reported apart from blank ballots.
    A tie for the last seat is reported, not broken: ``tie_decisions`` names the candidates
    a lawful drawing chose, and counting again with them completes the result.
    """
    names = _check_choices(choices)
    if not 1 <= seats <= len(names):
        raise ValueError("seats must be between 1 and the number of choices")
    limit = seats if max_marks is None else max_marks
    if limit < 1:
        raise ValueError("max_marks must be 1 or more")
    known = frozenset(names)
    grouped = Counter(frozenset((b,) if isinstance(b, str) else b) - {""} for b in ballots)

    tallies = dict.fromkeys(names, 0)
    blank = overvotes = 0
    for marks, count in grouped.items():
        unknown = marks - known
        if unknown:
            raise TabulationError(f"ballot marks {sorted(unknown)!r}, which are not choices")
        if not marks:
            blank += count
        elif len(marks) > limit:
            overvotes += count
        else:
            for name in marks:
                tallies[name] += count
    total = sum(grouped.values())
    winners, tie = _top(tallies, seats, list(tie_decisions))
    return Result(
        tallies=tallies,
        ballots=total,
        valid=total - blank - overvotes,
        blank=blank,
        overvotes=overvotes,
        seats=seats,
        winners=winners,
        tie=tie,
    )


def _top(
    tallies: dict[str, int], seats: int, decisions: list[str]
) -> tuple[tuple[str, ...], Tie | None]:
    """The ``seats`` most-voted; on a tie for the last seats, the clear winners and the tie."""
    ranked = sorted(tallies, key=lambda name: -tallies[name])
    if seats == len(ranked) or tallies[ranked[seats - 1]] > tallies[ranked[seats]]:
        return tuple(ranked[:seats]), None
    cutoff = tallies[ranked[seats - 1]]
    clear = [name for name in ranked if tallies[name] > cutoff]
    tied = tuple(name for name in ranked if tallies[name] == cutoff)
    open_seats = seats - len(clear)
    if decisions:
        if len(set(decisions)) != open_seats or not set(decisions) <= set(tied):
            raise ValueError(f"tie decisions must name {open_seats} of {tied!r}")
        return (*clear, *decisions), None
    tie = Tie(round=1, candidates=tied, selecting="winner", votes=cutoff, seats=open_seats)
    return tuple(clear), tie


def referendum(
    ballots: Iterable[str],
    *,
    threshold: Fraction = Fraction(1, 2),
    inclusive: bool = False,
    quorum: int = 0,
) -> ReferendumResult:
    """A yes/no question. Each ballot is "yes", "no" or "" (blank).

    It passes when yes votes are more than ``threshold`` of the yes and no votes (at least
    that share if ``inclusive``, as a two-thirds rule reads) and at least ``quorum`` ballots
    were cast, blank ones included. A tie fails a simple majority: the status quo stands.
    """
    if not 0 <= threshold < 1:
        raise ValueError("threshold must be a fraction from 0 up to (not including) 1")
    counts = Counter(ballots)
    unknown = set(counts) - {YES, NO, ""}
    if unknown:
        raise TabulationError(f"referendum ballots must be 'yes', 'no' or blank: {unknown!r}")
    yes, no, blank = counts[YES], counts[NO], counts[""]
    total = yes + no + blank
    quorum_met = total >= quorum
    share = Fraction(yes, yes + no) if yes + no else Fraction(0)
    clears = share >= threshold if inclusive else share > threshold
    return ReferendumResult(
        yes=yes,
        no=no,
        blank=blank,
        ballots=total,
        quorum_met=quorum_met,
        passed=quorum_met and yes + no > 0 and clears,
    )


# -- ballot validation ---------------------------------------------------------------------


def validate_ranking(
    ranking: Sequence[Any],
    choices: Sequence[str],
    max_rankings: int | None = None,
    *,
    allow_duplicates: bool = False,
) -> list[str]:
    """The problems with a ranking a voter submits, as messages the API can show.

    An empty list means the ranking can be cast. An electronic ballot never needs the
    paper-ballot marks (blank ranks, overvotes), so they are problems here; the count
    still handles them for imported paper ballots.
    """
    known = set(choices)
    problems: list[str] = []
    if max_rankings is not None and len(ranking) > max_rankings:
        problems.append(
            f"At most {max_rankings} rankings are allowed; this ballot has {len(ranking)}."
        )
    seen: set[str] = set()
    for rank, mark in enumerate(ranking, start=1):
        if not isinstance(mark, str):
            problems.append(f"Rank {rank} marks more than one choice; mark one.")
        elif mark == SKIPPED:
            problems.append(f"Rank {rank} is blank; rank your choices without gaps.")
        elif mark not in known:
            problems.append(f"Rank {rank}: {mark!r} is not a choice in this election.")
        elif mark in seen and not allow_duplicates:
            problems.append(f"Rank {rank}: {mark!r} is already ranked higher.")
        else:
            seen.add(mark)
    return problems


# -- instant runoff ------------------------------------------------------------------------


def instant_runoff(
    ballots: Iterable[Sequence[Any]] | Mapping[tuple[Any, ...], int],
    choices: Sequence[str],
    rules: RcvRules | None = None,
    *,
    tie_decisions: Sequence[str] = (),
) -> RcvResult:
    """Count ranked ballots by single-winner instant runoff under ``rules``.

    ``ballots`` is either the ballots themselves or a mapping from a ranking (a tuple) to
    how many ballots carry it. Identical rankings are counted as one group, and each round
    moves only the groups whose candidate was just eliminated, so a million ballots cost
    about as much as their distinct rankings.

    When a tie must be decided by people (stopCountingAndAsk, or previousRoundCountsThenAsk
    when earlier rounds do not separate the candidates), the count stops and the result's
    ``tie`` says who is tied; ``tie_decisions`` supplies, in order, the candidate chosen for
    each such tie (the winner or the one eliminated, as ``Tie.selecting`` says), and
    counting again with them goes past those ties.
    """
    names = _check_choices(choices)
    rules = rules or RcvRules()
    return _Count(names, rules, _group(ballots, names, rules), tie_decisions).run()


def _group(
    ballots: Iterable[Sequence[Any]] | Mapping[tuple[Any, ...], int],
    names: tuple[str, ...],
    rules: RcvRules,
) -> Counter[tuple[Mark, ...]]:
    """Group ballots by their ranking, in the canonical form the count reads."""
    if isinstance(ballots, Mapping):
        raw: Mapping[tuple[Any, ...], int] = ballots
    else:
        items = list(ballots)
        if any(isinstance(b, str) for b in items):
            raise TabulationError("a ranked ballot is a sequence of ranks, not a string")
        rows = list(map(tuple, items))
        try:
            raw = Counter(rows)
        except TypeError:  # an overvote given as a list; make it hashable
            raw = Counter(tuple(m if isinstance(m, str) else tuple(m) for m in r) for r in rows)

    known = set(names)
    if rules.undeclared_write_ins:
        known.add(WRITE_IN)
    # RCTab's readers stop at maxRankingsAllowed columns; later ranks do not exist for it.
    depth = rules.max_rankings or len(names)
    grouped: Counter[tuple[Mark, ...]] = Counter()
    for ranking, count in raw.items():
        if isinstance(ranking, str):
            raise TabulationError("a ranked ballot is a sequence of ranks, not a string")
        if count < 0:
            raise TabulationError("a ballot count cannot be negative")
        grouped[_canonical(ranking[:depth], known, rules)] += count
    return grouped


def _canonical(ranking: Sequence[Any], known: set[str], rules: RcvRules) -> tuple[Mark, ...]:
    marks: list[Mark] = []
    for mark in ranking:
        if isinstance(mark, str):
            if mark in known or mark == SKIPPED:
                marks.append(mark)
            elif mark == OVERVOTE:
                if rules.overvote == EXHAUST_IF_MULTIPLE_CONTINUING:
                    raise TabulationError(
                        "an overvote without its choices cannot be counted under "
                        "exhaustIfMultipleContinuing; give the choices it marks"
                    )
                marks.append(mark)
            else:
                raise TabulationError(f"a ballot ranks {mark!r}, which is not a choice")
        else:
            # One mark per choice: marking a choice twice at one rank is marking it once.
            several = tuple(dict.fromkeys(m for m in mark if m != SKIPPED))
            for name in several:
                if name not in known:
                    raise TabulationError(f"a ballot ranks {name!r}, which is not a choice")
            if len(several) == 1:
                marks.append(several[0])
            else:
                marks.append(several or SKIPPED)
    # Blank ranks after the last mark are not skipped ranks: nothing follows them.
    while marks and marks[-1] == SKIPPED:
        marks.pop()
    return tuple(marks)


class _Count:
    """One instant-runoff count; ``run`` follows RCTab's Tabulator round by round."""

    def __init__(
        self,
        names: tuple[str, ...],
        rules: RcvRules,
        grouped: Counter[tuple[Mark, ...]],
        tie_decisions: Sequence[str],
    ) -> None:
        unknown = set(rules.excluded) - set(names)
        if unknown:
            raise ValueError(f"excluded candidates {sorted(unknown)!r} are not choices")
        if rules.candidate_order and set(rules.candidate_order) != set(names):
            raise ValueError("candidate_order must list exactly the choices")
        self.rules = rules
        self.candidates = [n for n in names if n not in rules.excluded]
        if rules.undeclared_write_ins:
            self.candidates.append(WRITE_IN)
        if not self.candidates:
            raise ValueError("every candidate is excluded")
        # RCTab counts the write-in placeholder as a candidate but not as a declared one.
        self.num_candidates = len(self.candidates)
        self.num_declared = len(names)
        self.continuing = set(self.candidates)
        self.decisions = deque(tie_decisions)
        self.rng = _JavaRandom(rules.seed) if rules.tiebreak in _SEEDED_MODES else None
        order = list(rules.candidate_order or names)
        if rules.tiebreak == GENERATE_PERMUTATION:
            assert self.rng is not None
            order.sort(key=_java_string_order)
            self.rng.shuffle(order)
        self.permutation = order

        self.groups = list(grouped)
        self.counts = [grouped[g] for g in self.groups]
        self.ballots = sum(self.counts)
        self.piles: dict[str, list[int]] = {c: [] for c in self.candidates}
        self.tally = dict.fromkeys(self.candidates, 0)
        self.inactive = dict.fromkeys(_REASONS, 0)
        for index, ranking in enumerate(self.groups):
            self._place(index, ranking, None)

        self.history: list[dict[str, int]] = []
        self.note: str | None = None  # how this round's tie, if any, was broken
        self.winners: list[str] = []
        self.eliminated: list[str] = []

    def run(self) -> RcvResult:
        rounds: list[Round] = []
        tie: Tie | None = None
        while True:
            number = len(rounds) + 1
            tallies = {c: self.tally[c] for c in self.candidates if c in self.continuing}
            self.history.append(tallies)
            threshold = max(sum(tallies.values()) // 2 + 1, self.rules.minimum_vote_threshold)
            if self.winners:
                # Counting on to two after the seat is filled changes nothing about the win;
                # RCTab 2.0 keeps showing the threshold the winner reached.
                threshold = rounds[-1].threshold
            # The round reports the ballots inactive as it was counted, before its transfers.
            inactive = dict(self.inactive)
            self.note = None
            elected, tie = self._winners(number, tallies, threshold)
            eliminated: tuple[str, ...] = ()
            if tie is None and elected:
                self.winners.extend(elected)
            elif tie is None and self._needs_elimination():
                eliminated, tie = self._losers(number, tallies)
            transfers = self._eliminate(eliminated)
            rounds.append(
                Round(
                    number=number,
                    tallies=tallies,
                    threshold=threshold,
                    exhausted=sum(inactive.values()),
                    elected=elected,
                    eliminated=eliminated,
                    transfers=transfers,
                    tiebreak=self.note,
                    **inactive,
                )
            )
            if tie is not None or not self._keep_counting(eliminated):
                break
        return RcvResult(
            rounds=tuple(rounds), winners=tuple(self.winners), ballots=self.ballots, tie=tie
        )

    # -- where a ballot counts -----------------------------------------------------------

    def _route(self, ranking: tuple[Mark, ...]) -> tuple[str | None, str]:
        """The continuing candidate a ballot counts for, or None and why it does not.

        This is RCTab's walk down one ballot, from its first rank every time: a ballot is
        only walked again when its candidate leaves the count, and earlier ranks never come
        back, so starting over finds what continuing from the old rank would.
        """
        if not ranking:
            return None, UNDERVOTES
        rules = self.rules
        continuing = self.continuing
        limit = rules.max_skipped
        last_rank = 0
        seen: set[str] | None = set() if rules.duplicate == DUPLICATE_EXHAUST else None
        final = len(ranking)
        for rank, mark in enumerate(ranking, start=1):
            if mark == SKIPPED:
                continue
            if limit is not None and rank - last_rank > limit + 1:
                return None, SKIPPED_RANKINGS
            last_rank = rank
            several = not isinstance(mark, str)
            if seen is not None:
                # RCTab checks every mark here, so two unknown overvotes ("OV") at different
                # ranks are a repeated ranking too; we keep that so results agree.
                for name in mark if several else (mark,):
                    if name in seen:
                        return None, REPEATED_RANKINGS
                    seen.add(name)
            if several or mark == OVERVOTE:
                if rules.overvote == EXHAUST_IMMEDIATELY:
                    return None, OVERVOTES
                if rules.overvote == EXHAUST_IF_MULTIPLE_CONTINUING:
                    live = [name for name in mark if name in continuing]
                    if len(live) > 1:
                        return None, OVERVOTES
                    if live:
                        return live[0], ""
                # Skipping past an overvote at the last rank leaves nothing to count.
                if rank == final:
                    return None, EXHAUSTED_CHOICES
                continue
            if mark in continuing:
                return mark, ""
            if rank == final:
                return None, EXHAUSTED_CHOICES
        return None, EXHAUSTED_CHOICES

    def _place(self, index: int, ranking: tuple[Mark, ...], moved: Counter[str] | None) -> None:
        count = self.counts[index]
        candidate, reason = self._route(ranking)
        if candidate is None:
            self.inactive[reason] += count
        else:
            self.piles[candidate].append(index)
            self.tally[candidate] += count
        if moved is not None:
            moved[candidate or EXHAUSTED] += count

    def _eliminate(self, eliminated: tuple[str, ...]) -> dict[str, dict[str, int]]:
        self.continuing.difference_update(eliminated)
        self.eliminated.extend(eliminated)
        transfers: dict[str, dict[str, int]] = {}
        for loser in eliminated:
            moved: Counter[str] = Counter()
            for index in self.piles.pop(loser):
                self._place(index, self.groups[index], moved)
            del self.tally[loser]
            transfers[loser] = dict(moved)
        return transfers

    # -- winners, losers, ties -----------------------------------------------------------

    def _winners(
        self, number: int, tallies: dict[str, int], threshold: int
    ) -> tuple[tuple[str, ...], Tie | None]:
        # No one wins while undeclared write-ins still hold votes: they might be anyone.
        if tallies.get(WRITE_IN, 0) != 0 or self.winners:
            return (), None
        if len(tallies) == 1:
            return tuple(tallies), None
        reached = tuple(c for c, v in tallies.items() if v >= threshold and c != WRITE_IN)
        if reached:
            return reached, None
        # Two left and level: RCTab breaks the tie for the winner rather than eliminate
        # one of them and elect the other alone.
        if len(tallies) == 2 and min(tallies.values()) >= self.rules.minimum_vote_threshold:
            top = max(tallies.values())
            tied = [c for c, v in tallies.items() if v == top]
            if len(tied) == 1:
                return tuple(tied), None
            pick = self._break_tie(number, tied, top, selecting_winner=True)
            if isinstance(pick, Tie):
                return (), pick
            return (pick,), None
        return (), None

    def _needs_elimination(self) -> bool:
        if not self.winners:
            return True
        return self.rules.continue_until_two and len(self.eliminated) < self.num_candidates - 2

    def _keep_counting(self, eliminated: tuple[str, ...]) -> bool:
        if not self.continuing:
            return False
        if self.rules.continue_until_two:
            done = len(self.eliminated) + len(self.winners) + 1 >= self.num_candidates
            # One more round shows the tallies after the last elimination.
            return not done or bool(eliminated)
        return not self.winners

    def _losers(self, number: int, tallies: dict[str, int]) -> tuple[tuple[str, ...], Tie | None]:
        if tallies.get(WRITE_IN, 0) > 0:
            return (WRITE_IN,), None
        by_tally = sorted(tallies, key=lambda c: tallies[c])
        minimum = self.rules.minimum_vote_threshold
        if minimum > 0:
            below = tuple(c for c in by_tally if tallies[c] < minimum)
            if len(below) == self.num_declared:
                raise TabulationError("every candidate is below the minimum vote threshold")
            if below:
                return below, None
        if self.rules.batch_elimination:
            batch = self._batch(tallies)
            if len(batch) > 1:
                return batch, None
        low = tallies[by_tally[0]]
        tied = [c for c in by_tally if tallies[c] == low]
        if len(tied) == 1:
            return (tied[0],), None
        pick = self._break_tie(number, tied, low, selecting_winner=False)
        if isinstance(pick, Tie):
            return (), pick
        return (pick,), None

    def _batch(self, tallies: dict[str, int]) -> tuple[str, ...]:
        """Everyone who cannot catch the next candidate up even with all lower votes."""
        levels: dict[int, list[str]] = {}
        for name in self.candidates:
            if name in tallies:
                levels.setdefault(tallies[name], []).append(name)
        running = 0
        seen: list[str] = []
        batch: list[str] = []
        previous: list[str] = []
        for votes in sorted(levels):
            if running < votes and len(seen) > len(batch):
                previous, batch = batch, list(seen)
            running += votes * len(levels[votes])
            seen.extend(levels[votes])
        # Continuing to two must leave two: give back the last group that would leave one.
        if (
            self.rules.continue_until_two
            and len(batch) + len(self.eliminated) == self.num_candidates - 1
        ):
            batch = previous
        return tuple(batch)

    def _break_tie(
        self, number: int, tied: list[str], votes: int, *, selecting_winner: bool
    ) -> str | Tie:
        tied = sorted(tied, key=_java_string_order)
        mode = self.rules.tiebreak
        role = "winner" if selecting_winner else "loser"
        listed = " and ".join(tied)
        if mode in (USE_CANDIDATE_ORDER, GENERATE_PERMUTATION):
            order = self.permutation if selecting_winner else self.permutation[::-1]
            rank = {name: i for i, name in enumerate(order)}
            # A name outside the order (the write-in placeholder) loses every such tie.
            pick = min(
                tied, key=lambda name: rank.get(name, -1 if not selecting_winner else len(rank))
            )
            self.note = f"{listed} tied at {votes}; {pick} is the {role} by candidate order."
            return pick
        if mode == RANDOM:
            assert self.rng is not None
            pick = tied[self.rng.index(len(tied))]
            self.note = f"{listed} tied at {votes}; {pick} is the {role} by seeded draw."
            return pick
        if mode == STOP_COUNTING_AND_ASK:
            return self._ask(number, tied, votes, role, listed)

        contention = tied
        for earlier in range(number - 1, 0, -1):
            # RCTab collects the still-tied in a Java HashSet; a later draw picks by index
            # from that order, so we keep it to draw the same candidate.
            contention = _java_hash_set_order(contention)
            past = self.history[earlier - 1]
            best = (max if selecting_winner else min)(past[name] for name in contention)
            contention = [name for name in contention if past[name] == best]
            if len(contention) == 1:
                pick = contention[0]
                self.note = (
                    f"{listed} tied at {votes}; {pick} is the {role}, having had "
                    f"{'the most' if selecting_winner else 'the fewest'} votes in round {earlier}."
                )
                return pick
        if mode == PREVIOUS_ROUND_COUNTS_THEN_RANDOM:
            assert self.rng is not None
            pick = contention[self.rng.index(len(contention))]
            self.note = (
                f"{listed} tied at {votes} and in every earlier round; "
                f"{pick} is the {role} by seeded draw."
            )
            return pick
        return self._ask(number, contention, votes, role, listed)

    def _ask(self, number: int, tied: list[str], votes: int, role: str, listed: str) -> str | Tie:
        if not self.decisions:
            return Tie(round=number, candidates=tuple(tied), selecting=role, votes=votes)
        pick = self.decisions.popleft()
        if pick not in tied:
            raise ValueError(f"the tie decision {pick!r} is not one of {tied!r}")
        self.note = f"{listed} tied at {votes}; {pick} is the {role} by the recorded decision."
        return pick


# -- RCTab compatibility: Java's ordering and random numbers --------------------------------


def _java_string_order(name: str) -> bytes:
    # Java compares strings by UTF-16 code units; big-endian UTF-16 bytes sort the same way.
    return name.encode("utf-16-be")


def _java_string_hash(name: str) -> int:
    data = name.encode("utf-16-be")
    value = 0
    for i in range(0, len(data), 2):
        value = (31 * value + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return value


def _java_hash_set_order(names: Sequence[str]) -> list[str]:
    """The order a java.util.HashSet built from ``names`` iterates them in.

    The table has the smallest power-of-two size of at least max(n / 0.75 + 1, 16) slots;
    a name's slot is its spread hash modulo that size, and names in one slot keep the order
    they were added in (Python's sort is stable).
    """
    wanted = max(int(len(names) / 0.75) + 1, 16)
    size = 1 << (wanted - 1).bit_length()

    def slot(name: str) -> int:
        h = _java_string_hash(name)
        return (h ^ (h >> 16)) & (size - 1)

    return sorted(names, key=slot)


class _JavaRandom:
    """java.util.Random as its documentation specifies it, so a seed draws what RCTab draws."""

    _MULTIPLIER = 0x5DEECE66D
    _MASK = (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self._state = (seed ^ self._MULTIPLIER) & self._MASK

    def _next(self, bits: int) -> int:
        self._state = (self._state * self._MULTIPLIER + 0xB) & self._MASK
        return self._state >> (48 - bits)

    def next_double(self) -> float:
        return ((self._next(26) << 27) + self._next(27)) * 2.0**-53

    def next_int(self, bound: int) -> int:
        if bound & (bound - 1) == 0:
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            value = bits % bound
            if bits - value + bound - 1 < 2**31:
                return value

    def index(self, size: int) -> int:
        # RCTab's draw: floor(nextDouble() * size).
        return int(self.next_double() * size)

    def shuffle(self, items: list[str]) -> None:
        # Collections.shuffle: swap each position, from the last down, with a random earlier one.
        for i in range(len(items), 1, -1):
            j = self.next_int(i)
            items[i - 1], items[j] = items[j], items[i - 1]
