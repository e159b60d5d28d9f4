"""Every write of the voting app.

Invariants:
- One voter, one ballot. A ballot is stored only in the transaction whose conditional UPDATE
  turned its voter's ``has_voted`` from false to true (and cleared the credential's hash);
  the database serializes concurrent UPDATEs of that row, so of any number of simultaneous
  casts with one credential exactly one stores a ballot. A refusal stores nothing.
- Secrecy. A ballot row holds no voter, credential or time; its ledger entry holds the
  election, tracking code and selections, under the election's pseudonym, and nothing
  about the voter. The roll records only *that* a voter has voted.
- A credential exists only on the voter's letter: the server keeps its SHA-256. Reissuing
  replaces the hash, which voids the old credential; casting clears it.
- The lifecycle is draft → open → closed → certified, on server time. The ballot (contests,
  choices, rules) is editable only while draft; its SHA-256 is fixed and published when the
  election opens. Ballots are accepted only while open: closing waits for casts in flight
  (a row lock on the election) so none lands after ``closed_at``.
- Every change of status, roll size, credentials issued and tie decision is on the ledger,
  as a public entry, in the same transaction.
- Methods a city's state does not allow (``CITYCHAIN_VOTING_METHODS``) cannot be used.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citychain import crypto
from identity.models import Resident, User
from ledger import canonical
from ledger import services as ledger
from ledger.models import Entry
from voting import credentials as codes
from voting.models import Ballot, Choice, Contest, Election, Voter, rcv_rules_from_json

ALL_METHODS = tuple(Contest.Method.values)
MAX_ROLL_ERRORS = 100
MAX_BALLOT_PROBLEMS = 20
_TRACKING_CODE_ATTEMPTS = 5
_REFERENCE_MAX_LENGTH = 200

Status = Election.Status


class VotingRefused(Exception):
    """A cast the rules refuse (the API answers 403). The message can be shown as it is."""


class VotingClosed(VotingRefused):
    """The election is not open: not yet, or no longer."""


class VotingNotStarted(VotingClosed):
    """The election is still a draft (the API treats it as unknown)."""


class CredentialRefused(VotingRefused):
    """The credential does not open a ballot: unknown, used, voided or of another election.

    The message is the same in every case, so a refusal tells nothing about the roll.
    """


class CredentialMistyped(CredentialRefused):
    """The credential cannot be one (wrong length, character or check symbol): a typo.

    Said apart, because the check symbol shows it without asking the roll.
    """


# --- helpers ---------------------------------------------------------------------------


def allowed_methods() -> tuple[str, ...]:
    """The contest methods this city's state allows (CITYCHAIN_VOTING_METHODS)."""
    return tuple(getattr(settings, "CITYCHAIN_VOTING_METHODS", ALL_METHODS))


def reference_index(reference: str) -> str:
    """The keyed blind index of a voter ID (exact match, after trimming spaces)."""
    return crypto.blind_index(
        reference.strip(), settings.CITYCHAIN_DATA_KEYS, purpose="voting.Voter.reference"
    )


def election_subject(election_id: int) -> str:
    """The ledger subject of an election's entries. Elections are public, but every subject
    is a pseudonym (docs/ledger-spec.md), and a ballot's entry names only its election."""
    return ledger.pseudonym("voting.election", str(election_id))


def _require_status(election: Election, *allowed: str, message: str) -> None:
    if election.status not in allowed:
        raise ValidationError(message)


def _require_draft(election: Election) -> None:
    _require_status(
        election,
        Status.DRAFT,
        message=_("The ballot cannot be edited once the election is open."),
    )


def _lock(election: Election) -> Election:
    """Lock the election's row and refresh the caller's instance from it.

    FOR UPDATE conflicts with the FOR KEY SHARE every cast takes, so a change of status
    waits for the casts in flight, and they in turn see the new status.
    """
    list(Election.objects.select_for_update().filter(pk=election.pk).values_list("pk"))
    election.refresh_from_db()
    return election


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical.canonical_json(value)).hexdigest()


def _roll_counts(election: Election) -> dict[str, int]:
    voters = Voter.objects.filter(election=election)
    return {"voters": voters.count(), "voted": voters.filter(has_voted=True).count()}


