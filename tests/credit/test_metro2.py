"""Metro 2 furnishing file (credit.metro2): layout by slicing, totals, rules. No database."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime

import pytest

from credit import metro2 as m
from credit.metro2 import (
    BaseSegment,
    HeaderInfo,
    Metro2Error,
    ReportingPolicy,
    build_history_profile,
    validate,
    write_file,
)

DAI = date(2025, 1, 31)
OPENED = date(2024, 3, 1)


def header(**changes) -> HeaderInfo:
    info = HeaderInfo(
        reporter_name="City of Springfield Credit Desk",
        reporter_address="1 City Hall Square, Springfield IL 62701",
        activity_date=DAI,
        date_created=date(2025, 2, 1),
        reporter_telephone="2175550100",
        equifax_program_identifier="EFX0000001",
        experian_program_identifier="EXP01",
        transunion_program_identifier="TU00000001",
    )
    return replace(info, **changes)


def rent(**changes) -> BaseSegment:
    """A current rent account: $1,200.99 a month, paid on time since March 2024."""
    months = {date(2024, month, 1): 0 for month in range(3, 13)}
    segment = BaseSegment(
        identification_number="CITYCHN01",
        consumer_account_number="RENT000123",
        portfolio_type="O",
        account_type="29",
        date_opened=OPENED,
        terms_duration="001",
        account_status="11",
        payment_history_profile=build_history_profile(
            months, date_of_account_information=DAI, date_opened=OPENED
        ),
        date_of_account_information=DAI,
        surname="Peña-Ruiz",
        first_name="José",
        middle_name="o'neil",
        address_line_1="12 Main St Apt 4",
        city="Springfield",
        state="IL",
        zip_code="62701-1234",
        highest_credit_cents=120_099,
        scheduled_monthly_payment_cents=120_099,
        actual_payment_cents=120_099,
        date_last_payment=date(2025, 1, 1),
        date_of_birth=date(1990, 5, 17),
        ssn="123456789",
        telephone="2175550123",
        residence_code="R",
        time_stamp=datetime(2025, 1, 31, 23, 5, 9),
    )
    return replace(segment, **changes)


def lending_circle(**changes) -> BaseSegment:
    """A finished 10-month, $1,000 lending circle: paid and closed, never late."""
    opened = date(2024, 2, 10)
    months = {date(2024, month, 1): 0 for month in range(2, 12)}
    segment = BaseSegment(
        identification_number="CITYCHN01",
        consumer_account_number="CIRCLE000042",
        portfolio_type="I",
        account_type="01",
        date_opened=opened,
        terms_duration="010",
        account_status="13",
        payment_rating="0",
        payment_history_profile=build_history_profile(
            months, date_of_account_information=date(2024, 12, 10), date_opened=opened
        ),
        date_of_account_information=date(2024, 12, 10),
        date_closed=date(2024, 12, 10),
        date_last_payment=date(2024, 12, 10),
        highest_credit_cents=100_000,
        actual_payment_cents=10_000,
        surname="Nguyen",
        first_name="Lan",
        address_line_1="400 Elm Ave",
        city="Springfield",
        state="IL",
        zip_code="62702",
        date_of_birth=date(1985, 11, 2),
    )
    return replace(segment, **changes)


def late_rent(**changes) -> BaseSegment:
    """Rent 45 days past due: status 71, $1,200 past due since the 30th day."""
    base = rent(
        account_status="71",
        current_balance_cents=240_198,
        amount_past_due_cents=120_099,
        date_first_delinquency=date(2025, 1, 1),
        consumer_account_number="RENT000777",
    )
    return replace(base, **changes)


def written(segments, **kwargs) -> tuple[bytes, m.FileStats]:
    out = io.BytesIO()
    stats = write_file(header(), segments, out, **kwargs)
    return out.getvalue(), stats


def records(data: bytes) -> list[bytes]:
    assert len(data) % 426 == 0
    return [data[i : i + 426] for i in range(0, len(data), 426)]


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------


def test_every_record_is_426_bytes_with_its_rdw():
    data, stats = written([rent(), lending_circle(), late_rent()])
    recs = records(data)
    assert len(recs) == 5 == stats.records
    assert len(data) == 5 * 426 == stats.bytes_written
    for rec in recs:
        assert len(rec) == 426
        assert rec[:4] == b"0426"  # the RDW counts its own four bytes: 4 + 422 = 426
    assert recs[0][4:10] == b"HEADER"
    assert recs[-1][4:11] == b"TRAILER"
    data.decode("ascii")  # character format: ASCII only


def test_line_separator_is_optional():
    data, stats = written([rent()], line_separator=b"\r\n")
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert [len(line) for line in lines[:-1]] == [426, 426, 426]
    assert stats.bytes_written == len(data) == 3 * 428


def test_base_segment_field_positions():
    rec = records(written([rent()])[0])[1]
    field = {
        "rdw": rec[0:4],
        "processing indicator": rec[4:5],
        "time stamp": rec[5:19],
        "correction indicator": rec[19:20],
        "identification number": rec[20:40],
        "cycle identifier": rec[40:42],
        "consumer account number": rec[42:72],
        "portfolio type": rec[72:73],
        "account type": rec[73:75],
        "date opened": rec[75:83],
        "credit limit": rec[83:92],
        "highest credit": rec[92:101],
        "terms duration": rec[101:104],
        "terms frequency": rec[104:105],
        "scheduled monthly payment": rec[105:114],
        "actual payment": rec[114:123],
        "account status": rec[123:125],
        "payment rating": rec[125:126],
        "payment history profile": rec[126:150],
        "special comment": rec[150:152],
        "compliance condition": rec[152:154],
        "current balance": rec[154:163],
        "amount past due": rec[163:172],
        "original charge-off": rec[172:181],
        "date of account information": rec[181:189],
        "date of first delinquency": rec[189:197],
        "date closed": rec[197:205],
        "date of last payment": rec[205:213],
        "interest type": rec[213:214],
        "reserved": rec[214:231],
        "surname": rec[231:256],
        "first name": rec[256:276],
        "middle name": rec[276:296],
        "generation code": rec[296:297],
        "ssn": rec[297:306],
        "date of birth": rec[306:314],
        "telephone": rec[314:324],
        "ecoa code": rec[324:325],
        "consumer information indicator": rec[325:327],
        "country code": rec[327:329],
        "address line 1": rec[329:361],
        "address line 2": rec[361:393],
        "city": rec[393:413],
        "state": rec[413:415],
        "zip code": rec[415:424],
        "address indicator": rec[424:425],
        "residence code": rec[425:426],
    }
    assert sum(len(v) for v in field.values()) == 426
    expected = {
        "rdw": b"0426",
        "processing indicator": b"1",
        "time stamp": b"01312025230509",
        "correction indicator": b"0",
        "identification number": b"CITYCHN01".ljust(20),
        "cycle identifier": b"  ",
        "consumer account number": b"RENT000123".ljust(30),
        "portfolio type": b"O",
        "account type": b"29",
        "date opened": b"03012024",
        "credit limit": b"000000000",
        "highest credit": b"000001200",  # $1,200.99: whole dollars, cents truncated
        "terms duration": b"001",
        "terms frequency": b"M",
        "scheduled monthly payment": b"000001200",
        "actual payment": b"000001200",
        "account status": b"11",
        "payment rating": b" ",
        "payment history profile": b"0000000000" + b"B" * 14,
        "special comment": b"  ",
        "compliance condition": b"  ",
        "current balance": b"000000000",
        "amount past due": b"000000000",
        "original charge-off": b"000000000",
        "date of account information": b"01312025",
        "date of first delinquency": b"00000000",
        "date closed": b"00000000",
        "date of last payment": b"01012025",
        "interest type": b" ",
        "reserved": b" " * 17,
        "surname": b"PENA-RUIZ".ljust(25),  # upper-case ASCII, the hyphen kept
        "first name": b"JOSE".ljust(20),
        "middle name": b"ONEIL".ljust(20),  # no special characters but the hyphen
        "generation code": b" ",
        "ssn": b"123456789",
        "date of birth": b"05171990",
        "telephone": b"2175550123",
        "ecoa code": b"1",
        "consumer information indicator": b"  ",
        "country code": b"US",
        "address line 1": b"12 MAIN ST APT 4".ljust(32),
        "address line 2": b" " * 32,
        "city": b"SPRINGFIELD".ljust(20),
        "state": b"IL",
        "zip code": b"627011234",
        "address indicator": b" ",
        "residence code": b"R",
    }
    assert field == expected


def test_installment_and_closed_fields():
    rec = records(written([lending_circle()])[0])[1]
    assert rec[72:73] == b"I"
    assert rec[73:75] == b"01"
    assert rec[92:101] == b"000001000"  # the $1,000 the resident received
    assert rec[101:104] == b"010"  # ten months
    assert rec[123:125] == b"13"
    assert rec[125:126] == b"0"  # paid, never 30 days late
    assert rec[197:205] == b"12102024"  # date closed
    assert rec[297:306] == b"000000000"  # no SSN: zero-filled ...
    assert rec[306:314] == b"11021985"  # ... and the date of birth carries the match
    assert rec[5:19] == b"12102024000000"  # no time stamp given: the DAI at midnight


def test_header_field_positions():
    rec = records(written([rent()])[0])[0]
    assert rec[0:4] == b"0426"
    assert rec[4:10] == b"HEADER"
    assert rec[10:12] == b"  "
    assert rec[12:22] == b" " * 10  # Innovis: no identifier given
    assert rec[22:32] == b"EFX0000001"
    assert rec[32:37] == b"EXP01"
    assert rec[37:47] == b"TU00000001"
    assert rec[47:55] == b"01312025"  # activity date
    assert rec[55:63] == b"02012025"  # date created
    assert rec[63:79] == b"0" * 16  # program date and revision date: not given
    assert rec[79:119] == b"CITY OF SPRINGFIELD CREDIT DESK".ljust(40)
    assert rec[119:215] == b"1 CITY HALL SQUARE, SPRINGFIELD IL 62701".ljust(96)
    assert rec[215:225] == b"2175550100"
    assert rec[225:265] == b"CITYCHAIN".ljust(40)
    assert rec[280:426] == b" " * 146


def test_trailer_totals():
    segments = [
        rent(),
        rent(consumer_account_number="RENT000124", telephone="", ssn=None),
        lending_circle(),
        late_rent(),
        late_rent(
            consumer_account_number="RENT000999",
            account_status="84",
            date_first_delinquency=date(2024, 7, 1),
        ),
    ]
    data, stats = written(segments)
    rec = records(data)[-1]
    assert stats.base_records == 5
    assert stats.status_counts == {"11": 2, "13": 1, "71": 1, "84": 1}
    assert (stats.ssn_count, stats.dob_count, stats.telephone_count) == (3, 5, 3)

    def number(start: int) -> int:
        return int(rec[start : start + 9])

    assert number(11) == 5  # total base records
    assert rec[20:29] == b" " * 9
    assert number(29) == 0  # status DF
    assert number(38) == number(47) == 0  # J1, J2 segments
    assert number(56) == 7  # block count: every record its own block
    assert number(65) == 0  # status DA
    by_status = {code: number(74 + 9 * i) for i, code in enumerate(m.TRAILER_STATUS_CODES[2:])}
    assert by_status == {
        "05": 0, "11": 2, "13": 1, "61": 0, "62": 0, "63": 0, "64": 0, "65": 0, "71": 1,
        "78": 0, "80": 0, "82": 0, "83": 0, "84": 1, "88": 0, "89": 0, "93": 0, "94": 0,
        "95": 0, "96": 0, "97": 0,
    }  # fmt: skip
    assert number(263) == 0  # ECOA Z
    assert [number(s) for s in range(272, 326, 9)] == [0] * 6  # N1, K1-K4, L1
    assert number(326) == number(335) == 3  # SSNs: all segments, base segments
    assert number(362) == number(371) == 5  # dates of birth
    assert number(398) == 3  # telephone numbers
    assert rec[407:426] == b" " * 19


def test_an_empty_file_still_has_header_and_trailer():
    data, stats = written([])
    recs = records(data)
    assert len(recs) == 2
    assert int(recs[1][11:20]) == 0
    assert stats.block_count == 2


# --------------------------------------------------------------------------------------
# Codes and the payment history profile
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "status", "code"),
    [
        (0, "11", "0"), (29, "11", "0"), (30, "71", "1"), (59, "71", "1"), (60, "78", "2"),
        (89, "78", "2"), (90, "80", "3"), (119, "80", "3"), (120, "82", "4"), (150, "83", "5"),
        (179, "83", "5"), (180, "84", "6"), (1000, "84", "6"),
    ],
)  # fmt: skip
def test_status_and_history_code_by_days_past_due(days, status, code):
    assert m.account_status_for(days) == status
    assert m.history_code_for(days) == code


def test_history_profile_is_most_recent_month_first():
    months = {
        date(2025, 5, 20): 0,  # any day within the month stands for the month
        date(2025, 4, 1): 35,
        date(2025, 3, 1): 65,
        date(2025, 2, 1): None,  # no data that month
        # January 2025: no entry at all -> D
        date(2024, 12, 1): "E",
        date(2024, 11, 1): 200,
        date(2024, 10, 1): 95,
    }
    profile = build_history_profile(
        months, date_of_account_information=date(2025, 6, 30), date_opened=date(2024, 1, 15)
    )
    # positions 1..24 = May 2025 back to June 2023; opened January 2024 (position 17)
    assert profile == "012DDE63" + "D" * 9 + "B" * 7
    assert len(profile) == 24


def test_history_profile_of_a_new_account_is_b_filled():
    profile = build_history_profile(
        {}, date_of_account_information=date(2025, 1, 31), date_opened=date(2025, 1, 5)
    )
    assert profile == "B" * 24
    profile = build_history_profile(
        {date(2024, 12, 1): 0},
        date_of_account_information=date(2025, 1, 31),
        date_opened=date(2024, 12, 1),
    )
    assert profile == "0" + "B" * 23


def test_history_profile_refuses_unknown_codes():
    with pytest.raises(ValueError, match="not a payment history code"):
        build_history_profile(
            {date(2024, 12, 1): "X"},
            date_of_account_information=date(2025, 1, 31),
            date_opened=date(2024, 1, 1),
        )


def test_days_past_due():
    bills = [(date(2025, 1, 1), date(2025, 1, 1)), (date(2025, 2, 1), None)]
    assert m.days_past_due(bills, date(2025, 3, 15)) == 42
    assert m.days_past_due(bills, date(2025, 2, 1)) == 0  # due today is not past due
    paid_later = [(date(2025, 1, 1), date(2025, 3, 20))]
    assert m.days_past_due(paid_later, date(2025, 2, 28)) == 58


# --------------------------------------------------------------------------------------
# Validation: each rule caught
# --------------------------------------------------------------------------------------


def test_the_examples_are_valid():
    assert validate(rent()) == []
    assert validate(lending_circle()) == []
    assert validate(late_rent()) == []


def problems(segment: BaseSegment) -> str:
    return " | ".join(validate(segment))


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        # status 11 "current" has nothing past due
        (
            rent(current_balance_cents=9_000, amount_past_due_cents=9_000),
            "0 when the account status is 11",
        ),
        # past due statuses need an amount past due and a date of first delinquency
        (late_rent(amount_past_due_cents=0), "a past-due status (71) needs an amount past due"),
        (
            late_rent(date_first_delinquency=None),
            "date_first_delinquency: required with account status",
        ),
        (rent(date_first_delinquency=date(2024, 6, 1)), "zero-filled with account status 11"),
        # paid/closed accounts: date closed, zero balance, a payment rating
        (lending_circle(date_closed=None), "needs its date closed"),
        (lending_circle(current_balance_cents=5_000), "must be 0 when the account status is 13"),
        (lending_circle(payment_rating=""), "payment_rating: required with account status 13"),
        (lending_circle(payment_rating="2"), "date_first_delinquency: required with account sta"),
        (lending_circle(scheduled_monthly_payment_cents=10_000), "zero once the account is paid"),
        (rent(payment_rating="0"), "payment_rating: must be blank with account status 11"),
        # amounts and dates that cannot be
        (late_rent(current_balance_cents=100), "cannot exceed the current balance"),
        (rent(highest_credit_cents=-1), "must not be negative"),
        (rent(date_opened=date(2025, 2, 1)), "date_opened: after the date of account information"),
        (lending_circle(date_closed=date(2024, 1, 1)), "date_closed: before the date opened"),
        (rent(date_last_payment=date(2025, 2, 1)), "date_last_payment: after the date of account"),
        # portfolio, account type and terms
        (rent(portfolio_type="I", terms_duration="012"), "account type 29 is reported as O"),
        (rent(terms_duration="012"), "Open accounts report the constant 001"),
        (lending_circle(terms_duration="000"), "the number of months"),
        (lending_circle(credit_limit_cents=100_000), "zero for Installment"),
        (rent(portfolio_type="X"), "portfolio_type: unknown code"),
        (rent(account_status="12"), "account_status: unknown code"),
        (rent(ecoa_code="4"), "ecoa_code: unknown code"),
        (rent(compliance_condition_code="ZZ"), "compliance_condition_code"),
        # the payment history profile
        (rent(payment_history_profile="0" * 23), "payment_history_profile: 24 codes"),
        (rent(payment_history_profile="0B0" + "B" * 21), "B (no history) may only fill the oldest"),
        (rent(payment_history_profile="0" * 24), "month 11 is before the account was opened"),
        # the consumer: SSN or date of birth, no ITINs, no minors
        (rent(ssn=None, date_of_birth=None), "date_of_birth: required when no Social Security"),
        (rent(ssn="912701234"), "ITINs are not allowed"),
        (rent(ssn="000123456"), "not a valid U.S.-issued"),
        (rent(ssn="12345678"), "not a valid U.S.-issued"),
        (rent(date_of_birth=date(2010, 1, 1)), "minors are not reported"),
        (rent(consumer_account_number="R123456789"), "must not contain the Social Security Number"),
        (rent(consumer_account_number="RENT 123"), "consumer_account_number: 1-30 upper-case"),
        (rent(identification_number="000000000"), "must not be zero- or 9-filled"),
        (rent(surname="!!!"), "surname: required"),
        (rent(state="XX"), "not a U.S. Postal Service state code"),
        (rent(zip_code="6270"), "zip_code: 5 or 9 digits"),
        (rent(telephone="555"), "telephone: area code and number"),
    ],
)
def test_validation_catches(segment, message):
    assert message in problems(segment)


def test_ssn_alone_or_dob_alone_is_enough():
    assert validate(rent(date_of_birth=None)) == []
    assert validate(rent(ssn=None)) == []


def test_write_file_refuses_errors_and_writes_nothing():
    out = io.BytesIO()
    with pytest.raises(Metro2Error) as caught:
        write_file(
            header(reporter_name=""),
            [rent(), rent(), late_rent(amount_past_due_cents=0)],
            out,
        )
    assert out.getvalue() == b""
    errors = caught.value.errors
    assert "header: reporter_name: required" in errors
    assert "account RENT000123: reported twice in one file" in errors
    assert any(e.startswith("account RENT000777: amount_past_due_cents") for e in errors)


def test_header_rules():
    assert m.validate_header(header()) == []
    assert "activity_date: after the date the file was created" in m.validate_header(
        header(activity_date=date(2025, 3, 1))
    )


# --------------------------------------------------------------------------------------
# Reporter policy
# --------------------------------------------------------------------------------------


def test_positive_only_holds_back_new_negative_accounts_but_not_furnished_ones():
    current, late, furnished_late = (
        rent(),
        late_rent(),
        late_rent(consumer_account_number="RENT000888"),
    )
    kept, held = m.select_for_policy(
        [current, late, furnished_late, lending_circle()],
        ReportingPolicy.POSITIVE_ONLY,
        previously_furnished={"RENT000888"},
    )
    assert kept == [current, furnished_late, lending_circle()]
    assert held == [late]
    kept, held = m.select_for_policy([current, late], ReportingPolicy.FULL_FILE)
    assert kept == [current, late] and held == []
    paid_after_late = lending_circle(payment_rating="1", date_first_delinquency=date(2024, 5, 1))
    assert not m.is_positive(paid_after_late)


def test_account_for_kind():
    assert m.ACCOUNT_FOR_KIND["rent"] == ("O", "29")
    assert m.ACCOUNT_FOR_KIND["lending_circle"] == ("I", "01")
