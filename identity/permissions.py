"""Who may use which part of the identity portal (roles), shared by all its views."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from citychain import roles

DESK_ROLES = (roles.CASEWORKER, roles.PROVIDER_ADMIN)


def desk_required(view):
    """Caseworkers and provider admins who belong to an organization."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.has_role(request.user, *DESK_ROLES) or request.user.organization is None:
            raise PermissionDenied(
                _("Only caseworkers of a service provider can use the resident records.")
            )
        return view(request, *args, **kwargs)

    return wrapper


def city_admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.has_role(request.user, roles.CITY_ADMIN):
            raise PermissionDenied(_("Only city admins can do this."))
        return view(request, *args, **kwargs)

    return wrapper
