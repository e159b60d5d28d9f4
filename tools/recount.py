#!/usr/bin/env python3
"""Standalone recount of a citychain election from its public bulletin board and ledger.

This file owns the observer's side of the voting contract (docs/voting-security.md,
"Universal verifiability"): it fetches the election's ballot, every ballot on its bulletin
board, and for each ballot its ledger entry and RFC 9162 inclusion proof; it checks that the
entry is the board's ballot (tracking code and selections), re-hashes the entry, proves it is
in the tree of the signed head (Ed25519, verified with the ledger's key), then counts every
contest again and compares the count with the server's published results.

Like tools/verify_remote.py it imports nothing from the project and not Django: it runs, with
tools/auditlib.py beside it, on the Python standard library and ``cryptography``
(``rfc8785``, if installed, re-hashes entries; otherwise a built-in RFC 8785 for integer-only
JSON, which is all a ballot entry holds). The counting rules are written here again from
docs/voting-tally.md, not shared with the server's voting/tally.py, so a bug there cannot
hide behind the same bug here.

What it counts from: the ledger entry of each ballot, which the signed tree vouches for; the
board is only its index, and any difference between the two is reported by tracking code.

Scope of the ranked-choice recount: single-winner instant runoff for electronic ballots
(never a skipped rank, an overvote or a repeated choice: such a ballot is a failure here),
under the rules citychain uses for official elections: ties stop the count for officials to
decide (``stopCountingAndAsk``, with the recorded tie decisions) or are broken by candidate
order (``useCandidateOrder``); ``max_rankings`` is honoured. An election using any other
RCTab option (batch elimination, continuing until two remain, a minimum vote threshold,
excluded candidates, random or previous-round tiebreaks) is reported as not recounted and
the run exits 2, never 0.

Run it after voting closes. While an election with live results is open, ballots arriving
during the run make it exit 2 (run again); a ballot whose entry is not sealed yet does too.

Usage: python tools/recount.py BASE_URL ELECTION_ID [--public-key HEX] [--jobs N] [--quiet]
Exit status: 0 everything matches, 1 a mismatch (named), 2 usage, network or incomplete.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# auditlib sits next to this file; importing this file as a module must find it too.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import auditlib

MAX_FAILURES_SHOWN = 50
DEFAULT_JOBS = 8
BOARD_PAGE_SIZE = 1000

LEDGER = "/api/ledger"
VOTING = "/api/voting"
BALLOT_KIND = "voting.ballot_cast"

STOP_COUNTING_AND_ASK = "stopCountingAndAsk"
USE_CANDIDATE_ORDER = "useCandidateOrder"
# RcvRules fields that cannot change the count of an electronic ballot, which never has a
# skipped rank, an overvote or a repeated choice (each is a failure here), or that only
# feed tiebreak modes this tool does not support.
_INERT_RULES = {"overvote", "max_skipped", "duplicate", "seed"}
_SUPPORTED_WHEN = {
    "batch_elimination": False,
    "continue_until_two": False,
    "minimum_vote_threshold": 0,
    "undeclared_write_ins": False,
    "excluded": [],
}

# --- RFC 8785 canonical JSON ---------------------------------------------------------------


def jcs_without_fractions(value: Any) -> bytes:
    """RFC 8785 bytes of JSON that holds no fractional numbers (a ballot entry never does).

    Without floats JCS is: object keys sorted by UTF-16 code units, no whitespace, integers
    in plain decimal, and strings with JSON's minimal escaping (lowercase ``\\u00xx`` for
    other control characters), which ``json.dumps(..., ensure_ascii=False)`` writes.
    """

    def encode(item: Any) -> str:
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise ValueError("object keys must be strings")
            keys = sorted(item, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
            members = (f"{json.dumps(k, ensure_ascii=False)}:{encode(item[k])}" for k in keys)
            return "{" + ",".join(members) + "}"
        if isinstance(item, list):
            return "[" + ",".join(encode(x) for x in item) + "]"
        if isinstance(item, float):
            raise ValueError("fractional numbers need a full RFC 8785 implementation")
        if (
            isinstance(item, int)
            and not isinstance(item, bool)
            and abs(item) > auditlib.MAX_SAFE_INTEGER
        ):
            raise ValueError(f"{item} is beyond the integers JSON numbers hold exactly")
        if item is None or isinstance(item, bool | int | str):
            return json.dumps(item, ensure_ascii=False)
        raise ValueError(f"{type(item).__name__} is not JSON")

    try:
        return encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate") from None


def load_jcs() -> tuple[Callable[[Any], bytes], str]:
    """Full RFC 8785 from the ``rfc8785`` package if installed, else the built-in one."""
    dumps = auditlib.import_rfc8785()
    if dumps is None:
        return jcs_without_fractions, "built-in canonical JSON"
    return dumps, "rfc8785"


@dataclass(frozen=True)
class Head:
    height: int
    tree_size: int
    root_hash: str
    hash: str

    @classmethod
    def verified(cls, raw: Any, key: Ed25519PublicKey) -> Head:
        """The head block, if its hash is SHA-256 of its JCS header and the key signed it."""
        obj = auditlib.require_dict(raw, "head block")
        sealed_at = obj.get("sealed_at")
        if not isinstance(sealed_at, str) or not auditlib.PRINTABLE_ASCII_RE.fullmatch(sealed_at):
            raise auditlib.VerificationFailure("head block has no valid 'sealed_at'")
        header = {
            "height": auditlib.require_count(obj, "height", "head block"),
            "prev_hash": auditlib.require_hex(obj, "prev_hash", auditlib.HASH_SIZE, "head block"),
            "tree_size": auditlib.require_count(obj, "tree_size", "head block"),
            "root_hash": auditlib.require_hex(obj, "root_hash", auditlib.HASH_SIZE, "head block"),
            "sealed_at": sealed_at,
        }
        block_hash = auditlib.require_hex(obj, "hash", auditlib.HASH_SIZE, "head block")
        # A header holds only small integers and printable ASCII; see auditlib.header_jcs.
        if hashlib.sha256(auditlib.header_jcs(header)).hexdigest() != block_hash:
            raise auditlib.VerificationFailure(
                f"head block {header['height']}: hash is not its header's"
            )
        try:
            key.verify(
                bytes.fromhex(
                    auditlib.require_hex(obj, "signature", auditlib.SIGNATURE_SIZE, "head block")
                ),
                bytes.fromhex(block_hash),
            )
        except InvalidSignature:
            raise auditlib.VerificationFailure(
                f"head block {header['height']}: signature does not verify with the ledger key"
            ) from None
        return cls(header["height"], header["tree_size"], header["root_hash"], block_hash)


@dataclass(frozen=True)
class Contest:
    id: int
    title: str
    method: str
    seats: int
    choices: tuple[int, ...]
    names: dict[int, str]
    tie_decisions: tuple[int, ...]

    def name(self, choice: int) -> str:
        return f"{self.names.get(choice, '?')} [{choice}]"


@dataclass(frozen=True)
class Election:
    id: int
    title: str
    status: str
    rcv_rules: dict[str, Any]
    contests: tuple[Contest, ...]

    @classmethod
    def parse(cls, raw: Any, election_id: int) -> Election:
        obj = auditlib.require_dict(raw, "election")
        if obj.get("id") != election_id:
            raise auditlib.VerificationFailure(
                f"asked for election {election_id}, got {obj.get('id')!r}"
            )
        contests = []
        raw_contests = obj.get("contests")
        if not isinstance(raw_contests, list) or not raw_contests:
            raise auditlib.VerificationFailure("the election has no list of contests")
        for raw_contest in raw_contests:
            c = auditlib.require_dict(raw_contest, "contest")
            what = f"contest {c.get('id')!r}"
            raw_choices = c.get("choices")
            if not isinstance(raw_choices, list) or not raw_choices:
                raise auditlib.VerificationFailure(f"{what} has no list of choices")
            names = {}
            for raw_choice in raw_choices:
                choice = auditlib.require_dict(raw_choice, f"{what}: a choice")
                names[auditlib.require_count(choice, "id", f"{what}: a choice")] = str(
                    choice.get("name")
                )
            decisions = c.get("tie_decisions", [])
            if not isinstance(decisions, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in decisions
            ):
                raise auditlib.VerificationFailure(f"{what} has invalid tie decisions")
            method = auditlib.require_str(c, "method", what)
            if method not in ("plurality", "approval", "ranked", "referendum"):
                raise auditlib.VerificationFailure(f"{what} has an unknown method {method!r}")
            contest = Contest(
                id=auditlib.require_count(c, "id", what),
                title=auditlib.require_str(c, "title", what),
                method=method,
                seats=auditlib.require_count(c, "seats", what),
                choices=tuple(names),
                names=names,
                tie_decisions=tuple(decisions),
            )
            if len(contest.choices) != len(raw_choices) or contest.seats < 1:
                raise auditlib.VerificationFailure(f"{what} lists a choice twice or has no seats")
            if method == "referendum" and len(contest.choices) != 2:
                raise auditlib.VerificationFailure(f"{what} is a referendum without two choices")
            contests.append(contest)
        if len({c.id for c in contests}) != len(contests):
            raise auditlib.VerificationFailure("the election lists a contest twice")
        rules = obj.get("rcv_rules", {})
        return cls(
            id=election_id,
            title=auditlib.require_str(obj, "title", "election"),
            status=auditlib.require_str(obj, "status", "election"),
            rcv_rules=auditlib.require_dict(rules, "rcv_rules"),
            contests=tuple(contests),
        )


@dataclass
class Ballot:
    tracking_code: str
    selections: Any
    leaf_index: int | None


# --- Counting, from docs/voting-tally.md ---------------------------------------------------

Marks = tuple[int, ...]


@dataclass
class Round:
    number: int
    tallies: dict[int, int]
    threshold: int
    exhausted: int
    elected: list[int] = field(default_factory=list)
    eliminated: list[int] = field(default_factory=list)


@dataclass
class Count:
    tally: dict[int, int]
    winners: list[int]
    rounds: list[Round] = field(default_factory=list)
    tie: tuple[frozenset[int], str] | None = None  # (tied choices, "winner" or "loser")
    blank: int = 0


class CountError(Exception):
    """The published ballot or tie decisions cannot be counted: a mismatch."""


def count_marks(contest: Contest, ballots: Counter[Marks]) -> Count:
    """Plurality (vote for one) and approval (vote for up to ``seats``): the ``seats``
    choices with the most votes win; a tie for the last seat waits for a decision by lot."""
    tallies = dict.fromkeys(contest.choices, 0)
    blank = 0
    for marks, n in ballots.items():
        if not marks:
            blank += n
        for choice in marks:
            tallies[choice] += n
    seats = contest.seats
    ranked = sorted(contest.choices, key=lambda c: -tallies[c])
    if seats >= len(ranked) or tallies[ranked[seats - 1]] > tallies[ranked[seats]]:
        return Count(tallies, ranked[:seats], blank=blank)
    cutoff = tallies[ranked[seats - 1]]
    clear = [c for c in ranked if tallies[c] > cutoff]
    tied = frozenset(c for c in ranked if tallies[c] == cutoff)
    decisions = contest.tie_decisions
    if not decisions:
        return Count(tallies, clear, tie=(tied, "winner"), blank=blank)
    if len(set(decisions)) != seats - len(clear) or not set(decisions) <= tied:
        raise CountError(f"the tie decisions {list(decisions)} do not fit the tie {sorted(tied)}")
    return Count(tallies, [*clear, *decisions], blank=blank)


def count_referendum(contest: Contest, ballots: Counter[Marks]) -> Count:
    """Yes (the first choice) passes with more yes than no votes; a tie fails."""
    yes, no = contest.choices
    tallies = {yes: 0, no: 0}
    blank = 0
    for marks, n in ballots.items():
        if marks:
            tallies[marks[0]] += n
        else:
            blank += n
    if tallies[yes] + tallies[no] == 0:
        return Count(tallies, [], blank=blank)
    return Count(tallies, [yes] if tallies[yes] > tallies[no] else [no], blank=blank)


def count_ranked(contest: Contest, ballots: Counter[Marks], rules: dict[str, Any]) -> Count:
    """Single-winner instant runoff: each round every ballot counts for its highest-ranked
    continuing choice; a majority of the ballots still counting wins; otherwise the last
    is eliminated. With two left and level, the tie decides the winner."""
    depth = rules.get("max_rankings") or len(contest.choices)
    grouped: Counter[Marks] = Counter()
    for ranking, n in ballots.items():
        grouped[ranking[:depth]] += n
    order = [int(c) for c in rules.get("candidate_order") or () if int(c) in contest.names]
    order = order or list(contest.choices)
    decisions = list(contest.tie_decisions)
    tiebreak = rules.get("tiebreak", STOP_COUNTING_AND_ASK)

    def break_tie(tied: list[int], role: str) -> int | None:
        if tiebreak == USE_CANDIDATE_ORDER:
            position = {choice: i for i, choice in enumerate(order)}
            pick = min if role == "winner" else max
            return pick(tied, key=lambda c: position.get(c, len(order)))
        if not decisions:
            return None
        chosen = decisions.pop(0)
        if chosen not in tied:
            raise CountError(f"the tie decision {chosen} is not one of the tied {sorted(tied)}")
        return chosen

    continuing = list(contest.choices)
    rounds: list[Round] = []
    while True:
        live = set(continuing)
        tallies = dict.fromkeys(continuing, 0)
        exhausted = 0
        for ranking, n in grouped.items():
            top = next((choice for choice in ranking if choice in live), None)
            if top is None:
                exhausted += n
            else:
                tallies[top] += n
        current = Round(len(rounds) + 1, tallies, sum(tallies.values()) // 2 + 1, exhausted)
        rounds.append(current)
        first = rounds[0].tallies

        winner: int | None = None
        if len(continuing) == 1:
            winner = continuing[0]
        else:
            reached = [c for c in continuing if tallies[c] >= current.threshold]
            if reached:
                winner = reached[0]
            elif len(continuing) == 2:
                top_votes = max(tallies.values())
                tied = [c for c in continuing if tallies[c] == top_votes]
                winner = tied[0] if len(tied) == 1 else break_tie(tied, "winner")
                if winner is None:
                    return Count(first, [], rounds, tie=(frozenset(tied), "winner"))
        if winner is not None:
            current.elected = [winner]
            return Count(first, [winner], rounds)

        low = min(tallies.values())
        tied = [c for c in continuing if tallies[c] == low]
        loser = tied[0] if len(tied) == 1 else break_tie(tied, "loser")
        if loser is None:
            return Count(first, [], rounds, tie=(frozenset(tied), "loser"))
        current.eliminated = [loser]
        continuing.remove(loser)


def unsupported_rules(rules: dict[str, Any]) -> list[str]:
    """The election's ranked-choice rules this tool cannot count by (see the docstring)."""
    problems = []
    for name, value in rules.items():
        if name in _INERT_RULES or name in ("candidate_order", "max_rankings"):
            continue
        if name == "tiebreak":
            if value not in (STOP_COUNTING_AND_ASK, USE_CANDIDATE_ORDER):
                problems.append(f"tiebreak {value!r}")
        elif name in _SUPPORTED_WHEN:
            if value != _SUPPORTED_WHEN[name]:
                problems.append(f"{name} {value!r}")
        else:
            problems.append(f"unknown rule {name!r}")
    max_rankings = rules.get("max_rankings")
    if max_rankings is not None and (not isinstance(max_rankings, int) or max_rankings < 1):
        problems.append(f"max_rankings {max_rankings!r}")
    if not all(isinstance(c, str) and c.isdigit() for c in rules.get("candidate_order") or ()):
        problems.append("a candidate_order that is not choice ids")
    return problems


