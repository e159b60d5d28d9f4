"""Security middleware: response headers (CSP, Permissions-Policy) and the throttles that
sit in front of Django's own views (staff sign-in, the admin's sign-in, API tokens).

Django's SecurityMiddleware already sends HSTS, nosniff, Referrer-Policy and COOP, and
XFrameOptionsMiddleware sends X-Frame-Options; this module adds what Django 5.2 lacks.
docs/security.md says which threat each piece answers.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import ngettext

from citychain.throttle import AddressWindow

# --- headers ---------------------------------------------------------------------------

# The policy of every response. No 'unsafe-inline' or 'unsafe-eval' anywhere: scripts and
# styles come only from our own static files (templates carry no inline <script>, <style>,
# style="" or on*= attributes; tests/test_security.py and the browser tests check it).
CONTENT_SECURITY_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}

# Per-path exceptions, each with its reason. Only styles are ever loosened, never scripts.
CONTENT_SECURITY_POLICY_EXCEPTIONS: dict[str, dict[str, str]] = {
    # ReDoc (the API reference, served from our static files) renders with
    # styled-components, which writes its CSS into <style> elements at run time; there is
    # no build of ReDoc without it. The page shows only the public API schema and takes
    # no input, so injected CSS has nothing to steal there.
    # Its search index runs in a Web Worker it builds from a blob: of its own code; only
    # a script the policy already let in (our copy of ReDoc) can create one.
    "/api/redoc/": {"style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"},
}

# Browser features no page of citychain uses. The camera stays off too: the kiosk and the
# voter portal read a city ID card or a letter's QR code with a USB/keyboard scanner or
# the phone's own camera app (which opens the QR code's URL), never through the page.
# A page that one day scans in the browser must turn camera=(self) on for its own path.
PERMISSIONS_POLICY: dict[str, str] = {
    "accelerometer": "()",
    "autoplay": "()",
    "camera": "()",
    "display-capture": "()",
    "encrypted-media": "()",
    "fullscreen": "(self)",
    "geolocation": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": "()",
    "publickey-credentials-get": "()",
    "screen-wake-lock": "()",
    "serial": "()",
    "usb": "()",
    "xr-spatial-tracking": "()",
    "interest-cohort": "()",
    "browsing-topics": "()",
}


def content_security_policy(path: str) -> str:
    directives = dict(CONTENT_SECURITY_POLICY)
    for prefix, overrides in CONTENT_SECURITY_POLICY_EXCEPTIONS.items():
        if path.startswith(prefix):
            directives.update(overrides)
    return "; ".join(f"{name} {value}" for name, value in directives.items())


PERMISSIONS_POLICY_HEADER = ", ".join(
    f"{name}={value}" for name, value in PERMISSIONS_POLICY.items()
)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy, Permissions-Policy and X-Frame-Options to every response.

    Placed before WhiteNoise in MIDDLEWARE so static files get them too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return add_security_headers(request, self.get_response(request))


def add_security_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request.path))
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY_HEADER)
    # XFrameOptionsMiddleware never sees what WhiteNoise serves; old browsers that
    # ignore frame-ancestors still get told.
    if not getattr(response, "xframe_options_exempt", False):
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
    return response


# --- the client's address --------------------------------------------------------------


class ClientAddressMiddleware:
    """Behind CITYCHAIN_TRUSTED_PROXIES proxies (a load balancer is one), REMOTE_ADDR is
    the proxy's address; every throttle here and in DRF keys on REMOTE_ADDR, so without
    this all visitors would share one count. Each proxy appends the address it saw to
    X-Forwarded-For; the entry the outermost trusted proxy appended is the client's.
    Entries left of it are whatever the client sent and are ignored, so a client cannot
    pick its own address. With no trusted proxies (the default) nothing is rewritten.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        use_client_address(request)
        return self.get_response(request)


def use_client_address(request: HttpRequest) -> None:
    """Set REMOTE_ADDR to the client's address as ClientAddressMiddleware explains."""
    proxies = settings.CITYCHAIN_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            request.META["REMOTE_ADDR"] = hops[-proxies]