def _record_status(election: Election, extra: dict[str, Any]) -> None:
    ledger.record(
        "voting.election_status",
        election_subject(election.pk),
        {
            "election": election.pk,
            "status": election.status,
            "definition_sha256": election.definition_sha256,
            **extra,
        },
    )


# --- elections and their ballot --------------------------------------------------------


@transaction.atomic
def election_create(
    *,
    acting_user: User | None,
    title: str,
    description: str = "",
    results_live: bool = False,
    rcv_rules: dict[str, Any] | None = None,
) -> Election:
    """A draft election. ``rcv_rules`` are voting.tally.RcvRules fields ({} = our defaults)."""
    rules = dict(rcv_rules or {})
    try:
        if rcv_rules_from_json(rules).undeclared_write_ins:
            raise ValueError("electronic ballots have no write-ins")
    except ValueError as exc:
        raise ValidationError(
            {"rcv_rules": _("The ranked-choice rules are not valid: %(error)s") % {"error": exc}}
        ) from None
    election = Election(
        title=title.strip(),
        description=description.strip(),
        results_live=results_live,
        rcv_rules=rules,
        created_by=acting_user,
    )
    election.full_clean()
    election.save()
    return election


@transaction.atomic
def contest_add(election: Election, *, title: str, method: str, seats: int = 1) -> Contest:
    """Add a contest to a draft election; a referendum gets its Yes and No choices.

    ``seats`` is how many choices a voter may mark (approval) or rank (ranked); plurality
    and referendums are vote-for-one.
    """
    election = _lock(election)
    _require_draft(election)
    if method not in ALL_METHODS:
        raise ValidationError(
            {"method": _("Unknown voting method: %(method)s.") % {"method": method}}
        )
    if method not in allowed_methods():
        raise ValidationError(
            {
                "method": _("This city's election law does not allow %(method)s contests.")
                % {"method": Contest.Method(method).label}
            }
        )
    if method in (Contest.Method.PLURALITY, Contest.Method.REFERENDUM) and seats != 1:
        raise ValidationError({"seats": _("A plurality contest or a referendum is vote for one.")})
    if not isinstance(seats, int) or seats < 1:
        raise ValidationError({"seats": _("A voter must be able to mark at least one choice.")})
    last = election.contests.aggregate(last=Max("position"))["last"]
    contest = Contest(
        election=election,
        title=title.strip(),
        method=method,
        seats=seats,
        position=0 if last is None else last + 1,
    )
    contest.full_clean()
    contest.save()
    if method == Contest.Method.REFERENDUM:
        # The count reads a referendum's first choice as yes and its second as no. The names
        # are data (hashed into the ballot definition at open), so they are stored in one
        # language whatever the official's; pages show them translated.
        Choice.objects.bulk_create(
            [
                Choice(contest=contest, name="Yes", position=0),
                Choice(contest=contest, name="No", position=1),
            ]
        )
    return contest


@transaction.atomic
def choice_add(contest: Contest, *, name: str) -> Choice:
    """Add a choice (a candidate, an option) to a contest of a draft election."""
    _require_draft(_lock(contest.election))
    if contest.method == Contest.Method.REFERENDUM:
        raise ValidationError(_("A referendum's choices are Yes and No."))
    name = name.strip()
    if contest.choices.filter(name=name).exists():
        raise ValidationError(
            {"name": _("%(contest)s already has a choice named %(name)s.")
             % {"contest": contest.title, "name": name}}
        )  # fmt: skip
    last = contest.choices.aggregate(last=Max("position"))["last"]
    choice = Choice(contest=contest, name=name, position=0 if last is None else last + 1)
    choice.full_clean()
    choice.save()
    return choice


def ballot_definition(election: Election) -> dict[str, Any]:
    """The ballot as published and hashed at open: everything that decides how it counts.

    Anyone can recompute ``definition_sha256`` as SHA-256 of its RFC 8785 canonical JSON.
    """
    rules = election.get_rcv_rules()
    contests = election.contests.prefetch_related("choices").order_by("position", "id")
    return {
        "election": election.pk,
        "title": election.title,
        "description": election.description,
        "results_live": election.results_live,
        "rcv_rules": {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(rules).items()
        },
        "contests": [
            {
                "id": contest.pk,
                "title": contest.title,
                "method": contest.method,
                "seats": contest.seats,
                "choices": [
                    {"id": choice.pk, "name": choice.name}
                    for choice in sorted(contest.choices.all(), key=lambda c: (c.position, c.pk))
                ],
            }
            for contest in contests
        ],
    }


