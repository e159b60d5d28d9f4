"""Our models in HUD's HMIS vocabulary: the CSV export and the Client.csv migration.

`identity.hmis` owns HUD's format and knows nothing of Django. This module owns the
mapping between the two: which residents, enrollments and encounters an export holds,
how each field becomes a HUD column (and back, for an import), the audit event, and the
one transaction an import runs in. The management commands and the download page are
thin wrappers around `export_write`, `export_zip` and `clients_import`.

Invariants:
- A resident protected by VAWA (`vawa_protected`) never appears in an export, and no
  enrollment in a victim-service provider's project does; they are only counted.
- Personal data is decrypted in memory only: the CSV files are the one place it is
  written, and the download page deletes them once they are zipped.
- Every export writes one `export` audit event with counts only, in the same
  transaction as the files are moved into place; a failed export leaves neither.
- An import creates everyone or no one.
"""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, OuterRef, Q, Subquery
from django.utils import timezone

from identity import hmis, services
from identity.models import (
    AccessEvent,
    CityCard,
    Consent,
    Encounter,
    Enrollment,
    Organization,
    Project,
    RecordCategory,
    Resident,
    User,
)

# The CoC code every enrollment carries (EnrollmentCoC). Deployments set
# CITYCHAIN_HMIS_COC_CODE; the placeholder keeps a development export loadable by tools
# that only check the pattern, and the command and page warn while it is in use.
COC_CODE_PLACEHOLDER = "XX-500"
SOFTWARE_NAME = "citychain"
# UserID for rows we hold no author for (organizations, projects, enrollments, exits).
SYSTEM_USER_ID = "citychain"

# Encounter kinds with a HUD Services.csv equivalent. HUD's other record types (PATH,
# RHY, HOPWA, SSVF, HUD-VASH, Moving On) are services of one federal funder; writing a meal
# or a case-management session under one of them would report it to a program that did
# not pay for it. Only a bed night is funder-neutral, so the other kinds are left out
# (and counted). docs/hmis.md has the table.
SERVICE_TYPES: dict[str, tuple[hmis.RecordType, int]] = {
    Encounter.Kind.SHELTER_NIGHT: (hmis.RecordType.BED_NIGHT, hmis.BED_NIGHT_TYPE_PROVIDED),
}

# An exit without a recorded destination: "No exit interview completed" [3.12.1].
DESTINATION_NO_EXIT_INTERVIEW = 30

_MISSING = frozenset({8, 9, 99})
_RACE_BY_NAME = {race.value: race for race in hmis.Race} | {
    "HispanicLatinaeo": hmis.Race.HISPANIC_LATINAO  # the FY2024 column name
}
_GENDER_BY_NAME = {gender.value: gender for gender in hmis.Gender}

Progress = Callable[[int, int], None]


def coc_code() -> str:
    return getattr(settings, "CITYCHAIN_HMIS_COC_CODE", "") or COC_CODE_PLACEHOLDER


def implementation_id() -> str:
    return getattr(settings, "CITYCHAIN_HMIS_IMPLEMENTATION_ID", "") or SOFTWARE_NAME


def hud_organization_id(organization: Organization) -> str:
    """The CoC's ID for the organization when we were given one; otherwise our pk."""
    return organization.hud_organization_id or str(organization.pk)


def hud_user_id(username: str | None, pk: int | None) -> str:
    """HUD's UserID is at most 32 characters: the staff username when it fits, else the pk."""
    if pk is None:
        return SYSTEM_USER_ID
    return username if username and len(username) <= 32 else str(pk)


def personal_id(resident: Resident) -> str:
    """Stable and opaque: the public UUID without dashes (32 characters, HUD's S32). Never
    the city ID (it is printed on a card) nor the database pk (it reveals enrollment order)."""
    return resident.public_id.hex


def _local(moment: datetime) -> datetime:
    """HUD timestamps carry no zone: the CoC reads them as local wall-clock time."""
    return timezone.localtime(moment).replace(tzinfo=None)


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value  # type: ignore[return-value]  # hmis names the column if it is not a code


# --- models → HUD records ---------------------------------------------------------------


