"""The HMIS export and Client.csv import wired to the database: the export_hmis and
import_hmis_clients commands and the download page. What a Continuum of Care receives
(decrypted fields, HUD's codes, no VAWA-protected resident), for whom, for which period,
and that bad input changes nothing."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from citychain import roles
from identity import hmis, hmis_export, services
from identity.models import (
    AccessEvent,
    Consent,
    Encounter,
    Enrollment,
    Organization,
    Project,
    Resident,
)
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}


# --- set-up --------------------------------------------------------------------------------


@pytest.fixture
def beds(shelter):
    return Project.objects.create(organization=shelter, name="Harbor Light Beds", project_type=1)


@pytest.fixture
def clinic_project(clinic):
    return Project.objects.create(organization=clinic, name="Eastside Respite", project_type=6)


@pytest.fixture
def safe_harbor():
    return OrganizationFactory(name="Safe Harbor", kind=Organization.Kind.VICTIM_SERVICES)


@pytest.fixture
def advocate(safe_harbor):
    return UserFactory(username="advocate", organization=safe_harbor, role=roles.CASEWORKER)


@pytest.fixture
def provider_admin(shelter):
    return UserFactory(username="pat", organization=shelter, role=roles.PROVIDER_ADMIN)


@pytest.fixture
def city_admin():
    return UserFactory(username="cora", organization=None, role=roles.CITY_ADMIN)


def enroll_in(project, resident, entry, exit_date=None, **fields) -> Enrollment:
    # Project enrollments have no service of their own yet (the demo seeds them the same way).
    return Enrollment.objects.create(
        resident=resident, project=project, entry_date=entry, exit_date=exit_date, **fields
    )


def serve(user, resident, kind, on) -> Encounter:
    return services.encounter_record(acting_user=user, resident=resident, kind=kind, on=on)


@pytest.fixture
def ana(enroll, beds, caseworker):
    resident = enroll(
        legal_middle_name="Lucía",
        name_suffix="Jr",
        demographics={
            "race": ["HispanicLatinao", "White"],
            "sex": 0,
            "gender": ["Woman"],
            "veteran_status": 1,
            "disabling_condition": 1,
            "additional_race_ethnicity": "Mexican American",
        },
    )
    enroll_in(beds, resident, date(2025, 2, 1))
    return resident


def export(tmp_path: Path, name: str = "out", **options) -> tuple[Path, str]:
    out = io.StringIO()
    target = tmp_path / name
    call_command("export_hmis", output=str(target), stdout=out, stderr=io.StringIO(), **options)
    return target, out.getvalue()


def rows(directory: Path, file: str) -> list[dict[str, str]]:
    with open(directory / f"{file}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def header(directory: Path, file: str) -> list[str]:
    with open(directory / f"{file}.csv", encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def all_text(directory: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in directory.glob("*.csv"))


# --- export_hmis: files, fields and codes ------------------------------------------------------


@pytest.mark.parametrize("version", ["FY2026", "FY2024"])
def test_the_command_writes_the_seven_files_with_the_versions_headers(tmp_path, ana, version):
    target, output = export(tmp_path, version=version, **PERIOD)

    assert sorted(p.name for p in target.iterdir()) == sorted(f"{f}.csv" for f in hmis.FILES)
    for file in hmis.FILES:
        assert header(target, file) == list(hmis.columns(file, version))
    (export_row,) = rows(target, "Export")
    assert export_row["ExportStartDate"] == "2025-01-01"
    assert export_row["ExportEndDate"] == "2025-12-31"
    assert export_row["CSVVersion"] == hmis.CSV_VERSION[version]
    for file in hmis.FILES:
        assert str(target / f"{file}.csv") in output
    assert "1 clients, 1 enrollments" in output
    assert "residents: 1 of 1" in output


def test_the_version_defaults_to_fy2026(tmp_path, ana):
    target, _output = export(tmp_path, **PERIOD)
    assert "Sex" in header(target, "Client")
    assert "HispanicLatinao" in header(target, "Client")


def test_client_csv_holds_the_decrypted_fields_with_hud_codes(tmp_path, ana, caseworker):
    target, _output = export(tmp_path, **PERIOD)

    (client,) = rows(target, "Client")
    assert client["PersonalID"] == ana.public_id.hex
    assert client["PersonalID"] != str(ana.pk)
    assert client["PersonalID"] != services.active_card(ana).city_id
    assert (client["FirstName"], client["MiddleName"], client["LastName"]) == (
        "Ana",
        "Lucía",
        "García",
    )
    assert client["NameSuffix"] == "Jr"
    assert client["NameDataQuality"] == "1"
    assert (client["SSN"], client["SSNDataQuality"]) == ("123456789", "1")
    assert (client["DOB"], client["DOBDataQuality"]) == ("1980-05-17", "1")
    assert client["HispanicLatinao"] == client["White"] == "1"
    assert client["Asian"] == client["BlackAfAmerican"] == client["AmIndAKNative"] == "0"
    assert client["RaceNone"] == ""
    assert client["AdditionalRaceEthnicity"] == "Mexican American"
    assert client["Sex"] == "0"  # female is code 0, not "missing"
    assert client["VeteranStatus"] == "1"
    assert client["UserID"] == caseworker.username
    (enrollment,) = rows(target, "Enrollment")
    assert enrollment["PersonalID"] == client["PersonalID"]
    assert enrollment["DisablingCondition"] == "1"  # from the resident's answers
    assert enrollment["RelationshipToHoH"] == "1"
    assert enrollment["EnrollmentCoC"] == hmis_export.COC_CODE_PLACEHOLDER


def test_fy2024_writes_gender_and_the_older_column_name(tmp_path, ana):
    target, _output = export(tmp_path, version="FY2024", **PERIOD)

    (client,) = rows(target, "Client")
    assert client["HispanicLatinaeo"] == "1"
    assert client["Woman"] == "1" and client["Man"] == "0"
    assert client["GenderNone"] == ""
    assert "Sex" not in client


def test_missing_answers_are_written_as_8_9_and_99(tmp_path, enroll, beds):
    unknown = enroll(
        dob=None,
        dob_data_quality=8,
        ssn="",
        ssn_data_quality=9,
        demographics={},
    )
    partial = enroll(
        legal_first_name="Bo",
        legal_last_name="Lindqvist",
        dob=date(1970, 1, 1),
        dob_data_quality=2,
        ssn="6789",
        ssn_data_quality=2,
        demographics={"race": [], "race_none": 9, "sex": 8, "veteran_status": 8},
    )
    enroll_in(beds, unknown, date(2025, 3, 1))
    enroll_in(beds, partial, date(2025, 3, 1), disabling_condition=0)

    target, _output = export(tmp_path, **PERIOD)
    by_id = {row["PersonalID"]: row for row in rows(target, "Client")}
    first = by_id[unknown.public_id.hex]
    assert (first["DOB"], first["DOBDataQuality"]) == ("", "8")
    assert (first["SSN"], first["SSNDataQuality"]) == ("", "9")
    assert first["RaceNone"] == "99"
    assert first["Sex"] == "99"
    assert first["VeteranStatus"] == "99"
    second = by_id[partial.public_id.hex]
    assert (second["SSN"], second["SSNDataQuality"]) == ("xxxxx6789", "2")
    assert (second["DOB"], second["DOBDataQuality"]) == ("1970-01-01", "2")
    assert (second["RaceNone"], second["Sex"], second["VeteranStatus"]) == ("9", "8", "8")
    disabling = {row["PersonalID"]: row["DisablingCondition"] for row in rows(target, "Enrollment")}
    assert disabling == {unknown.public_id.hex: "99", partial.public_id.hex: "0"}


def test_residents_protected_by_vawa_are_never_exported(tmp_path, ana, advocate, beds, caseworker):
    hidden = services.resident_enroll(
        acting_user=advocate,
        data=services.ResidentData(
            legal_first_name="Marisol",
            legal_last_name="Quintanilla",
            dob=date(1990, 4, 4),
            dob_data_quality=1,
        ),
    )
    assert hidden.vawa_protected
    # Even an enrollment and a shelter night at a shelter do not take them into the export.
    enroll_in(beds, hidden, date(2025, 2, 1))
    serve(caseworker, hidden, Encounter.Kind.SHELTER_NIGHT, date(2025, 2, 2))

    target, output = export(tmp_path, **PERIOD)

    ids = [row["PersonalID"] for row in rows(target, "Client")]
    assert ids == [ana.public_id.hex]
    assert hidden.public_id.hex not in all_text(target)
    assert "Quintanilla" not in all_text(target)
    assert "Marisol" not in all_text(target)
    assert "1 residents protected by VAWA" in output
    assert len(rows(target, "Enrollment")) == 1
    assert rows(target, "Services") == []


def test_an_enrollment_at_a_victim_service_provider_is_left_out(tmp_path, ana, safe_harbor):
    shelter_of_last_resort = Project.objects.create(organization=safe_harbor, name="Safe beds")
    enroll_in(shelter_of_last_resort, ana, date(2025, 4, 1))

    target, output = export(tmp_path, **PERIOD)

    assert [row["ProjectID"] for row in rows(target, "Enrollment")] == [
        str(ana.enrollments.get(project__organization__kind="shelter").project_id)
    ]
    assert "1 enrollments at victim-service providers" in output


def test_org_scoping(tmp_path, ana, enroll, beds, clinic_project, caseworker, other_caseworker):
    bob = enroll(by=other_caseworker, legal_first_name="Bob", legal_last_name="Okafor")
    enroll_in(clinic_project, bob, date(2025, 5, 1))
    serve(caseworker, ana, Encounter.Kind.SHELTER_NIGHT, date(2025, 2, 3))
    serve(other_caseworker, bob, Encounter.Kind.SHELTER_NIGHT, date(2025, 5, 2))

    target, _output = export(tmp_path, org=str(beds.organization.pk), **PERIOD)

    assert [row["OrganizationName"] for row in rows(target, "Organization")] == [
        beds.organization.name
    ]
    assert [row["ProjectID"] for row in rows(target, "Project")] == [str(beds.pk)]
    assert [row["PersonalID"] for row in rows(target, "Client")] == [ana.public_id.hex]
    assert [row["PersonalID"] for row in rows(target, "Services")] == [ana.public_id.hex]

    everyone, _output = export(tmp_path, "all", **PERIOD)
    assert {row["PersonalID"] for row in rows(everyone, "Client")} == {
        ana.public_id.hex,
        bob.public_id.hex,
    }
    assert len(rows(everyone, "Services")) == 2


def test_a_hud_organization_id_is_used_when_there_is_one(tmp_path, ana, shelter):
    shelter.hud_organization_id = "ORG-77"
    shelter.save()
    target, _output = export(tmp_path, **PERIOD)
    assert rows(target, "Organization")[0]["OrganizationID"] == "ORG-77"
    assert rows(target, "Project")[0]["OrganizationID"] == "ORG-77"


def test_period_filtering(tmp_path, enroll, beds, caseworker):
    before = enroll(legal_first_name="Early", legal_last_name="Bird")
    enroll_in(beds, before, date(2024, 1, 1), exit_date=date(2024, 6, 30))
    during = enroll(legal_first_name="Mid", legal_last_name="Year")
    stay = enroll_in(beds, during, date(2024, 12, 1), exit_date=date(2025, 3, 1), destination=410)
    after = enroll(legal_first_name="Late", legal_last_name="Comer")
    enroll_in(beds, after, date(2025, 1, 10), exit_date=date(2025, 8, 1))
    serve(caseworker, during, Encounter.Kind.SHELTER_NIGHT, date(2024, 12, 31))  # before
    serve(caseworker, during, Encounter.Kind.SHELTER_NIGHT, date(2025, 1, 2))  # in
    serve(caseworker, after, Encounter.Kind.SHELTER_NIGHT, date(2025, 7, 1))  # after the end

    target, _output = export(tmp_path, start="2025-01-01", end="2025-06-30")

    assert {row["PersonalID"] for row in rows(target, "Client")} == {
        during.public_id.hex,
        after.public_id.hex,
    }
    # Only the exit inside the period; the other happens after it.
    exits = rows(target, "Exit")
    assert [(x["EnrollmentID"], x["ExitDate"], x["Destination"]) for x in exits] == [
        (str(stay.pk), "2025-03-01", "410")
    ]
    services_ = rows(target, "Services")
    assert [(s["DateProvided"], s["RecordType"], s["TypeProvided"]) for s in services_] == [
        ("2025-01-02", "200", "200")
    ]


def test_encounters_without_a_hud_service_or_an_enrollment_are_counted(
    tmp_path, ana, enroll, caseworker
):
    serve(caseworker, ana, Encounter.Kind.SHELTER_NIGHT, date(2025, 2, 1))
    serve(caseworker, ana, Encounter.Kind.MEAL, date(2025, 2, 1))
    serve(caseworker, ana, Encounter.Kind.CASE_MANAGEMENT, date(2025, 2, 2))
    serve(caseworker, ana, Encounter.Kind.SHELTER_NIGHT, date(2025, 1, 15))  # before entry
    walk_in = enroll(legal_first_name="Walk", legal_last_name="In")
    serve(caseworker, walk_in, Encounter.Kind.SHELTER_NIGHT, date(2025, 2, 1))

    target, output = export(tmp_path, **PERIOD)

    (service,) = rows(target, "Services")
    assert (service["RecordType"], service["TypeProvided"]) == ("200", "200")
    assert service["EnrollmentID"] == str(ana.enrollments.get().pk)
    assert service["UserID"] == caseworker.username
    assert "2 encounters of kinds HUD has no service for" in output
    assert "2 encounters no enrollment covers" in output
    assert walk_in.public_id.hex not in all_text(target)


def test_the_export_is_audited_with_counts_only(tmp_path, ana, provider_admin):
    export(tmp_path, **PERIOD)
    export(tmp_path, "again", user=provider_admin.username, **PERIOD)

    first, second = AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).order_by("pk")
    assert first.actor is None
    assert second.actor == provider_admin
    for event in (first, second):
        assert "clients=1" in event.detail
        assert "Ana" not in event.detail and ana.public_id.hex not in event.detail
        assert event.subject == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"org": "999999"}, "No organization with ID 999999"),
        ({"org": "shelter"}, "not an organization ID"),
        ({"start": "2025-06-01", "end": "2025-01-01"}, "is after --end"),
        ({"start": "2025-13-01"}, "not a date"),
        ({"end": "yesterday"}, "not a date"),
        ({"version": "FY2020"}, "Unknown HMIS CSV version 'FY2020'"),
        ({"user": "nobody"}, "No staff account named 'nobody'"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, ana, options, message):
    target = tmp_path / "out"
    with pytest.raises(CommandError, match=message):
        call_command("export_hmis", output=str(target), stdout=io.StringIO(), **options)
    assert not target.exists()
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).exists()


def test_an_output_that_is_not_a_directory_is_refused(tmp_path, ana):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("keep me")
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("export_hmis", output=str(not_a_folder), stdout=io.StringIO())
    assert not_a_folder.read_text() == "keep me"
    with pytest.raises(CommandError, match="parent folder does not exist"):
        call_command("export_hmis", output=str(tmp_path / "no" / "such"), stdout=io.StringIO())


def test_a_value_hud_cannot_carry_writes_and_audits_nothing(tmp_path, ana, beds):
    beds.project_type = 13  # rapid re-housing needs an RRHSubType we do not keep
    beds.save()
    target = tmp_path / "out"
    with pytest.raises(CommandError, match=r"Nothing was written: Project\.csv, column RRHSubType"):
        call_command("export_hmis", output=str(target), stdout=io.StringIO(), **PERIOD)
    assert not target.exists()
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).exists()


# --- import_hmis_clients ---------------------------------------------------------------------


def import_clients(path, org, user, **options) -> tuple[str, str]:
    """(stdout, stderr) of a successful import."""
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_hmis_clients",
        str(path),
        org=str(org.pk),
        user=user.username,
        stdout=out,
        stderr=err,
        **options,
    )
    return out.getvalue(), err.getvalue()


def failed_import(path, org, user, **options) -> tuple[str, str]:
    """(the CommandError's message, stderr) of an import that must fail."""
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "import_hmis_clients",
            str(path),
            org=str(org.pk),
            user=user.username,
            stdout=io.StringIO(),
            stderr=err,
            **options,
        )
    return str(raised.value), err.getvalue()


