"""citychain payment score (credit.score): hand-worked cases, properties, timing. No database."""

from __future__ import annotations

import calendar
import random
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from credit import score as sc
from credit.score import NOT_ENOUGH_HISTORY, Payment, score, score_history, score_many

AS_OF = date(2024, 12, 31)
RENT = 120_000  # $1,200.00


def rent_year(year: int = 2024, months: int = 12, *, account: str = "R1") -> list[Payment]:
    """Rent due on the 1st, paid that day, for `months` months from January of `year`."""
    out = []
    for m in range(months):
        y, m0 = divmod(year * 12 + m, 12)
        due = date(y, m0 + 1, 1)
        out.append(Payment(account, "rent", due, RENT, due, RENT))
    return out


def with_june(payments: list[Payment], paid_on: date | None) -> list[Payment]:
    june = date(2024, 6, 1)
    return [
        replace(p, paid_on=paid_on, amount_paid_cents=RENT if paid_on else 0)
        if p.due == june
        else p
        for p in payments
    ]


def codes(result: sc.ScoreResult) -> list[tuple[str, int]]:
    return [(k.code, k.points_lost) for k in result.key_factors]


# --------------------------------------------------------------------------------------
# Hand-worked cases (the same numbers as docs/credit-score.md)
# --------------------------------------------------------------------------------------


def test_perfect_year():
    result = score(rent_year(), AS_OF)
    # A 35*12//12 = 35, B 30, C 12 months -> 9, D 10, E one kind -> 4
    assert [f.points for f in result.factors] == [35, 30, 9, 10, 4]
    assert result.score == 88
    assert result.name == "citychain payment score"
    assert result.scale == (0, 100)
    assert codes(result) == [("HS01", 6), ("MX01", 6)]
    tips = {i.text: i.points for i in result.improvements}
    assert tips == {
        "12 more months of on-time rent would add about 3 points.": 3,
        "On-time payments of another kind on record (for example utility bills or energy "
        "bills) would add about 3 points for the mix of payments.": 3,
    }


def test_one_30_day_late():
    result = score(with_june(rent_year(), date(2024, 7, 1)), AS_OF)  # 30 days after June 1
    # A 35*11//12 = 32, B 30-6 = 24, C 9, D 10, E 4
    assert [f.points for f in result.factors] == [32, 24, 9, 10, 4]
    assert result.score == 79
    assert codes(result) == [("LT04", 6), ("HS01", 6), ("MX01", 6), ("ON01", 3)]
    assert result.key_factors[0].text == (
        "1 payment paid 30-59 days late (the most recent was due in June 2024)."
    )
    assert result.key_factors[3].text == "1 of 12 payments was not made by their due date."


def test_one_90_day_late():
    result = score(with_june(rent_year(), date(2024, 8, 30)), AS_OF)  # 90 days after June 1
    assert [f.points for f in result.factors] == [32, 15, 9, 10, 4]
    assert result.score == 70
    assert codes(result)[0] == ("LT02", 15)


def test_missed_payment_and_what_paying_it_would_do():
    result = score(with_june(rent_year(), None), AS_OF)
    # D: 10 * 1,320,000 // 1,440,000 = 9
    assert [f.points for f in result.factors] == [32, 10, 9, 9, 4]
    assert result.score == 64
    assert codes(result) == [("LT01", 20), ("HS01", 6), ("MX01", 6), ("ON01", 3)]
    assert result.improvements[0] == sc.Improvement(
        "Paying the 1 overdue payment ($1,200.00) in full now would add about 6 points.", 6
    )


def test_late_payment_fades_with_recency():
    # the same 60-89-day late, due 13-24 months before the scoring date, costs 5 not 10
    payments = with_june(rent_year(2024, 24), date(2024, 8, 15))  # 75 days late
    assert score(payments, date(2025, 12, 31)).factors[1].points == 25
    assert score(payments, date(2024, 12, 31)).factors[1].points == 20