def client_record(resident: Resident, *, user_id: str) -> hmis.ClientRecord:
    """A resident as Client.csv describes them. A value whose data quality says it is
    missing (8, 9, 99) is left out, so a placeholder name is never sent as a name."""
    label = f"PersonalID {personal_id(resident)!r}"
    demographics = resident.demographic_data

    named = resident.name_data_quality not in _MISSING
    ssn_dq = resident.ssn_data_quality
    ssn = resident.ssn if ssn_dq not in _MISSING else None
    if ssn and len(ssn) < 9:
        ssn = ssn.rjust(9, "x")  # we keep a partial SSN as its last digits
    dob_dq = resident.dob_data_quality
    dob = date.fromisoformat(resident.dob) if resident.dob and dob_dq not in _MISSING else None

    race = set()
    for name in demographics.get("race") or []:
        if name not in _RACE_BY_NAME:
            raise hmis.HmisError(
                f"Client.csv, column RaceNone, {label}: a race answer HUD does not list",
                file="Client",
                column="RaceNone",
                record=label,
            )
        race.add(_RACE_BY_NAME[name])
    gender = set()
    for name in demographics.get("gender") or []:
        if name not in _GENDER_BY_NAME:
            raise hmis.HmisError(
                f"Client.csv, column GenderNone, {label}: a gender answer HUD does not list",
                file="Client",
                column="GenderNone",
                record=label,
            )
        gender.add(_GENDER_BY_NAME[name])
    veteran = _int(demographics.get("veteran_status"))
    return hmis.ClientRecord(
        personal_id=personal_id(resident),
        first_name=resident.legal_first_name if named else None,
        middle_name=(resident.legal_middle_name or None) if named else None,
        last_name=resident.legal_last_name if named else None,
        name_suffix=(resident.name_suffix or None) if named else None,
        name_data_quality=resident.name_data_quality,  # type: ignore[arg-type]
        ssn=ssn,
        ssn_data_quality=ssn_dq,  # type: ignore[arg-type]
        dob=dob,
        dob_data_quality=dob_dq,  # type: ignore[arg-type]
        race=race,
        race_none=None if race else _int(demographics.get("race_none")),  # type: ignore[arg-type]
        additional_race_ethnicity=demographics.get("additional_race_ethnicity") or None,
        sex=_int(demographics.get("sex")),  # type: ignore[arg-type]
        gender=gender,
        gender_none=None if gender else _int(demographics.get("gender_none")),  # type: ignore[arg-type]
        different_identity_text=demographics.get("different_identity_text") or None,
        veteran_status=hmis.NoYesReasons.DATA_NOT_COLLECTED if veteran is None else veteran,  # type: ignore[arg-type]
        date_created=_local(resident.created_at),
        date_updated=_local(resident.updated_at),
        user_id=user_id,
    )


def organization_record(organization: Organization) -> hmis.OrganizationRecord:
    created = _local(organization.created_at)
    return hmis.OrganizationRecord(
        organization_id=hud_organization_id(organization),
        name=organization.name,
        victim_service_provider=organization.is_victim_service_provider,
        date_created=created,
        date_updated=created,
        user_id=SYSTEM_USER_ID,
    )


def project_record(project: Project, first_entry: date | None) -> hmis.ProjectRecord:
    """We keep no operating dates: a project has operated since its organization joined
    or its first enrollment, whichever is earlier."""
    created = _local(project.organization.created_at)
    start = created.date() if first_entry is None else min(created.date(), first_entry)
    return hmis.ProjectRecord(
        project_id=str(project.pk),
        organization_id=hud_organization_id(project.organization),
        name=project.name,
        operating_start=start,
        continuum_project=True,
        project_type=project.project_type,  # type: ignore[arg-type]
        date_created=created,
        date_updated=created,
        user_id=SYSTEM_USER_ID,
    )


# --- the export ---------------------------------------------------------------------------


