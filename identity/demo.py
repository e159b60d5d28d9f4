"""Synthetic residents for the demo: about 2,000 varied, realistic (and entirely invented)
people, with consents, encounters, referrals, documents and links. Deterministic (one
random seed) and idempotent: run twice, it adds nothing the second time."""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from identity import services
from identity.models import Consent, Encounter, Enrollment, Project, Resident, User

COUNT = 2000
DEMO_PIN = "2468"

FIRST = (  # noqa: SIM905 - a readable block of names
    "Maria Jose Luis Ana Carlos Rosa Juan Carmen Miguel Lucia James Mary Robert Patricia John "
    "Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas "
    "Sarah Charles Karen Darnell Keisha Tyrone Latoya Jamal Aaliyah DeShawn Imani Marcus Ebony "
    "Nguyen Linh Wei Mei Hiroshi Yuki Priya Arjun Fatima Omar Ahmed Aisha Dakota Cheyenne "
    "Tallulah Koda Sven Ingrid Olga Dmitri Tomasz Agnieszka Kwame Ama Chidi Ngozi Bernard Irene"
).split()
LAST = (  # noqa: SIM905
    "Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Smith "
    "Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson White "
    "Harris Martin Thompson Robinson Clark Lewis Walker Young Allen King Wright Scott Green "
    "Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Nguyen Tran "
    "Le Pham Kim Park Chen Wang Li Patel Shah Khan Ali Begay Yazzie Tsosie Running-Water "
    "O'Brien Murphy Kowalski Novak Okafor Mensah Haddad Said"
).split()
SERVICES = ["Medical check-up", "Shelter bed", "ID replacement", "Housing application"]
SUFFIXES = ["", "", "", "", "", "", "Jr", "Sr", "II", "III"]
RACES = [
    "AmIndAKNative", "Asian", "BlackAfAmerican", "HispanicLatinao", "MidEastNAfrican",
    "NativeHIPacific", "White",
]  # fmt: skip


def _person(rng: random.Random, today: date) -> services.ResidentData:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if rng.random() < 0.15:
        last = f"{last}-{rng.choice(LAST)}"
    dob_known = rng.random()
    age_days = rng.randint(18 * 365, 82 * 365)
    dob = today - timedelta(days=age_days)
    if dob_known < 0.85:
        dob_quality = 1
    elif dob_known < 0.95:
        dob_quality, dob = 2, dob.replace(month=1, day=1)
    else:
        dob_quality, dob = rng.choice([8, 9]), None
    roll = rng.random()
    if roll < 0.45:
        ssn_quality = 1
        ssn = f"{rng.randint(1, 665):03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    elif roll < 0.6:
        ssn_quality, ssn = 2, f"{rng.randint(1, 9999):04d}"
    else:
        ssn_quality, ssn = rng.choice([8, 9, 99]), ""
    races = rng.sample(RACES, k=1 if rng.random() < 0.85 else 2)
    demographics = {
        "race": races,
        "sex": rng.choice([0, 1, 1, 0, 8, 9]),
        "gender": [rng.choice(["Woman", "Man", "Man", "Woman", "NonBinary", "Transgender"])],
        "veteran_status": 1 if rng.random() < 0.1 else rng.choice([0, 0, 0, 8, 99]),
        "disabling_condition": rng.choice([0, 1, 1, 8, 99]),
    }
    return services.ResidentData(
        legal_first_name=first,
        legal_last_name=last,
        legal_middle_name=rng.choice(["", "", "", rng.choice(FIRST)]),
        name_suffix=rng.choice(SUFFIXES),
        preferred_name=rng.choice(["", "", "", "", first[:3]]),
        aliases=[f"{rng.choice(FIRST)} {last}"] if rng.random() < 0.1 else [],
        dob=dob,
        dob_data_quality=dob_quality,
        ssn=ssn,
        ssn_data_quality=ssn_quality,
        demographics=demographics,
        phone=f"555-01{rng.randint(0, 99):02d}" if rng.random() < 0.3 else "",
        notes=rng.choice(["", "", "Sleeps near the river path.", "Needs reading glasses.",
                          "Prefers the morning meal.", "Has a dog named Lucky."]),
    )  # fmt: skip


def seed(progress=print, count: int = COUNT) -> None:
    existing = Resident.objects.count()
    if existing >= count:
        progress(f"  {existing:,} residents already there")
        return
    staff = {
        u.username: u
        for u in User.objects.filter(username__in=["caseworker", "clinicworker", "advocate"])
    }
    pin_hash = make_password(DEMO_PIN)
    shelter, clinic = staff["caseworker"], staff["clinicworker"]
    project, _ = Project.objects.get_or_create(
        organization=shelter.organization, name="Harbor Light Emergency Shelter",
        defaults={"project_type": 1},
    )  # fmt: skip
    rng = random.Random(20261126 + existing)  # noqa: S311 - synthetic demo data, not secrets
    today = timezone.localdate()
    for start in range(existing, count, 100):
        with transaction.atomic():
            for i in range(start, min(count, start + 100)):
                by = clinic if i % 3 == 0 else shelter
                if i % 97 == 0 and "advocate" in staff:
                    by = staff["advocate"]
                resident = services.resident_enroll(
                    acting_user=by,
                    data=_person(rng, today),
                    consent_categories=["identity", "housing", "case_notes", "benefits"],
                    consent_expires_on=today + timedelta(days=rng.randint(30, 365)),
                )
                if by is not staff.get("advocate") and rng.random() < 0.4:
                    other = clinic if by is shelter else shelter
                    services.consent_record(
                        resident=resident, organization=other.organization,
                        categories=["identity", "medical"], status=Consent.Status.GRANTED,
                        acting_user=other, expires_on=today + timedelta(days=180),
                    )  # fmt: skip
                    if rng.random() < 0.3:
                        services.referral_send(
                            acting_user=by, resident=resident,
                            to_organization=other.organization,
                            service=rng.choice(SERVICES),
                        )  # fmt: skip
                for _n in range(rng.randint(0, 6)):
                    services.encounter_record(
                        acting_user=by, resident=resident,
                        kind=rng.choice([Encounter.Kind.SHELTER_NIGHT, Encounter.Kind.MEAL,
                                         Encounter.Kind.CASE_MANAGEMENT, Encounter.Kind.SHOWER]),
                        on=today - timedelta(days=rng.randint(0, 60)),
                    )  # fmt: skip
                if rng.random() < 0.15:
                    services.document_upload(
                        acting_user=by, resident=resident,
                        content=b"%PDF-1.4\n% demo document " + str(i).encode() + b"\n%%EOF\n",
                        category=rng.choice(["identity", "housing", "benefits"]),
                        title=rng.choice(["Birth certificate", "Lease", "SNAP letter", "State ID"]),
                    )  # fmt: skip
                if by is shelter and rng.random() < 0.2:
                    Enrollment.objects.create(
                        resident=resident, project=project,
                        entry_date=today - timedelta(days=rng.randint(1, 200)),
                    )  # fmt: skip
            # One PIN hash for all (PBKDF2 is slow on purpose; 2,000 hashes would take minutes).
            Resident.objects.filter(kiosk_pin="").update(kiosk_pin=pin_hash)
        progress(f"  residents: {min(count, start + 100):,} of {count:,}")