def ballot_problem(contest_of: dict[str, Contest], selections: Any) -> str | None:
    """Why a published ballot could not have been cast, or None."""
    if not isinstance(selections, dict):
        return "its selections are not an object"
    for key, marks in selections.items():
        contest = contest_of.get(key)
        if contest is None:
            return f"it marks contest {key!r}, which is not on the ballot"
        if not isinstance(marks, list) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in marks
        ):
            return f"contest {key}: the marks are not a list of choice ids"
        unknown = [m for m in marks if m not in contest.names]
        if unknown:
            return f"contest {key}: {unknown} are not its choices"
        if len(set(marks)) != len(marks):
            return f"contest {key}: a choice is marked more than once"
        if len(marks) > contest.seats:
            return f"contest {key}: {len(marks)} marks, more than the {contest.seats} allowed"
    return None


# --- The recount -----------------------------------------------------------------------------


class Recount:
    def __init__(self, api: auditlib.Api, election_id: int, *, quiet: bool, jobs: int):
        self.api = api
        self.election_id = election_id
        self.quiet = quiet
        self.jobs = jobs
        self.failures: list[str] = []
        self.incomplete: list[str] = []

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def fetch(self, path: str, what: str, query: dict[str, Any] | str | None = None) -> Any:
        raw = self.api.get(path, query)
        if raw is None:
            raise auditlib.UsageError(f"{self.api.base_url}{path}: {what} not found")
        return raw

    # -- reading ------------------------------------------------------------------------

    def fetch_key(self, pinned: str | None) -> Ed25519PublicKey:
        obj = auditlib.require_dict(
            self.fetch(f"{LEDGER}/key/", "the ledger's key"), "key response"
        )
        if obj.get("algorithm") != "Ed25519":
            raise auditlib.VerificationFailure(f"ledger key algorithm is {obj.get('algorithm')!r}")
        key_hex = auditlib.require_hex(obj, "public_key", auditlib.PUBLIC_KEY_SIZE, "key response")
        if pinned is not None and key_hex != pinned:
            raise auditlib.VerificationFailure(
                f"published key {key_hex} is not the pinned key {pinned}"
            )
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
        except ValueError:
            raise auditlib.VerificationFailure("published key is not a valid Ed25519 key") from None
        self.say(f"key: Ed25519 {key_hex} ({'pinned' if pinned else 'not pinned'})")
        return key

    def fetch_board(self) -> list[Ballot]:
        """Every ballot, following the board's `next` links (their query only: we talk only
        to the BASE_URL the observer chose)."""
        path = f"{VOTING}/elections/{self.election_id}/ballots/"
        query = f"page_size={BOARD_PAGE_SIZE}"
        seen = {query}
        ballots: list[Ballot] = []
        pages = 0
        while True:
            page = auditlib.require_dict(
                self.fetch(path, "the bulletin board", query), "board page"
            )
            pages += 1
            results = page.get("results")
            if not isinstance(results, list):
                raise auditlib.VerificationFailure(f"board page {pages} has no 'results' list")
            for raw in results:
                obj = auditlib.require_dict(raw, f"a ballot on board page {pages}")
                ballots.append(
                    Ballot(
                        tracking_code=auditlib.require_str(obj, "tracking_code", "a ballot"),
                        selections=obj.get("selections"),
                        leaf_index=auditlib.require_count(
                            obj, "leaf_index", "a ballot", nullable=True
                        ),
                    )
                )
            next_url = page.get("next")
            if not next_url:
                break
            if not isinstance(next_url, str):
                raise auditlib.VerificationFailure(f"board page {pages} has an invalid 'next'")
            query = urllib.parse.urlsplit(next_url).query
            if query in seen:
                raise auditlib.VerificationFailure("the board's 'next' links never end")
            seen.add(query)
        codes = [b.tracking_code for b in ballots]
        self.say(f"board: {len(ballots)} ballots from {pages} page(s)")
        duplicates = sorted(code for code, n in Counter(codes).items() if n > 1)
        for code in duplicates:
            self.fail(f"ballot {code}: on the board more than once")
        if codes != sorted(codes):
            # The order is a secrecy promise: cast order would link ballots to times.
            self.fail("the board is not ordered by tracking code")
        leaves = Counter(b.leaf_index for b in ballots if b.leaf_index is not None)
        for ballot in ballots:
            if ballot.leaf_index is not None and leaves[ballot.leaf_index] > 1:
                self.fail(
                    f"ballot {ballot.tracking_code}: shares ledger leaf {ballot.leaf_index} "
                    "with another ballot"
                )
        return ballots

    # -- the ledger ---------------------------------------------------------------------

    def check_entry(
        self, ballot: Ballot, head: Head, jcs: Callable[[Any], bytes]
    ) -> tuple[list[str], Any, str | None]:
        """Problems with one sealed ballot's entry and proof; its selections and subject as
        the ledger holds them."""
        code, leaf = ballot.tracking_code, ballot.leaf_index
        assert leaf is not None
        where = f"ballot {code} (leaf {leaf})"
        if leaf >= head.tree_size:
            return [f"{where}: beyond the signed head's tree of {head.tree_size}"], None, None
        raw = self.api.get(f"{LEDGER}/entries/{leaf}/")
        if raw is None:
            return [f"{where}: the ledger has no such entry"], None, None
        obj = auditlib.require_dict(raw, f"{where}: entry response")
        leaf_hex = auditlib.require_hex(
            obj, "leaf_hash", auditlib.HASH_SIZE, f"{where}: entry response"
        )
        entry = obj.get("entry")
        if obj.get("leaf_index") != leaf or obj.get("kind") != BALLOT_KIND:
            return [f"{where}: the entry is not a ballot's ({obj.get('kind')!r})"], None, None
        if not isinstance(entry, dict) or entry.get("kind") != BALLOT_KIND:
            return [f"{where}: the entry's content is not published"], None, None
        problems = []
        data = entry.get("data")
        data = data if isinstance(data, dict) else {}
        if data.get("election") != self.election_id:
            problems.append(f"{where}: the ledger entry is for election {data.get('election')!r}")
        if data.get("tracking_code") != code:
            problems.append(
                f"{where}: the ledger entry has tracking code {data.get('tracking_code')!r}"
            )
        if data.get("selections") != ballot.selections:
            problems.append(
                f"{where}: selections on the board {json.dumps(ballot.selections)} differ "
                f"from its ledger entry {json.dumps(data.get('selections'))}"
            )
        try:
            computed = auditlib.leaf_hash_of(jcs(entry)).hex()
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: the entry has no canonical JSON form ({exc})")
        else:
            if computed != leaf_hex:
                problems.append(f"{where}: the entry's hash {computed} is not its leaf hash")
        proof = auditlib.require_dict(
            self.fetch(
                f"{LEDGER}/entries/{leaf}/proof/",
                "an inclusion proof",
                {"tree_size": head.tree_size},
            ),
            f"{where}: inclusion proof",
        )
        if proof.get("leaf_index") != leaf or proof.get("tree_size") != head.tree_size:
            problems.append(f"{where}: asked for a proof in tree {head.tree_size}, got another")
        elif proof.get("leaf_hash") != leaf_hex:
            problems.append(f"{where}: the proof is for another leaf hash than the entry's")
        elif not auditlib.verify_inclusion(
            bytes.fromhex(leaf_hex),
            leaf,
            head.tree_size,
            auditlib.require_hex_list(proof, "audit_path", f"{where}: inclusion proof"),
            bytes.fromhex(head.root_hash),
        ):
            problems.append(
                f"{where}: the inclusion proof does not verify against the signed head "
                f"(tree size {head.tree_size}, root {head.root_hash})"
            )
        subject = entry.get("subject")
        return problems, data.get("selections"), subject if isinstance(subject, str) else None

    def check_ledger(self, ballots: list[Ballot], head: Head) -> dict[str, Any]:
        """Check every sealed ballot against the ledger; the selections to count, by code."""
        jcs, jcs_name = load_jcs()
        sealed = [b for b in ballots if b.leaf_index is not None]
        counted = {b.tracking_code: b.selections for b in ballots}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            checked = list(pool.map(lambda b: self.check_entry(b, head, jcs), sealed))
        subjects = set()
        for ballot, (problems, selections, subject) in zip(sealed, checked, strict=True):
            for problem in problems:
                self.fail(problem)
            if selections is not None:
                # The ledger is the record the signed tree vouches for; the board indexes it.
                counted[ballot.tracking_code] = selections
            if subject is not None:
                subjects.add(subject)
        if len(subjects) > 1:
            self.fail(
                f"the election's ballot entries are under {len(subjects)} different subjects; "
                "every ballot should carry the election's one pseudonym"
            )
        pending = len(ballots) - len(sealed)
        self.say(
            f"ledger: {len(sealed)} entries checked against the board, re-hashed ({jcs_name}), "
            f"inclusion proven in the signed head (height {head.height}, tree size "
            f"{head.tree_size})"
        )
        if pending:
            self.incomplete.append(
                f"{pending} ballot(s) not sealed into the ledger yet; run again in a few seconds"
            )
        return counted

    # -- counting -----------------------------------------------------------------------

    def count(self, election: Election, counted: dict[str, Any]) -> dict[int, Count | None]:
        contest_of = {str(c.id): c for c in election.contests}
        grouped: dict[int, Counter[Marks]] = {c.id: Counter() for c in election.contests}
        for code, selections in counted.items():
            problem = ballot_problem(contest_of, selections)
            if problem:
                self.fail(f"ballot {code}: could not have been cast: {problem}")
                continue
            for contest in election.contests:
                marks = tuple(selections.get(str(contest.id), ()))
                grouped[contest.id][
                    marks if contest.method == "ranked" else tuple(sorted(marks))
                ] += 1
        unsupported = unsupported_rules(election.rcv_rules)
        results: dict[int, Count | None] = {}
        for contest in election.contests:
            try:
                if contest.method == "ranked" and unsupported:
                    self.incomplete.append(
                        f"contest {contest.id} {contest.title!r} not recounted: this tool does "
                        f"not count by {', '.join(unsupported)}"
                    )
                    results[contest.id] = None
                elif contest.method == "ranked":
                    results[contest.id] = count_ranked(
                        contest, grouped[contest.id], election.rcv_rules
                    )
                elif contest.method == "referendum":
                    results[contest.id] = count_referendum(contest, grouped[contest.id])
                else:
                    results[contest.id] = count_marks(contest, grouped[contest.id])
            except CountError as exc:
                self.fail(f"contest {contest.id} {contest.title!r}: {exc}")
                results[contest.id] = None
        return results

    def compare(
        self, election: Election, ours: dict[int, Count | None], server: dict[str, Any], total: int
    ) -> None:
        contests = server.get("contests")
        if not isinstance(contests, list):
            raise auditlib.VerificationFailure("the server's results have no list of contests")
        by_id = {c.get("id"): c for c in contests if isinstance(c, dict)}
        if set(by_id) != {c.id for c in election.contests}:
            self.fail("the server's results are not for this election's contests")
        for contest in election.contests:
            mine, theirs = ours.get(contest.id), by_id.get(contest.id)
            self.show(contest, mine, total)
            if mine is None or theirs is None:
                continue
            differences = _differences(contest, mine, theirs, total)
            for difference in differences:
                self.fail(f"contest {contest.id} {contest.title!r}: {difference}")
            if not differences:
                self.say("  matches the server's published result")
        turnout = server.get("turnout")
        if isinstance(turnout, dict):
            for key in ("ballots", "voted"):
                if turnout.get(key) != total:
                    self.fail(
                        f"turnout: the server reports {key} = {turnout.get(key)!r}, but the "
                        f"board has {total} ballots"
                    )

    def show(self, contest: Contest, count: Count | None, total: int) -> None:
        self.say(f"contest {contest.id} {contest.title!r} ({contest.method}): {total} ballots")
        if count is None:
            self.say("  not recounted")
            return
        for choice in contest.choices:
            self.say(f"  {contest.name(choice)}: {count.tally[choice]}")
        for r in count.rounds:
            line = ", ".join(f"{contest.name(c)} {v}" for c, v in r.tallies.items())
            outcome = "".join(
                [f"; elected {contest.name(c)}" for c in r.elected]
                + [f"; eliminated {contest.name(c)}" for c in r.eliminated]
            )
            self.say(
                f"  round {r.number}: {line}; exhausted {r.exhausted}; "
                f"threshold {r.threshold}{outcome}"
            )
        winners = ", ".join(contest.name(c) for c in count.winners) or "none"
        self.say(f"  winners: {winners}")
        if count.tie is not None:
            tied = ", ".join(contest.name(c) for c in sorted(count.tie[0]))
            self.say(f"  tie for {count.tie[1]} among {tied}: for officials to decide by lot")

    # -- the run ------------------------------------------------------------------------

    def run(self, pinned: str | None) -> int:
        path = f"{VOTING}/elections/{self.election_id}/"
        raw_election = self.api.get(path)
        if raw_election is None:
            raise auditlib.UsageError(
                f"{self.api.base_url}{path}: no such election (drafts are private)"
            )
        election = Election.parse(raw_election, self.election_id)
        self.say(f"election {election.id} {election.title!r} ({election.status})")
        results_path = f"{path}results/"
        before = auditlib.require_dict(self.fetch(results_path, "the results"), "results")
        ballots = self.fetch_board()
        key = self.fetch_key(pinned)
        raw_head = self.api.get(f"{LEDGER}/head/")
        if raw_head is None:
            # Nothing sealed yet: every ballot must still be pending, and the run incomplete.
            if any(b.leaf_index is not None for b in ballots):
                raise auditlib.VerificationFailure(
                    "the board shows sealed ballots, but the ledger is empty"
                )
            head = Head(height=-1, tree_size=0, root_hash="", hash="")
            self.say("head: the ledger has no blocks yet")
        else:
            head = Head.verified(raw_head, key)
            self.say(f"head: height {head.height}, tree size {head.tree_size}, signature verified")
        counted = self.check_ledger(ballots, head)
        after = auditlib.require_dict(self.fetch(results_path, "the results"), "results")
        if before != after:
            raise auditlib.UsageError(
                "ballots were cast while the recount ran (the results changed); run it again, "
                "or after voting closes"
            )
        self.compare(election, self.count(election, counted), after, len(ballots))

        if self.failures:
            for failure in self.failures[:MAX_FAILURES_SHOWN]:
                print(f"FAIL: {failure}", flush=True)
            more = len(self.failures) - MAX_FAILURES_SHOWN
            if more > 0:
                print(f"FAIL: ... and {more} more", flush=True)
            return auditlib.EXIT_FAIL
        if self.incomplete:
            for reason in self.incomplete:
                print(f"INCOMPLETE: {reason}", flush=True)
            return auditlib.EXIT_ERROR
        print(
            f"OK: election {election.id}: {len(ballots)} ballots on the board match the ledger, "
            f"{len(election.contests)} contest(s) recounted match the published results"
        )
        return auditlib.EXIT_OK


