"""The API reference pages, served from our own static files under the strict CSP.

Swagger UI: drf-spectacular's split view (its init code is a script file, not inline).
ReDoc: the sidecar's bundle, except that its menu footer always loads the Redocly logo
from cdn.redoc.ly; `redoc_bundle` serves the bundle with that one URL replaced, so the
page fetches nothing from another site (and breaks no img-src rule).
"""

from __future__ import annotations

from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# Not an image: ReDoc's onError handler then leaves the logo out and keeps the text.
NO_LOGO = "data:,"


@cache
def _redoc_bundle() -> bytes:
    path = finders.find(REDOC_BUNDLE)
    if path is None:  # pragma: no cover - drf_spectacular_sidecar is a dependency
        raise FileNotFoundError(REDOC_BUNDLE)
    with open(path, "rb") as bundle:
        return bundle.read().replace(REDOC_CDN_LOGO.encode(), NO_LOGO.encode())


@require_GET
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_redoc_bundle(), content_type="application/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response


class RedocView(SpectacularRedocView):
    template_name = "citychain/api_docs/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api-redoc-bundle")