@pytest.mark.parametrize("version", ["FY2026", "FY2024"])
def test_import_round_trip(tmp_path, ana, clinic, other_caseworker, version):
    target, _output = export(tmp_path, version=version, **PERIOD)

    output, _err = import_clients(
        target / "Client.csv",
        clinic,
        other_caseworker,
        version=version,
        source="Old County HMIS",
        allow_duplicates=True,
    )

    assert "Imported 1 clients" in output
    copy = Resident.objects.exclude(pk=ana.pk).get()
    assert copy.enrolled_by == clinic
    for name in (
        "legal_first_name",
        "legal_middle_name",
        "legal_last_name",
        "name_suffix",
        "name_data_quality",
        "dob",
        "dob_data_quality",
        "ssn",
        "ssn_data_quality",
    ):
        assert getattr(copy, name) == getattr(ana, name), name
    data, original = copy.demographic_data, ana.demographic_data
    assert data["race"] == original["race"]
    assert data["additional_race_ethnicity"] == original["additional_race_ethnicity"]
    assert data["veteran_status"] == original["veteran_status"]
    if version == "FY2026":
        assert data["sex"] == original["sex"]
    else:
        assert data["gender"] == original["gender"]
    assert services.active_card(copy) is not None
    consent = copy.consents.get()
    assert (consent.organization, consent.status, consent.categories) == (
        clinic,
        Consent.Status.GRANTED,
        ["identity"],
    )
    assert consent.reason == "migrated from Old County HMIS"