def _check_ready(election: Election) -> None:
    from voting import selectors  # selectors read models only; imported late to avoid a cycle

    problems = []
    contests = list(election.contests.prefetch_related("choices"))
    if not contests:
        problems.append(_("An election needs at least one contest."))
    for contest in contests:
        count = len(contest.choices.all())
        if contest.method not in allowed_methods():
            problems.append(
                _("%(contest)s: this city's election law does not allow %(method)s contests.")
                % {"contest": contest.title, "method": contest.get_method_display()}
            )
        if contest.method == Contest.Method.REFERENDUM and count != 2:
            problems.append(
                _("%(contest)s is a referendum: its choices must be Yes and No.")
                % {"contest": contest.title}
            )
        elif count == 0:
            problems.append(_("%(contest)s has no choices.") % {"contest": contest.title})
        elif contest.seats > count:
            problems.append(
                ngettext(
                    "%(contest)s lets voters mark %(seats)d choices but has only %(count)d choice.",
                    "%(contest)s lets voters mark %(seats)d choices but has only %(count)d "
                    "choices.",
                    count,
                )
                % {"contest": contest.title, "seats": contest.seats, "count": count}
            )
    if problems:
        raise ValidationError(problems)
    try:
        # Count an empty ballot box now, so rules that do not fit the choices (a candidate
        # order naming someone else) are found before anyone votes, not at the count.
        selectors.results(election)
    except ValueError as exc:
        raise ValidationError(
            _("The ranked-choice rules do not fit this ballot: %(error)s") % {"error": exc}
        ) from None


@transaction.atomic
def election_open(election: Election, *, acting_user: User | None = None) -> Election:
    """Open a draft election for voting; its ballot is frozen and its digest published."""
    election = _lock(election)
    _require_status(election, Status.DRAFT, message=_("Only a draft election can be opened."))
    _check_ready(election)
    election.definition_sha256 = _digest(ballot_definition(election))
    election.status, election.opened_at = Status.OPEN, timezone.now()
    election.ledger_subject = election_subject(election.pk)
    election.save(update_fields=["status", "opened_at", "definition_sha256", "ledger_subject"])
    _record_status(election, _roll_counts(election))
    return election


@transaction.atomic
def election_close(election: Election, *, acting_user: User | None = None) -> Election:
    """Stop accepting ballots. Waits for casts in flight, so every ballot precedes closed_at."""
    election = _lock(election)
    _require_status(election, Status.OPEN, message=_("Only an open election can be closed."))
    election.status, election.closed_at = Status.CLOSED, timezone.now()
    election.save(update_fields=["status", "closed_at"])
    # Each "has voted" mark was written by the same transaction as its ballot, and
    # PostgreSQL stamps both rows with that transaction's id (xmin). Rewriting every mark
    # in this one transaction replaces those stamps with one shared id. It narrows what a
    # database reader can join after the close; it does not erase old row versions before
    # VACUUM, the write-ahead log or backups (docs/voting-security.md).
    Voter.objects.filter(election=election, has_voted=True).update(has_voted=True)
    counts = _roll_counts(election)
    _record_status(election, {**counts, "ballots": election.ballots.count()})
    return election


@transaction.atomic
def election_certify(election: Election, *, acting_user: User | None = None) -> Election:
    """Certify a closed election's results; their SHA-256 goes on the ledger."""
    from voting import selectors

    election = _lock(election)
    _require_status(election, Status.CLOSED, message=_("Only a closed election can be certified."))
    results = selectors.results(election)
    ties = [c for c in results["contests"] if c["tie"] is not None]
    if ties:
        titles = dict(election.contests.values_list("pk", "title"))
        raise ValidationError(
            [
                _("%(contest)s ends in a tie that must be decided, as the law says, before "
                  "the election can be certified.") % {"contest": titles[c["id"]]}
                for c in ties
            ]
        )  # fmt: skip
    election.status, election.certified_at = Status.CERTIFIED, timezone.now()
    election.save(update_fields=["status", "certified_at"])
    _record_status(
        election,
        {"ballots": election.ballots.count(), "results_sha256": _digest(results)},
    )
    return election


