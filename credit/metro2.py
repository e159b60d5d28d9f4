"""Metro 2(R) furnishing file: the fixed-length 426-byte character format the bureaus load.

This module owns the Metro 2 records we write for residents who opted in to having
their rent and lending-circle payments reported, and nothing else:

- the header record, the base segment and the trailer record in the 426-byte character
  ("unpacked") fixed-length layout. Each record is exactly 426 bytes and its first four
  bytes are its Record Descriptor Word, the record length "0426" (the RDW is part of the
  426, as in the layout published by the CDIA and its public descriptions). No appended
  segments (J1, J2, K1-K4, L1, N1) are written;
- the code values we use: portfolio and account types (rent O/29, lending circle I/01,
  utility and energy O/92), account status, payment rating, the 24-month payment
  history profile, ECOA and compliance condition codes;
- `validate`, the checks a segment must pass before it is written (required fields,
  code values, cross-field rules), and `write_file`, which refuses a file with any error;
- the per-reporter policy (full-file or positive-only) as a pure selection.

Field positions come from public descriptions of the CDIA Credit Reporting Resource
Guide (CRRG) and the open-source moov-io/metro2 field tables; docs/metro2.md lists the
sources and what could not be confirmed against the licensed guide. Metro 2 is a
registered trademark of the Consumer Data Industry Association. We are not a certified
furnisher: see docs/metro2.md before sending any file to a bureau.

Pure: no Django. Money is held in integer cents and written in whole dollars with the
cents truncated, as the format requires; dates are `datetime.date`, written MMDDYYYY.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import IO

RECORD_LENGTH = 426
RDW = f"{RECORD_LENGTH:04d}"  # Record Descriptor Word of every fixed-length record
HISTORY_MONTHS = 24
MAX_DOLLARS = 999_999_999  # nine digits
MIN_AGE = 18  # "do not report minors"; the age of contract varies by state: check with counsel


class PortfolioType(StrEnum):
    LINE_OF_CREDIT = "C"
    INSTALLMENT = "I"
    MORTGAGE = "M"
    OPEN = "O"
    REVOLVING = "R"


# Account types we furnish (CRRG Exhibit 1 codes, as publicly described).
ACCOUNT_TYPE_UNSECURED = "01"  # lending circle: an unsecured installment loan
ACCOUNT_TYPE_RENTAL_AGREEMENT = "29"
ACCOUNT_TYPE_UTILITY = "92"
# The portfolio each of our account types must be reported under.
PORTFOLIO_FOR_ACCOUNT_TYPE: dict[str, PortfolioType] = {
    ACCOUNT_TYPE_UNSECURED: PortfolioType.INSTALLMENT,
    ACCOUNT_TYPE_RENTAL_AGREEMENT: PortfolioType.OPEN,
    ACCOUNT_TYPE_UTILITY: PortfolioType.OPEN,
}
# Payment kinds (credit.score.PaymentKind values) to (portfolio, account type).
ACCOUNT_FOR_KIND: dict[str, tuple[PortfolioType, str]] = {
    "rent": (PortfolioType.OPEN, ACCOUNT_TYPE_RENTAL_AGREEMENT),
    "lending_circle": (PortfolioType.INSTALLMENT, ACCOUNT_TYPE_UNSECURED),
    "utility": (PortfolioType.OPEN, ACCOUNT_TYPE_UTILITY),
    "energy": (PortfolioType.OPEN, ACCOUNT_TYPE_UTILITY),
}


class AccountStatus(StrEnum):
    """The status codes we produce (Field 17A)."""

    CURRENT = "11"  # 0-29 days past the due date
    PAID_OR_CLOSED = "13"  # paid or closed account, zero balance
    PAST_DUE_30 = "71"  # 30-59 days past the due date
    PAST_DUE_60 = "78"  # 60-89
    PAST_DUE_90 = "80"  # 90-119
    PAST_DUE_120 = "82"  # 120-149
    PAST_DUE_150 = "83"  # 150-179
    PAST_DUE_180 = "84"  # 180 or more


# Every status code the trailer counts, in trailer order (DF and DA first).
TRAILER_STATUS_CODES: tuple[str, ...] = (
    "DF", "DA", "05", "11", "13", "61", "62", "63", "64", "65", "71", "78", "80", "82",
    "83", "84", "88", "89", "93", "94", "95", "96", "97",
)  # fmt: skip
STATUS_CODES = frozenset(TRAILER_STATUS_CODES)
DELINQUENT_STATUSES = frozenset({"71", "78", "80", "82", "83", "84"})
# Payment Rating (17B) is required with these statuses and must be blank with any other.
RATING_STATUSES = frozenset({"05", "13", "65", "88", "89", "94", "95"})
PAYMENT_RATINGS = frozenset("0123456GL")
# Date of First Delinquency is required for these statuses (rule 1 of its hierarchy).
DOFD_STATUSES = frozenset(
    {"61", "62", "63", "64", "65", "71", "78", "80", "82", "83", "84", "88", "89"}
    | {"93", "94", "95", "96", "97"}
)
HISTORY_CODES = frozenset("0123456BDEGHJKL")
ECOA_CODES = frozenset("12357TWXZ")
COMPLIANCE_CODES = frozenset({"", "XA", "XB", "XC", "XH", "XR"})
GENERATION_CODES = frozenset({"", "J", "S", "2", "3", "4", "5", "6", "7", "8", "9"})
TERMS_FREQUENCIES = frozenset({"", "D", "P", "W", "B", "E", "M", "L", "Q", "T", "S", "Y"})
INTEREST_TYPES = frozenset({"", "F", "V"})
ADDRESS_INDICATORS = frozenset({"", "C", "Y", "N", "M", "S", "B", "U", "D", "P"})
RESIDENCE_CODES = frozenset({"", "O", "R"})
# U.S. Postal Service codes: states, DC, territories and military (AA, AE, AP).
STATES = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
        "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
        "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
        "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
        "AA", "AE", "AP",
    }
)  # fmt: skip


# --------------------------------------------------------------------------------------
# Records in our vocabulary
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """Who is furnishing, and when. Program identifiers are assigned by each bureau."""

    reporter_name: str
    reporter_address: str
    activity_date: date  # most recent update to the accounts on the file
    date_created: date
    reporter_telephone: str = ""
    equifax_program_identifier: str = ""
    experian_program_identifier: str = ""
    transunion_program_identifier: str = ""
    innovis_program_identifier: str = ""
    program_date: date | None = None
    program_revision_date: date | None = None
    software_vendor_name: str = "CITYCHAIN"
    software_version: str = ""
    cycle_identifier: str = ""


@dataclass(frozen=True, slots=True)
class BaseSegment:
    """One account of one resident for one reporting period: the base segment fields we fill.

    Amounts are integer cents (written in whole dollars). Fields not listed here are
    written blank or zero-filled (docs/metro2.md lists them).
    """

    identification_number: str  # our furnisher ID at the bureau
    consumer_account_number: str  # stable, unique, never containing an SSN
    portfolio_type: str
    account_type: str
    date_opened: date
    terms_duration: str  # "001" for Open, months ("012") for Installment
    account_status: str
    payment_history_profile: str  # see build_history_profile
    date_of_account_information: date
    surname: str
    first_name: str
    address_line_1: str
    city: str
    state: str
    zip_code: str
    terms_frequency: str = "M"
    credit_limit_cents: int = 0
    highest_credit_cents: int = 0  # rent: the monthly rent; lending circle: the loan amount
    scheduled_monthly_payment_cents: int = 0
    actual_payment_cents: int = 0
    payment_rating: str = ""
    special_comment: str = ""
    compliance_condition_code: str = ""  # "XB" while a dispute is being investigated
    current_balance_cents: int = 0
    amount_past_due_cents: int = 0
    original_charge_off_cents: int = 0
    date_first_delinquency: date | None = None
    date_closed: date | None = None
    date_last_payment: date | None = None
    interest_type: str = ""
    middle_name: str = ""
    generation_code: str = ""
    ssn: str | None = None  # None (zero-filled) when the resident has no SSN
    date_of_birth: date | None = None
    telephone: str = ""
    ecoa_code: str = "1"  # 1 = individual
    consumer_information_indicator: str = ""
    country_code: str = "US"
    address_line_2: str = ""
    address_indicator: str = ""
    residence_code: str = ""
    time_stamp: datetime | None = None  # None: the date of account information at 00:00:00
    cycle_identifier: str = ""


@dataclass(frozen=True, slots=True)
class FileStats:
    """What write_file wrote: the trailer's totals, and the size of the file."""

    base_records: int
    status_counts: Mapping[str, int]
    ssn_count: int
    dob_count: int
    telephone_count: int
    ecoa_z_count: int
    block_count: int
    records: int  # header + base segments + trailer
    bytes_written: int


