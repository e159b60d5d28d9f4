"""The citychain payment score: a transparent points scorecard over a resident's bills.

This module owns the scorecard that turns a resident's rent, utility, energy and
lending-circle payments into a number from 0 to 100, and everything said about that
number:

- the rules (which payments count, how late a payment is, the points per factor and
  bucket), as constants that docs/credit-score.md reproduces in full so anyone can
  recompute a score by hand;
- the minimum-history rule (6 months with payments on record, else "not enough history
  yet");
- the key factors (up to four, the ones that cost the most points, with a code and plain
  words, in the manner of a US adverse-action notice) and "what would raise it" (concrete
  changes, each re-scored to give its gain in points);
- a chart series (`score_history`) and a fast path for many residents (`score_many`).

It is NOT a FICO(R) Score, a VantageScore or any credit bureau's score, and must never be
shown as one: it is our own rule-based summary of payments we hold, on a 0-100 scale
chosen so that it cannot be mistaken for the bureaus' 300-850 scales. Payments under
dispute review are left out entirely until the review ends.

Pure: no Django. Money in integer cents, dates as `datetime.date`; all arithmetic is on
integers (floors), so the documented hand calculation gives exactly the same number.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import IntEnum, StrEnum
from typing import NamedTuple, TypeVar

SCORE_NAME = "citychain payment score"
SCORE_MIN = 0
SCORE_MAX = 100
MIN_HISTORY_MONTHS = 6
NOT_ENOUGH_HISTORY = "not enough history yet"


class PaymentKind(StrEnum):
    RENT = "rent"
    UTILITY = "utility"
    ENERGY = "energy"
    LENDING_CIRCLE = "lending_circle"
    OTHER = "other"


KINDS: frozenset[str] = frozenset(kind.value for kind in PaymentKind)


# --------------------------------------------------------------------------------------
# Words. Every sentence below is English by default; a Django process installs its
# gettext and ngettext with `set_translators` (credit.apps), so residents read them in
# their language. The calls are named gettext/ngettext so makemessages extracts them.
# --------------------------------------------------------------------------------------


def _english(message: str) -> str:
    return message


def _english_n(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


_translators: list = [_english, _english_n]


def set_translators(gettext_function, ngettext_function) -> None:
    """Use these to translate every sentence (e.g. django.utils.translation's)."""
    _translators[:] = [gettext_function, ngettext_function]


def gettext(message: str) -> str:
    return _translators[0](message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translators[1](singular, plural, n)


def gettext_noop(message: str) -> str:
    return message


# How each kind is named in sentences ("3 more months of on-time rent ...").
KIND_WORDS: dict[str, str] = {
    "rent": gettext_noop("rent"),
    "utility": gettext_noop("utility bills"),
    "energy": gettext_noop("energy bills"),
    "lending_circle": gettext_noop("lending-circle payments"),
    "other": gettext_noop("other bills"),
}
_MONTHS = (
    gettext_noop("January"), gettext_noop("February"), gettext_noop("March"),
    gettext_noop("April"), gettext_noop("May"), gettext_noop("June"), gettext_noop("July"),
    gettext_noop("August"), gettext_noop("September"), gettext_noop("October"),
    gettext_noop("November"), gettext_noop("December"),
)  # fmt: skip


# SCORE_NAME as a literal, so makemessages finds it.
_SCORE_NAME_WORDS = gettext_noop("citychain payment score")
assert _SCORE_NAME_WORDS == SCORE_NAME


def _kind_words(kind: str) -> str:
    return gettext(KIND_WORDS[kind])


class Bucket(IntEnum):
    """How late one payment is as of the scoring date, from best to worst."""

    ON_TIME = 0  # paid on or before the due date
    LATE_1_29 = 1  # paid 1-29 days late, or unpaid and less than 30 days overdue
    LATE_30_59 = 2
    LATE_60_89 = 3
    LATE_90_PLUS = 4  # paid 90 or more days late
    MISSED = 5  # unpaid and 30 or more days overdue


# --------------------------------------------------------------------------------------
# The scorecard. docs/credit-score.md prints these tables; change both together.
# --------------------------------------------------------------------------------------

ON_TIME_MAX = 35  # factor A: share of payments made by their due date
LATE_MAX = 30  # factor B: starts at 30, minus the deductions below, never below 0
HISTORY_MAX = 15  # factor C: months with payments on record
AMOUNT_MAX = 10  # factor D: share of the amounts due that was paid
MIX_MAX = 10  # factor E: kinds of payments on record

# Factor B deductions per late payment, by how long ago it was due:
# (due in the last 12 months, 13-24 months ago, longer ago).
LATE_DEDUCTIONS: dict[Bucket, tuple[int, int, int]] = {
    Bucket.LATE_1_29: (2, 1, 0),
    Bucket.LATE_30_59: (6, 3, 1),
    Bucket.LATE_60_89: (10, 5, 2),
    Bucket.LATE_90_PLUS: (15, 8, 3),
    # A debt still owed does not fade with age: the same deduction in every column.
    Bucket.MISSED: (20, 20, 20),
}

# Factor C: (at least this many months with payments on record, points), best first.
HISTORY_BANDS: tuple[tuple[int, int], ...] = ((36, 15), (24, 12), (12, 9), (6, 5))

# Factor E: points by the number of different kinds of payments on record (3 or more: 10).
MIX_POINTS: tuple[int, ...] = (0, 4, 7, 10)

# Key-factor codes, in the order used to break ties between equal point losses.
KEY_FACTOR_CODES: dict[str, str] = {
    "LT01": "payments 30 or more days overdue and still unpaid",
    "LT02": "payments paid 90 or more days late",
    "LT03": "payments paid 60-89 days late",
    "LT04": "payments paid 30-59 days late",
    "LT05": "payments 1-29 days late",
    "ON01": "payments not made by their due date",
    "HS01": "short payment history",
    "AM01": "less paid than was due",
    "MX01": "few kinds of payments on record",
}
_LATE_CODES: dict[Bucket, str] = {
    Bucket.MISSED: "LT01",
    Bucket.LATE_90_PLUS: "LT02",
    Bucket.LATE_60_89: "LT03",
    Bucket.LATE_30_59: "LT04",
    Bucket.LATE_1_29: "LT05",
}
_WORST_FIRST: tuple[Bucket, ...] = (
    Bucket.MISSED,
    Bucket.LATE_90_PLUS,
    Bucket.LATE_60_89,
    Bucket.LATE_30_59,
    Bucket.LATE_1_29,
)
_CODE_ORDER = {code: i for i, code in enumerate(KEY_FACTOR_CODES)}

MAX_KEY_FACTORS = 4
TIP_MONTHS = 3  # "3 more months of on-time rent would add about N points"


# --------------------------------------------------------------------------------------
# Input and output
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payment:
    """One bill and how it was paid. `paid_on` is None while nothing has been paid."""

    account_id: str
    kind: str
    due: date
    amount_due_cents: int
    paid_on: date | None = None
    amount_paid_cents: int = 0
    disputed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown payment kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.amount_due_cents < 0 or self.amount_paid_cents < 0:
            raise ValueError("amounts are non-negative integer cents")


class PaymentRow(NamedTuple):
    """A payment from a trusted source, for `score_many` over many residents: the same
    fields as `Payment`, built without its checks (a tuple, about ten times cheaper to
    make). Use it only where the checks already hold, e.g. rows of a database whose
    constraints allow only known kinds and non-negative amounts."""

    account_id: object
    kind: str
    due: date
    amount_due_cents: int
    paid_on: date | None
    amount_paid_cents: int
    disputed: bool


@dataclass(frozen=True, slots=True)
class FactorScore:
    code: str
    name: str
    points: int
    max_points: int


@dataclass(frozen=True, slots=True)
class KeyFactor:
    """A factor that cost points: its code, plain words, and the points it cost."""

    code: str
    text: str
    points_lost: int


@dataclass(frozen=True, slots=True)
class Improvement:
    """Something concrete that would raise the score, and by how much (None: not scored yet)."""

    text: str
    points: int | None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    as_of: date
    score: int | None
    reason: str | None  # NOT_ENOUGH_HISTORY when score is None
    months_of_history: int
    factors: tuple[FactorScore, ...]
    key_factors: tuple[KeyFactor, ...]  # the first four of `losses`
    losses: tuple[KeyFactor, ...]  # every factor that cost points, biggest loss first
    improvements: tuple[Improvement, ...]
    disputed_excluded: int
    notes: tuple[str, ...]
    name: str = SCORE_NAME
    scale: tuple[int, int] = (SCORE_MIN, SCORE_MAX)


# --------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tally:
    scored: int  # payments that count: not disputed, due before the scoring date
    on_time: int
    disputed: int
    due_cents: int
    paid_cents: int  # capped at the amount due, payment by payment
    months: set[int]  # calendar months with a scored payment due
    kinds: set[str]
    # counts[bucket][recency]; recency 0: due in the last 12 months, 1: 13-24, 2: older
    counts: list[list[int]]
    latest_due: dict[int, date]  # latest due date per late bucket, for the wording


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _tally(payments: Iterable[Payment | PaymentRow], as_of: date) -> _Tally:
    """Classify every payment as of `as_of`; the one loop that both entry points share.

    A payment counts ("is scored") when it is not disputed and its due date is before
    `as_of`. It counts as paid when `paid_on` is on or before `as_of` and something was
    paid (or nothing was due); otherwise it is overdue by the days since its due date.
    """
    as_ord = as_of.toordinal()
    as_month = as_of.year * 12 + as_of.month - 1
    months: set[int] = set()
    kinds: set[str] = set()
    counts = [[0, 0, 0] for _ in range(6)]
    latest: dict[int, date] = {}
    scored = on_time = disputed = due_total = paid_total = 0
    for p in payments:
        if p.disputed:
            disputed += 1
            continue
        due = p.due
        due_ord = due.toordinal()
        if due_ord >= as_ord:
            continue
        scored += 1
        month = due.year * 12 + due.month - 1
        months.add(month)
        kinds.add(p.kind)
        amount_due = p.amount_due_cents
        due_total += amount_due
        paid_on = p.paid_on
        if paid_on is not None and paid_on <= as_of and (p.amount_paid_cents or not amount_due):
            paid = p.amount_paid_cents
            paid_total += paid if paid < amount_due else amount_due
            late = paid_on.toordinal() - due_ord
            if late <= 0:
                on_time += 1
                continue
            bucket = 1 if late < 30 else 2 if late < 60 else 3 if late < 90 else 4
        else:
            bucket = 1 if as_ord - due_ord < 30 else 5
        age = as_month - month
        counts[bucket][0 if age < 12 else 1 if age < 24 else 2] += 1
        seen = latest.get(bucket)
        if seen is None or due > seen:
            latest[bucket] = due
    return _Tally(
        scored=scored,
        on_time=on_time,
        disputed=disputed,
        due_cents=due_total,
        paid_cents=paid_total,
        months=months,
        kinds=kinds,
        counts=counts,
        latest_due=latest,
    )


@dataclass(frozen=True, slots=True)
class _Points:
    on_time: int
    late: int
    history: int
    amount: int
    mix: int
    late_losses: dict[Bucket, int]  # factor B's 30 points lost, split by bucket

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.history + self.amount + self.mix


def _history_points(months: int) -> int:
    for at_least, points in HISTORY_BANDS:
        if months >= at_least:
            return points
    return 0


def _points(t: _Tally) -> _Points:
    on_time = ON_TIME_MAX * t.on_time // t.scored if t.scored else 0
    remaining = LATE_MAX
    losses: dict[Bucket, int] = {}
    # Worst buckets take their share of the 30 points first, so the split is unique.
    for bucket in _WORST_FIRST:
        row = t.counts[bucket]
        ded = LATE_DEDUCTIONS[bucket]
        lost = min(row[0] * ded[0] + row[1] * ded[1] + row[2] * ded[2], remaining)
        losses[bucket] = lost
        remaining -= lost
    amount = AMOUNT_MAX * t.paid_cents // t.due_cents if t.due_cents else AMOUNT_MAX
    mix = MIX_POINTS[min(len(t.kinds), len(MIX_POINTS) - 1)]
    return _Points(on_time, remaining, _history_points(len(t.months)), amount, mix, losses)


def _quick_score(payments: Iterable[Payment | PaymentRow], as_of: date) -> int | None:
    t = _tally(payments, as_of)
    if len(t.months) < MIN_HISTORY_MONTHS:
        return None
    return _points(t).total


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


def score(payments: Iterable[Payment], as_of: date) -> ScoreResult:
    """Score one resident's payments as of a date, with key factors and what would raise it."""
    payments = list(payments)
    t = _tally(payments, as_of)
    months = len(t.months)
    notes = _dispute_notes(t.disputed)
    if months < MIN_HISTORY_MONTHS:
        needed = MIN_HISTORY_MONTHS - months
        return ScoreResult(
            as_of=as_of,
            score=None,
            reason=NOT_ENOUGH_HISTORY,
            months_of_history=months,
            factors=(),
            key_factors=(),
            losses=(),
            improvements=(
                Improvement(
                    ngettext(
                        "%(count)d more month with payments on record will give you a first "
                        "%(name)s (it needs %(needed)d; you have %(have)d).",
                        "%(count)d more months with payments on record will give you a first "
                        "%(name)s (it needs %(needed)d; you have %(have)d).",
                        needed,
                    )
                    % {
                        "count": needed,
                        "name": gettext(_SCORE_NAME_WORDS),
                        "needed": MIN_HISTORY_MONTHS,
                        "have": months,
                    },
                    None,
                ),
            ),
            disputed_excluded=t.disputed,
            notes=notes,
        )
    pts = _points(t)
    factors = (
        FactorScore("A", gettext("Payments made by their due date"), pts.on_time, ON_TIME_MAX),
        FactorScore(
            "B", gettext("Late and missed payments (how late, how recent)"), pts.late, LATE_MAX
        ),
        FactorScore("C", gettext("Length of payment history"), pts.history, HISTORY_MAX),
        FactorScore("D", gettext("Share of amounts due that was paid"), pts.amount, AMOUNT_MAX),
        FactorScore("E", gettext("Kinds of payments on record"), pts.mix, MIX_MAX),
    )
    losses = _losses(t, pts)
    return ScoreResult(
        as_of=as_of,
        score=pts.total,
        reason=None,
        months_of_history=months,
        factors=factors,
        key_factors=losses[:MAX_KEY_FACTORS],
        losses=losses,
        improvements=_improvements(payments, as_of, t, pts),
        disputed_excluded=t.disputed,
        notes=notes,
    )


def score_history(
    payments: Iterable[Payment], months: int, *, as_of: date | None = None
) -> list[tuple[date, int | None]]:
    """The score at each of the last `months` month ends, oldest first, for a chart.

    Each point is scored as things stood that day (a payment made later counts as unpaid
    then). The last point is `as_of` itself; without `as_of`, the month end of the latest
    due date. Disputes open now are left out of every point.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    payments = list(payments)
    if as_of is None:
        if not payments:
            raise ValueError("as_of is needed when there are no payments")
        latest = max(p.due for p in payments)
        as_of = date(latest.year, latest.month, calendar.monthrange(latest.year, latest.month)[1])
    last = _month_index(as_of)
    points: list[tuple[date, int | None]] = []
    for index in range(last - months + 1, last + 1):
        year, month0 = divmod(index, 12)
        end = date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])
        end = min(end, as_of)
        points.append((end, _quick_score(payments, end)))
    return points


K = TypeVar("K")


def score_many(
    payments_by_resident: Mapping[K, Sequence[Payment | PaymentRow]], as_of: date
) -> dict[K, int | None]:
    """Scores only (None for "not enough history yet") for many residents, as of one date.

    The same rules and code path as `score`, without key factors or improvements, which
    are what cost time; use `score` for the resident-facing result.
    """
    return {
        resident: _quick_score(payments, as_of)
        for resident, payments in payments_by_resident.items()
    }


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def _month_words(day: date) -> str:
    return gettext("%(month)s %(year)d") % {
        "month": gettext(_MONTHS[day.month - 1]),
        "year": day.year,
    }


def _dispute_notes(disputed: int) -> tuple[str, ...]:
    if not disputed:
        return ()
    return (
        ngettext(
            "%(count)d payment under dispute review is not counted in this score; it will "
            "be recalculated when the review ends.",
            "%(count)d payments under dispute review are not counted in this score; it will "
            "be recalculated when the review ends.",
            disputed,
        )
        % {"count": disputed},
    )


def _late_words(bucket: Bucket, n: int) -> str:
    # One ngettext call per sentence, written out, so makemessages extracts each.
    if bucket is Bucket.MISSED:
        return ngettext(
            "%(count)d payment 30 or more days overdue and still unpaid (the most recent "
            "was due in %(month)s).",
            "%(count)d payments 30 or more days overdue and still unpaid (the most recent "
            "was due in %(month)s).",
            n,
        )
    if bucket is Bucket.LATE_90_PLUS:
        return ngettext(
            "%(count)d payment paid 90 or more days late (the most recent was due in %(month)s).",
            "%(count)d payments paid 90 or more days late (the most recent was due in %(month)s).",
            n,
        )
    if bucket is Bucket.LATE_60_89:
        return ngettext(
            "%(count)d payment paid 60-89 days late (the most recent was due in %(month)s).",
            "%(count)d payments paid 60-89 days late (the most recent was due in %(month)s).",
            n,
        )
    if bucket is Bucket.LATE_30_59:
        return ngettext(
            "%(count)d payment paid 30-59 days late (the most recent was due in %(month)s).",
            "%(count)d payments paid 30-59 days late (the most recent was due in %(month)s).",
            n,
        )
    return ngettext(
        "%(count)d payment 1-29 days late (the most recent was due in %(month)s).",
        "%(count)d payments 1-29 days late (the most recent was due in %(month)s).",
        n,
    )


def _losses(t: _Tally, pts: _Points) -> tuple[KeyFactor, ...]:
    found: list[KeyFactor] = []
    for bucket in _WORST_FIRST:
        lost = pts.late_losses[bucket]
        if not lost:
            continue
        n = sum(t.counts[bucket])
        latest = _month_words(t.latest_due[bucket])
        text = _late_words(bucket, n) % {"count": n, "month": latest}
        found.append(KeyFactor(_LATE_CODES[bucket], text, lost))
    if ON_TIME_MAX - pts.on_time:
        found.append(
            KeyFactor(
                "ON01",
                ngettext(
                    "%(late)d of %(count)d payments was not made by their due date.",
                    "%(late)d of %(count)d payments were not made by their due date.",
                    t.scored - t.on_time,
                )
                % {"late": t.scored - t.on_time, "count": t.scored},
                ON_TIME_MAX - pts.on_time,
            )
        )
    if HISTORY_MAX - pts.history:
        found.append(
            KeyFactor(
                "HS01",
                gettext(
                    "Your payment history is short: %(months)d months with payments on record "
                    "(full points from %(full)d)."
                )
                % {"months": len(t.months), "full": HISTORY_BANDS[0][0]},
                HISTORY_MAX - pts.history,
            )
        )
    if AMOUNT_MAX - pts.amount:
        percent = 100 * t.paid_cents // t.due_cents
        found.append(
            KeyFactor(
                "AM01",
                gettext("You paid %(paid)s of the %(due)s due (%(percent)d%%).")
                % {
                    "paid": _dollars(t.paid_cents),
                    "due": _dollars(t.due_cents),
                    "percent": percent,
                },
                AMOUNT_MAX - pts.amount,
            )
        )
    if MIX_MAX - pts.mix:
        kinds = ", ".join(_kind_words(k) for k in sorted(t.kinds))
        found.append(
            KeyFactor(
                "MX01",
                ngettext(
                    "Only %(count)d kind of payment on record (%(kinds)s).",
                    "Only %(count)d kinds of payment on record (%(kinds)s).",
                    len(t.kinds),
                )
                % {"count": len(t.kinds), "kinds": kinds},
                MIX_MAX - pts.mix,
            )
        )
    found.sort(key=lambda k: (-k.points_lost, _CODE_ORDER[k.code]))
    return tuple(found)


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _future_gain(payments: list[Payment], as_of: date, active: list[Payment], horizon: int) -> int:
    """The score after `horizon` more months of on-time payments on the active accounts."""
    future = [
        Payment(
            account_id=p.account_id,
            kind=p.kind,
            due=_add_months(p.due, k),
            amount_due_cents=p.amount_due_cents,
            paid_on=_add_months(p.due, k),
            amount_paid_cents=p.amount_due_cents,
        )
        for p in active
        for k in range(1, horizon + 1)
    ]
    end = _add_months(as_of, horizon)
    end = date(end.year, end.month, calendar.monthrange(end.year, end.month)[1])
    return _quick_score([*payments, *future], end) or 0


def _improvements(
    payments: list[Payment], as_of: date, t: _Tally, pts: _Points
) -> tuple[Improvement, ...]:
    """Concrete changes, each re-scored with the same rules to give its gain in points."""
    now = pts.total
    found: list[Improvement] = []
    if now >= SCORE_MAX:
        return ()

    def counted(p: Payment) -> bool:
        return not p.disputed and p.due < as_of

    def is_paid(p: Payment) -> bool:
        return (
            p.paid_on is not None
            and p.paid_on <= as_of
            and bool(p.amount_paid_cents or not p.amount_due_cents)
        )

    overdue = [p for p in payments if counted(p) and not is_paid(p)]
    overdue_ids = {id(p) for p in overdue}
    # Every overdue bill paid in full today (so it counts as paid that late).
    settled = [
        replace(p, paid_on=as_of, amount_paid_cents=p.amount_due_cents)
        if id(p) in overdue_ids
        else p
        for p in payments
    ]
    if overdue:
        gain = (_quick_score(settled, as_of) or 0) - now
        if gain > 0:
            owed = sum(p.amount_due_cents for p in overdue)
            found.append(
                Improvement(
                    ngettext(
                        "Paying the %(count)d overdue payment (%(amount)s) in full now would "
                        "add about %(gain)d points.",
                        "Paying the %(count)d overdue payments (%(amount)s) in full now would "
                        "add about %(gain)d points.",
                        len(overdue),
                    )
                    % {"count": len(overdue), "amount": _dollars(owed), "gain": gain},
                    gain,
                )
            )

    short = [
        p
        for p in payments
        if counted(p) and is_paid(p) and p.amount_paid_cents < p.amount_due_cents
    ]
    if short:
        short_ids = {id(p) for p in short}
        topped = [
            replace(p, amount_paid_cents=p.amount_due_cents) if id(p) in short_ids else p
            for p in payments
        ]
        gain = (_quick_score(topped, as_of) or 0) - now
        if gain > 0:
            missing = sum(p.amount_due_cents - p.amount_paid_cents for p in short)
            found.append(
                Improvement(
                    ngettext(
                        "Paying the remaining %(amount)s on %(count)d partly paid bill would "
                        "add about %(gain)d points.",
                        "Paying the remaining %(amount)s on %(count)d partly paid bills would "
                        "add about %(gain)d points.",
                        len(short),
                    )
                    % {"amount": _dollars(missing), "count": len(short), "gain": gain},
                    gain,
                )
            )

    # The resident keeps paying every account that was billed in the last two months.
    latest_by_account: dict[str, Payment] = {}
    for p in payments:
        if counted(p):
            seen = latest_by_account.get(p.account_id)
            if seen is None or p.due > seen.due:
                latest_by_account[p.account_id] = p
    active = [
        p for p in latest_by_account.values() if _month_index(p.due) >= _month_index(as_of) - 1
    ]
    if active:
        # The first horizon that changes the score: 3 months, then 6 and 12 (late payments
        # move to an older column), and the months to the next history band.
        months = len(t.months)
        horizons = {TIP_MONTHS, 6, 12}
        horizons.update(b - months for b, _ in HISTORY_BANDS if 0 < b - months <= 24)
        kinds = {p.kind for p in active}
        what = _kind_words(next(iter(kinds))) if len(kinds) == 1 else gettext("payments")
        for horizon in sorted(horizons):
            gain = _future_gain(settled, as_of, active, horizon) - now
            if gain > 0:
                values = {"months": horizon, "what": what, "gain": gain, "count": len(overdue)}
                if overdue:
                    text = ngettext(
                        "Paying the %(count)d overdue payment now and then %(months)d more "
                        "months of on-time %(what)s would add about %(gain)d points.",
                        "Paying the %(count)d overdue payments now and then %(months)d more "
                        "months of on-time %(what)s would add about %(gain)d points.",
                        len(overdue),
                    )
                else:
                    text = ngettext(
                        "%(months)d more month of on-time %(what)s would add about %(gain)d "
                        "points.",
                        "%(months)d more months of on-time %(what)s would add about %(gain)d "
                        "points.",
                        horizon,
                    )
                found.append(Improvement(text % values, gain))
                break

    have = len(t.kinds)
    if have < len(MIX_POINTS) - 1:
        gain = MIX_POINTS[have + 1] - MIX_POINTS[have]
        others = [
            _kind_words(k)
            for k in ("rent", "utility", "energy", "lending_circle")
            if k not in t.kinds
        ]
        found.append(
            Improvement(
                gettext(
                    "On-time payments of another kind on record (for example %(examples)s) "
                    "would add about %(gain)d points for the mix of payments."
                )
                % {"examples": gettext(" or ").join(others[:2]), "gain": gain},
                gain,
            )
        )
    found.sort(key=lambda i: -(i.points or 0))
    return tuple(found)