@transaction.atomic
def contest_decide_ties(
    contest: Contest, *, decisions: list[int], acting_user: User | None = None
) -> Contest:
    """Record how officials decided a closed contest's ties (by lot, as the law says).

    ``decisions`` are choice ids, one per tie in the order the count meets them (the
    winner or the one eliminated, as the tie says); the count is then run again with them.
    """
    from voting import selectors

    election = _lock(contest.election)
    _require_status(
        election,
        Status.CLOSED,
        message=_("Ties are decided after voting closes and before certification."),
    )
    known = set(contest.choices.values_list("pk", flat=True))
    if not all(isinstance(d, int) and d in known for d in decisions):
        raise ValidationError(_("Each tie decision must name a choice of this contest."))
    contest.tie_decisions = list(decisions)
    try:
        selectors.contest_result(contest, selectors.contest_ballots(contest))
    except ValueError as exc:
        raise ValidationError(
            _("These decisions do not fit the ties of the count: %(error)s") % {"error": exc}
        ) from None
    contest.save(update_fields=["tie_decisions"])
    ledger.record(
        "voting.ties_decided",
        election_subject(election.pk),
        {"election": election.pk, "contest": contest.pk, "decisions": list(decisions)},
    )
    return contest


# --- the roll and credentials ----------------------------------------------------------


def _require_roll_editable(election: Election) -> None:
    _require_status(
        election,
        Status.DRAFT,
        Status.OPEN,
        message=_("The roll cannot change once voting has closed."),
    )


def _record_roll(election: Election, added: int) -> None:
    ledger.record(
        "voting.roll_updated",
        election_subject(election.pk),
        {"election": election.pk, "added": added, **_roll_counts(election)},
    )


@transaction.atomic
def roll_import_csv(election: Election, text: str) -> list[Voter]:
    """Add the voters of a CSV (columns ``voter_id``, ``name``, optional ``email``).

    All or nothing: any problem refuses the whole file, with every problem found (up to
    MAX_ROLL_ERRORS) named by its line number. The header is line 1.
    """
    election = _lock(election)
    _require_roll_editable(election)
    errors: list[tuple[int, str]] = []

    def problem(line: int, message: str) -> None:
        errors.append((line, message))

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [column.strip().lower() for column in next(reader, [])]
    except csv.Error as exc:
        raise ValidationError(_("Line 1: %(problem)s") % {"problem": exc}) from None
    missing = [column for column in ("voter_id", "name") if column not in header]
    if missing:
        raise ValidationError(
            _("Line 1: the header must name the columns voter_id and name (and may name "
              "email); missing: %(missing)s.") % {"missing": ", ".join(missing)}
        )  # fmt: skip
    rows: list[tuple[int, str, str, str | None]] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue  # blank lines are no one
            if len(values) > len(header):
                problem(line, _("it has more columns than the header."))
                continue
            row = dict(zip(header, values, strict=False))
            reference = row.get("voter_id", "").strip()
            name = " ".join(row.get("name", "").split())
            email = row.get("email", "").strip() or None
            if not reference:
                problem(line, _("the voter ID is empty."))
            elif len(reference) > _REFERENCE_MAX_LENGTH:
                problem(line, _("the voter ID is longer than 200 characters."))
            elif reference in seen:
                problem(
                    line,
                    _("voter ID %(id)s is already on line %(other)d.")
                    % {"id": reference, "other": seen[reference]},
                )
            else:
                seen[reference] = line
            if not name:
                problem(line, _("the name is empty."))
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    problem(line, _("%(email)s is not an email address.") % {"email": email})
            rows.append((line, reference, name, email))
            if len(errors) >= MAX_ROLL_ERRORS:
                break
    except csv.Error as exc:
        problem(reader.line_num, str(exc))
    indexes = {reference: reference_index(reference) for _line, reference, _n, _e in rows}
    on_roll = set(
        Voter.objects.filter(
            election=election, reference_index__in=list(indexes.values())
        ).values_list("reference_index", flat=True)
    )
    for line, reference, _name, _email in rows:
        if reference and indexes[reference] in on_roll:
            problem(line, _("voter ID %(id)s is already on the roll.") % {"id": reference})
    if errors:
        errors.sort(key=lambda error: error[0])
        raise ValidationError(
            [
                _("Line %(line)d: %(problem)s") % {"line": line, "problem": message}
                for line, message in errors[:MAX_ROLL_ERRORS]
            ]
        )
    if not rows:
        raise ValidationError(_("The file has no voters."))
    voters = Voter.objects.bulk_create(
        [
            Voter(
                election=election,
                reference=reference,
                reference_index=indexes[reference],
                name=name,
                email=email,
            )
            for _line, reference, name, email in rows
        ],
        batch_size=1000,
    )
    _record_roll(election, len(voters))
    return voters


