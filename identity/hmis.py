"""HUD HMIS CSV: the export a Continuum of Care loads into its HMIS, and the Client.csv import.

This module owns the HMIS CSV format as HUD publishes it, for the two versions we speak:

- FY2026 (in force since 2025-10-01, the default) and FY2024 (still selectable for a CoC
  whose HMIS has not moved yet);
- the ordered column list of the seven files we export (Export, Organization, Project,
  Client, Enrollment, Exit, Services), with HUD's exact names;
- the HUD code lists we fill in, as enums, including the data-quality codes 8, 9 and 99;
- frozen records describing our data in HUD's vocabulary, the writer that turns them into
  the seven CSV files, and the reader that parses a Client.csv from another HMIS.

It imports nothing from Django so it can be read, tested and reused alone; the identity
services map models to these records. Where the FY2026 text could not be confirmed, the
choice made here is recorded in docs/hmis.md.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, IntEnum
from pathlib import Path
from typing import IO, NoReturn, Protocol, TypeVar

VERSIONS: tuple[str, ...] = ("FY2026", "FY2024")
DEFAULT_VERSION = "FY2026"

FILES: tuple[str, ...] = (
    "Export",
    "Organization",
    "Project",
    "Client",
    "Enrollment",
    "Exit",
    "Services",
)

# The CSVVersion HUD's validators look at; only the year prefix is known to matter (a
# "2022 v1" file is rejected by HUD's Eva tool). Callers may override it per export.
CSV_VERSION = {"FY2026": "2026 v1.0", "FY2024": "2024 v1.0"}

DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


# --------------------------------------------------------------------------------------
# Columns, per version, in HUD's order
# --------------------------------------------------------------------------------------

_EXPORT = (
    "ExportID", "SourceType", "SourceID", "SourceName", "SourceContactFirst",
    "SourceContactLast", "SourceContactPhone", "SourceContactExtension", "SourceContactEmail",
    "ExportDate", "ExportStartDate", "ExportEndDate", "SoftwareName", "SoftwareVersion",
    "CSVVersion", "ExportPeriodType", "ExportDirective", "HashStatus", "ImplementationID",
)  # fmt: skip

_ORGANIZATION = (
    "OrganizationID", "OrganizationName", "VictimServiceProvider", "OrganizationCommonName",
    "DateCreated", "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

_PROJECT = (
    "ProjectID", "OrganizationID", "ProjectName", "ProjectCommonName", "OperatingStartDate",
    "OperatingEndDate", "ContinuumProject", "ProjectType", "HousingType", "RRHSubType",
    "ResidentialAffiliation", "TargetPopulation", "HOPWAMedAssistedLivingFac", "PITCount",
    "DateCreated", "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

_CLIENT_FY2024 = (
    "PersonalID", "FirstName", "MiddleName", "LastName", "NameSuffix", "NameDataQuality",
    "SSN", "SSNDataQuality", "DOB", "DOBDataQuality", "AmIndAKNative", "Asian",
    "BlackAfAmerican", "HispanicLatinaeo", "MidEastNAfrican", "NativeHIPacific", "White",
    "RaceNone", "AdditionalRaceEthnicity", "Woman", "Man", "NonBinary", "CulturallySpecific",
    "Transgender", "Questioning", "DifferentIdentity", "GenderNone", "DifferentIdentityText",
    "VeteranStatus", "YearEnteredService", "YearSeparated", "WorldWarII", "KoreanWar",
    "VietnamWar", "DesertStorm", "AfghanistanOEF", "IraqOIF", "IraqOND", "OtherTheater",
    "MilitaryBranch", "DischargeStatus", "DateCreated", "DateUpdated", "UserID", "DateDeleted",
    "ExportID",
)  # fmt: skip

# FY2026: the gender columns (3.06) and DifferentIdentityText are gone, Sex (4.21) follows
# DOBDataQuality, and HispanicLatinaeo is renamed HispanicLatinao.
_CLIENT_FY2026 = (
    "PersonalID", "FirstName", "MiddleName", "LastName", "NameSuffix", "NameDataQuality",
    "SSN", "SSNDataQuality", "DOB", "DOBDataQuality", "Sex", "AmIndAKNative", "Asian",
    "BlackAfAmerican", "HispanicLatinao", "MidEastNAfrican", "NativeHIPacific", "White",
    "RaceNone", "AdditionalRaceEthnicity", "VeteranStatus", "YearEnteredService",
    "YearSeparated", "WorldWarII", "KoreanWar", "VietnamWar", "DesertStorm", "AfghanistanOEF",
    "IraqOIF", "IraqOND", "OtherTheater", "MilitaryBranch", "DischargeStatus", "DateCreated",
    "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

_ENROLLMENT_FY2024 = (
    "EnrollmentID", "PersonalID", "ProjectID", "EntryDate", "HouseholdID", "RelationshipToHoH",
    "EnrollmentCoC", "LivingSituation", "RentalSubsidyType", "LengthOfStay",
    "LOSUnderThreshold", "PreviousStreetESSH", "DateToStreetESSH",
    "TimesHomelessPastThreeYears", "MonthsHomelessPastThreeYears", "DisablingCondition",
    "DateOfEngagement", "MoveInDate", "DateOfPATHStatus", "ClientEnrolledInPATH",
    "ReasonNotEnrolled", "PercentAMI", "ReferralSource", "CountOutreachReferralApproaches",
    "DateOfBCPStatus", "EligibleForRHY", "ReasonNoServices", "RunawayYouth",
    "SexualOrientation", "SexualOrientationOther", "FormerWardChildWelfare",
    "ChildWelfareYears", "ChildWelfareMonths", "FormerWardJuvenileJustice",
    "JuvenileJusticeYears", "JuvenileJusticeMonths", "UnemploymentFam",
    "MentalHealthDisorderFam", "PhysicalDisabilityFam", "AlcoholDrugUseDisorderFam",
    "InsufficientIncome", "IncarceratedParent", "VAMCStation", "TargetScreenReqd",
    "TimeToHousingLoss", "AnnualPercentAMI", "LiteralHomelessHistory", "ClientLeaseholder",
    "HOHLeaseholder", "SubsidyAtRisk", "EvictionHistory", "CriminalRecord",
    "IncarceratedAdult", "PrisonDischarge", "SexOffender", "DisabledHoH", "CurrentPregnant",
    "SingleParent", "DependentUnder6", "HH5Plus", "CoCPrioritized", "HPScreeningScore",
    "ThresholdScore", "TranslationNeeded", "PreferredLanguage", "PreferredLanguageDifferent",
    "DateCreated", "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

# FY2026: sexual orientation (R3) and translation assistance (C4) leave Enrollment.csv, and
# MentalHealthConsultation (V10) follows ThresholdScore.
_ENROLLMENT_FY2026 = (
    "EnrollmentID", "PersonalID", "ProjectID", "EntryDate", "HouseholdID", "RelationshipToHoH",
    "EnrollmentCoC", "LivingSituation", "RentalSubsidyType", "LengthOfStay",
    "LOSUnderThreshold", "PreviousStreetESSH", "DateToStreetESSH",
    "TimesHomelessPastThreeYears", "MonthsHomelessPastThreeYears", "DisablingCondition",
    "DateOfEngagement", "MoveInDate", "DateOfPATHStatus", "ClientEnrolledInPATH",
    "ReasonNotEnrolled", "PercentAMI", "ReferralSource", "CountOutreachReferralApproaches",
    "DateOfBCPStatus", "EligibleForRHY", "ReasonNoServices", "RunawayYouth",
    "FormerWardChildWelfare", "ChildWelfareYears", "ChildWelfareMonths",
    "FormerWardJuvenileJustice", "JuvenileJusticeYears", "JuvenileJusticeMonths",
    "UnemploymentFam", "MentalHealthDisorderFam", "PhysicalDisabilityFam",
    "AlcoholDrugUseDisorderFam", "InsufficientIncome", "IncarceratedParent", "VAMCStation",
    "TargetScreenReqd", "TimeToHousingLoss", "AnnualPercentAMI", "LiteralHomelessHistory",
    "ClientLeaseholder", "HOHLeaseholder", "SubsidyAtRisk", "EvictionHistory",
    "CriminalRecord", "IncarceratedAdult", "PrisonDischarge", "SexOffender", "DisabledHoH",
    "CurrentPregnant", "SingleParent", "DependentUnder6", "HH5Plus", "CoCPrioritized",
    "HPScreeningScore", "ThresholdScore", "MentalHealthConsultation", "DateCreated",
    "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

_EXIT = (
    "ExitID", "EnrollmentID", "PersonalID", "ExitDate", "Destination",
    "DestinationSubsidyType", "OtherDestination", "HousingAssessment", "SubsidyInformation",
    "ProjectCompletionStatus", "EarlyExitReason", "ExchangeForSex",
    "ExchangeForSexPastThreeMonths", "CountOfExchangeForSex", "AskedOrForcedToExchangeForSex",
    "AskedOrForcedToExchangeForSexPastThreeMonths", "WorkplaceViolenceThreats",
    "WorkplacePromiseDifference", "CoercedToContinueWork", "LaborExploitPastThreeMonths",
    "CounselingReceived", "IndividualCounseling", "FamilyCounseling", "GroupCounseling",
    "SessionCountAtExit", "PostExitCounselingPlan", "SessionsInPlan", "DestinationSafeClient",
    "DestinationSafeWorker", "PosAdultConnections", "PosPeerConnections",
    "PosCommunityConnections", "AftercareDate", "AftercareProvided", "EmailSocialMedia",
    "Telephone", "InPersonIndividual", "InPersonGroup", "CMExitReason", "DateCreated",
    "DateUpdated", "UserID", "DateDeleted", "ExportID",
)  # fmt: skip

# A draft FY2026 spec added Services.InformationDate; vendors report HUD withdrew it before
# release, and its position was never published, so Services keeps the FY2024 columns.
_SERVICES = (
    "ServicesID", "EnrollmentID", "PersonalID", "DateProvided", "RecordType", "TypeProvided",
    "OtherTypeProvided", "MovingOnOtherType", "SubTypeProvided", "FAAmount", "FAStartDate",
    "FAEndDate", "ReferralOutcome", "DateCreated", "DateUpdated", "UserID", "DateDeleted",
    "ExportID",
)  # fmt: skip

COLUMNS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "FY2026": {
        "Export": _EXPORT,
        "Organization": _ORGANIZATION,
        "Project": _PROJECT,
        "Client": _CLIENT_FY2026,
        "Enrollment": _ENROLLMENT_FY2026,
        "Exit": _EXIT,
        "Services": _SERVICES,
    },
    "FY2024": {
        "Export": _EXPORT,
        "Organization": _ORGANIZATION,
        "Project": _PROJECT,
        "Client": _CLIENT_FY2024,
        "Enrollment": _ENROLLMENT_FY2024,
        "Exit": _EXIT,
        "Services": _SERVICES,
    },
}


def columns(file: str, version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """HUD's ordered column names of `file` ("Client", not "Client.csv") in `version`."""
    return COLUMNS[_checked_version(version)][file]