def _tie_text(tie: tuple[frozenset[Any], Any] | None) -> str:
    if tie is None:
        return "no tie"
    return f"a tie for {tie[1]} among {sorted(tie[0], key=str)}"


def _differences(contest: Contest, mine: Count, theirs: Any, total: int) -> list[str]:
    found = []
    if theirs.get("ballots") != total:
        found.append(f"the server counted {theirs.get('ballots')!r} ballots, the board has {total}")
    tally = {str(c): v for c, v in mine.tally.items()}
    if theirs.get("tally") != tally:
        found.append(f"tally {tally} recounted, the server publishes {theirs.get('tally')!r}")
    winners = theirs.get("winners")
    same = (
        winners == mine.winners
        if contest.method == "ranked"
        else isinstance(winners, list)
        and sorted(map(str, winners)) == sorted(map(str, mine.winners))
    )
    if not same:
        found.append(f"winners {mine.winners} recounted, the server publishes {winners!r}")
    tie = theirs.get("tie")
    their_tie = (
        (frozenset(tie.get("candidates") or ()), tie.get("selecting"))
        if isinstance(tie, dict)
        else None
    )
    if their_tie != mine.tie:
        found.append(f"the recount finds {_tie_text(mine.tie)}, the server {_tie_text(their_tie)}")
    if contest.method == "ranked":
        rounds = theirs.get("rounds")
        if not isinstance(rounds, list) or len(rounds) != len(mine.rounds):
            found.append(
                f"{len(mine.rounds)} rounds recounted, the server publishes "
                f"{len(rounds) if isinstance(rounds, list) else rounds!r}"
            )
            return found
        for r, t in zip(mine.rounds, rounds, strict=True):
            expected = {
                "number": r.number,
                "tallies": {str(c): v for c, v in r.tallies.items()},
                "threshold": r.threshold,
                "exhausted": r.exhausted,
                "elected": r.elected,
                "eliminated": r.eliminated,
            }
            published = {k: t.get(k) for k in expected} if isinstance(t, dict) else t
            if published != expected:
                found.append(f"round {r.number}: recounted {expected}, published {published}")
    return found


# --- Command line ----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= auditlib.MAX_SAFE_INTEGER:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Recount a citychain election from its public bulletin board, checking "
        "every ballot against the signed ledger, and compare with the published results.",
        epilog="Exit status: 0 everything matches, 1 a mismatch, 2 usage, network or "
        "incomplete (ballots not sealed yet, rules this tool does not count by).",
    )
    parser.add_argument("base_url", metavar="BASE_URL", help="e.g. https://city.example")
    parser.add_argument("election_id", metavar="ELECTION_ID", type=_positive_int)
    auditlib.add_public_key_argument(parser)
    parser.add_argument(
        "--jobs", type=_positive_int, default=DEFAULT_JOBS, help="requests in parallel"
    )
    auditlib.add_timeout_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="print only the verdict")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        api = auditlib.Api(
            auditlib.normalize_base_url(args.base_url),
            args.timeout,
            "citychain-recount",
            show_detail=True,
        )
        recount = Recount(api, args.election_id, quiet=args.quiet, jobs=args.jobs)
        return recount.run(args.public_key)

    return auditlib.exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