@dataclass
class ExportResult:
    """What an export holds and what it left out: counts only, never a person."""

    version: str
    start: date
    end: date
    organization: Organization | None
    files: list[Path] = field(default_factory=list)
    organizations: int = 0
    projects: int = 0
    clients: int = 0
    enrollments: int = 0
    exits: int = 0
    services: int = 0
    vawa_excluded: int = 0  # residents protected by VAWA, never exported
    vsp_enrollments_excluded: int = 0  # enrollments in a victim-service provider's project
    encounters_unmapped: int = 0  # kinds with no HUD equivalent
    encounters_unenrolled: int = 0  # no enrollment of that organization covers the date

    def counts(self) -> dict[str, int]:
        return {
            "organizations": self.organizations,
            "projects": self.projects,
            "clients": self.clients,
            "enrollments": self.enrollments,
            "exits": self.exits,
            "services": self.services,
            "vawa_excluded": self.vawa_excluded,
            "vsp_enrollments_excluded": self.vsp_enrollments_excluded,
            "encounters_unmapped": self.encounters_unmapped,
            "encounters_unenrolled": self.encounters_unenrolled,
        }

    def audit_detail(self) -> str:
        scope = f"org={self.organization.pk}" if self.organization else "org=all"
        counts = " ".join(
            f"{key}={value}"
            for key, value in self.counts().items()
            if key in ("clients", "enrollments", "exits", "services", "vawa_excluded")
        )
        return f"HMIS {self.version} {scope} {self.start}..{self.end} {counts}"


def _in_scope_enrollments(organization: Organization | None, start: date, end: date):
    enrollments = Enrollment.objects.filter(entry_date__lte=end).filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=start)
    )
    if organization is not None:
        enrollments = enrollments.filter(project__organization=organization)
    return enrollments


def _in_scope_encounters(organization: Organization | None, start: date, end: date):
    encounters = Encounter.objects.filter(date__gte=start, date__lte=end)
    if organization is not None:
        encounters = encounters.filter(organization=organization)
    return encounters


def default_start(organization: Organization | None, end: date) -> date:
    """No start given: from the first entry or encounter on record, so nothing is missed."""
    enrollments = Enrollment.objects.all()
    encounters = Encounter.objects.all()
    if organization is not None:
        enrollments = enrollments.filter(project__organization=organization)
        encounters = encounters.filter(organization=organization)
    firsts = [
        enrollments.aggregate(first=Min("entry_date"))["first"],
        encounters.aggregate(first=Min("date"))["first"],
    ]
    return min([day for day in firsts if day is not None and day <= end], default=end)