def test_import_partial_ssn_and_missing_answers_round_trip(tmp_path, enroll, beds, clinic):
    person = enroll(
        legal_first_name="Bo",
        legal_last_name="Lindqvist",
        dob=None,
        dob_data_quality=9,
        ssn="6789",
        ssn_data_quality=2,
        demographics={"race": [], "race_none": 8, "sex": 99, "veteran_status": 99},
    )
    enroll_in(beds, person, date(2025, 3, 1))
    target, _output = export(tmp_path, **PERIOD)
    importer = UserFactory(username="ines", organization=clinic, role=roles.CASEWORKER)

    import_clients(target / "Client.csv", clinic, importer, allow_duplicates=True)

    copy = Resident.objects.exclude(pk=person.pk).get()
    assert (copy.ssn, copy.ssn_data_quality) == ("6789", 2)
    assert (copy.dob, copy.dob_data_quality) == (None, 9)
    assert copy.demographic_data["race_none"] == 8


def test_possible_duplicates_are_reported_by_line_and_skipped(
    tmp_path, ana, clinic, other_caseworker
):
    target, _output = export(tmp_path, **PERIOD)

    output, _err = import_clients(target / "Client.csv", clinic, other_caseworker)

    assert "Skipped 1 possible duplicates of existing residents (lines 2)" in output
    assert "Imported 0 clients" in output
    assert Resident.objects.count() == 1