def worked_example() -> list[Payment]:
    """docs/credit-score.md, example 3: two years of rent, a year of utility bills."""
    payments = []
    for m in range(24):
        y, m0 = divmod(2023 * 12 + m, 12)
        due = date(y, m0 + 1, 1)
        paid_on = {date(2023, 10, 1): date(2023, 10, 20), date(2024, 9, 1): date(2024, 11, 10)}
        payments.append(Payment("RENT-7", "rent", due, 95_000, paid_on.get(due, due), 95_000))
    for month in range(1, 13):
        due = date(2024, month, 15)
        if month == 12:
            payments.append(Payment("UTIL-3", "utility", due, 8_000))  # unpaid on Dec 31
        elif month == 3:
            payments.append(Payment("UTIL-3", "utility", due, 8_000, disputed=True))
        else:
            paid = 4_000 if month == 7 else 8_000
            payments.append(Payment("UTIL-3", "utility", due, 8_000, due, paid))
    return payments


def test_worked_example_from_the_docs():
    result = score(worked_example(), AS_OF)
    assert [f.points for f in result.factors] == [32, 17, 12, 9, 7]
    assert result.score == 77
    assert [(k.code, k.points_lost) for k in result.losses] == [
        ("LT03", 10),
        ("LT05", 3),
        ("ON01", 3),
        ("HS01", 3),
        ("MX01", 3),
        ("AM01", 1),
    ]
    assert codes(result) == [("LT03", 10), ("LT05", 3), ("ON01", 3), ("HS01", 3)]
    assert [k.text for k in result.key_factors] == [
        "1 payment paid 60-89 days late (the most recent was due in September 2024).",
        "2 payments 1-29 days late (the most recent was due in December 2024).",
        "3 of 35 payments were not made by their due date.",
        "Your payment history is short: 24 months with payments on record (full points from 36).",
    ]
    assert [(i.text, i.points) for i in result.improvements] == [
        (
            "Paying the 1 overdue payment now and then 12 more months of on-time payments "
            "would add about 11 points.",
            11,
        ),
        (
            "On-time payments of another kind on record (for example energy bills or "
            "lending-circle payments) would add about 3 points for the mix of payments.",
            3,
        ),
    ]
    assert result.disputed_excluded == 1
    assert score_history(worked_example(), 6, as_of=AS_OF) == [
        (date(2024, 7, 31), 86),
        (date(2024, 8, 31), 86),
        (date(2024, 9, 30), 83),
        (date(2024, 10, 31), 66),
        (date(2024, 11, 30), 76),
        (date(2024, 12, 31), 77),
    ]


def test_under_six_months_is_not_enough_history():
    result = score(rent_year(months=5), date(2024, 5, 31))
    assert result.score is None
    assert result.reason == NOT_ENOUGH_HISTORY == "not enough history yet"
    assert result.months_of_history == 5
    assert result.factors == result.key_factors == ()
    assert result.improvements[0].text.startswith("1 more month with payments on record")
    # the sixth month makes the first score
    assert score(rent_year(months=6), date(2024, 6, 30)).score == 35 + 30 + 5 + 10 + 4


def test_payment_due_on_the_scoring_date_does_not_count_yet():
    payments = rent_year(months=6)  # due Jan 1 ... Jun 1
    assert score(payments, date(2024, 6, 1)).score is None
    assert score(payments, date(2024, 6, 2)).score is not None


def test_disputed_payments_are_excluded_and_said_so():
    base = rent_year()
    disputed = [
        Payment("U1", "utility", date(2024, 3, 10), 9_000, None, 0, disputed=True),
        replace(base[5], paid_on=None, amount_paid_cents=0, disputed=True),
    ]
    result = score([*base[:5], *base[6:], *disputed], AS_OF)
    # June is gone entirely (11 months), the unpaid utility bill does not count
    assert result.score == score([*base[:5], *base[6:]], AS_OF).score
    assert result.disputed_excluded == 2
    assert result.notes == (
        "2 payments under dispute review are not counted in this score; it will be "
        "recalculated when the review ends.",
    )
    # disputed months do not count towards the minimum history either
    thin = [*rent_year(months=5), replace(rent_year(months=6)[5], disputed=True)]
    assert score(thin, date(2024, 6, 30)).score is None