# --------------------------------------------------------------------------------------
# Code lists (HUD list numbers in brackets)
# --------------------------------------------------------------------------------------


class ExportPeriodType(IntEnum):
    """[1.1] Code 2 ("Effective") was retired before FY2024 and stays retired."""

    UPDATED = 1
    REPORTING_PERIOD = 3
    OTHER = 4


class ExportDirective(IntEnum):
    """[1.2]"""

    DELTA_REFRESH = 1
    FULL_REFRESH = 2
    OTHER = 3


class RecordType(IntEnum):
    """[1.4] Services.RecordType. The FY2024 workbook swaps the labels of 143 and 151; its
    validation sheet (and FY2026) agree with the names here."""

    PATH_SERVICE = 141
    RHY_SERVICE_CONNECTIONS = 142
    HOPWA_SERVICE = 143
    SSVF_SERVICE = 144
    HOPWA_FINANCIAL_ASSISTANCE = 151
    SSVF_FINANCIAL_ASSISTANCE = 152
    PATH_REFERRAL = 161
    BED_NIGHT = 200
    HUD_VASH_OTH_VOUCHER_TRACKING = 210
    MOVING_ON_ASSISTANCE = 300


BED_NIGHT_TYPE_PROVIDED = 200  # [4.14] the only TypeProvided for RecordType 200


class HashStatus(IntEnum):
    """[1.5] We never hash; other values only describe files received from elsewhere."""

    UNHASHED = 1
    SHA1_RHY = 2
    HASHED_OTHER = 3
    SHA256_RHY = 4


class MissingReason(IntEnum):
    """[1.6] Why a multi-select answer (race, FY2024 gender) is empty: the data-quality codes."""

    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class NoYesReasons(IntEnum):
    """[1.8] NoYesReasonsForMissingData."""

    NO = 0
    YES = 1
    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class SourceType(IntEnum):
    """[1.9]"""

    COC_HMIS = 1
    STANDALONE = 2
    DATA_WAREHOUSE = 3
    OTHER = 4


class ProjectType(IntEnum):
    """[2.02.6]"""

    ES_ENTRY_EXIT = 0
    ES_NIGHT_BY_NIGHT = 1
    TRANSITIONAL_HOUSING = 2
    PH_PERMANENT_SUPPORTIVE_HOUSING = 3
    STREET_OUTREACH = 4
    SERVICES_ONLY = 6
    OTHER = 7
    SAFE_HAVEN = 8
    PH_HOUSING_ONLY = 9
    PH_HOUSING_WITH_SERVICES = 10
    DAY_SHELTER = 11
    HOMELESSNESS_PREVENTION = 12
    PH_RAPID_REHOUSING = 13
    COORDINATED_ENTRY = 14