def client_csv(tmp_path, *rows_: dict[str, str], version="FY2026") -> Path:
    columns = hmis.columns("Client", version)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows_:
        writer.writerow({column: row.get(column, "") for column in columns})
    path = tmp_path / "Client.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def client_row(pid: str, first: str, last: str, **changes) -> dict[str, str]:
    row = {
        "PersonalID": pid,
        "FirstName": first,
        "LastName": last,
        "NameDataQuality": "1",
        "SSNDataQuality": "99",
        "DOB": "1985-07-04",
        "DOBDataQuality": "1",
        "Sex": "1",
        "RaceNone": "99",
        "VeteranStatus": "0",
        "DateCreated": "2020-01-01 10:00:00",
        "DateUpdated": "2020-01-01 10:00:00",
        "UserID": "u1",
        "ExportID": "E1",
    }
    for race in hmis.Race:
        row[race.column("FY2026")] = "0"
    row.update(changes)
    return row


def test_a_file_with_one_bad_line_imports_nothing_and_names_it(tmp_path, clinic, other_caseworker):
    path = client_csv(
        tmp_path,
        client_row("A1", "Rosa", "Delgado"),
        client_row("A2", "Tomas", "Novak", SSN="12345", SSNDataQuality="1"),
        client_row("A3", "Linh", "Tran"),
    )

    message, errors = failed_import(path, clinic, other_caseworker)

    assert "1 problem(s)" in message and "nothing was imported" in message
    assert "Client.csv line 3: SSN" in errors
    assert Resident.objects.count() == 0