# --- throttles -------------------------------------------------------------------------


class Window(AddressWindow):
    """An AddressWindow that can say how long until its oldest counted attempt expires."""

    def retry_after(self, request: HttpRequest) -> int:
        recent = self._recent(request)
        if not recent:
            return 0
        return max(1, math.ceil(min(recent) + self.window - time.time()))


class UsernameWindow(Window):
    """Failed sign-ins for one username, from any address (a spread-out guessing attack).

    The key holds a hash of the lower-cased username, never the name itself.
    """

    def _key(self, request: HttpRequest) -> str:
        username = (request.POST.get("username") or "").strip().lower()
        return f"{self.scope}:" + hashlib.sha256(username.encode()).hexdigest()[:32]


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _wait_message(seconds: int) -> str:
    minutes = _minutes(seconds)
    return ngettext(
        "Too many failed attempts. Wait %(minutes)d minute and try again.",
        "Too many failed attempts. Wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


LOGIN_WINDOW_SECONDS = 15 * 60
# From one address: a desk of several caseworkers behind one router may mistype a few times.
LOGIN_BY_ADDRESS = Window("login-address", 20, LOGIN_WINDOW_SECONDS)
# For one username, from anywhere: lower, since one person types their own password.
LOGIN_BY_USERNAME = UsernameWindow("login-username", 10, LOGIN_WINDOW_SECONDS)


class LoginThrottleMiddleware:
    """Failed staff sign-ins, counted per address and per username, on both the staff
    sign-in page and the Django admin's; over either limit a sign-in gets 429 with a
    message saying how long to wait, before the password is even checked.

    A failure is a POST to a sign-in page that does not redirect (Django re-renders the
    form when the username or password is wrong). A success does not reset the counts:
    otherwise whoever guesses could reset them by signing into an account of their own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    @cached_property
    def login_paths(self) -> frozenset[str]:
        return frozenset({reverse("login"), reverse("admin:login")})

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in self.login_paths:
            return self.get_response(request)
        retry_after = max(
            LOGIN_BY_ADDRESS.retry_after(request) if LOGIN_BY_ADDRESS.exceeded(request) else 0,
            LOGIN_BY_USERNAME.retry_after(request) if LOGIN_BY_USERNAME.exceeded(request) else 0,
        )
        if retry_after:
            return self.throttled(request, retry_after)
        response = self.get_response(request)
        if response.status_code == 200:  # the form again: a wrong username or password
            LOGIN_BY_ADDRESS.hit(request)
            LOGIN_BY_USERNAME.hit(request)
        return response

    def throttled(self, request: HttpRequest, retry_after: int) -> HttpResponse:
        form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
        response = render(
            request,
            "registration/login.html",
            {
                "form": form,
                "throttled_message": _wait_message(retry_after),
                "next": request.POST.get("next", ""),
            },
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response


API_AUTH_FAILURES = Window("api-auth-failure", 20, 10 * 60)


class ApiAuthFailureThrottleMiddleware:
    """Bad API tokens: after 20 requests from one address whose credentials were refused
    (401) within 10 minutes, every request from it that carries an Authorization header
    gets 429 until the window passes, before its token is looked up.

    DRF authenticates before its own throttles run, so a throttle class never sees a bad
    token; this sits in front of every API, including ones with their own authentication
    (energy's meter tokens). Requests without credentials are not counted: a 401 for a
    missing token is a mistake, not a guess.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") or "HTTP_AUTHORIZATION" not in request.META:
            return self.get_response(request)
        if API_AUTH_FAILURES.exceeded(request):
            retry_after = API_AUTH_FAILURES.retry_after(request)
            response = JsonResponse({"detail": _wait_message(retry_after)}, status=429)
            response["Retry-After"] = str(retry_after)
            return response
        response = self.get_response(request)
        if response.status_code == 401:
            API_AUTH_FAILURES.hit(request)
        return response
