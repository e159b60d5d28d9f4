"""The cast fast lane: plain ballot casts answered in front of Django's request stack.

On election day nearly every request is a voter casting a ballot, and on a small server
Django's whole stack for it (thirteen middleware, URL resolving, DRF's request, content
negotiation and rendering) costs more CPU than the cast itself: with it, two cores could
not keep a 300-ballots-a-second load under 100 ms at the 95th percentile
(docs/benchmarks.md). This WSGI layer, wrapped around Django's application in
citychain/wsgi.py, takes a cast request only when the answer is sure to be the 201 that
stack would give, and gives that answer the same way:

- the same steps in the same order: the client's address (ClientAddressMiddleware), the
  HTTPS redirect and host check (Django's SecurityMiddleware and CommonMiddleware, called
  here), the language (LocaleMiddleware), the per-address throttle (the API's own
  VotingCastThrottle), the well-formedness check (the API's plain_cast_request), the cast
  (services.ballot_cast_plain: the one-statement cast the API also makes first);
- the same response: the API's body and Location, DRF's Vary and Allow, and every header
  the middleware adds, added by those middleware.

Everything else goes to Django untouched, with the body the lane read handed back: any
refusal (the cast stores nothing, then Django decides and words it), a body that is not
plain JSON, a cookie, an Authorization header, a query string, an Accept that is not JSON,
SQLite, or the lane turned off (CITYCHAIN_CAST_FAST_LANE=0). An attempt the lane counted
against the throttle and then handed on is not counted twice.

The lane was written against MIDDLEWARE as REVIEWED_MIDDLEWARE lists it. If MIDDLEWARE
changes, the lane stands aside (and says so in the log when the server starts) until it
is reviewed against the new list, so a new middleware is never skipped without anyone
deciding it. tests/voting/test_fast_lane.py compares the lane's answers with Django's,
header by header, and drives it through gunicorn with parallel requests.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signals
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import set_script_prefix
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_header_parameters
from rest_framework.utils.json import strict_constant

from citychain.middleware import add_security_headers, use_client_address
from voting import api, services

log = logging.getLogger(__name__)

REVIEWED_MIDDLEWARE = (
    "citychain.middleware.ClientAddressMiddleware",  # use_client_address
    "django.middleware.security.SecurityMiddleware",  # called
    "citychain.middleware.SecurityHeadersMiddleware",  # add_security_headers
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files only
    "django.contrib.sessions.middleware.SessionMiddleware",  # nothing without a cookie
    "django.middleware.locale.LocaleMiddleware",  # called
    "django.middleware.common.CommonMiddleware",  # called
    "django.middleware.csrf.CsrfViewMiddleware",  # the API view is exempt; no cookie
    "django.contrib.auth.middleware.AuthenticationMiddleware",  # lazy; the cast needs none
    "django.contrib.messages.middleware.MessageMiddleware",  # nothing unless used
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # called
    "citychain.middleware.LoginThrottleMiddleware",  # sign-in pages only
    "citychain.middleware.ApiAuthFailureThrottleMiddleware",  # only with Authorization
)

CAST_PATH = re.compile(r"/api/voting/elections/([0-9]{1,18})/ballots/")
# A ballot is a few hundred bytes; anything much larger is not a plain cast.
MAX_BODY = 16 * 1024
# An Accept header DRF answers with JSON; a missing one counts as */*, an empty one does not.
ACCEPTS_JSON = frozenset({"*/*", "application/json"})


def _allow() -> str:
    """The Allow header DRF gives the view (its methods, HEAD as Django's View adds it)."""
    view = api.BallotBoardView()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)


ALLOW = _allow()

StartResponse = Callable[..., Any]


class Refer(Exception):
    """This request is for Django's whole stack."""


def _never(request):  # the middleware below are only asked for their request/response steps
    raise AssertionError("not called")