def test_a_failure_inside_enrollment_rolls_everything_back(
    tmp_path, clinic, other_caseworker, monkeypatch
):
    path = client_csv(
        tmp_path,
        client_row("A1", "Rosa", "Delgado"),
        client_row("A2", "Tomas", "Novak"),
        client_row("A3", "Linh", "Tran"),
    )
    real_enroll = services.resident_enroll
    calls = []

    def failing_enroll(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_enroll(**kwargs)

    monkeypatch.setattr(hmis_export.services, "resident_enroll", failing_enroll)

    message, errors = failed_import(path, clinic, other_caseworker)

    assert "nothing was imported" in message
    assert "line 3: could not be enrolled (RuntimeError: disk full)" in errors
    assert Resident.objects.count() == 0
    assert Consent.objects.count() == 0


def test_a_row_our_enrollment_refuses_is_named_and_nothing_is_imported(
    tmp_path, clinic, other_caseworker
):
    path = client_csv(
        tmp_path,
        client_row("A1", "Rosa", "Delgado"),
        client_row("A2", "", "", NameDataQuality="99"),  # HUD allows it; we need a name
        client_row("A3", "Linh", "Tran", DOB="", DOBDataQuality="8"),
    )

    message, errors = failed_import(path, clinic, other_caseworker)

    assert "1 problem(s)" in message
    assert "line 3: A legal first and last name are required." in errors
    assert Resident.objects.count() == 0


def test_import_refuses_a_user_of_another_organization(tmp_path, shelter, other_caseworker):
    path = client_csv(tmp_path, client_row("A1", "Rosa", "Delgado"))
    message, _errors = failed_import(path, shelter, other_caseworker)
    assert "is not a staff member of" in message
    assert Resident.objects.count() == 0


def test_import_skips_rows_deleted_in_the_source(tmp_path, clinic, other_caseworker):
    path = client_csv(
        tmp_path,
        client_row("A1", "Rosa", "Delgado"),
        client_row("A2", "Tomas", "Novak", DateDeleted="2021-01-01 00:00:00"),
    )
    output, _err = import_clients(path, clinic, other_caseworker)
    assert "Skipped 1 clients deleted in the source HMIS (lines 3)" in output
    assert "Imported 1 clients" in output


# --- the download page ---------------------------------------------------------------------


URL = "/identity/hmis/"


def test_the_page_is_at_identity_hmis():
    assert reverse("identity:hmis_export") == URL


def test_caseworkers_are_refused(client, caseworker):
    client.force_login(caseworker)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"version": "FY2026"}).status_code == 403
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def zip_rows(response, file: str) -> list[dict[str, str]]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return list(csv.DictReader(io.StringIO(archive.read(f"{file}.csv").decode("utf-8"))))