@transaction.atomic
def roll_from_residents(election: Election, residents: Iterable[Resident]) -> list[Voter]:
    """Add residents to the roll (by their public id); those already on it are skipped."""
    election = _lock(election)
    _require_roll_editable(election)
    wanted = {str(r.public_id): r for r in residents}
    indexes = {reference: reference_index(reference) for reference in wanted}
    on_roll = set(
        Voter.objects.filter(
            election=election, reference_index__in=list(indexes.values())
        ).values_list("reference_index", flat=True)
    )
    voters = Voter.objects.bulk_create(
        [
            Voter(
                election=election,
                reference=reference,
                reference_index=indexes[reference],
                name=resident.display_name,
                email=resident.email or None,
            )
            for reference, resident in wanted.items()
            if indexes[reference] not in on_roll
        ],
        batch_size=1000,
    )
    if voters:
        _record_roll(election, len(voters))
    return voters


@transaction.atomic
def credentials_issue(
    election: Election,
    *,
    only_not_voted: bool = True,
    voters: Iterable[Voter] | None = None,
    acting_user: User | None = None,
) -> list[tuple[Voter, str]]:
    """Give each voter who has not voted a fresh credential; returns (voter, credential).

    The credentials exist only in the return value (for letters or a mail merge): the
    roll keeps their hashes, and a voter's new credential voids any older one. ``voters``
    limits the issue to some of the roll (a lost letter). A voter who has voted never holds
    a credential (a database constraint), so ``only_not_voted=False`` asks for everyone and
    is refused if anyone in scope has voted.
    """
    election = _lock(election)
    _require_roll_editable(election)
    scope = Voter.objects.filter(election=election)
    if voters is not None:
        scope = scope.filter(pk__in=[v.pk for v in voters])
    if not only_not_voted and scope.filter(has_voted=True).exists():
        raise ValidationError(
            _("Some of these voters have already voted; a credential for them would be void.")
        )
    # Locking the rows makes a concurrent cast either finish first (and the voter drops
    # out of this issue) or wait and find its credential voided.
    targets = list(scope.select_for_update().filter(has_voted=False).order_by("pk"))
    now = timezone.now()
    issued = []
    for voter in targets:
        credential = codes.new_credential()
        voter.credential_hash = codes.credential_hash(credential)
        voter.credential_issued_at = now
        issued.append((voter, credential))
    Voter.objects.bulk_update(targets, ["credential_hash", "credential_issued_at"], batch_size=1000)
    ledger.record(
        "voting.credentials_issued",
        election_subject(election.pk),
        {"election": election.pk, "issued": len(issued)},
    )
    return issued


@transaction.atomic
def credentials_void(
    election: Election, *, voters: Iterable[Voter], acting_user: User | None = None
) -> int:
    """Void the unused credentials of these voters (an email that bounced, a letter lost in
    the post); returns how many were live. They can be issued new ones."""
    voided = Voter.objects.filter(
        election=election, pk__in=[v.pk for v in voters], has_voted=False
    ).update(credential_hash=None)
    if voided:
        ledger.record(
            "voting.credentials_voided",
            election_subject(election.pk),
            {"election": election.pk, "voided": voided},
        )
    return voided


# --- ballots ---------------------------------------------------------------------------


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: str.isdigit also takes superscripts and other scripts' digits,
    # which int() refuses (a 400 would have said "invalid literal") or reads as numbers.
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) < 19:
        return int(text)
    return None