def test_partial_payment_costs_amount_points():
    payments = rent_year()
    payments[3] = replace(payments[3], amount_paid_cents=60_000)  # half of April
    result = score(payments, AS_OF)
    # D: 10 * (1,440,000 - 60,000) // 1,440,000 = 9
    assert result.factors[3].points == 9
    assert ("AM01", 1) in [(k.code, k.points_lost) for k in result.losses]
    assert any(i.text.startswith("Paying the remaining $600.00") for i in result.improvements)


def test_overpayment_does_not_help():
    payments = rent_year()
    payments[0] = replace(payments[0], amount_paid_cents=RENT * 3)
    assert score(payments, AS_OF).score == 88


def test_three_kinds_and_long_history():
    payments = rent_year(2022, 36)
    for kind, account in (("utility", "U1"), ("energy", "E1")):
        for p in rent_year(2024, 12, account=account):
            payments.append(replace(p, kind=kind, amount_due_cents=8_000, amount_paid_cents=8_000))
    result = score(payments, AS_OF)
    assert result.score == 100
    assert result.key_factors == () and result.improvements == ()


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown payment kind"):
        Payment("X", "phone", date(2024, 1, 1), 100)


def test_score_history_matches_score_at_each_month_end():
    payments = with_june(rent_year(2024, 12), date(2024, 8, 20))
    series = score_history(payments, 12, as_of=date(2024, 12, 31))
    assert [d for d, _ in series] == [
        date(2024, m, calendar.monthrange(2024, m)[1]) for m in range(1, 13)
    ]
    assert series[0] == (date(2024, 1, 31), None)
    for day, value in series:
        assert value == score(payments, day).score
    # June 30: June is unpaid but < 30 days overdue; July 31: 60 days and still unpaid
    by_day = dict(series)
    assert by_day[date(2024, 7, 31)] is not None
    assert by_day[date(2024, 7, 31)] < by_day[date(2024, 6, 30)]
    # paid in August: the score recovers, though not fully
    assert by_day[date(2024, 8, 31)] > by_day[date(2024, 7, 31)]


def test_score_history_defaults_to_latest_month_and_clips_to_as_of():
    payments = rent_year()
    assert score_history(payments, 2)[-1][0] == date(2024, 12, 31)
    assert score_history(payments, 1, as_of=date(2024, 12, 15)) == [
        (date(2024, 12, 15), score(payments, date(2024, 12, 15)).score)
    ]


def test_score_many_agrees_with_score():
    residents = {
        "a": rent_year(),
        "b": with_june(rent_year(), None),
        "c": rent_year(months=3),
    }
    assert score_many(residents, AS_OF) == {"a": 88, "b": 64, "c": None}


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

ACCOUNTS = {"R1": "rent", "R2": "rent", "U1": "utility", "E1": "energy", "L1": "lending_circle"}
FIRST = date(2021, 1, 1)
LAST = date(2025, 12, 31)


