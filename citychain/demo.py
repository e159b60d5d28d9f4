"""Demo data: organizations and one staff account per role, with synthetic residents'
data added by each app's own seeder (listed in SEEDERS, run in order).

Every seeder is idempotent: running `seed_demo` twice leaves the same data.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from citychain import roles

DEMO_PASSWORD = "citychain-demo"  # noqa: S105 - demo accounts exist only with demo data


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    organization: str | None
    first_name: str
    last_name: str
    password: str = DEMO_PASSWORD

    @property
    def role_label(self):
        return roles.ROLES[self.role].label


DEMO_ORGANIZATIONS = [
    ("Harbor Light Shelter", "shelter"),
    ("Eastside Community Clinic", "clinic"),
    ("Safe Haven Domestic Violence Services", "victim_services"),
    ("Riverside Housing Co-op", "landlord"),
    ("City Water & Power", "utility"),
    ("Sunrise Microgrid", "microgrid"),
    ("Neighbors Lending Circle Fund", "lending_circle"),
    ("City Clerk's Office", "city_department"),
]

DEMO_LOGINS = [
    DemoLogin("caseworker", roles.CASEWORKER, "Harbor Light Shelter", "Maria", "Lopez"),
    DemoLogin("clinicworker", roles.CASEWORKER, "Eastside Community Clinic", "James", "Okafor"),
    DemoLogin(
        "advocate", roles.CASEWORKER, "Safe Haven Domestic Violence Services", "Rosa", "Diaz"
    ),
    DemoLogin("provideradmin", roles.PROVIDER_ADMIN, "Harbor Light Shelter", "Dana", "Reyes"),
    DemoLogin("official", roles.ELECTION_OFFICIAL, "City Clerk's Office", "Priya", "Shah"),
    DemoLogin("operator", roles.GRID_OPERATOR, "Sunrise Microgrid", "Tom", "Becker"),
    DemoLogin("reporter", roles.CREDIT_REPORTER, "Riverside Housing Co-op", "Lena", "Nguyen"),
    DemoLogin("household", roles.ENERGY_MEMBER, None, "Sam", "Carter"),
    DemoLogin("admin", roles.CITY_ADMIN, "City Clerk's Office", "Alex", "Morgan"),
]


@transaction.atomic
def seed_people(progress=print) -> None:
    from identity.models import Organization, User

    roles.sync_roles()
    orgs = {}
    for name, kind in DEMO_ORGANIZATIONS:
        orgs[name], _created = Organization.objects.get_or_create(
            name=name, defaults={"kind": kind}
        )
    for login in DEMO_LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username,
            defaults={
                "first_name": login.first_name,
                "last_name": login.last_name,
                "email": f"{login.username}@demo.citychain.invalid",
                "organization": orgs.get(login.organization),
                "is_staff": roles.ROLES[login.role].staff,
                "is_superuser": login.role == roles.CITY_ADMIN,
            },
        )
        if created:
            user.set_password(login.password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=login.role))


# Each app adds its seeder ("module.function", imported when run); they run in this order.
SEEDERS: list[tuple[str, str]] = [
    ("staff and organizations", "citychain.demo.seed_people"),
    ("residents (identity)", "identity.demo.seed"),
    ("elections (voting)", "voting.demo.seed"),
    ("microgrid (energy)", "energy.demo.seed"),
    ("payments and lending circles (credit)", "credit.demo.seed"),
]


def seeder(path: str) -> Callable[..., None]:
    module, _, function = path.rpartition(".")
    return getattr(importlib.import_module(module), function)