class CastFastLane:
    def __init__(self, application: Callable[[dict, StartResponse], Iterable[bytes]]):
        self.application = application
        self.reviewed = tuple(settings.MIDDLEWARE) == REVIEWED_MIDDLEWARE
        if not self.reviewed:
            log.warning(
                "cast fast lane off: MIDDLEWARE differs from the list voting/fast_lane.py "
                "was reviewed against; every cast goes through Django's whole stack"
            )
        self.security = SecurityMiddleware(_never)
        self.common = CommonMiddleware(_never)
        self.locale = LocaleMiddleware(_never)
        self.xframe = XFrameOptionsMiddleware(_never)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and self.open():
            match = CAST_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    response = self.cast(environ, int(match[1]))
                except Refer:
                    pass
                else:
                    status = f"{response.status_code} {response.reason_phrase}"
                    start_response(status, list(response.items()))
                    return [response.content]
        return self.application(environ, start_response)

    def open(self) -> bool:
        return (
            self.reviewed
            and settings.CITYCHAIN_CAST_FAST_LANE
            and connection.vendor == "postgresql"
            and not connection.settings_dict["ATOMIC_REQUESTS"]
        )

    def cast(self, environ: dict, election_id: int) -> HttpResponse:
        data = plain_body(environ)
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            request = self.admit(environ)
            try:
                ballot = services.ballot_cast_plain(election_id=election_id, **data)
            except Exception as exc:  # as Django's handler answers an error: logged, a 500
                response = response_for_exception(request, exc)
            else:
                if ballot is None:
                    environ[api.CAST_ATTEMPT_COUNTED] = True
                    raise Refer()
                response = created(request, ballot)
            return self.finish(request, response)
        finally:
            signals.request_finished.send(sender=self.__class__)

    def admit(self, environ: dict) -> WSGIRequest:
        """The request, past every step before the cast as Django's stack takes them; or
        Refer, having counted nothing, for a redirect (to HTTPS, to www.), a host not
        allowed, a banned agent, the throttle's limit, or anything unexpected (Django's
        stack meets it again and answers as it does)."""
        try:
            request = WSGIRequest(environ)
            use_client_address(request)
            if self.security.process_request(request) or self.common.process_request(request):
                raise Refer()
            self.locale.process_request(request)
            request.user = AnonymousUser()
            allowed = api.VotingCastThrottle().allow_request(request, api.BallotBoardView)
        except Exception:  # SuspiciousOperation, PermissionDenied, the cache, …
            raise Refer() from None
        if not allowed:
            raise Refer()
        return request

    def finish(self, request: WSGIRequest, response: HttpResponse) -> HttpResponse:
        """The response steps of MIDDLEWARE that do anything here, innermost first."""
        response = self.xframe.process_response(request, response)
        response = self.common.process_response(request, response)
        response = self.locale.process_response(request, response)
        response = add_security_headers(request, response)
        return self.security.process_response(request, response)


def plain_body(environ: dict) -> dict[str, Any]:
    """The credential and selections of a plain JSON cast request, or Refer.

    Reads the body and puts it back in the environ, so Django can read it again.
    """
    content_type, parameters = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    if (
        environ.get("QUERY_STRING")
        or "HTTP_COOKIE" in environ
        or "HTTP_AUTHORIZATION" in environ
        or "HTTP_TRANSFER_ENCODING" in environ
        or content_type != "application/json"
        or any((name, value.lower()) != ("charset", "utf-8") for name, value in parameters.items())
        or environ.get("HTTP_ACCEPT", "*/*").strip().lower() not in ACCEPTS_JSON
    ):
        raise Refer()
    length = environ.get("CONTENT_LENGTH", "")
    # ASCII digits only (gunicorn refuses others; another server might pass "²" on).
    if not (length.isascii() and length.isdigit()) or not 0 < int(length) <= MAX_BODY:
        raise Refer()
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        # As DRF's JSONParser reads it: UTF-8, no NaN or Infinity.
        data = json.loads(raw.decode("utf-8"), parse_constant=strict_constant)
    except (ValueError, RecursionError):  # not JSON; nested deeper than Python parses
        raise Refer() from None
    plain = api.plain_cast_request(data)
    if plain is None:
        raise Refer()
    return plain


def created(request: WSGIRequest, ballot) -> HttpResponse:
    """The API view's 201, as DRF's JSONRenderer and finalize_response make it."""
    body = json.dumps(api.cast_response_data(ballot), ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body.encode(), status=201, content_type="application/json")
    response["Location"] = api.cast_location(request, ballot)
    patch_vary_headers(response, ("Accept",))
    response["Allow"] = ALLOW
    return response