class HousingType(IntEnum):
    """[2.02.D]"""

    SITE_BASED_SINGLE_SITE = 1
    SITE_BASED_CLUSTERED = 2
    TENANT_BASED_SCATTERED = 3


class RRHSubType(IntEnum):
    """[2.02.A]"""

    SERVICES_ONLY = 1
    HOUSING = 2


class TargetPopulation(IntEnum):
    """[2.02.7]"""

    DOMESTIC_VIOLENCE = 1
    HIV_AIDS = 3
    NOT_APPLICABLE = 4


class HOPWAMedAssistedLivingFac(IntEnum):
    """[2.02.8]"""

    NO = 0
    YES = 1
    NON_HOPWA_FUNDED = 2


class NameDataQuality(IntEnum):
    """[3.01.5]"""

    FULL = 1
    PARTIAL = 2
    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class SSNDataQuality(IntEnum):
    """[3.02.2]"""

    FULL = 1
    APPROXIMATE_OR_PARTIAL = 2
    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class DOBDataQuality(IntEnum):
    """[3.03.2]"""

    FULL = 1
    APPROXIMATE_OR_PARTIAL = 2
    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class Sex(IntEnum):
    """[4.21] FY2026 only."""

    FEMALE = 0
    MALE = 1
    CLIENT_DOESNT_KNOW = 8
    CLIENT_PREFERS_NOT_TO_ANSWER = 9
    DATA_NOT_COLLECTED = 99


class RelationshipToHoH(IntEnum):
    """[3.15.1]"""

    SELF = 1
    CHILD = 2
    SPOUSE_OR_PARTNER = 3
    OTHER_RELATION = 4
    NON_RELATION = 5
    DATA_NOT_COLLECTED = 99


# [3.12.1] living situations and destinations.
LIVING_SITUATIONS: frozenset[int] = frozenset(
    {8, 9, 17, 24, 30, 37, 99, 101, 116, 118, 204, 205, 206, 207, 215, 225}
    | {302, 312, 313, 314, 327, 329, 332, 335, 336}
    | {410, 411, 421, 422, 423, 426, 435}
)
DESTINATION_OTHER = 17  # OtherDestination names it
DESTINATION_RENTAL_WITH_SUBSIDY = 435  # DestinationSubsidyType says which subsidy


class Race(Enum):
    """[3.04.1] One yes/no column each; the CSV column name depends on the version."""

    AM_IND_AK_NATIVE = "AmIndAKNative"
    ASIAN = "Asian"
    BLACK_AF_AMERICAN = "BlackAfAmerican"
    HISPANIC_LATINAO = "HispanicLatinao"
    MID_EAST_N_AFRICAN = "MidEastNAfrican"
    NATIVE_HI_PACIFIC = "NativeHIPacific"
    WHITE = "White"

    def column(self, version: str) -> str:
        if self is Race.HISPANIC_LATINAO and version == "FY2024":
            return "HispanicLatinaeo"
        return self.value