# An open election's ballot is frozen (its SHA-256 went on the ledger when it opened), so a
# process may keep it instead of reading contests and choices on every cast. The key
# includes that hash, so nothing stale is ever used.
_frozen_contests: dict[tuple[int, str], dict[int, Contest]] = {}


def _contests_of(election: Election) -> dict[int, Contest]:
    if election.status != Status.OPEN or not election.definition_sha256:
        return {c.pk: c for c in election.contests.prefetch_related("choices")}
    key = (election.pk, election.definition_sha256)
    contests = _frozen_contests.get(key)
    if contests is None:
        contests = {c.pk: c for c in election.contests.prefetch_related("choices")}
        for contest in contests.values():
            list(contest.choices.all())  # settle the prefetch before sharing
        _frozen_contests[key] = contests
    return contests


def ballot_validate(election: Election, selections: Any) -> dict[str, list[int]]:
    """Check a voter's selections against the election's ballot; return them cleaned.

    ``selections`` maps contest ids to lists of choice ids (ids may be numbers or digit
    strings; ranked contests in order of preference). The cleaned form has every contest,
    by id as a string, with an empty list for a contest left blank (an undervote, which is
    allowed). Problems (an unknown contest or choice, more marks than the contest allows,
    a choice marked or ranked twice) raise ValidationError with messages naming the contest.
    """
    if not isinstance(selections, Mapping):
        raise ValidationError(
            _("The selections must map each contest to the list of chosen choices.")
        )
    contests = _contests_of(election)
    problems: list[str] = []
    given: dict[int, Any] = {}
    for key, marks in selections.items():
        contest_id = _as_id(key)
        if contest_id not in contests:
            problems.append(_("There is no contest %(contest)s on this ballot.") % {"contest": key})
        elif contest_id in given:
            problems.append(
                _("%(contest)s is given twice.") % {"contest": contests[contest_id].title}
            )
        else:
            given[contest_id] = marks
    cleaned: dict[str, list[int]] = {}
    for contest in sorted(contests.values(), key=lambda c: (c.position, c.pk)):
        marks = given.get(contest.pk) or []
        cleaned[str(contest.pk)] = _clean_marks(contest, marks, problems)
    if problems:
        raise ValidationError(problems[:MAX_BALLOT_PROBLEMS])
    return cleaned


def _clean_marks(contest: Contest, marks: Any, problems: list[str]) -> list[int]:
    title = contest.title
    if not isinstance(marks, list | tuple):
        problems.append(_("%(contest)s: the choices must be a list.") % {"contest": title})
        return []
    names = {choice.pk: choice.name for choice in contest.choices.all()}
    ranked = contest.method == Contest.Method.RANKED
    chosen: list[int] = []
    for mark in marks:
        choice_id = _as_id(mark)
        if choice_id not in names:
            problems.append(
                _("%(contest)s: %(choice)s is not a choice in this contest.")
                % {"contest": title, "choice": mark}
            )
        elif choice_id in chosen:
            message = (
                _("%(contest)s: %(choice)s is ranked more than once; rank each choice once.")
                if ranked
                else _("%(contest)s: %(choice)s is marked more than once.")
            )
            problems.append(message % {"contest": title, "choice": names[choice_id]})
        else:
            chosen.append(choice_id)
    if len(marks) > contest.seats:
        if ranked:
            message = ngettext(
                "%(contest)s: you may rank %(seats)d choice; this ballot ranks %(count)d.",
                "%(contest)s: you may rank up to %(seats)d choices; this ballot ranks %(count)d.",
                contest.seats,
            )
        else:
            message = ngettext(
                "%(contest)s: you may mark %(seats)d choice; this ballot marks %(count)d.",
                "%(contest)s: you may mark up to %(seats)d choices; this ballot marks %(count)d.",
                contest.seats,
            )
        problems.append(message % {"contest": title, "seats": contest.seats, "count": len(marks)})
    return chosen