def test_a_provider_admin_downloads_their_own_organization_only(
    client, provider_admin, ana, enroll, clinic, clinic_project, other_caseworker
):
    bob = enroll(by=other_caseworker, legal_first_name="Bob", legal_last_name="Okafor")
    enroll_in(clinic_project, bob, date(2025, 5, 1))
    client.force_login(provider_admin)

    page = client.get(URL)
    assert page.status_code == 200
    assert "organization" not in page.context["form"].fields
    assert 'href="/identity/hmis/"' in page.content.decode()  # in the navigation

    response = client.post(
        URL, {"organization": str(clinic.pk), "version": "FY2026", **PERIOD}
    )  # the organization field is not theirs to choose: ignored

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    today = date.today().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="hmis-FY2026-{today}.zip"'
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted(f"{f}.csv" for f in hmis.FILES)
    assert [r["OrganizationName"] for r in zip_rows(response, "Organization")] == [
        provider_admin.organization.name
    ]
    (row,) = zip_rows(response, "Client")
    assert (row["PersonalID"], row["FirstName"], row["SSN"]) == (
        ana.public_id.hex,
        "Ana",
        "123456789",
    )
    event = AccessEvent.objects.get(action=AccessEvent.Action.EXPORT)
    assert event.actor == provider_admin
    assert f"org={provider_admin.organization.pk}" in event.detail