class Gender(Enum):
    """[3.06.1] FY2024 only: FY2026 removed gender from the CSV (it is no longer a UDE)."""

    WOMAN = "Woman"
    MAN = "Man"
    NON_BINARY = "NonBinary"
    CULTURALLY_SPECIFIC = "CulturallySpecific"
    TRANSGENDER = "Transgender"
    QUESTIONING = "Questioning"
    DIFFERENT_IDENTITY = "DifferentIdentity"


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class HmisError(ValueError):
    """A value HUD's format cannot carry, or a file that does not follow it.

    Writing stops at the first problem and names `file`, `column` and `record`. Reading a
    Client.csv collects every problem in `errors` as (line, message) pairs, line numbers
    as a spreadsheet shows them (the header is line 1), so the caller can refuse the file
    whole and tell the person exactly what to fix.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        record: str | None = None,
        errors: Sequence[tuple[int, str]] = (),
    ) -> None:
        super().__init__(message)
        self.file = file
        self.column = column
        self.record = record
        self.errors: list[tuple[int, str]] = list(errors)


# --------------------------------------------------------------------------------------
# Our data, in HUD's vocabulary
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExportInfo:
    """One export: Export.csv's single row. Timestamps are written as their wall-clock time,
    so pass them in the CoC's local time (HUD's timestamps carry no zone)."""

    export_id: str
    source_type: SourceType
    export_date: datetime
    start: date
    end: date
    software_name: str
    implementation_id: str
    export_period_type: ExportPeriodType = ExportPeriodType.REPORTING_PERIOD
    export_directive: ExportDirective = ExportDirective.FULL_REFRESH
    hash_status: HashStatus = HashStatus.UNHASHED
    source_id: str | None = None
    source_name: str | None = None
    source_contact_first: str | None = None
    source_contact_last: str | None = None
    source_contact_phone: str | None = None
    source_contact_extension: str | None = None
    source_contact_email: str | None = None
    software_version: str | None = None
    csv_version: str | None = None  # None: CSV_VERSION[version]


@dataclass(frozen=True, kw_only=True)
class OrganizationRecord:
    organization_id: str
    name: str
    victim_service_provider: bool
    date_created: datetime
    date_updated: datetime
    user_id: str
    common_name: str | None = None
    date_deleted: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ProjectRecord:
    project_id: str
    organization_id: str
    name: str
    operating_start: date
    continuum_project: bool
    date_created: datetime
    date_updated: datetime
    user_id: str
    common_name: str | None = None
    operating_end: date | None = None
    project_type: ProjectType | None = None
    housing_type: HousingType | None = None
    rrh_sub_type: RRHSubType | None = None
    residential_affiliation: bool | None = None
    target_population: TargetPopulation | None = None
    hopwa_med_assisted_living_fac: HOPWAMedAssistedLivingFac | None = None
    pit_count: int | None = None
    date_deleted: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ClientRecord:
    """A person, as Client.csv describes them.

    A data-quality field left as None means "we did not collect it": when the value is
    missing too, 99 (data not collected) is written. When the value is present, the data
    quality must say whether it is full or partial; we never guess that on a caseworker's
    behalf. An empty `race` writes `race_none` (None: 99) in RaceNone; likewise `gender`
    and `gender_none` in FY2024. `sex` is written in FY2026 only and `gender` in FY2024
    only, as HUD's columns dictate.
    """

    personal_id: str
    date_created: datetime
    date_updated: datetime
    user_id: str
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    name_suffix: str | None = None
    name_data_quality: NameDataQuality | None = None
    ssn: str | None = None
    ssn_data_quality: SSNDataQuality | None = None
    dob: date | None = None
    dob_data_quality: DOBDataQuality | None = None
    race: AbstractSet[Race] = frozenset()
    race_none: MissingReason | None = None
    additional_race_ethnicity: str | None = None
    sex: Sex | None = None
    gender: AbstractSet[Gender] = frozenset()
    gender_none: MissingReason | None = None
    different_identity_text: str | None = None
    veteran_status: NoYesReasons = NoYesReasons.DATA_NOT_COLLECTED
    date_deleted: datetime | None = None

    def __post_init__(self) -> None:
        # Callers may pass a plain set; keep the record hashable and truly frozen.
        object.__setattr__(self, "race", frozenset(self.race))
        object.__setattr__(self, "gender", frozenset(self.gender))


@dataclass(frozen=True, kw_only=True)
class EnrollmentRecord:
    enrollment_id: str
    personal_id: str
    project_id: str
    entry_date: date
    household_id: str
    relationship_to_hoh: RelationshipToHoH
    enrollment_coc: str
    date_created: datetime
    date_updated: datetime
    user_id: str
    living_situation: int | None = None  # [3.12.1]
    disabling_condition: NoYesReasons = NoYesReasons.DATA_NOT_COLLECTED
    move_in_date: date | None = None
    date_deleted: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ExitRecord:
    exit_id: str
    enrollment_id: str
    personal_id: str
    exit_date: date
    destination: int  # [3.12.1]; 30 when no exit interview was completed
    date_created: datetime
    date_updated: datetime
    user_id: str
    destination_subsidy_type: int | None = None  # [3.12.A], required for destination 435
    other_destination: str | None = None  # required for destination 17
    date_deleted: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ServiceRecord:
    services_id: str
    enrollment_id: str
    personal_id: str
    date_provided: date
    record_type: RecordType
    type_provided: int
    date_created: datetime
    date_updated: datetime
    user_id: str
    other_type_provided: str | None = None
    sub_type_provided: int | None = None
    fa_amount_cents: int | None = None  # money stays in integer cents until written
    fa_start_date: date | None = None
    fa_end_date: date | None = None
    referral_outcome: int | None = None
    date_deleted: datetime | None = None


# --------------------------------------------------------------------------------------
# Shared rules
# --------------------------------------------------------------------------------------

_E = TypeVar("_E", bound=IntEnum)

_MISSING_CODES = frozenset({8, 9, 99})
_COC_CODE = re.compile(r"[A-Z]{2}-[0-9]{3}")
_SSN = re.compile(r"[0-9x]{9}")
# Control characters break many HMIS importers even inside quotes; HUD's string types
# are single-line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _checked_version(version: str) -> str:
    if version not in VERSIONS:
        raise HmisError(f"unknown HMIS CSV version {version!r}; use one of {', '.join(VERSIONS)}")
    return version


def _client_problems(client: ClientRecord) -> Iterator[tuple[str, str]]:
    """(column, message) for each way a client's values and data-quality codes disagree."""
    named = bool(client.first_name or client.last_name)
    dq = client.name_data_quality
    if dq is not None and dq in _MISSING_CODES and named:
        yield "NameDataQuality", f"is {dq} (no name) but a name is given"
    elif dq is None and named:
        yield "NameDataQuality", "is empty but a name is given; say 1 (full) or 2 (partial)"
    elif dq in (NameDataQuality.FULL, NameDataQuality.PARTIAL) and not named:
        yield "NameDataQuality", f"is {dq} but FirstName and LastName are empty"
    elif dq == NameDataQuality.FULL and not (client.first_name and client.last_name):
        yield "NameDataQuality", "is 1 (full name) but FirstName or LastName is empty"

    dq_ssn = client.ssn_data_quality
    if client.ssn is not None:
        if not isinstance(client.ssn, str) or not _SSN.fullmatch(client.ssn):
            yield "SSN", "must be 9 digits, with x for each unknown digit of a partial SSN"
        elif dq_ssn is None:
            yield "SSNDataQuality", "is empty but an SSN is given; say 1 (full) or 2 (partial)"
        elif dq_ssn in _MISSING_CODES:
            yield "SSNDataQuality", f"is {dq_ssn} (no SSN) but an SSN is given"
        elif dq_ssn == SSNDataQuality.FULL and "x" in client.ssn:
            yield "SSNDataQuality", "is 1 (full SSN) but the SSN has unknown digits (x)"
    elif dq_ssn in (SSNDataQuality.FULL, SSNDataQuality.APPROXIMATE_OR_PARTIAL):
        yield "SSNDataQuality", f"is {dq_ssn} but SSN is empty; use 8, 9 or 99"

    dq_dob = client.dob_data_quality
    if client.dob is not None:
        if dq_dob is None:
            yield "DOBDataQuality", "is empty but a DOB is given; say 1 (full) or 2 (partial)"
        elif dq_dob in _MISSING_CODES:
            yield "DOBDataQuality", f"is {dq_dob} (no DOB) but a DOB is given"
        elif isinstance(client.date_created, datetime) and client.dob > client.date_created.date():
            yield "DOB", "is after the record was created"
    elif dq_dob in (DOBDataQuality.FULL, DOBDataQuality.APPROXIMATE_OR_PARTIAL):
        yield "DOBDataQuality", f"is {dq_dob} but DOB is empty; use 8, 9 or 99"

    if client.race and client.race_none is not None:
        yield "RaceNone", "must be empty when a race is given"
    if client.gender and client.gender_none is not None:
        yield "GenderNone", "must be empty when a gender is given"