def _records(
    result: ExportResult, coc: str, progress: Progress | None
) -> tuple[list, list, list, list, list, list]:
    organization, start, end = result.organization, result.start, result.end

    if organization is not None:
        organizations = [organization]
    else:
        organizations = list(Organization.objects.filter(projects__isnull=False).distinct())
    projects = list(
        Project.objects.filter(organization__in=organizations)
        .select_related("organization")
        .annotate(first_entry=Min("enrollments__entry_date"))
        .order_by("pk")
    )

    scoped = _in_scope_enrollments(organization, start, end)
    vawa_residents = set(
        scoped.filter(resident__vawa_protected=True)
        .values_list("resident_id", flat=True)
        .distinct()
    ) | set(
        _in_scope_encounters(organization, start, end)
        .filter(resident__vawa_protected=True)
        .values_list("resident_id", flat=True)
        .distinct()
    )
    scoped = scoped.filter(resident__vawa_protected=False)
    result.vsp_enrollments_excluded = scoped.filter(
        project__organization__kind=Organization.Kind.VICTIM_SERVICES
    ).count()
    scoped = scoped.exclude(project__organization__kind=Organization.Kind.VICTIM_SERVICES)
    enrollments = list(scoped.select_related("project").order_by("pk"))
    result.vawa_excluded = len(vawa_residents)

    # Clients: the residents of those enrollments, decrypted here and nowhere else.
    # UserID: whoever issued their first city card, i.e. enrolled them.
    first_card = CityCard.objects.filter(resident=OuterRef("pk")).order_by("issued_at", "pk")
    residents = (
        Resident.objects.filter(pk__in=scoped.values("resident_id"))
        .defer("photo", "notes", "phone", "email", "aliases", "preferred_name", "kiosk_pin")
        .annotate(
            enrolled_by_pk=Subquery(first_card.values("issued_by_id")[:1]),
            enrolled_by_username=Subquery(first_card.values("issued_by__username")[:1]),
        )
        .order_by("pk")
    )
    total = len({e.resident_id for e in enrollments})
    clients: dict[int, hmis.ClientRecord] = {}
    demographics: dict[int, dict] = {}
    step = max(1, total // 10)
    for done, resident in enumerate(residents.iterator(chunk_size=500), start=1):
        user_id = hud_user_id(resident.enrolled_by_username, resident.enrolled_by_pk)
        clients[resident.pk] = client_record(resident, user_id=user_id)
        demographics[resident.pk] = resident.demographic_data
        if progress and (done % step == 0 or done == total):
            progress(done, total)
    if progress and total == 0:
        progress(0, 0)

    enrollment_records, exit_records = [], []
    for enrollment in enrollments:
        pid = clients[enrollment.resident_id].personal_id
        disabling = enrollment.disabling_condition
        if disabling in (None, 99):
            disabling = _int(demographics[enrollment.resident_id].get("disabling_condition"))
        created = _local(enrollment.created_at)
        enrollment_records.append(
            hmis.EnrollmentRecord(
                enrollment_id=str(enrollment.pk),
                personal_id=pid,
                project_id=str(enrollment.project_id),
                entry_date=enrollment.entry_date,
                household_id=f"h{enrollment.pk}",  # we record no households: each is alone
                relationship_to_hoh=hmis.RelationshipToHoH.SELF,
                enrollment_coc=coc,
                disabling_condition=99 if disabling is None else disabling,  # type: ignore[arg-type]
                date_created=created,
                date_updated=created,
                user_id=SYSTEM_USER_ID,
            )
        )
        # An exit after the period has not happened yet, as of the period.
        if enrollment.exit_date is not None and enrollment.exit_date <= end:
            exit_records.append(
                hmis.ExitRecord(
                    exit_id=str(enrollment.pk),
                    enrollment_id=str(enrollment.pk),
                    personal_id=pid,
                    exit_date=enrollment.exit_date,
                    destination=enrollment.destination or DESTINATION_NO_EXIT_INTERVIEW,
                    date_created=created,
                    date_updated=created,
                    user_id=SYSTEM_USER_ID,
                )
            )

    # Services: each mapped encounter goes to the enrollment, in a project of the
    # organization that served the resident, whose dates cover the encounter.
    covering: dict[tuple[int, int], list[Enrollment]] = defaultdict(list)
    for enrollment in enrollments:
        covering[(enrollment.resident_id, enrollment.project.organization_id)].append(enrollment)
    service_records = []
    encounters = (
        _in_scope_encounters(organization, start, end)
        .filter(resident__vawa_protected=False)
        .select_related("recorded_by")
        .only(
            "pk",
            "resident_id",
            "organization_id",
            "kind",
            "date",
            "recorded_at",
            "recorded_by",
            "recorded_by__username",
        )
        .order_by("date", "pk")
    )
    for encounter in encounters.iterator(chunk_size=2000):
        hud_type = SERVICE_TYPES.get(encounter.kind)
        if hud_type is None:
            result.encounters_unmapped += 1
            continue
        enrollment = _covering_enrollment(
            covering[(encounter.resident_id, encounter.organization_id)], encounter.date, end
        )
        if enrollment is None:
            result.encounters_unenrolled += 1
            continue
        recorded = _local(encounter.recorded_at)
        service_records.append(
            hmis.ServiceRecord(
                services_id=str(encounter.pk),
                enrollment_id=str(enrollment.pk),
                personal_id=clients[encounter.resident_id].personal_id,
                date_provided=encounter.date,
                record_type=hud_type[0],
                type_provided=hud_type[1],
                date_created=recorded,
                date_updated=recorded,
                user_id=hud_user_id(encounter.recorded_by.username, encounter.recorded_by_id),
            )
        )

    return (
        [organization_record(o) for o in organizations],
        [project_record(p, p.first_entry) for p in projects],
        list(clients.values()),
        enrollment_records,
        exit_records,
        service_records,
    )


def _covering_enrollment(candidates: Sequence[Enrollment], day: date, end: date):
    """The latest enrollment that had begun by `day` and not ended before it (an exit
    after the period end is not exported, so it does not end the enrollment here)."""
    best = None
    for enrollment in candidates:
        exit_date = enrollment.exit_date
        if exit_date is not None and exit_date > end:
            exit_date = None
        covers = enrollment.entry_date <= day and (exit_date is None or day <= exit_date)
        later = best is None or (enrollment.entry_date, enrollment.pk) > (best.entry_date, best.pk)
        if covers and later:
            best = enrollment
    return best


def export_write(
    directory: Path,
    *,
    version: str = hmis.DEFAULT_VERSION,
    organization: Organization | None = None,
    start: date | None = None,
    end: date | None = None,
    actor: User | None = None,
    coc: str | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the seven HMIS CSV files of `version` into `directory` and audit the export.

    Residents with an enrollment overlapping [start, end] (of `organization`'s projects, or
    any) are the clients; their exits up to `end`; and their encounters in the period
    that HUD has a service for and an enrollment covers. Raises hmis.HmisError (nothing
    written, nothing audited) when a value cannot be carried in HUD's format.
    """
    if version not in hmis.VERSIONS:
        raise hmis.HmisError(f"unknown HMIS CSV version {version!r}")
    end = end or timezone.localdate()
    start = start or default_start(organization, end)
    if start > end:
        raise hmis.HmisError("the start date is after the end date")
    result = ExportResult(version=version, start=start, end=end, organization=organization)
    organizations, projects, clients, enrollments, exits, service_records = _records(
        result, coc or coc_code(), progress
    )
    result.organizations, result.projects, result.clients = (
        len(organizations),
        len(projects),
        len(clients),
    )
    result.enrollments, result.exits, result.services = (
        len(enrollments),
        len(exits),
        len(service_records),
    )
    export = hmis.ExportInfo(
        export_id=uuid.uuid4().hex,
        source_type=hmis.SourceType.STANDALONE,
        source_name=SOFTWARE_NAME,
        export_date=_local(timezone.now()),
        start=start,
        end=end,
        software_name=SOFTWARE_NAME,
        implementation_id=implementation_id(),
    )
    # The audit event first, in the transaction the files are moved in under: if the
    # files cannot be written the event rolls back, and no file leaves unaudited.
    with transaction.atomic():
        services.access_log(
            actor=actor, action=AccessEvent.Action.EXPORT, detail=result.audit_detail()
        )
        result.files = hmis.write_export(
            Path(directory),
            version,
            export,
            organizations,
            projects,
            clients,
            enrollments,
            exits,
            service_records,
        )
    return result


def export_zip(**options) -> tuple[bytes, ExportResult]:
    """The export as one ZIP of the seven CSV files, built in a private temporary folder
    that is deleted before this returns."""
    with tempfile.TemporaryDirectory(prefix="citychain-hmis-") as tmp:
        result = export_write(Path(tmp) / "hmis", **options)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in result.files:
                archive.write(path, arcname=path.name)
    result.files = [Path(path.name) for path in result.files]
    return buffer.getvalue(), result


# --- the Client.csv import -------------------------------------------------------------------


class ImportFailed(Exception):
    """The import was rolled back; `errors` lists (line, message) for every problem found."""

    def __init__(self, errors: Sequence[tuple[int, str]]):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = list(errors)


@dataclass
class ImportResult:
    imported: int = 0
    duplicate_lines: list[int] = field(default_factory=list)  # skipped: possible duplicates
    deleted_lines: list[int] = field(default_factory=list)  # skipped: DateDeleted is set


def client_lines(text: str) -> dict[str, int]:
    """PersonalID → the spreadsheet line of its row, counted as hmis.read_clients counts
    them (the header is line 1; a blank row still takes a line). Call it on a file that
    read_clients accepted."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [name.strip() for name in next(reader)]
    column = header.index("PersonalID")
    lines: dict[str, int] = {}
    for line, values in enumerate(reader, start=2):
        if any(value.strip() for value in values):
            lines[values[column].strip()] = line
    return lines


def resident_data(client: hmis.ClientRecord, version: str) -> services.ResidentData:
    """A Client.csv row as our enrollment form would have recorded it. Raises ValueError
    for what our record cannot hold."""
    ssn = ""
    if client.ssn:
        known = client.ssn.rstrip("0123456789")
        # We keep a partial SSN as its last digits; unknown digits must come first.
        if "x" in client.ssn and len(client.ssn) - len(known) < 4:
            raise ValueError(
                "SSN: a partial SSN needs its last 4 digits known (x only before them)"
            )
        ssn = client.ssn[len(known) :] if "x" in client.ssn else client.ssn
    demographics: dict = {
        "race": sorted(race.value for race in client.race),
        "gender": sorted(gender.value for gender in client.gender),
        "veteran_status": int(client.veteran_status),
        "disabling_condition": 99,  # not in Client.csv: on each enrollment
    }
    if not client.race:
        demographics["race_none"] = int(client.race_none) if client.race_none is not None else 99
    if version == "FY2026":
        demographics["sex"] = int(client.sex) if client.sex is not None else 99
        demographics["gender_none"] = 99  # FY2026 no longer asks
    else:
        demographics["sex"] = 99  # FY2024 did not ask
        if not client.gender:
            demographics["gender_none"] = (
                int(client.gender_none) if client.gender_none is not None else 99
            )
        if client.different_identity_text:
            demographics["different_identity_text"] = client.different_identity_text
    if client.additional_race_ethnicity:
        demographics["additional_race_ethnicity"] = client.additional_race_ethnicity
    return services.ResidentData(
        legal_first_name=client.first_name or "",
        legal_middle_name=client.middle_name or "",
        legal_last_name=client.last_name or "",
        name_suffix=client.name_suffix or "",
        name_data_quality=int(client.name_data_quality or 99),
        dob=client.dob,
        dob_data_quality=int(client.dob_data_quality or 99),
        ssn=ssn,
        ssn_data_quality=int(client.ssn_data_quality or 99),
        demographics=demographics,
    )


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(str(m) for e in errors for m in e.messages)}"
            if name != "__all__"
            else " ".join(str(m) for e in errors for m in e.messages)
            for name, errors in exc.error_dict.items()
        )
    return " ".join(exc.messages)


