"""Credit fixtures (owned by credit-core; credit-web's tests may use them): reporting
organizations, a reporter account, and residents enrolled through identity's services."""

from __future__ import annotations

from datetime import date

import pytest

from citychain import roles
from identity import services as identity
from identity.models import Organization
from tests.factories import OrganizationFactory, UserFactory


@pytest.fixture
def landlord():
    return OrganizationFactory(name="Riverside Housing Co-op", kind=Organization.Kind.LANDLORD)


@pytest.fixture
def utility():
    return OrganizationFactory(name="City Water & Power", kind=Organization.Kind.UTILITY)


@pytest.fixture
def fund():
    return OrganizationFactory(
        name="Neighbors Lending Circle Fund", kind=Organization.Kind.LENDING_CIRCLE
    )


@pytest.fixture
def reporter(landlord):
    return UserFactory(username="reporter", organization=landlord, role=roles.CREDIT_REPORTER)


@pytest.fixture
def fund_staff(fund):
    return UserFactory(username="organiser", organization=fund, role=roles.CREDIT_REPORTER)


@pytest.fixture
def city_admin():
    return UserFactory(username="admin", organization=None, role=roles.CITY_ADMIN)


@pytest.fixture
def caseworker():
    shelter = OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)
    return UserFactory(username="maria", organization=shelter, role=roles.CASEWORKER)


@pytest.fixture
def enroll(caseworker):
    def enroll(first="Ana", last="García", dob=date(1980, 5, 17), ssn="123-45-6789", **extra):
        data = identity.ResidentData(
            legal_first_name=first,
            legal_last_name=last,
            dob=dob,
            dob_data_quality=1 if dob else 99,
            ssn=ssn,
            ssn_data_quality=1 if ssn else 99,
            **extra,
        )
        return identity.resident_enroll(acting_user=caseworker, data=data, pin="2468")

    return enroll


@pytest.fixture
def resident(enroll):
    return enroll()