def _month_start(index: int, day: int) -> date:
    y, m0 = divmod(index, 12)
    return date(y, m0 + 1, day)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Payment], date]:
    """Monthly bills on one to three accounts, each paid on time, late, partly or never."""
    as_of = draw(st.dates(date(2023, 1, 1), LAST))
    now = as_of.year * 12 + as_of.month - 1
    payments = []
    for account in draw(st.sets(st.sampled_from(sorted(ACCOUNTS)), min_size=1, max_size=3)):
        months = draw(st.integers(1, 48))
        newest = now - draw(st.integers(0, 6))
        day = draw(st.integers(1, 28))
        amount = draw(st.integers(1, 300_000))
        for k in range(months):
            due = _month_start(newest - k, day)
            # mostly on time, as real histories are, so that late payments still move
            # factor B instead of all landing on its floor of 0
            roll = draw(st.integers(0, 19))
            if roll < 15:
                when: int | None = draw(st.integers(-5, 0))
            elif roll < 19:
                when = draw(st.integers(1, 400))
            else:
                when = None
            paid_on = None if when is None else due + timedelta(days=when)
            paid = 0 if paid_on is None else draw(st.sampled_from([amount, amount, amount // 2]))
            disputed = draw(st.integers(0, 19)) == 0
            payments.append(
                Payment(account, ACCOUNTS[account], due, amount, paid_on, paid, disputed)
            )
    return draw(st.permutations(payments)), as_of


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_on_time(p: Payment, as_of: date) -> bool:
    return (
        not p.disputed
        and p.due < as_of
        and p.paid_on is not None
        and p.paid_on <= p.due
        and p.amount_paid_cents > 0
    )


@PROPS
@given(cases())
def test_score_stays_in_range(case):
    payments, as_of = case
    result = score(payments, as_of)
    if result.score is None:
        assert result.reason == NOT_ENOUGH_HISTORY
        assert result.months_of_history < sc.MIN_HISTORY_MONTHS
    else:
        assert sc.SCORE_MIN <= result.score <= sc.SCORE_MAX
        assert result.score == sum(f.points for f in result.factors)
        for f in result.factors:
            assert 0 <= f.points <= f.max_points
    assert score_many({"x": payments}, as_of) == {"x": result.score}


@PROPS
@given(cases(), st.data())
def test_replacing_on_time_by_late_never_raises(case, data):
    payments, as_of = case
    on_time = [i for i, p in enumerate(payments) if is_on_time(p, as_of)]
    assume(on_time)
    i = data.draw(st.sampled_from(on_time))
    days = data.draw(st.one_of(st.none(), st.integers(1, 500)))
    late = replace(
        payments[i], paid_on=None if days is None else payments[i].due + timedelta(days=days)
    )
    before = score(payments, as_of).score
    after = score([*payments[:i], late, *payments[i + 1 :]], as_of).score
    assert (before is None) == (after is None)
    if before is not None:
        assert after <= before


@PROPS
@given(cases(), st.data())
def test_making_a_late_payment_later_never_raises(case, data):
    payments, as_of = case
    late = [i for i, p in enumerate(payments) if p.paid_on is not None and p.paid_on > p.due]
    assume(late)
    i = data.draw(st.sampled_from(late))
    extra = data.draw(st.one_of(st.none(), st.integers(1, 500)))
    old = payments[i]
    assert old.paid_on is not None
    later = replace(old, paid_on=None if extra is None else old.paid_on + timedelta(days=extra))
    before = score(payments, as_of).score
    after = score([*payments[:i], later, *payments[i + 1 :]], as_of).score
    if before is not None:
        assert after is not None and after <= before


DAYS = st.one_of(st.sampled_from([1, 15, 29, 30, 45, 59, 60, 75, 89, 90, 200]), st.integers(1, 500))


@settings(max_examples=400, deadline=None)
@given(
    st.integers(6, 48),
    st.integers(0, 47),
    DAYS,
    st.one_of(st.none(), DAYS),
    st.integers(0, 30),
)
def test_one_late_payment_made_later_never_raises(months, which, late, extra, since):
    """One late payment in an otherwise clean history, so factor B is never at its floor."""
    payments = rent_year(2020, months)
    i = which % months
    old = replace(payments[i], paid_on=payments[i].due + timedelta(days=late))
    assert old.paid_on is not None
    later = replace(old, paid_on=None if extra is None else old.paid_on + timedelta(days=extra))
    as_of = payments[-1].due + timedelta(days=1 + since * 30)
    before = score([*payments[:i], old, *payments[i + 1 :]], as_of).score
    after = score([*payments[:i], later, *payments[i + 1 :]], as_of).score
    assert before is not None and after is not None
    assert after <= before


def test_deduction_table_grows_with_lateness_and_shrinks_with_age():
    worst_first = list(sc.LATE_DEDUCTIONS.values())
    for column in range(3):
        values = [row[column] for row in worst_first]
        assert values == sorted(values)
    for row in worst_first:
        assert list(row) == sorted(row, reverse=True)


@PROPS
@given(cases(), st.data())
def test_an_extra_on_time_month_never_lowers(case, data):
    payments, as_of = case
    months = {(p.due.year, p.due.month) for p in payments}
    candidates = [
        (y, m)
        for y in range(2019, as_of.year + 1)
        for m in range(1, 13)
        if (y, m) not in months and date(y, m, 1) < as_of
    ]
    assume(candidates)
    y, m = data.draw(st.sampled_from(candidates))
    account = data.draw(st.sampled_from(sorted(ACCOUNTS)))
    amount = data.draw(st.integers(1, 500_000))
    due = date(y, m, 1)
    extra = Payment(account, ACCOUNTS[account], due, amount, due, amount)
    before = score(payments, as_of).score
    after = score([*payments, extra], as_of).score
    if before is not None:
        assert after is not None and after >= before


@PROPS
@given(cases())
def test_key_factors_are_the_biggest_losses(case):
    payments, as_of = case
    result = score(payments, as_of)
    assume(result.score is not None)
    assert result.score is not None
    losses = result.losses
    assert len(result.key_factors) <= 4
    assert result.key_factors == losses[:4]
    assert all(k.points_lost > 0 for k in losses)
    assert sum(k.points_lost for k in losses) == sc.SCORE_MAX - result.score
    shown = [k.points_lost for k in result.key_factors]
    assert shown == sorted(shown, reverse=True)
    if len(losses) > 4:
        assert min(shown) >= max(k.points_lost for k in losses[4:])
    # losses agree with the factor table: everything but B is max - points
    by_code = {k.code: k.points_lost for k in losses}
    for f, code in zip(result.factors, ["ON01", None, "HS01", "AM01", "MX01"], strict=True):
        if code is not None:
            assert by_code.get(code, 0) == f.max_points - f.points
    late_lost = sum(v for c, v in by_code.items() if c.startswith("LT"))
    assert late_lost == sc.LATE_MAX - result.factors[1].points
    assert len({k.code for k in losses}) == len(losses)
    assert all(k.code in sc.KEY_FACTOR_CODES for k in losses)


@PROPS
@given(cases())
def test_improvements_claim_real_gains(case):
    payments, as_of = case
    result = score(payments, as_of)
    assume(result.score is not None)
    for tip in result.improvements:
        assert tip.points is not None and tip.points > 0
        assert result.score + tip.points <= sc.SCORE_MAX


# --------------------------------------------------------------------------------------
# Speed: 100,000 residents x 24 months on one core (printed, not asserted)
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_score_many_timing(capsys):
    rng = random.Random(20240601)
    as_of = date(2025, 12, 31)
    # 2,000 distinct histories shared by 100,000 residents; score_many scores every
    # resident in full (it keeps nothing between residents), so sharing only saves memory.
    pool = []
    for h in range(2_000):
        kinds = rng.choice([["rent"], ["rent", "utility"], ["rent", "energy", "lending_circle"]])
        history = []
        for kind in kinds:
            for m in range(24):
                y, m0 = divmod(2024 * 12 + m, 12)
                due = date(y, m0 + 1, 1)
                r = rng.random()
                if r < 0.85:
                    paid_on: date | None = due - timedelta(days=rng.randint(0, 3))
                elif r < 0.95:
                    paid_on = due + timedelta(days=rng.randint(1, 120))
                else:
                    paid_on = None
                amount = rng.randint(5_000, 250_000)
                history.append(
                    Payment(
                        f"{kind}-{h}",
                        kind,
                        due,
                        amount,
                        paid_on,
                        amount if paid_on else 0,
                        rng.random() < 0.01,
                    )
                )
        pool.append(history)
    residents = {i: pool[i % len(pool)] for i in range(100_000)}
    count = sum(len(v) for v in residents.values())
    start = time.perf_counter()
    scores = score_many(residents, as_of)
    elapsed = time.perf_counter() - start
    assert len(scores) == 100_000
    assert all(s is None or 0 <= s <= 100 for s in scores.values())
    with capsys.disabled():
        print(
            f"\nscore_many: 100,000 residents x 24 months ({count:,} payments) "
            f"in {elapsed:.2f} s on one core"
        )
