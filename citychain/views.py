"""Project-level pages: landing, dashboard, status, health, the guides, error pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import static
from django.views.decorators.cache import never_cache

from citychain import api, config, roles
from citychain.models import WorkerHeartbeat


def home(request: HttpRequest) -> HttpResponse:
    """The public landing page; with demo data (development only), the demo tour too."""
    tour = _demo_tour() if settings.DEBUG else None
    return render(
        request,
        "citychain/home.html",
        {"demo_logins": tour["logins"] if tour else None, "tour": tour},
    )


def _demo_tour() -> dict | None:
    """What the home page's "try this" list needs: the demo logins that exist, one demo
    voter's ballot link that still works, and a demo resident to sign in at the kiosk as.

    Synthetic data only, and only in development (settings.DEBUG): the credential comes from
    var/demo-credentials.csv, which seed_demo writes for exactly this purpose.
    """
    from citychain.demo import DEMO_LOGINS
    from identity.models import User

    existing = set(
        User.objects.filter(username__in=[d.username for d in DEMO_LOGINS]).values_list(
            "username", flat=True
        )
    )
    logins = [d for d in DEMO_LOGINS if d.username in existing]
    if not logins:
        return None
    return {"logins": logins, "ballot_url": _demo_ballot_url(), "kiosk": _demo_kiosk_resident()}


def _demo_ballot_url() -> str | None:
    """The ballot link of the first demo voter in var/demo-credentials.csv who has not voted."""
    import csv
    from urllib.parse import urlsplit

    from voting import credentials as codes
    from voting.demo import credentials_file
    from voting.models import Voter

    try:
        with credentials_file().open(newline="") as handle:
            rows = list(csv.DictReader(handle))[:500]
    except OSError:
        return None
    by_hash = {}
    for row in rows:
        try:
            by_hash[codes.credential_hash(codes.normalize(row["credential"]))] = row["url"]
        except (KeyError, codes.CodeFormatError):
            continue
    unused = set(
        Voter.objects.filter(credential_hash__in=by_hash, has_voted=False).values_list(
            "credential_hash", flat=True
        )
    )
    for credential_hash, url in by_hash.items():
        if credential_hash in unused:
            parts = urlsplit(url)  # the letter's link, made relative to this server
            return parts.path + (f"#{parts.fragment}" if parts.fragment else "")
    return None


def _demo_kiosk_resident() -> dict | None:
    """A demo resident with payment records (so "My credit" has something) and a card."""
    from credit.models import PaymentRecord
    from identity import cityid
    from identity.demo import DEMO_PIN
    from identity.models import CityCard
    from identity.services import active_card

    record = (
        PaymentRecord.objects.filter(resident__cards__status=CityCard.Status.ACTIVE)
        .select_related("resident")
        .order_by("pk")
        .first()
    )
    card = active_card(record.resident) if record else None
    if card is None:
        return None
    return {"city_id": cityid.display(card.city_id), "pin": DEMO_PIN}


# The guides, built by `python -m mkdocs build` (mkdocs.yml; `python3 dev.py run` does it).
DOCS_SITE_DIR = config.VAR_DIR / "docs-site"


def docs_page(request: HttpRequest, path: str = "") -> HttpResponse:
    """Serve the built guides at /docs/: public, static, read only.

    django.views.static.serve refuses paths that leave the directory; a directory URL
    (what mkdocs links to) gets its index.html. The pages carry no script or inline style, so
    the site-wide Content-Security-Policy applies to them unchanged.
    """
    if not (DOCS_SITE_DIR / "index.html").is_file():
        return render(request, "citychain/docs_missing.html", status=404)
    if path and not path.endswith("/") and (DOCS_SITE_DIR / path / "index.html").is_file():
        return redirect(f"{request.path}/")  # a page's address ends in /, as mkdocs links it
    if path == "" or path.endswith("/"):
        path += "index.html"
    return static.serve(request, path, document_root=DOCS_SITE_DIR)


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
    if request.path.startswith("/api/"):
        return api.refused_before_any_view(400)
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else None
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api.refused_before_any_view(404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database or a template may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