def _code(enum: type[_E], value: object) -> _E:
    """`value` as a member of `enum`; raises ValueError naming the allowed codes."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a code, got {value!r}")
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise ValueError(f"{value} is not a valid code (allowed: {allowed})") from None


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


class _Audited(Protocol):
    @property
    def date_created(self) -> datetime: ...
    @property
    def date_updated(self) -> datetime: ...
    @property
    def user_id(self) -> str: ...
    @property
    def date_deleted(self) -> datetime | None: ...


class _Row:
    """One CSV row being filled in; every setter validates and names file/column/record."""

    def __init__(self, file: str, version: str, record: str, export_id: str) -> None:
        self.file = file
        self.version = version
        self.record = record
        self.values = dict.fromkeys(COLUMNS[version][file], "")
        if "ExportID" in self.values and file != "Export":
            self.values["ExportID"] = export_id

    def fail(self, column: str, message: str) -> NoReturn:
        raise HmisError(
            f"{self.file}.csv, column {column}, {self.record}: {message}",
            file=self.file,
            column=column,
            record=self.record,
        )

    def _set(self, column: str, text: str) -> None:
        if column not in self.values:  # a bug here, not bad data
            raise KeyError(f"{self.file}.csv has no column {column} in {self.version}")
        self.values[column] = text

    def text(self, column: str, value: str | None, max_len: int, *, required: bool = False) -> None:
        if value is None or value == "":
            if required:
                self.fail(column, "is required")
            return
        if not isinstance(value, str):
            self.fail(column, f"must be text, got {value!r}")
        if len(value) > max_len:
            self.fail(column, f"is {len(value)} characters; HUD allows {max_len}")
        if _CONTROL.search(value):
            self.fail(column, "contains a line break or control character")
        self._set(column, value)

    def code(
        self, column: str, enum: type[IntEnum], value: object, *, required: bool = False
    ) -> None:
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        try:
            self._set(column, str(_code(enum, value).value))
        except ValueError as exc:
            self.fail(column, str(exc))

    def listed(
        self, column: str, allowed: frozenset[int], value: int | None, *, required: bool = False
    ) -> None:
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            self.fail(column, f"{value!r} is not a valid code")
        self._set(column, str(value))

    def integer(self, column: str, value: int | None, *, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(column, f"must be a whole number of at least 0, got {value!r}")
        self._set(column, str(value))

    def flag(self, column: str, value: bool | None, *, required: bool = False) -> None:
        """[1.10] No/Yes."""
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        if not isinstance(value, bool):
            self.fail(column, f"must be yes or no, got {value!r}")
        self._set(column, "1" if value else "0")

    def day(self, column: str, value: date | None, *, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        if isinstance(value, datetime) or not isinstance(value, date):
            self.fail(column, f"must be a date, got {value!r}")
        self._set(column, value.strftime(DATE_FORMAT))

    def timestamp(self, column: str, value: datetime | None, *, required: bool = False) -> None:
        if value is None:
            if required:
                self.fail(column, "is required")
            return
        if not isinstance(value, datetime):
            self.fail(column, f"must be a date and time, got {value!r}")
        self._set(column, value.strftime(TIMESTAMP_FORMAT))

    def money(self, column: str, cents: int | None) -> None:
        if cents is None:
            return
        if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
            self.fail(column, f"must be a whole number of cents of at least 0, got {cents!r}")
        self._set(column, f"{cents // 100}.{cents % 100:02d}")

    def audit(self, record: _Audited) -> None:
        """DateCreated, DateUpdated, UserID, DateDeleted: on every file but Export."""
        self.timestamp("DateCreated", record.date_created, required=True)
        self.timestamp("DateUpdated", record.date_updated, required=True)
        self.text("UserID", record.user_id, 32, required=True)
        self.timestamp("DateDeleted", record.date_deleted)


def _export_row(version: str, export: ExportInfo) -> _Row:
    row = _Row("Export", version, f"ExportID {export.export_id!r}", export.export_id)
    row.text("ExportID", export.export_id, 32, required=True)
    row.code("SourceType", SourceType, export.source_type, required=True)
    # FY2026 widened SourceID to S350 so a multi-CoC HMIS can list "XX-501;XX-502".
    row.text("SourceID", export.source_id, 350 if version == "FY2026" else 32)
    if export.source_type == SourceType.COC_HMIS:
        codes = (export.source_id or "").split(";")
        if not all(_COC_CODE.fullmatch(code) for code in codes):
            row.fail("SourceID", "must be the CoC code(s), like XX-501, when SourceType is 1")
        if version == "FY2024" and len(codes) > 1:
            row.fail("SourceID", "FY2024 allows a single CoC code")
    elif not export.source_name:
        row.fail("SourceName", "is required when SourceType is not 1 (CoC HMIS)")
    row.text("SourceName", export.source_name, 50)
    row.text("SourceContactFirst", export.source_contact_first, 50)
    row.text("SourceContactLast", export.source_contact_last, 50)
    phone = export.source_contact_phone
    if phone is not None and not re.fullmatch(r"[2-9][0-9]{2}[2-9][0-9]{6}", phone):
        row.fail("SourceContactPhone", "must be a 10-digit US phone number, digits only")
    row.text("SourceContactPhone", phone, 10)
    extension = export.source_contact_extension
    if extension is not None and not re.fullmatch(r"[0-9]{1,5}", extension):
        row.fail("SourceContactExtension", "must be 1 to 5 digits")
    row.text("SourceContactExtension", extension, 5)
    email = export.source_contact_email
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", email):
        row.fail("SourceContactEmail", "is not an email address")
    row.text("SourceContactEmail", email, 320)
    row.timestamp("ExportDate", export.export_date, required=True)
    row.day("ExportStartDate", export.start, required=True)
    row.day("ExportEndDate", export.end, required=True)
    if export.end < export.start:
        row.fail("ExportEndDate", "is before ExportStartDate")
    row.text("SoftwareName", export.software_name, 50, required=True)
    row.text("SoftwareVersion", export.software_version, 50)
    row.text("CSVVersion", export.csv_version or CSV_VERSION[version], 50)
    row.code("ExportPeriodType", ExportPeriodType, export.export_period_type, required=True)
    row.code("ExportDirective", ExportDirective, export.export_directive, required=True)
    row.code("HashStatus", HashStatus, export.hash_status, required=True)
    row.text("ImplementationID", export.implementation_id, 200, required=True)
    return row


def _organization_row(version: str, export_id: str, org: OrganizationRecord) -> _Row:
    row = _Row("Organization", version, f"OrganizationID {org.organization_id!r}", export_id)
    row.text("OrganizationID", org.organization_id, 32, required=True)
    row.text("OrganizationName", org.name, 200, required=True)
    row.flag("VictimServiceProvider", org.victim_service_provider, required=True)
    row.text("OrganizationCommonName", org.common_name, 200)
    row.audit(org)
    return row


def _project_row(version: str, export_id: str, project: ProjectRecord) -> _Row:
    row = _Row("Project", version, f"ProjectID {project.project_id!r}", export_id)
    row.text("ProjectID", project.project_id, 32, required=True)
    row.text("OrganizationID", project.organization_id, 32, required=True)
    row.text("ProjectName", project.name, 200, required=True)
    row.text("ProjectCommonName", project.common_name, 200)
    row.day("OperatingStartDate", project.operating_start, required=True)
    row.day("OperatingEndDate", project.operating_end)
    if project.operating_end is not None and project.operating_end < project.operating_start:
        row.fail("OperatingEndDate", "is before OperatingStartDate")
    row.flag("ContinuumProject", project.continuum_project, required=True)
    row.code("ProjectType", ProjectType, project.project_type, required=project.continuum_project)
    row.code("HousingType", HousingType, project.housing_type)
    is_rrh = project.project_type == ProjectType.PH_RAPID_REHOUSING
    if project.rrh_sub_type is not None and not is_rrh:
        row.fail("RRHSubType", "must be empty unless ProjectType is 13 (rapid re-housing)")
    row.code("RRHSubType", RRHSubType, project.rrh_sub_type, required=is_rrh)
    row.flag("ResidentialAffiliation", project.residential_affiliation)
    row.code("TargetPopulation", TargetPopulation, project.target_population)
    row.code(
        "HOPWAMedAssistedLivingFac",
        HOPWAMedAssistedLivingFac,
        project.hopwa_med_assisted_living_fac,
    )
    row.integer("PITCount", project.pit_count)
    row.audit(project)
    return row


def _or_not_collected(code: int | None) -> int:
    """A missing value with no stated reason is, in HUD's words, "data not collected" (99).

    Compared with None, not truthiness: Sex.FEMALE is 0."""
    return 99 if code is None else code


def _client_row(version: str, export_id: str, client: ClientRecord) -> _Row:
    row = _Row("Client", version, f"PersonalID {client.personal_id!r}", export_id)
    row.text("PersonalID", client.personal_id, 32, required=True)
    for column, message in _client_problems(client):
        row.fail(column, message)
    row.text("FirstName", client.first_name, 50)
    row.text("MiddleName", client.middle_name, 50)
    row.text("LastName", client.last_name, 50)
    row.text("NameSuffix", client.name_suffix, 50)
    row.code("NameDataQuality", NameDataQuality, _or_not_collected(client.name_data_quality))
    row.text("SSN", client.ssn, 9)
    row.code("SSNDataQuality", SSNDataQuality, _or_not_collected(client.ssn_data_quality))
    row.day("DOB", client.dob)
    row.code("DOBDataQuality", DOBDataQuality, _or_not_collected(client.dob_data_quality))
    for race in Race:
        row.flag(race.column(version), race in client.race)
    if not client.race:
        row.code("RaceNone", MissingReason, _or_not_collected(client.race_none))
    row.text("AdditionalRaceEthnicity", client.additional_race_ethnicity, 100)
    if version == "FY2026":
        row.code("Sex", Sex, _or_not_collected(client.sex))
    else:
        for gender in Gender:
            row.flag(gender.value, gender in client.gender)
        if not client.gender:
            row.code("GenderNone", MissingReason, _or_not_collected(client.gender_none))
        row.text("DifferentIdentityText", client.different_identity_text, 100)
    row.code("VeteranStatus", NoYesReasons, client.veteran_status, required=True)
    row.audit(client)
    return row


def _enrollment_row(version: str, export_id: str, enrollment: EnrollmentRecord) -> _Row:
    row = _Row("Enrollment", version, f"EnrollmentID {enrollment.enrollment_id!r}", export_id)
    row.text("EnrollmentID", enrollment.enrollment_id, 32, required=True)
    row.text("PersonalID", enrollment.personal_id, 32, required=True)
    row.text("ProjectID", enrollment.project_id, 32, required=True)
    row.day("EntryDate", enrollment.entry_date, required=True)
    row.text("HouseholdID", enrollment.household_id, 32, required=True)
    row.code("RelationshipToHoH", RelationshipToHoH, enrollment.relationship_to_hoh, required=True)
    if not _COC_CODE.fullmatch(enrollment.enrollment_coc or ""):
        row.fail("EnrollmentCoC", f"{enrollment.enrollment_coc!r} is not a CoC code like XX-501")
    row.text("EnrollmentCoC", enrollment.enrollment_coc, 6, required=True)
    row.listed("LivingSituation", LIVING_SITUATIONS, enrollment.living_situation)
    row.code("DisablingCondition", NoYesReasons, enrollment.disabling_condition, required=True)
    row.day("MoveInDate", enrollment.move_in_date)
    if enrollment.move_in_date is not None and enrollment.move_in_date < enrollment.entry_date:
        row.fail("MoveInDate", "is before EntryDate")
    row.audit(enrollment)
    return row


def _exit_row(version: str, export_id: str, exit_: ExitRecord) -> _Row:
    row = _Row("Exit", version, f"ExitID {exit_.exit_id!r}", export_id)
    row.text("ExitID", exit_.exit_id, 32, required=True)
    row.text("EnrollmentID", exit_.enrollment_id, 32, required=True)
    row.text("PersonalID", exit_.personal_id, 32, required=True)
    row.day("ExitDate", exit_.exit_date, required=True)
    row.listed("Destination", LIVING_SITUATIONS, exit_.destination, required=True)
    with_subsidy = exit_.destination == DESTINATION_RENTAL_WITH_SUBSIDY
    if with_subsidy and exit_.destination_subsidy_type is None:
        row.fail("DestinationSubsidyType", "is required when Destination is 435")
    if not with_subsidy and exit_.destination_subsidy_type is not None:
        row.fail("DestinationSubsidyType", "must be empty unless Destination is 435")
    row.integer("DestinationSubsidyType", exit_.destination_subsidy_type)
    if exit_.other_destination and exit_.destination != DESTINATION_OTHER:
        row.fail("OtherDestination", "must be empty unless Destination is 17 (other)")
    row.text("OtherDestination", exit_.other_destination, 50)
    row.audit(exit_)
    return row


def _service_row(version: str, export_id: str, service: ServiceRecord) -> _Row:
    row = _Row("Services", version, f"ServicesID {service.services_id!r}", export_id)
    row.text("ServicesID", service.services_id, 32, required=True)
    row.text("EnrollmentID", service.enrollment_id, 32, required=True)
    row.text("PersonalID", service.personal_id, 32, required=True)
    row.day("DateProvided", service.date_provided, required=True)
    row.code("RecordType", RecordType, service.record_type, required=True)
    row.integer("TypeProvided", service.type_provided, required=True)
    if service.record_type == RecordType.BED_NIGHT and service.type_provided != 200:
        row.fail("TypeProvided", "must be 200 for a bed night (RecordType 200)")
    row.text("OtherTypeProvided", service.other_type_provided, 50)
    row.integer("SubTypeProvided", service.sub_type_provided)
    row.money("FAAmount", service.fa_amount_cents)
    row.day("FAStartDate", service.fa_start_date)
    row.day("FAEndDate", service.fa_end_date)
    if (
        service.fa_start_date
        and service.fa_end_date
        and service.fa_end_date < service.fa_start_date
    ):
        row.fail("FAEndDate", "is before FAStartDate")
    row.integer("ReferralOutcome", service.referral_outcome)
    row.audit(service)
    return row


def _unique(file: str, column: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for record_id in ids:
        if record_id in seen:
            raise HmisError(
                f"{file}.csv, column {column}, {column} {record_id!r}: appears twice",
                file=file,
                column=column,
                record=f"{column} {record_id!r}",
            )
        seen.add(record_id)


def _related(file: str, column: str, record: str, message: str) -> NoReturn:
    raise HmisError(
        f"{file}.csv, column {column}, {record}: {message}",
        file=file,
        column=column,
        record=record,
    )


def _check_relations(
    organizations: Sequence[OrganizationRecord],
    projects: Sequence[ProjectRecord],
    clients: Sequence[ClientRecord],
    enrollments: Sequence[EnrollmentRecord],
    exits: Sequence[ExitRecord],
    services: Sequence[ServiceRecord],
) -> None:
    """Keys that must meet across files, so the receiving HMIS can link every row."""
    _unique("Organization", "OrganizationID", (o.organization_id for o in organizations))
    _unique("Project", "ProjectID", (p.project_id for p in projects))
    _unique("Client", "PersonalID", (c.personal_id for c in clients))
    _unique("Enrollment", "EnrollmentID", (e.enrollment_id for e in enrollments))
    _unique("Exit", "ExitID", (x.exit_id for x in exits))
    _unique("Exit", "EnrollmentID", (x.enrollment_id for x in exits))
    _unique("Services", "ServicesID", (s.services_id for s in services))

    orgs = {o.organization_id: o for o in organizations}
    project_org: dict[str, OrganizationRecord] = {}
    for project in projects:
        label = f"ProjectID {project.project_id!r}"
        if project.organization_id not in orgs:
            _related("Project", "OrganizationID", label, "is not in Organization.csv")
        project_org[project.project_id] = orgs[project.organization_id]

    personal_ids = {c.personal_id for c in clients}
    by_enrollment = {e.enrollment_id: e for e in enrollments}
    for enrollment in enrollments:
        label = f"EnrollmentID {enrollment.enrollment_id!r}"
        if enrollment.personal_id not in personal_ids:
            _related("Enrollment", "PersonalID", label, "is not in Client.csv")
        if enrollment.project_id not in project_org:
            _related("Enrollment", "ProjectID", label, "is not in Project.csv")
        # VAWA: a victim-service provider's clients never leave it for an HMIS.
        if project_org[enrollment.project_id].victim_service_provider:
            _related(
                "Enrollment",
                "ProjectID",
                label,
                "belongs to a victim-service provider; VAWA forbids sending its clients to an HMIS",
            )

    exit_dates: dict[str, date] = {}
    for exit_ in exits:
        label = f"ExitID {exit_.exit_id!r}"
        enrollment = by_enrollment.get(exit_.enrollment_id)
        if enrollment is None:
            _related("Exit", "EnrollmentID", label, "is not in Enrollment.csv")
        if exit_.personal_id != enrollment.personal_id:
            _related("Exit", "PersonalID", label, "differs from the enrollment's PersonalID")
        if exit_.exit_date < enrollment.entry_date:
            _related("Exit", "ExitDate", label, "is before the enrollment's EntryDate")
        exit_dates[exit_.enrollment_id] = exit_.exit_date

    for service in services:
        label = f"ServicesID {service.services_id!r}"
        enrollment = by_enrollment.get(service.enrollment_id)
        if enrollment is None:
            _related("Services", "EnrollmentID", label, "is not in Enrollment.csv")
        if service.personal_id != enrollment.personal_id:
            _related("Services", "PersonalID", label, "differs from the enrollment's PersonalID")
        left = exit_dates.get(service.enrollment_id)
        if service.date_provided < enrollment.entry_date or (
            left is not None and service.date_provided > left
        ):
            _related("Services", "DateProvided", label, "is outside the enrollment's dates")


def write_export(
    directory: Path,
    version: str,
    export: ExportInfo,
    organizations: Iterable[OrganizationRecord],
    projects: Iterable[ProjectRecord],
    clients: Iterable[ClientRecord],
    enrollments: Iterable[EnrollmentRecord],
    exits: Iterable[ExitRecord],
    services: Iterable[ServiceRecord],
) -> list[Path]:
    """Write the seven HMIS CSV files of `version` into `directory`; return their paths.

    Every value is checked before anything touches the disk, and the files are written
    to a temporary folder beside `directory` and moved in only once all are complete: an
    HmisError (or a full disk) leaves `directory` as it was. A `directory` that does not
    exist yet appears whole, in one rename.

    Files are UTF-8 without a byte-order mark, comma-separated, quoted only where needed,
    with a header row and CRLF line ends (RFC 4180); dates are YYYY-MM-DD, timestamps
    YYYY-MM-DD HH:MM:SS, and an empty field means null.
    """
    version = _checked_version(version)
    organizations, projects, clients = list(organizations), list(projects), list(clients)
    enrollments, exits, services = list(enrollments), list(exits), list(services)

    export_id = export.export_id
    tables: dict[str, list[_Row]] = {
        "Export": [_export_row(version, export)],
        "Organization": [_organization_row(version, export_id, o) for o in organizations],
        "Project": [_project_row(version, export_id, p) for p in projects],
        "Client": [_client_row(version, export_id, c) for c in clients],
        "Enrollment": [_enrollment_row(version, export_id, e) for e in enrollments],
        "Exit": [_exit_row(version, export_id, x) for x in exits],
        "Services": [_service_row(version, export_id, s) for s in services],
    }
    _check_relations(organizations, projects, clients, enrollments, exits, services)

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for file in FILES:
            with open(staging / f"{file}.csv", "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\r\n")
                writer.writerow(COLUMNS[version][file])
                writer.writerows(row.values.values() for row in tables[file])
        if not directory.exists():
            os.replace(staging, directory)
        else:
            for file in FILES:
                os.replace(staging / f"{file}.csv", directory / f"{file}.csv")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [directory / f"{file}.csv" for file in FILES]


# --------------------------------------------------------------------------------------
# Reading Client.csv
# --------------------------------------------------------------------------------------


class _Fields:
    """One Client.csv row being parsed; problems go to the shared error list."""

    def __init__(self, line: int, row: Mapping[str, str], errors: list[tuple[int, str]]):
        self.line = line
        self.row = row
        self.errors = errors

    def error(self, column: str, message: str) -> None:
        self.errors.append((self.line, f"{column} {message}"))

    def text(self, column: str, max_len: int, *, required: bool = False) -> str | None:
        value = self.row[column].strip()
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if len(value) > max_len:
            self.error(column, f"is {len(value)} characters; HUD allows {max_len}")
        elif _CONTROL.search(value):
            self.error(column, "contains a line break or control character")
        return value

    def code(self, column: str, enum: type[_E], *, required: bool = False) -> _E | None:
        value = self.row[column].strip()
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if not re.fullmatch(r"-?[0-9]+", value):
            self.error(column, f"{value!r} is not a code")
            return None
        try:
            return _code(enum, int(value))
        except ValueError as exc:
            self.error(column, str(exc))
            return None

    def flag(self, column: str) -> bool:
        """[1.10] Required No/Yes."""
        value = self.row[column].strip()
        if value not in ("0", "1"):
            self.error(column, f"must be 0 or 1, got {value!r}" if value else "is required")
        return value == "1"

    def day(self, column: str) -> date | None:
        value = self.row[column].strip()
        if not value:
            return None
        try:
            return datetime.strptime(value, DATE_FORMAT).date()
        except ValueError:
            self.error(column, f"{value!r} is not a date as YYYY-MM-DD")
            return None

    def timestamp(self, column: str, *, required: bool = False) -> datetime | None:
        value = self.row[column].strip()
        if not value:
            if required:
                self.error(column, "is required")
            return None
        try:
            return datetime.strptime(value, TIMESTAMP_FORMAT)
        except ValueError:
            self.error(column, f"{value!r} is not a timestamp as YYYY-MM-DD HH:MM:SS")
            return None


def _source_text(source: str | bytes | os.PathLike[str] | IO[str] | IO[bytes]) -> str:
    if isinstance(source, os.PathLike):
        return Path(source).read_bytes().decode("utf-8-sig")
    if isinstance(source, bytes):
        return source.decode("utf-8-sig")
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    data = source.read()
    return data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")


def _header_problem(header: Sequence[str], expected: Sequence[str], version: str) -> str | None:
    names = [name.strip() for name in header]
    missing = [name for name in expected if name not in names]
    unknown = [name for name in names if name not in expected]
    repeated = sorted({name for name in names if names.count(name) > 1})
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if unknown:
        parts.append("unknown " + ", ".join(unknown))
    if repeated:
        parts.append("repeated " + ", ".join(repeated))
    if not parts:
        return None
    hint = ""
    other = next(v for v in VERSIONS if v != version)
    if set(names) == set(COLUMNS[other]["Client"]):
        hint = f" (this is an {other} Client.csv)"
    return f"header does not match the {version} Client.csv: {'; '.join(parts)}{hint}"


def read_clients(
    source: str | bytes | os.PathLike[str] | IO[str] | IO[bytes],
    version: str = DEFAULT_VERSION,
) -> list[ClientRecord]:
    """Parse a Client.csv exported by another HMIS, for a migration.

    `source` is the file's text (or bytes), a path, or an open file. The header must hold
    exactly the `version`'s columns (their order may differ). Every row is checked: codes
    against HUD's lists, dates and timestamps, and each value against its data-quality
    code (an SSN is 9 digits, x for unknown digits, or its data quality says why it is
    missing). All problems are gathered and raised together as one HmisError whose
    `errors` lists (line, message); nothing is returned unless the whole file is clean,
    so the caller can import it in one transaction or not at all.

    Veteran detail columns (V1: YearEnteredService through DischargeStatus) and ExportID
    are read past: we keep VeteranStatus only. A hashed file cannot be imported.
    """
    version = _checked_version(version)
    expected = COLUMNS[version]["Client"]
    reader = csv.reader(io.StringIO(_source_text(source), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HmisError("Client.csv is empty", errors=[(1, "the header row is missing")]) from None
    except csv.Error as exc:
        raise HmisError(f"Client.csv line 1: {exc}", errors=[(1, str(exc))]) from None
    problem = _header_problem(header, expected, version)
    if problem:
        raise HmisError(f"Client.csv line 1: {problem}", file="Client", errors=[(1, problem)])
    names = [name.strip() for name in header]

    errors: list[tuple[int, str]] = []
    clients: list[ClientRecord] = []
    first_seen: dict[str, int] = {}
    # Spreadsheet line numbers count records, not physical lines: a quoted value with a
    # line break still occupies one row.
    line = 1
    while True:
        line += 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((line, f"cannot be read as CSV: {exc}"))
            break
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(names):
            errors.append((line, f"has {len(values)} fields; the header has {len(names)}"))
            continue
        fields = _Fields(line, dict(zip(names, values, strict=True)), errors)
        client = _client_from_row(fields, version)
        if client is None:
            continue
        first = first_seen.get(client.personal_id)
        if first is not None:
            errors.append((line, f"PersonalID {client.personal_id!r} repeats line {first}"))
            continue
        first_seen[client.personal_id] = line
        clients.append(client)

    if errors:
        shown = "; ".join(f"line {number}: {message}" for number, message in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise HmisError(
            f"Client.csv has {len(errors)} problem(s), nothing was imported: {shown}{more}",
            file="Client",
            errors=errors,
        )
    return clients


def _client_from_row(fields: _Fields, version: str) -> ClientRecord | None:
    errors_before = len(fields.errors)

    personal_id = fields.text("PersonalID", 32, required=True)
    ssn = fields.text("SSN", 9)
    if ssn is not None:
        ssn = ssn.lower()  # "x" marks unknown digits; some systems write "X"
    race = {r for r in Race if fields.flag(r.column(version))}
    gender: set[Gender] = set()
    sex = None
    if version == "FY2026":
        sex = fields.code("Sex", Sex)
    else:
        gender = {g for g in Gender if fields.flag(g.value)}
    values = {
        "first_name": fields.text("FirstName", 50),
        "middle_name": fields.text("MiddleName", 50),
        "last_name": fields.text("LastName", 50),
        "name_suffix": fields.text("NameSuffix", 50),
        "name_data_quality": fields.code("NameDataQuality", NameDataQuality, required=True),
        "ssn_data_quality": fields.code("SSNDataQuality", SSNDataQuality, required=True),
        "dob": fields.day("DOB"),
        "dob_data_quality": fields.code("DOBDataQuality", DOBDataQuality, required=True),
        "race_none": fields.code("RaceNone", MissingReason),
        "additional_race_ethnicity": fields.text("AdditionalRaceEthnicity", 100),
        "veteran_status": fields.code("VeteranStatus", NoYesReasons, required=True),
        "date_created": fields.timestamp("DateCreated", required=True),
        "date_updated": fields.timestamp("DateUpdated", required=True),
        "user_id": fields.text("UserID", 32, required=True),
        "date_deleted": fields.timestamp("DateDeleted"),
    }
    fields.text("ExportID", 32, required=True)
    if version == "FY2024":
        values["gender_none"] = fields.code("GenderNone", MissingReason)
        values["different_identity_text"] = fields.text("DifferentIdentityText", 100)
    if len(fields.errors) > errors_before:
        return None

    if not race and values["race_none"] is None:
        fields.error("RaceNone", "is required when no race is 1 (use 8, 9 or 99)")
    if version == "FY2024" and not gender and values["gender_none"] is None:
        fields.error("GenderNone", "is required when no gender is 1 (use 8, 9 or 99)")
    client = ClientRecord(
        personal_id=personal_id,  # type: ignore[arg-type]
        ssn=ssn,
        race=race,
        sex=sex,
        gender=gender,
        **values,  # type: ignore[arg-type]
    )
    for column, message in _client_problems(client):
        fields.error(column, message)
    return None if len(fields.errors) > errors_before else client