def test_a_city_admin_exports_any_organization_or_all(
    client, city_admin, ana, enroll, clinic, clinic_project, other_caseworker
):
    bob = enroll(by=other_caseworker, legal_first_name="Bob", legal_last_name="Okafor")
    enroll_in(clinic_project, bob, date(2025, 5, 1))
    client.force_login(city_admin)
    assert "organization" in client.get(URL).context["form"].fields

    one = client.post(URL, {"organization": str(clinic.pk), "version": "FY2024", **PERIOD})
    everyone = client.post(URL, {"organization": "", "version": "FY2026", **PERIOD})

    assert one["Content-Disposition"].startswith('attachment; filename="hmis-FY2024-')
    assert [r["PersonalID"] for r in zip_rows(one, "Client")] == [bob.public_id.hex]
    assert "Woman" in zip_rows(one, "Client")[0]  # the FY2024 columns
    assert {r["PersonalID"] for r in zip_rows(everyone, "Client")} == {
        ana.public_id.hex,
        bob.public_id.hex,
    }
    assert (
        AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT, actor=city_admin).count() == 2
    )


def test_a_bad_period_is_shown_on_the_form_and_nothing_is_exported(client, provider_admin, ana):
    client.force_login(provider_admin)
    response = client.post(URL, {"version": "FY2026", "start": "2025-06-01", "end": "2025-01-01"})
    assert response.status_code == 400
    assert response.context["form"].errors["start"]
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).exists()


def test_an_export_hud_cannot_carry_is_explained_on_the_form(client, provider_admin, ana, beds):
    beds.project_type = 13
    beds.save()
    client.force_login(provider_admin)
    response = client.post(URL, {"version": "FY2026", **PERIOD})
    assert response.status_code == 400
    assert "RRHSubType" in response.content.decode()
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).exists()


def test_caseworkers_do_not_see_the_navigation_entry(client, caseworker):
    client.force_login(caseworker)
    assert 'href="/identity/hmis/"' not in client.get(reverse("identity:home")).content.decode()
