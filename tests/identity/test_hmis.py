"""HUD HMIS CSV export and Client.csv import (identity.hmis): no database needed."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from identity import hmis
from identity.hmis import (
    ClientRecord,
    EnrollmentRecord,
    ExitRecord,
    ExportInfo,
    HmisError,
    OrganizationRecord,
    ProjectRecord,
    ServiceRecord,
)

WHEN = datetime(2025, 10, 2, 9, 30, 5)
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"

FY2024_COUNTS = {
    "Export": 19,
    "Organization": 9,
    "Project": 19,
    "Client": 46,
    "Enrollment": 71,
    "Exit": 44,
    "Services": 18,
}
GENDER_COLUMNS = [
    "Woman", "Man", "NonBinary", "CulturallySpecific", "Transgender", "Questioning",
    "DifferentIdentity", "GenderNone", "DifferentIdentityText",
]  # fmt: skip
ENROLLMENT_DROPPED_FY2026 = [
    "SexualOrientation", "SexualOrientationOther", "TranslationNeeded", "PreferredLanguage",
    "PreferredLanguageDifferent",
]  # fmt: skip


# --- building blocks ------------------------------------------------------------------


def export_info(**changes) -> ExportInfo:
    values = {
        "export_id": "EXP-1",
        "source_type": hmis.SourceType.COC_HMIS,
        "source_id": "XX-501",
        "export_date": WHEN,
        "start": date(2025, 10, 1),
        "end": date(2025, 12, 31),
        "software_name": "citychain",
        "software_version": "0.1.0",
        "implementation_id": "citychain test city",
        "source_contact_email": "hmis@example.org",
    }
    return ExportInfo(**{**values, **changes})


def audit(**changes) -> dict:
    return {"date_created": WHEN, "date_updated": WHEN, "user_id": "staff-7", **changes}


def organization(**changes) -> OrganizationRecord:
    values = {"organization_id": "ORG-1", "name": "Harbor Shelter"}
    return OrganizationRecord(**{**values, "victim_service_provider": False, **audit(), **changes})


def project(**changes) -> ProjectRecord:
    values = {
        "project_id": "PRJ-1",
        "organization_id": "ORG-1",
        "name": "Harbor night shelter",
        "operating_start": date(2020, 1, 1),
        "continuum_project": True,
        "project_type": hmis.ProjectType.ES_NIGHT_BY_NIGHT,
        "housing_type": hmis.HousingType.SITE_BASED_SINGLE_SITE,
        "target_population": hmis.TargetPopulation.NOT_APPLICABLE,
        "hopwa_med_assisted_living_fac": hmis.HOPWAMedAssistedLivingFac.NON_HOPWA_FUNDED,
        "pit_count": 40,
    }
    return ProjectRecord(**{**values, **audit(), **changes})


def client(**changes) -> ClientRecord:
    values = {
        "personal_id": "CL-1",
        "first_name": "Ana",
        "last_name": "Díaz",
        "name_data_quality": hmis.NameDataQuality.FULL,
        "ssn": "123456789",
        "ssn_data_quality": hmis.SSNDataQuality.FULL,
        "dob": date(1980, 5, 17),
        "dob_data_quality": hmis.DOBDataQuality.FULL,
        "race": {hmis.Race.HISPANIC_LATINAO, hmis.Race.WHITE},
        "sex": hmis.Sex.FEMALE,
        "veteran_status": hmis.NoYesReasons.NO,
    }
    return ClientRecord(**{**values, **audit(), **changes})


def enrollment(**changes) -> EnrollmentRecord:
    values = {
        "enrollment_id": "ENR-1",
        "personal_id": "CL-1",
        "project_id": "PRJ-1",
        "entry_date": date(2025, 10, 1),
        "household_id": "HH-1",
        "relationship_to_hoh": hmis.RelationshipToHoH.SELF,
        "enrollment_coc": "XX-501",
        "living_situation": 116,
        "disabling_condition": hmis.NoYesReasons.NO,
    }
    return EnrollmentRecord(**{**values, **audit(), **changes})


def exit_record(**changes) -> ExitRecord:
    values = {
        "exit_id": "EXT-1",
        "enrollment_id": "ENR-1",
        "personal_id": "CL-1",
        "exit_date": date(2025, 10, 20),
        "destination": 410,
    }
    return ExitRecord(**{**values, **audit(), **changes})


def service(**changes) -> ServiceRecord:
    values = {
        "services_id": "SRV-1",
        "enrollment_id": "ENR-1",
        "personal_id": "CL-1",
        "date_provided": date(2025, 10, 1),
        "record_type": hmis.RecordType.BED_NIGHT,
        "type_provided": hmis.BED_NIGHT_TYPE_PROVIDED,
    }
    return ServiceRecord(**{**values, **audit(), **changes})


def write(directory: Path, version: str = "FY2026", **records) -> list[Path]:
    data = {
        "export": export_info(),
        "organizations": [organization()],
        "projects": [project()],
        "clients": [client()],
        "enrollments": [enrollment()],
        "exits": [exit_record()],
        "services": [service()],
        **records,
    }
    return hmis.write_export(directory, version, **data)


def rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def as_dict(path: Path) -> list[dict[str, str]]:
    header, *body = rows(path)
    return [dict(zip(header, values, strict=True)) for values in body]


def client_csv(version: str, *records: dict[str, str]) -> str:
    """A Client.csv text with every column empty except those given, CRLF line ends."""
    cols = hmis.columns("Client", version)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(cols)
    writer.writerows([record.get(name, "") for name in cols] for record in records)
    return out.getvalue()


def good_row(**changes: str) -> dict[str, str]:
    values = {
        "PersonalID": "A1",
        "FirstName": "Ana",
        "LastName": "Díaz",
        "NameDataQuality": "1",
        "SSN": "123456789",
        "SSNDataQuality": "1",
        "DOB": "1980-05-17",
        "DOBDataQuality": "1",
        "AmIndAKNative": "0",
        "Asian": "0",
        "BlackAfAmerican": "0",
        "HispanicLatinao": "1",
        "MidEastNAfrican": "0",
        "NativeHIPacific": "0",
        "White": "0",
        "Sex": "0",
        "VeteranStatus": "0",
        "DateCreated": "2024-01-02 03:04:05",
        "DateUpdated": "2024-02-03 04:05:06",
        "UserID": "u9",
        "ExportID": "X1",
    }
    return {**values, **changes}


# --- the column lists ------------------------------------------------------------------


def reference_columns() -> dict[str, list[str]]:
    text = (REFERENCE / "hmis-csv-fy2024-columns.md").read_text(encoding="utf-8")
    files: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"## (\w+)\.csv", line)
        if heading:
            current = files.setdefault(heading.group(1), [])
        elif current is not None and (cell := re.match(r"\| \d+ \| (\w+)", line)):
            current.append(cell.group(1))
    return files


def test_fy2024_columns_are_the_tabulated_hud_spec():
    if not REFERENCE.is_dir():
        pytest.skip("shared/reference is not beside the checkout")
    spec = reference_columns()
    for file in hmis.FILES:
        assert list(hmis.columns(file, "FY2024")) == spec[file], file


def test_fy2024_column_counts():
    for file, count in FY2024_COUNTS.items():
        assert len(hmis.columns(file, "FY2024")) == count, file


def test_fy2026_is_fy2024_with_the_confirmed_changes():
    fy24, fy26 = hmis.COLUMNS["FY2024"], hmis.COLUMNS["FY2026"]

    client_cols = [c for c in fy24["Client"] if c not in GENDER_COLUMNS]
    client_cols[client_cols.index("HispanicLatinaeo")] = "HispanicLatinao"
    client_cols.insert(client_cols.index("DOBDataQuality") + 1, "Sex")
    assert list(fy26["Client"]) == client_cols
    assert len(fy26["Client"]) == 38

    enrollment_cols = [c for c in fy24["Enrollment"] if c not in ENROLLMENT_DROPPED_FY2026]
    enrollment_cols.insert(enrollment_cols.index("ThresholdScore") + 1, "MentalHealthConsultation")
    assert list(fy26["Enrollment"]) == enrollment_cols
    assert len(fy26["Enrollment"]) == 67

    for file in ("Export", "Organization", "Project", "Exit", "Services"):
        assert fy26[file] == fy24[file], file


def test_versions():
    assert hmis.VERSIONS == ("FY2026", "FY2024")
    assert hmis.DEFAULT_VERSION == "FY2026"
    with pytest.raises(HmisError, match="unknown HMIS CSV version"):
        hmis.columns("Client", "FY2022")


# --- writing ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", hmis.VERSIONS)
def test_header_rows_equal_the_spec(tmp_path, version):
    paths = write(tmp_path / "out", version)
    assert [p.name for p in paths] == [f"{file}.csv" for file in hmis.FILES]
    for file, path in zip(hmis.FILES, paths, strict=True):
        header, *body = rows(path)
        assert header == list(hmis.columns(file, version)), file
        assert len(body) == 1, file
        assert all(len(r) == len(header) for r in body), file


def test_files_are_utf8_crlf_without_bom(tmp_path):
    (path,) = [p for p in write(tmp_path / "out") if p.name == "Client.csv"]
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 2 and raw.count(b"\n") == 2
    assert "Díaz".encode() in raw


def test_export_row(tmp_path):
    paths = write(tmp_path / "out")
    (row,) = as_dict(paths[0])
    assert row["ExportID"] == "EXP-1"
    assert row["SourceType"] == "1"
    assert row["SourceID"] == "XX-501"
    assert row["ExportDate"] == "2025-10-02 09:30:05"
    assert row["ExportStartDate"] == "2025-10-01"
    assert row["ExportEndDate"] == "2025-12-31"
    assert row["CSVVersion"] == "2026 v1.0"
    assert row["ExportPeriodType"] == "3"
    assert row["ExportDirective"] == "2"
    assert row["HashStatus"] == "1"
    assert row["SourceContactPhone"] == ""
    # Every other file carries the export's ID.
    for path in paths[1:]:
        assert {r["ExportID"] for r in as_dict(path)} == {"EXP-1"}


def test_values_dates_and_empty_fields(tmp_path):
    paths = write(
        tmp_path / "out",
        services=[
            service(),
            service(
                services_id="SRV-2",
                date_provided=date(2025, 10, 3),
                record_type=hmis.RecordType.SSVF_FINANCIAL_ASSISTANCE,
                type_provided=1,
                fa_amount_cents=125050,
                fa_start_date=date(2025, 10, 3),
                fa_end_date=date(2025, 11, 2),
            ),
        ],
    )
    by_name = {p.stem: as_dict(p) for p in paths}
    (org,) = by_name["Organization"]
    assert org["VictimServiceProvider"] == "0"
    assert org["DateCreated"] == "2025-10-02 09:30:05"
    assert org["DateDeleted"] == ""
    (prj,) = by_name["Project"]
    assert (prj["ContinuumProject"], prj["ProjectType"], prj["RRHSubType"]) == ("1", "1", "")
    assert prj["OperatingStartDate"] == "2020-01-01" and prj["OperatingEndDate"] == ""
    (enr,) = by_name["Enrollment"]
    assert enr["LivingSituation"] == "116" and enr["MoveInDate"] == ""
    assert enr["MentalHealthConsultation"] == ""
    (ext,) = by_name["Exit"]
    assert (ext["ExitDate"], ext["Destination"]) == ("2025-10-20", "410")
    bed, money = by_name["Services"]
    assert (bed["RecordType"], bed["TypeProvided"], bed["FAAmount"]) == ("200", "200", "")
    assert money["FAAmount"] == "1250.50"
    assert (money["FAStartDate"], money["FAEndDate"]) == ("2025-10-03", "2025-11-02")


def test_client_row_fy2026(tmp_path):
    (row,) = as_dict(write(tmp_path / "out", "FY2026")[3])
    assert row["NameDataQuality"] == "1" and row["SSN"] == "123456789"
    assert row["DOB"] == "1980-05-17"
    assert row["HispanicLatinao"] == "1" and row["White"] == "1" and row["Asian"] == "0"
    assert row["RaceNone"] == ""
    assert row["Sex"] == "0"  # female is code 0, not "missing"
    assert row["VeteranStatus"] == "0"


def test_client_row_fy2024(tmp_path):
    person = client(gender={hmis.Gender.WOMAN, hmis.Gender.TRANSGENDER})
    (row,) = as_dict(write(tmp_path / "out", "FY2024", clients=[person])[3])
    assert row["HispanicLatinaeo"] == "1"
    assert row["Woman"] == "1" and row["Transgender"] == "1" and row["Man"] == "0"
    assert row["GenderNone"] == ""
    assert "Sex" not in row


@pytest.mark.parametrize("version", hmis.VERSIONS)
def test_missing_values_are_written_as_data_not_collected(tmp_path, version):
    unknown = ClientRecord(personal_id="CL-1", **audit())
    (row,) = as_dict(write(tmp_path / "out", version, clients=[unknown])[3])
    assert row["FirstName"] == row["LastName"] == row["SSN"] == row["DOB"] == ""
    assert row["NameDataQuality"] == "99"
    assert row["SSNDataQuality"] == "99"
    assert row["DOBDataQuality"] == "99"
    assert row["RaceNone"] == "99"
    assert row["VeteranStatus"] == "99"
    if version == "FY2026":
        assert row["Sex"] == "99"
    else:
        assert row["GenderNone"] == "99"
        assert all(row[g] == "0" for g in GENDER_COLUMNS[:7])


def test_stated_reasons_8_and_9_are_written(tmp_path):
    refused = ClientRecord(
        personal_id="CL-1",
        name_data_quality=hmis.NameDataQuality.CLIENT_PREFERS_NOT_TO_ANSWER,
        ssn_data_quality=hmis.SSNDataQuality.CLIENT_DOESNT_KNOW,
        dob_data_quality=hmis.DOBDataQuality.CLIENT_PREFERS_NOT_TO_ANSWER,
        race_none=hmis.MissingReason.CLIENT_DOESNT_KNOW,
        gender_none=hmis.MissingReason.CLIENT_PREFERS_NOT_TO_ANSWER,
        sex=hmis.Sex.CLIENT_PREFERS_NOT_TO_ANSWER,
        veteran_status=hmis.NoYesReasons.CLIENT_DOESNT_KNOW,
        **audit(),
    )
    (row26,) = as_dict(write(tmp_path / "a", "FY2026", clients=[refused])[3])
    assert [row26[c] for c in ("NameDataQuality", "SSNDataQuality", "DOBDataQuality")] == [
        "9",
        "8",
        "9",
    ]
    assert (row26["RaceNone"], row26["Sex"], row26["VeteranStatus"]) == ("8", "9", "8")
    (row24,) = as_dict(write(tmp_path / "b", "FY2024", clients=[refused])[3])
    assert (row24["RaceNone"], row24["GenderNone"]) == ("8", "9")


# --- validation on write ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "file", "column", "record"),
    [
        ({"clients": [client(name_data_quality=5)]}, "Client", "NameDataQuality", "CL-1"),
        ({"clients": [client(veteran_status=True)]}, "Client", "VeteranStatus", "CL-1"),
        ({"clients": [client(ssn="12345678")]}, "Client", "SSN", "CL-1"),
        (
            {"clients": [client(ssn_data_quality=hmis.SSNDataQuality.DATA_NOT_COLLECTED)]},
            "Client",
            "SSNDataQuality",
            "CL-1",
        ),
        ({"clients": [client(dob_data_quality=None)]}, "Client", "DOBDataQuality", "CL-1"),
        (
            {"clients": [client(ssn="12345xxxx", ssn_data_quality=1)]},
            "Client",
            "SSNDataQuality",
            "CL-1",
        ),
        ({"clients": [client(last_name="x" * 51)]}, "Client", "LastName", "CL-1"),
        ({"clients": [client(first_name="Ana\nMaria")]}, "Client", "FirstName", "CL-1"),
        (
            {"clients": [client(race_none=hmis.MissingReason.CLIENT_DOESNT_KNOW)]},
            "Client",
            "RaceNone",
            "CL-1",
        ),
        (
            {"enrollments": [enrollment(living_situation=999)]},
            "Enrollment",
            "LivingSituation",
            "ENR-1",
        ),
        (
            {"enrollments": [enrollment(enrollment_coc="X-1")]},
            "Enrollment",
            "EnrollmentCoC",
            "ENR-1",
        ),
        (
            {"enrollments": [enrollment(move_in_date=date(2025, 9, 1))]},
            "Enrollment",
            "MoveInDate",
            "ENR-1",
        ),
        ({"exits": [exit_record(destination=435)]}, "Exit", "DestinationSubsidyType", "EXT-1"),
        ({"services": [service(record_type=150)]}, "Services", "RecordType", "SRV-1"),
        ({"services": [service(type_provided=3)]}, "Services", "TypeProvided", "SRV-1"),
        ({"services": [service(fa_amount_cents=-1)]}, "Services", "FAAmount", "SRV-1"),
        ({"projects": [project(project_type=None)]}, "Project", "ProjectType", "PRJ-1"),
        (
            {"projects": [project(rrh_sub_type=hmis.RRHSubType.HOUSING)]},
            "Project",
            "RRHSubType",
            "PRJ-1",
        ),
        ({"export": export_info(export_period_type=2)}, "Export", "ExportPeriodType", "EXP-1"),
        ({"export": export_info(source_id="Metro CoC")}, "Export", "SourceID", "EXP-1"),
        ({"export": export_info(end=date(2025, 9, 1))}, "Export", "ExportEndDate", "EXP-1"),
    ],
)
def test_bad_values_name_file_column_and_record(tmp_path, records, file, column, record):
    with pytest.raises(HmisError) as caught:
        write(tmp_path / "out", **records)
    error = caught.value
    assert (error.file, error.column) == (file, column)
    assert record in error.record
    assert f"{file}.csv, column {column}" in str(error)


@pytest.mark.parametrize(
    ("records", "file", "column"),
    [
        ({"clients": [client(personal_id="CL-2")]}, "Enrollment", "PersonalID"),
        ({"enrollments": [enrollment(project_id="PRJ-9")]}, "Enrollment", "ProjectID"),
        ({"projects": [project(organization_id="ORG-9")]}, "Project", "OrganizationID"),
        ({"exits": [exit_record(exit_date=date(2025, 9, 30))]}, "Exit", "ExitDate"),
        ({"services": [service(date_provided=date(2025, 10, 21))]}, "Services", "DateProvided"),
        ({"services": [service(), service()]}, "Services", "ServicesID"),
        ({"clients": [client(), client()]}, "Client", "PersonalID"),
    ],
)
def test_records_must_link_across_files(tmp_path, records, file, column):
    with pytest.raises(HmisError) as caught:
        write(tmp_path / "out", **records)
    assert (caught.value.file, caught.value.column) == (file, column)


def test_victim_service_provider_clients_are_never_exported(tmp_path):
    with pytest.raises(HmisError, match="VAWA"):
        write(tmp_path / "out", organizations=[organization(victim_service_provider=True)])
    # The organization itself, without client data, may be described.
    paths = write(
        tmp_path / "ok",
        organizations=[organization(victim_service_provider=True)],
        clients=[],
        enrollments=[],
        exits=[],
        services=[],
    )
    assert as_dict(paths[1])[0]["VictimServiceProvider"] == "1"


def test_multi_coc_source_id_is_fy2026_only(tmp_path):
    export = export_info(source_id="XX-501;XX-502")
    (row,) = as_dict(write(tmp_path / "a", "FY2026", export=export)[0])
    assert row["SourceID"] == "XX-501;XX-502"
    with pytest.raises(HmisError, match="single CoC code"):
        write(tmp_path / "b", "FY2024", export=export)


def test_nothing_is_written_when_a_value_is_bad(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(HmisError):
        write(target, services=[service(), service(services_id="SRV-2", record_type=999)])
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_a_failed_export_leaves_the_previous_one_intact(tmp_path):
    target = tmp_path / "out"
    write(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(HmisError):
        write(target, export=export_info(export_id="EXP-2"), clients=[client(ssn="1")])
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    # A good export replaces it file by file.
    write(target, export=export_info(export_id="EXP-2"))
    assert as_dict(target / "Export.csv")[0]["ExportID"] == "EXP-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- round trip and import ---------------------------------------------------------------


@pytest.mark.parametrize("version", hmis.VERSIONS)
def test_round_trip_client_csv(tmp_path, version):
    people = [
        client(),
        client(
            personal_id="CL-2",
            first_name="Sam",
            middle_name='O\'Neil, "Jr"',
            last_name=None,
            name_data_quality=hmis.NameDataQuality.PARTIAL,
            ssn="12345xxxx",
            ssn_data_quality=hmis.SSNDataQuality.APPROXIMATE_OR_PARTIAL,
            dob=date(1990, 1, 1),
            dob_data_quality=hmis.DOBDataQuality.APPROXIMATE_OR_PARTIAL,
            race=set(),
            race_none=hmis.MissingReason.CLIENT_PREFERS_NOT_TO_ANSWER,
            additional_race_ethnicity="Garifuna",
            sex=hmis.Sex.MALE,
            veteran_status=hmis.NoYesReasons.YES,
            date_deleted=datetime(2025, 10, 3, 8, 0),
        ),
    ]
    if version == "FY2024":
        people = [
            dataclasses.replace(
                people[0],
                sex=None,
                gender={hmis.Gender.WOMAN},
            ),
            dataclasses.replace(
                people[1],
                sex=None,
                gender={hmis.Gender.DIFFERENT_IDENTITY},
                different_identity_text="Two-Spirit",
            ),
        ]
    paths = write(tmp_path / "out", version, clients=people, enrollments=[], exits=[], services=[])
    clients_path = paths[3]
    assert hmis.read_clients(clients_path, version) == people
    assert hmis.read_clients(clients_path.read_text(encoding="utf-8"), version) == people
    with open(clients_path, "rb") as handle:
        assert hmis.read_clients(handle, version) == people


def test_import_accepts_a_byte_order_mark_and_lf_lines():
    text = client_csv("FY2026", good_row()).replace("\r\n", "\n")
    (person,) = hmis.read_clients(("\ufeff" + text).encode())
    assert person.personal_id == "A1"
    assert person.race == {hmis.Race.HISPANIC_LATINAO}
    assert person.sex is hmis.Sex.FEMALE
    assert person.date_created == datetime(2024, 1, 2, 3, 4, 5)


def test_import_reports_every_error_by_spreadsheet_line():
    text = client_csv(
        "FY2026",
        good_row(PersonalID="A1", FirstName="Line\nbreak"),  # line 2: one row, two lines
        good_row(PersonalID="A2", NameDataQuality="7"),  # line 3
        good_row(PersonalID="A3"),  # line 4: fine
        good_row(PersonalID="A4", SSN="12-345-6789", DOB="05/17/1980"),  # line 5
        good_row(PersonalID="A5", SSN="", SSNDataQuality="1"),  # line 6
        good_row(PersonalID="A3"),  # line 7: repeats line 4
        good_row(PersonalID="A6", HispanicLatinao="", RaceNone="", DateCreated="2024-01-02"),
    )
    with pytest.raises(HmisError) as caught:
        hmis.read_clients(text, "FY2026")
    errors = caught.value.errors
    lines = [line for line, _ in errors]
    assert lines == sorted(lines)
    assert set(lines) == {2, 3, 5, 6, 7, 8}
    messages = dict(errors)  # last message per line is enough to spot-check
    assert any(line == 2 and "FirstName" in m and "line break" in m for line, m in errors)
    assert "NameDataQuality 7 is not a valid code" in messages[3]
    assert any(line == 5 and m.startswith("SSN") for line, m in errors)
    assert any(line == 5 and "DOB '05/17/1980' is not a date" in m for line, m in errors)
    assert "SSNDataQuality is 1 but SSN is empty" in messages[6]
    assert "PersonalID 'A3' repeats line 4" in messages[7]
    assert any(line == 8 and m.startswith("HispanicLatinao") for line, m in errors)
    assert any(line == 8 and "DateCreated" in m for line, m in errors)
    assert "line 3: NameDataQuality" in str(caught.value)
    assert "nothing was imported" in str(caught.value)


def test_import_requires_a_reason_when_race_is_empty():
    row = good_row(HispanicLatinao="0")
    with pytest.raises(HmisError) as caught:
        hmis.read_clients(client_csv("FY2026", row))
    assert caught.value.errors == [(2, "RaceNone is required when no race is 1 (use 8, 9 or 99)")]
    (person,) = hmis.read_clients(client_csv("FY2026", {**row, "RaceNone": "8"}))
    assert person.race == frozenset() and person.race_none is hmis.MissingReason.CLIENT_DOESNT_KNOW


def test_import_ssn_rules():
    partial = good_row(SSN="12345XXXX", SSNDataQuality="2")
    (person,) = hmis.read_clients(client_csv("FY2026", partial))
    assert person.ssn == "12345xxxx"
    refused = good_row(SSN="", SSNDataQuality="9")
    (person,) = hmis.read_clients(client_csv("FY2026", refused))
    assert person.ssn is None and person.ssn_data_quality is hmis.SSNDataQuality(9)
    for bad in ("12345678", "1234567890", "abcdefghi"):
        with pytest.raises(HmisError) as caught:
            hmis.read_clients(client_csv("FY2026", good_row(SSN=bad)))
        assert caught.value.errors[0][0] == 2


def test_import_header_must_match_the_version():
    fy2024_file = client_csv("FY2024", good_row())
    with pytest.raises(HmisError) as caught:
        hmis.read_clients(fy2024_file, "FY2026")
    ((line, message),) = caught.value.errors
    assert line == 1
    assert "missing Sex, HispanicLatinao" in message
    assert "unknown HispanicLatinaeo, Woman, Man" in message
    assert "this is an FY2024 Client.csv" in message

    extra = client_csv("FY2026", good_row()).replace("ExportID", "ExportID,Notes", 1)
    with pytest.raises(HmisError, match="unknown Notes"):
        hmis.read_clients(extra, "FY2026")
    with pytest.raises(HmisError, match=r"Client\.csv is empty") as caught:
        hmis.read_clients("", "FY2026")
    assert caught.value.errors == [(1, "the header row is missing")]


def test_import_row_with_wrong_field_count():
    text = client_csv("FY2026", good_row()) + "A9,Ana\r\n"
    with pytest.raises(HmisError) as caught:
        hmis.read_clients(text)
    assert caught.value.errors == [(3, "has 2 fields; the header has 38")]


def test_import_fy2024_keeps_gender_and_fy2026_keeps_sex():
    fy24 = {**good_row(), "HispanicLatinaeo": "1", "Woman": "0", "Man": "1"}
    for column in GENDER_COLUMNS[2:7]:
        fy24[column] = "0"
    (person,) = hmis.read_clients(client_csv("FY2024", fy24), "FY2024")
    assert person.gender == {hmis.Gender.MAN} and person.sex is None
    assert person.race == {hmis.Race.HISPANIC_LATINAO}
    (person,) = hmis.read_clients(client_csv("FY2026", good_row(Sex="")), "FY2026")
    assert person.sex is None and person.gender == frozenset()
    with pytest.raises(HmisError, match="Sex 2 is not a valid code"):
        hmis.read_clients(client_csv("FY2026", good_row(Sex="2")))
