"""Staff roles: Django groups with their permissions, kept in sync on every migrate.

A role is a group whose name is the role's key. Each app's issue adds the
permission codenames its role needs here; permissions that do not exist yet
(an app not migrated) are skipped, so the sync is safe to run at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    permissions: tuple[str, ...] = ()  # "app_label.codename"
    staff: bool = False  # may use the Django admin


CASEWORKER = "caseworker"
PROVIDER_ADMIN = "provider_admin"
ELECTION_OFFICIAL = "election_official"
GRID_OPERATOR = "grid_operator"
CREDIT_REPORTER = "credit_reporter"
ENERGY_MEMBER = "energy_member"
CITY_ADMIN = "city_admin"

ROLES: dict[str, Role] = {
    role.key: role
    for role in (
        Role(CASEWORKER, _("Caseworker")),
        Role(
            PROVIDER_ADMIN,
            _("Provider admin"),
            permissions=("identity.view_organization", "identity.view_user"),
        ),
        Role(ELECTION_OFFICIAL, _("Election official")),
        Role(GRID_OPERATOR, _("Grid operator")),
        Role(CREDIT_REPORTER, _("Credit reporter")),
        Role(ENERGY_MEMBER, _("Microgrid member")),
        Role(CITY_ADMIN, _("City admin"), permissions=("*",), staff=True),
    )
}


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_citychain_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & ROLES.keys()
        if user.is_superuser:
            cached.add(CITY_ADMIN)
        user._citychain_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def sync_roles(**_kwargs) -> None:
    """Create each role's group and give it exactly its declared permissions."""
    from django.contrib.auth.models import Group, Permission

    all_perms = Permission.objects.select_related("content_type")
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in all_perms}
    for role in ROLES.values():
        group, _created = Group.objects.get_or_create(name=role.key)
        if "*" in role.permissions:
            wanted = list(by_name.values())
        else:
            wanted = [by_name[name] for name in role.permissions if name in by_name]
        group.permissions.set(wanted)
