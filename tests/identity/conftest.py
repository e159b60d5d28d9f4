"""Identity fixtures: organizations, caseworkers and enrolled residents, set up through services."""

from datetime import date

import pytest

from citychain import roles
from identity import services
from identity.models import Organization
from tests.factories import OrganizationFactory, UserFactory


@pytest.fixture
def shelter():
    return OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)


@pytest.fixture
def clinic():
    return OrganizationFactory(name="Eastside Clinic", kind=Organization.Kind.CLINIC)


@pytest.fixture
def caseworker(shelter):
    return UserFactory(username="maria", organization=shelter, role=roles.CASEWORKER)


@pytest.fixture
def other_caseworker(clinic):
    return UserFactory(username="james", organization=clinic, role=roles.CASEWORKER)


def resident_data(**overrides):
    values = dict(
        legal_first_name="Ana",
        legal_last_name="García",
        dob=date(1980, 5, 17),
        dob_data_quality=1,
        ssn="123-45-6789",
        ssn_data_quality=1,
        preferred_name="Annie",
        aliases=["Ana Garcia-Lopez"],
        demographics={"race": ["HispanicLatinao"], "veteran_status": 0},
        phone="555-0100",
        notes="Prefers mornings.",
    )
    values.update(overrides)
    return services.ResidentData(**values)


@pytest.fixture
def enroll(caseworker):
    def enroll(by=None, pin="2468", **overrides):
        return services.resident_enroll(
            acting_user=by or caseworker,
            data=resident_data(**overrides),
            pin=pin,
            consent_categories=["identity", "housing", "case_notes"],
        )

    return enroll
