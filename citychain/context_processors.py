"""Navigation by role, for the base template."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from citychain import roles

# (url name, label, roles that see it; None = everyone signed in, "public" = everyone)
# Each app adds its entries here; names that do not resolve yet are left out.
NAV_ITEMS: list[tuple[str, object, object]] = [
    ("dashboard", _("Dashboard"), None),
    ("identity:home", _("Residents"), (roles.CASEWORKER, roles.PROVIDER_ADMIN)),
    ("ledger:explorer", _("Ledger"), "public"),
    ("status", _("System status"), (roles.CITY_ADMIN,)),
    ("admin:index", _("Admin"), (roles.CITY_ADMIN,)),
    ("identity:document_verify", _("Verify a document"), "public"),
    ("voting:enter", _("Vote"), "public"),
    ("voting:track", _("Track a ballot"), "public"),
    ("identity:hmis_export", _("HMIS export"), (roles.PROVIDER_ADMIN, roles.CITY_ADMIN)),
    ("voting-official:elections", _("Elections"), (roles.ELECTION_OFFICIAL, roles.CITY_ADMIN)),
    ("energy:home", _("My energy"), (roles.ENERGY_MEMBER,)),
    ("energy:operator", _("Microgrid"), (roles.GRID_OPERATOR, roles.CITY_ADMIN)),
    ("credit:reporter_home", _("Payment records"), (roles.CREDIT_REPORTER,)),
    ("credit:verify_start", _("Verify a credit report"), "public"),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    items = []
    for url_name, label, who in NAV_ITEMS:
        if who != "public" and not signed_in:
            continue
        if who not in (None, "public") and not roles.has_role(user, *who):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "current": request.path == url})
    return {
        "nav_items": items,
        "user_roles": sorted(roles.user_roles(user)) if signed_in else [],
        "role_labels": [roles.ROLES[r].label for r in sorted(roles.user_roles(user))]
        if signed_in
        else [],
    }