@transaction.atomic
def clients_import(
    *,
    acting_user: User,
    clients: Sequence[tuple[int, hmis.ClientRecord]],
    version: str,
    source: str,
    allow_duplicates: bool = False,
) -> ImportResult:
    """Enroll each (line, client) of a Client.csv as `acting_user`'s organization, all in
    one transaction: any problem rolls every enrollment back and raises ImportFailed naming
    the lines. Each gets a city ID and a signed consent to that organization for identity
    records, noted "migrated from <source>": the organization must hold the resident's
    release of information. Possible duplicates are skipped unless `allow_duplicates`."""
    organization = acting_user.organization
    if organization is None:
        raise ImportFailed([(1, "the importing account belongs to no organization")])
    result = ImportResult()
    errors: list[tuple[int, str]] = []
    reason = f"migrated from {source}"
    for line, client in clients:
        if client.date_deleted is not None:
            result.deleted_lines.append(line)
            continue
        try:
            data = resident_data(client, version)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        if not allow_duplicates and services.possible_duplicates(
            data.legal_first_name, data.legal_last_name, data.dob
        ):
            result.duplicate_lines.append(line)
            continue
        try:
            with transaction.atomic():
                services.resident_enroll(
                    acting_user=acting_user,
                    data=data,
                    consent_categories=[RecordCategory.IDENTITY],
                    consent_status=Consent.Status.GRANTED,
                    consent_reason=reason,
                )
        except ValidationError as exc:
            errors.append((line, _messages(exc)))
            continue
        except Exception as exc:
            raise ImportFailed(
                [*errors, (line, f"could not be enrolled ({type(exc).__name__}: {exc})")]
            ) from exc
        result.imported += 1
    if errors:
        raise ImportFailed(errors)
    return result