def _open_for_casting(election_id: int) -> Election:
    """The election, share-locked on PostgreSQL so it cannot close under this cast."""
    if connection.vendor == "postgresql":
        # FOR KEY SHARE: casts do not block each other; a close (FOR UPDATE) waits for them.
        found = list(
            Election.objects.raw(
                f"SELECT * FROM {Election._meta.db_table} WHERE id = %s FOR KEY SHARE",  # noqa: S608
                [election_id],
            )
        )
        if not found:
            raise Election.DoesNotExist(f"no election {election_id}")
        election = found[0]
    else:
        # SQLite's IMMEDIATE transactions already hold the one write lock.
        election = Election.objects.get(pk=election_id)
    if election.status == Status.DRAFT:
        raise VotingNotStarted(_("Voting in this election has not started yet."))
    if election.status != Status.OPEN:
        raise VotingClosed(_("Voting in this election has closed."))
    return election


def ballot_cast(*, election_id: int, credential: str, selections: Any) -> Ballot:
    """Cast one ballot with a one-time credential; returns the stored ballot.

    Raises Election.DoesNotExist (no such election), VotingClosed (not open; its subclass
    VotingNotStarted for a draft), CredentialMistyped (a typo the check symbol catches),
    ValidationError (an invalid ballot), CredentialRefused (unknown, used or voided
    credential). Nothing is stored on any of them. The ballot's ledger entry is under the
    election's pseudonym and holds only the election, tracking code and selections.
    """
    return ballot_cast_plain(
        election_id=election_id, credential=credential, selections=selections
    ) or _drawing_tracking_codes(_ballot_cast_in_transaction, election_id, credential, selections)


class TrackingCodeTaken(Exception):
    pass


def ballot_cast_plain(*, election_id: int, credential: str, selections: Any) -> Ballot | None:
    """The usual cast, on PostgreSQL, in one statement; or None, having stored nothing,
    when the cast is anything but a plain success or the database is not PostgreSQL.

    For a caller that hands every other case to ballot_cast, which decides it and words
    the refusal (ballot_cast itself, and the cast fast lane, voting/fast_lane.py).
    """
    if connection.vendor != "postgresql":
        return None
    return _drawing_tracking_codes(
        _ballot_cast_in_one_statement, election_id, credential, selections
    )


def _drawing_tracking_codes(cast, election_id: int, credential: str, selections: Any):
    for _attempt in range(_TRACKING_CODE_ATTEMPTS):
        try:
            return cast(election_id, credential, selections)
        except TrackingCodeTaken:
            # 50 random bits collided: the cast rolled back, the voter's mark with it, so
            # drawing again is safe. Cheaper than checking each code before the insert.
            continue
    raise RuntimeError("could not draw an unused tracking code")


# Elections this process has seen open, by id. An open election's ballot is frozen and its
# status only moves on (open, closed, certified), so what casting needs of it never goes
# stale; whether it is still open is checked by the database on every cast.
_seen_open: dict[int, Election] = {}


def _seen_open_election(election_id: int) -> Election | None:
    election = _seen_open.get(election_id)
    if election is None:
        election = Election.objects.filter(pk=election_id, status=Status.OPEN).first()
        if election is None or not election.definition_sha256:
            return None
        _seen_open[election_id] = election
    return election


@functools.cache
def _cast_sql() -> str:
    e, v, en, b = (m._meta.db_table for m in (Election, Voter, Entry, Ballot))
    return f"""
        WITH election AS MATERIALIZED (
            SELECT status FROM {e} WHERE id = %(election)s FOR KEY SHARE
        ), voter AS (
            UPDATE {v} SET has_voted = TRUE, credential_hash = NULL
            WHERE election_id = %(election)s AND credential_hash = %(credential_hash)s
              AND NOT has_voted AND EXISTS (SELECT 1 FROM election WHERE status = %(open)s)
            RETURNING id
        ), entry AS (
            INSERT INTO {en} (kind, leaf_data, leaf_hash, recorded_at)
            SELECT %(kind)s, %(leaf_data)s, %(leaf_hash)s, %(recorded_at)s FROM voter
            RETURNING id
        )
        INSERT INTO {b} (id, election_id, tracking_code, selections, ledger_entry_id)
        SELECT %(id)s, %(election)s, %(tracking_code)s, %(selections)s::jsonb, id FROM entry
        RETURNING ledger_entry_id
    """  # noqa: S608 (table names from the models; every value is a parameter)


