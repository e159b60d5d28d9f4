"""Project-level pages: landing, dashboard, status, health, error pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from citychain import roles
from citychain.models import WorkerHeartbeat


def home(request: HttpRequest) -> HttpResponse:
    demo_logins = None
    if settings.DEBUG:
        from citychain.demo import DEMO_LOGINS
        from identity.models import User

        existing = set(
            User.objects.filter(username__in=[d.username for d in DEMO_LOGINS]).values_list(
                "username", flat=True
            )
        )
        demo_logins = [d for d in DEMO_LOGINS if d.username in existing]
    return render(request, "citychain/home.html", {"demo_logins": demo_logins})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user_roles = roles.user_roles(request.user)
    return render(
        request,
        "citychain/dashboard.html",
        {"roles": [roles.ROLES[r] for r in sorted(user_roles)]},
    )


@login_required
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    if not roles.has_role(request.user, roles.CITY_ADMIN):
        raise PermissionDenied(_("Only city admins can see the system status."))
    return render(
        request,
        "citychain/status.html",
        {
            "heartbeats": WorkerHeartbeat.objects.all()[:20],
            "database_vendor": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        },
    )


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"database": "unavailable"}, status=503)
    return JsonResponse({"database": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "403.html",
        {
            "message": _(
                "Your form expired or came from another site. Go back, reload the page "
                "and try again."
            )
        },
        status=403,
    )


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else None
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database or a template may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