class Metro2Error(ValueError):
    """A file was refused; `errors` lists every problem found, nothing was written."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        shown = "; ".join(self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"Metro 2 file refused: {shown}{more}")


# --------------------------------------------------------------------------------------
# Codes from days past due
# --------------------------------------------------------------------------------------


def account_status_for(days_past_due: int) -> AccountStatus:
    """Field 17A for an open account that is `days_past_due` days past its oldest due date."""
    if days_past_due < 30:
        return AccountStatus.CURRENT
    if days_past_due < 60:
        return AccountStatus.PAST_DUE_30
    if days_past_due < 90:
        return AccountStatus.PAST_DUE_60
    if days_past_due < 120:
        return AccountStatus.PAST_DUE_90
    if days_past_due < 150:
        return AccountStatus.PAST_DUE_120
    if days_past_due < 180:
        return AccountStatus.PAST_DUE_150
    return AccountStatus.PAST_DUE_180


def history_code_for(days_past_due: int) -> str:
    """One month of the payment history profile (also the Payment Rating, 17B): 0-6."""
    if days_past_due < 30:
        return "0"
    return str(min(6, days_past_due // 30))


def days_past_due(bills: Iterable[tuple[date, date | None]], as_of: date) -> int:
    """Days since the oldest bill still unpaid on `as_of`; 0 when none is.

    `bills` are (due, paid_on) pairs; a bill paid after `as_of` was unpaid then.
    """
    unpaid = [due for due, paid_on in bills if due < as_of and (paid_on is None or paid_on > as_of)]
    return (as_of - min(unpaid)).days if unpaid else 0


def build_history_profile(
    months: Mapping[date, int | str | None],
    *,
    date_of_account_information: date,
    date_opened: date,
) -> str:
    """The 24-month Payment History Profile (Field 18), most recent month first.

    Position 1 is the month before the month of `date_of_account_information` (the
    current month is Field 17A itself), position 24 the month two years before that.
    `months` maps any date within a month to that month's days past due (an int, coded
    0-6), to a code given as is ("E", "G", "L", ...), or to None ("D": no data this
    month). Months before the month the account was opened are "B"; later months with
    no entry are "D".
    """
    by_month: dict[int, int | str | None] = {_month_index(d): v for d, v in months.items()}
    opened = _month_index(date_opened)
    current = _month_index(date_of_account_information)
    codes: list[str] = []
    for back in range(1, HISTORY_MONTHS + 1):
        month = current - back
        if month < opened:
            codes.append("B")
            continue
        value = by_month.get(month)
        if value is None:
            codes.append("D")
        elif isinstance(value, int):
            codes.append(history_code_for(value))
        elif value in HISTORY_CODES and value != "B":
            codes.append(value)
        else:
            raise ValueError(f"not a payment history code for an open month: {value!r}")
    return "".join(codes)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


# --------------------------------------------------------------------------------------
# Reporter policy
# --------------------------------------------------------------------------------------


class ReportingPolicy(StrEnum):
    FULL_FILE = "full_file"  # every opted-in account, positive and negative
    POSITIVE_ONLY = "positive_only"  # only accounts in good standing ... see select_for_policy


def is_positive(segment: BaseSegment) -> bool:
    """Current (11), or paid and closed (13) without having been 30+ days late."""
    if segment.account_status == AccountStatus.CURRENT:
        return True
    return segment.account_status == AccountStatus.PAID_OR_CLOSED and segment.payment_rating == "0"


def select_for_policy(
    segments: Iterable[BaseSegment],
    policy: ReportingPolicy,
    *,
    previously_furnished: Collection[str] = (),
) -> tuple[list[BaseSegment], list[BaseSegment]]:
    """Split segments into (to furnish, held back) under a reporter's policy.

    Positive-only holds back a negative account only if we never furnished it: once an
    account is on a bureau file, leaving its last "current" report standing while it is
    delinquent would be inaccurate, so it keeps being reported as it is (our rule; see
    docs/metro2.md). `previously_furnished` holds consumer account numbers.
    """
    kept: list[BaseSegment] = []
    held: list[BaseSegment] = []
    for segment in segments:
        if (
            policy == ReportingPolicy.FULL_FILE
            or is_positive(segment)
            or segment.consumer_account_number in previously_furnished
        ):
            kept.append(segment)
        else:
            held.append(segment)
    return kept, held


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Z0-9]+")
_DIGITS = re.compile(r"[0-9]+")


def validate(segment: BaseSegment) -> list[str]:
    """Every problem with one base segment, as "field: problem" sentences; [] when fine."""
    s = segment
    errors: list[str] = []

    def err(name: str, problem: str) -> None:
        errors.append(f"{name}: {problem}")

    # Identifiers: stored as given, never transformed, so they must already be clean.
    if not _IDENTIFIER.fullmatch(s.identification_number) or len(s.identification_number) > 20:
        err("identification_number", "1-20 upper-case letters or digits, no blanks")
    elif set(s.identification_number) <= {"0"} or set(s.identification_number) <= {"9"}:
        err("identification_number", "must not be zero- or 9-filled")
    if not _IDENTIFIER.fullmatch(s.consumer_account_number) or len(s.consumer_account_number) > 30:
        err("consumer_account_number", "1-30 upper-case letters or digits, no blanks")
    if s.ssn and s.ssn in s.consumer_account_number:
        err("consumer_account_number", "must not contain the Social Security Number")

    # Code values
    if s.portfolio_type not in set(PortfolioType):
        err("portfolio_type", f"unknown code {s.portfolio_type!r}")
    if not re.fullmatch(r"[0-9A-Z]{2}", s.account_type):
        err("account_type", "two characters")
    expected = PORTFOLIO_FOR_ACCOUNT_TYPE.get(s.account_type)
    if expected is not None and s.portfolio_type != expected:
        err("portfolio_type", f"account type {s.account_type} is reported as {expected.value}")
    if s.account_status not in STATUS_CODES:
        err("account_status", f"unknown code {s.account_status!r}")
    if s.terms_frequency not in TERMS_FREQUENCIES:
        err("terms_frequency", f"unknown code {s.terms_frequency!r}")
    if s.ecoa_code not in ECOA_CODES:
        err("ecoa_code", f"unknown code {s.ecoa_code!r}")
    if s.compliance_condition_code not in COMPLIANCE_CODES:
        err("compliance_condition_code", f"not a code we report: {s.compliance_condition_code!r}")
    if s.generation_code not in GENERATION_CODES:
        err("generation_code", f"unknown code {s.generation_code!r}")
    if s.interest_type not in INTEREST_TYPES:
        err("interest_type", f"unknown code {s.interest_type!r}")
    if s.address_indicator not in ADDRESS_INDICATORS:
        err("address_indicator", f"unknown code {s.address_indicator!r}")
    if s.residence_code not in RESIDENCE_CODES:
        err("residence_code", f"unknown code {s.residence_code!r}")
    if s.special_comment and not re.fullmatch(r"[A-Z0-9]{1,2}", s.special_comment):
        err("special_comment", "one or two upper-case letters or digits")
    if s.cycle_identifier and not re.fullmatch(r"[A-Z0-9]{1,2}", s.cycle_identifier):
        err("cycle_identifier", "one or two upper-case letters or digits")
    if s.country_code and not re.fullmatch(r"[A-Z]{2}", s.country_code):
        err("country_code", "two upper-case letters")

    # Terms, by portfolio
    if s.portfolio_type == PortfolioType.OPEN and s.terms_duration != "001":
        err("terms_duration", "Open accounts report the constant 001")
    elif s.portfolio_type in (PortfolioType.INSTALLMENT, PortfolioType.MORTGAGE) and not (
        re.fullmatch(r"[0-9]{3}", s.terms_duration) and s.terms_duration != "000"
    ):
        err("terms_duration", "the number of months (years for a mortgage), 001-999")
    elif s.portfolio_type == PortfolioType.LINE_OF_CREDIT and s.terms_duration != "LOC":
        err("terms_duration", "Line of Credit accounts report LOC")
    elif s.portfolio_type == PortfolioType.REVOLVING and s.terms_duration != "REV":
        err("terms_duration", "Revolving accounts report REV")
    if s.portfolio_type in (PortfolioType.INSTALLMENT, PortfolioType.MORTGAGE) and (
        s.credit_limit_cents
    ):
        err("credit_limit_cents", "zero for Installment and Mortgage accounts")

    # Amounts
    for name in (
        "credit_limit_cents",
        "highest_credit_cents",
        "scheduled_monthly_payment_cents",
        "actual_payment_cents",
        "current_balance_cents",
        "amount_past_due_cents",
        "original_charge_off_cents",
    ):
        value = getattr(s, name)
        if value < 0:
            err(name, "must not be negative (report a credit balance as zero)")
        elif value // 100 > MAX_DOLLARS:
            err(name, "more than nine digits of dollars")
    if s.amount_past_due_cents > s.current_balance_cents:
        err("amount_past_due_cents", "cannot exceed the current balance")

    # Status, rating, balances and dates that must agree
    status = s.account_status
    if status == AccountStatus.CURRENT and s.amount_past_due_cents:
        err("amount_past_due_cents", "must be 0 when the account status is 11 (current)")
    if status in DELINQUENT_STATUSES and s.amount_past_due_cents < 100:
        err("amount_past_due_cents", f"a past-due status ({status}) needs an amount past due")
    if status == AccountStatus.PAID_OR_CLOSED:
        if s.current_balance_cents or s.amount_past_due_cents:
            err("current_balance_cents", "must be 0 when the account status is 13 (paid)")
        if s.date_closed is None:
            err("date_closed", "a paid or closed account (status 13) needs its date closed")
        if s.scheduled_monthly_payment_cents:
            err("scheduled_monthly_payment_cents", "zero once the account is paid in full")
    if status in RATING_STATUSES:
        if s.payment_rating not in PAYMENT_RATINGS:
            err("payment_rating", f"required with account status {status} (0-6, G or L)")
    elif s.payment_rating:
        err("payment_rating", f"must be blank with account status {status}")
    rated_late = status in {"05", "13"} and s.payment_rating in set("123456GL")
    if status in DOFD_STATUSES or rated_late:
        if s.date_first_delinquency is None:
            err("date_first_delinquency", f"required with account status {status}")
    elif s.date_first_delinquency is not None and not s.consumer_information_indicator:
        err("date_first_delinquency", f"must be zero-filled with account status {status}")

    dai = s.date_of_account_information
    if s.date_opened > dai:
        err("date_opened", "after the date of account information")
    for name in ("date_closed", "date_first_delinquency", "date_last_payment"):
        value = getattr(s, name)
        if value is None:
            continue
        if value > dai:
            err(name, "after the date of account information")
        if value < s.date_opened:
            err(name, "before the date opened")

    # Payment history profile
    profile = s.payment_history_profile
    if len(profile) != HISTORY_MONTHS or not set(profile) <= HISTORY_CODES:
        err("payment_history_profile", "24 codes from 0-6, B, D, E, G, H, J, K, L")
    else:
        if "B" in profile and set(profile[profile.index("B") :]) != {"B"}:
            err("payment_history_profile", "B (no history) may only fill the oldest months")
        opened_back = _month_index(dai) - _month_index(s.date_opened)
        for position, code in enumerate(profile, start=1):
            if position > opened_back and code != "B":
                err(
                    "payment_history_profile",
                    f"month {position} is before the account was opened: must be B",
                )
                break

    # The consumer: SSN or date of birth, full name, an address
    if s.ssn and not _valid_ssn(s.ssn):
        err("ssn", "not a valid U.S.-issued Social Security Number (ITINs are not allowed)")
    if s.date_of_birth is None:
        if not s.ssn:
            err("date_of_birth", "required when no Social Security Number is reported")
    else:
        if s.date_of_birth > dai:
            err("date_of_birth", "in the future")
        elif _age(s.date_of_birth, dai) < MIN_AGE:
            err("date_of_birth", f"consumer under {MIN_AGE}: minors are not reported")
    if s.telephone and not re.fullmatch(r"[0-9]{10}", s.telephone):
        err("telephone", "area code and number, 10 digits")
    if not name_text(s.surname):
        err("surname", "required")
    if not name_text(s.first_name):
        err("first_name", "required")
    if not address_text(s.address_line_1):
        err("address_line_1", "required")
    if not address_text(s.city):
        err("city", "required")
    if s.state not in STATES:
        err("state", f"not a U.S. Postal Service state code: {s.state!r}")
    if not re.fullmatch(r"[0-9]{5}([0-9]{4})?", s.zip_code.replace("-", "")):
        err("zip_code", "5 or 9 digits")
    return errors


def validate_header(info: HeaderInfo) -> list[str]:
    errors: list[str] = []
    if not address_text(info.reporter_name):
        errors.append("reporter_name: required")
    if not address_text(info.reporter_address):
        errors.append("reporter_address: required")
    if info.activity_date > info.date_created:
        errors.append("activity_date: after the date the file was created")
    if info.reporter_telephone and not re.fullmatch(r"[0-9]{10}", info.reporter_telephone):
        errors.append("reporter_telephone: area code and number, 10 digits")
    for name in (
        "equifax_program_identifier",
        "experian_program_identifier",
        "transunion_program_identifier",
        "innovis_program_identifier",
    ):
        value = getattr(info, name)
        if value and not _IDENTIFIER.fullmatch(value):
            errors.append(f"{name}: upper-case letters or digits")
    return errors


def _valid_ssn(ssn: str) -> bool:
    if not _DIGITS.fullmatch(ssn) or len(ssn) != 9:
        return False
    area, group, serial = int(ssn[:3]), int(ssn[3:5]), int(ssn[5:])
    # 900-999 are ITINs and never SSNs; 000 and 666 are never issued.
    return 0 < area < 900 and area != 666 and group != 0 and serial != 0


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------


def _ascii_upper(text: str) -> str:
    # Residents' names often carry accents (PENA for PEÑA): the format is upper-case ASCII.
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.upper().encode("ascii", "ignore").decode("ascii")


def name_text(text: str) -> str:
    """A consumer name as the format wants it: A-Z, spaces and hyphens only."""
    cleaned = re.sub(r"[^A-Z -]", "", _ascii_upper(text))
    return " ".join(cleaned.split())


def address_text(text: str) -> str:
    """An address line or city: upper-case letters, digits and a little punctuation."""
    cleaned = re.sub(r"[^A-Z0-9 #/.,-]", "", _ascii_upper(text))
    return " ".join(cleaned.split())


def _alpha(value: str, length: int) -> str:
    return value[:length].ljust(length)


def _number(value: int, length: int) -> str:
    text = str(value)
    if value < 0 or len(text) > length:
        raise ValueError(f"{value} does not fit {length} digits")
    return text.zfill(length)


def _dollars(cents: int) -> str:
    return _number(cents // 100, 9)


def _date(value: date | None) -> str:
    return value.strftime("%m%d%Y") if value is not None else "00000000"


def _record(parts: Sequence[str]) -> bytes:
    text = "".join(parts)
    if len(text) != RECORD_LENGTH:
        raise AssertionError(f"record is {len(text)} characters, not {RECORD_LENGTH}")
    return text.encode("ascii")


def header_record(info: HeaderInfo) -> bytes:
    return _record(
        [
            RDW,
            "HEADER",
            _alpha(info.cycle_identifier, 2),
            _alpha(info.innovis_program_identifier, 10),
            _alpha(info.equifax_program_identifier, 10),
            _alpha(info.experian_program_identifier, 5),
            _alpha(info.transunion_program_identifier, 10),
            _date(info.activity_date),
            _date(info.date_created),
            _date(info.program_date),
            _date(info.program_revision_date),
            _alpha(address_text(info.reporter_name), 40),
            _alpha(address_text(info.reporter_address), 96),
            info.reporter_telephone or "0000000000",
            _alpha(address_text(info.software_vendor_name), 40),
            _alpha(address_text(info.software_version), 5),
            _alpha("", 10),  # PRBC program identifier: not used
            _alpha("", 146),  # reserved
        ]
    )


def base_record(s: BaseSegment) -> bytes:
    """The 426 bytes of one base segment (validate it first; write_file does)."""
    stamp = s.time_stamp or datetime.combine(s.date_of_account_information, datetime.min.time())
    return _record(
        [
            RDW,
            "1",  # processing indicator: constant 1
            stamp.strftime("%m%d%Y%H%M%S"),
            "0",  # correction indicator: 0, a normal update
            _alpha(s.identification_number, 20),
            _alpha(s.cycle_identifier, 2),
            _alpha(s.consumer_account_number, 30),
            s.portfolio_type,
            s.account_type,
            _date(s.date_opened),
            _dollars(s.credit_limit_cents),
            _dollars(s.highest_credit_cents),
            _alpha(s.terms_duration, 3),
            _alpha(s.terms_frequency, 1),
            _dollars(s.scheduled_monthly_payment_cents),
            _dollars(s.actual_payment_cents),
            s.account_status,
            _alpha(s.payment_rating, 1),
            s.payment_history_profile,
            _alpha(s.special_comment, 2),
            _alpha(s.compliance_condition_code, 2),
            _dollars(s.current_balance_cents),
            _dollars(s.amount_past_due_cents),
            _dollars(s.original_charge_off_cents),
            _date(s.date_of_account_information),
            _date(s.date_first_delinquency),
            _date(s.date_closed),
            _date(s.date_last_payment),
            _alpha(s.interest_type, 1),
            _alpha("", 17),  # reserved
            _alpha(name_text(s.surname), 25),
            _alpha(name_text(s.first_name), 20),
            _alpha(name_text(s.middle_name), 20),
            _alpha(s.generation_code, 1),
            s.ssn if s.ssn else "000000000",
            _date(s.date_of_birth),
            s.telephone or "0000000000",
            s.ecoa_code,
            _alpha(s.consumer_information_indicator, 2),
            _alpha(s.country_code, 2),
            _alpha(address_text(s.address_line_1), 32),
            _alpha(address_text(s.address_line_2), 32),
            _alpha(address_text(s.city), 20),
            s.state,
            _alpha(s.zip_code.replace("-", ""), 9),
            _alpha(s.address_indicator, 1),
            _alpha(s.residence_code, 1),
        ]
    )


def trailer_record(stats: FileStats) -> bytes:
    counts = [stats.status_counts.get(code, 0) for code in TRAILER_STATUS_CODES]
    return _record(
        [
            RDW,
            "TRAILER",
            _number(stats.base_records, 9),
            _alpha("", 9),  # reserved
            _number(counts[0], 9),  # status DF
            _number(0, 9),  # J1 segments
            _number(0, 9),  # J2 segments
            _number(stats.block_count, 9),
            *(_number(n, 9) for n in counts[1:]),  # DA, 05, 11, ... 97
            _number(stats.ecoa_z_count, 9),
            *(_number(0, 9) for _ in range(6)),  # N1, K1, K2, K3, K4, L1 segments
            _number(stats.ssn_count, 9),  # SSNs, all segments
            _number(stats.ssn_count, 9),  # SSNs, base segments
            _number(0, 9),  # SSNs, J1
            _number(0, 9),  # SSNs, J2
            _number(stats.dob_count, 9),  # dates of birth, all segments
            _number(stats.dob_count, 9),  # dates of birth, base segments
            _number(0, 9),  # dates of birth, J1
            _number(0, 9),  # dates of birth, J2
            _number(stats.telephone_count, 9),  # telephone numbers, all segments
            _alpha("", 19),  # reserved
        ]
    )


@dataclass(slots=True)
class _Counts:
    statuses: Counter[str] = field(default_factory=Counter)
    ssn: int = 0
    dob: int = 0
    telephone: int = 0
    ecoa_z: int = 0


def write_file(
    header_info: HeaderInfo,
    segments: Iterable[BaseSegment],
    output: IO[bytes],
    *,
    line_separator: bytes = b"",
) -> FileStats:
    """Validate everything, then write header, base segments and trailer to `output`.

    Any error in the header, any segment, or a consumer account number reported twice
    raises Metro2Error before a byte is written. Records follow each other with no
    separator (fixed-length, fixed-block); pass `line_separator=b"\\r\\n"` if a bureau's
    intake asks for one. Each record is its own block, so the block count is the
    number of records (unconfirmed: see docs/metro2.md).
    """
    segments = list(segments)
    errors = [f"header: {e}" for e in validate_header(header_info)]
    seen: set[tuple[str, str]] = set()
    counts = _Counts()
    for segment in segments:
        label = f"account {segment.consumer_account_number or '?'}"
        errors.extend(f"{label}: {e}" for e in validate(segment))
        key = (segment.identification_number, segment.consumer_account_number)
        if key in seen:
            errors.append(f"{label}: reported twice in one file")
        seen.add(key)
        counts.statuses[segment.account_status] += 1
        counts.ssn += bool(segment.ssn)
        counts.dob += segment.date_of_birth is not None
        counts.telephone += bool(segment.telephone)
        counts.ecoa_z += segment.ecoa_code == "Z"
    if errors:
        raise Metro2Error(errors)
    records = len(segments) + 2
    stats = FileStats(
        base_records=len(segments),
        status_counts=dict(counts.statuses),
        ssn_count=counts.ssn,
        dob_count=counts.dob,
        telephone_count=counts.telephone,
        ecoa_z_count=counts.ecoa_z,
        block_count=records,
        records=records,
        bytes_written=records * (RECORD_LENGTH + len(line_separator)),
    )
    header, trailer = header_record(header_info), trailer_record(stats)
    output.write(header + line_separator)
    for segment in segments:
        output.write(base_record(segment) + line_separator)
    output.write(trailer + line_separator)
    return stats