def _ballot_cast_in_one_statement(
    election_id: int, credential: str, selections: Any
) -> Ballot | None:
    """The usual cast on PostgreSQL: one statement, so one round trip and atomic by itself.

    It share-locks the election (a close waits for it, as in _open_for_casting) and writes
    only if the election is open, marking the credential used exactly as
    _ballot_cast_in_transaction does; the ballot and its ledger entry follow from that mark.
    Returns None, having stored nothing, whenever the cast is not a plain success (an
    election not open, a mistyped credential, an invalid ballot, a refused credential):
    _ballot_cast_in_transaction then decides, and words the refusal, as it always has.
    """
    election = _seen_open_election(election_id)
    if election is None:
        return None
    tracking_code = codes.new_tracking_code()
    try:
        credential_hash = codes.credential_hash(credential)
        cleaned = ballot_validate(election, selections)
        entry = ledger.prepare(
            "voting.ballot_cast",
            election.ledger_subject or election_subject(election.pk),
            {"election": election.pk, "tracking_code": tracking_code, "selections": cleaned},
        )
    except Exception:  # nothing is stored yet: the step-by-step cast meets the same
        return None  # problem and reports it as it always has
    ballot = Ballot(
        id=uuid.uuid4(), election=election, tracking_code=tracking_code, selections=cleaned
    )
    params = {
        "election": election.pk, "credential_hash": credential_hash, "open": Status.OPEN,
        "kind": entry.kind, "leaf_data": entry.leaf_data, "leaf_hash": entry.leaf_hash,
        "recorded_at": entry.recorded_at, "id": ballot.id, "tracking_code": tracking_code,
        "selections": json.dumps(cleaned),
    }  # fmt: skip
    try:
        # Inside a caller's transaction, a savepoint, so a taken tracking code can be retried.
        savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
        with savepoint, connection.cursor() as cursor:
            cursor.execute(_cast_sql(), params)
            row = cursor.fetchone()
    except IntegrityError as exc:
        if "tracking_code" in str(exc):
            raise TrackingCodeTaken() from exc
        raise
    if row is None:
        return None
    entry.pk = row[0]
    ballot.ledger_entry = entry
    ballot._state.adding, ballot._state.db = False, connection.alias
    entry._state.adding, entry._state.db = False, connection.alias
    ledger.schedule_seal()
    return ballot


@transaction.atomic
def _ballot_cast_in_transaction(election_id: int, credential: str, selections: Any) -> Ballot:
    """The cast on any database, step by step in one transaction; every refusal is here."""
    election = _open_for_casting(election_id)
    try:
        credential_hash = codes.credential_hash(credential)
    except codes.CodeFormatError:
        raise CredentialMistyped(
            _("This credential has a typo. Check it against your letter and try again.")
        ) from None
    cleaned = ballot_validate(election, selections)
    # The conditional UPDATE is the one-voter-one-ballot guarantee: PostgreSQL lets one
    # transaction at a time update the row and re-checks the WHERE for the others after it
    # commits, so exactly one concurrent cast sees 1. Clearing the hash means a used
    # credential is simply unknown afterwards.
    marked = Voter.objects.filter(
        election_id=election.pk, credential_hash=credential_hash, has_voted=False
    ).update(has_voted=True, credential_hash=None)
    if marked != 1:
        raise CredentialRefused(
            _("This credential cannot be used: it is not valid for this election, or it has "
              "already been used. If you believe this is wrong, contact the election office.")
        )  # fmt: skip
    return _ballot_store(election, cleaned)


def _ballot_store(election: Election, cleaned: dict[str, list[int]]) -> Ballot:
    subject = election.ledger_subject or election_subject(election.pk)
    tracking_code = codes.new_tracking_code()
    data = {"election": election.pk, "tracking_code": tracking_code}
    entry = ledger.record("voting.ballot_cast", subject, {**data, "selections": cleaned})
    try:
        # Not in a savepoint: if the code is taken, the whole cast rolls back and is
        # drawn again (ballot_cast).
        return Ballot.objects.create(
            election=election, tracking_code=tracking_code, selections=cleaned, ledger_entry=entry
        )
    except IntegrityError as exc:
        if "tracking_code" in str(exc):
            raise TrackingCodeTaken() from exc
        raise
