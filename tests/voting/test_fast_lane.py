"""The cast fast lane (voting/fast_lane.py) answers a cast exactly as Django's stack would.

The lane is wrapped around Django's WSGI handler as citychain/wsgi.py wraps it, and the
handler counts what it is given, so each test knows whether the lane answered itself or
handed the request on. Answers are compared with Django's own, header by header, for the
same kind of request. The lane works on PostgreSQL only (on SQLite it hands everything
on), so these tests need PostgreSQL, with real commits. The last two tests serve
citychain.wsgi with gunicorn, as the Procfile does, and cast in parallel; the second adds
Redis and a real Celery worker, which seals what the web's threads ask it to.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection

from conftest import free_port, run_together, serve, wait_for
from ledger.models import Entry
from ledger.verify import verify_ledger
from tests.voting.test_api import (
    Setup,
    ballot,
    make_election,
    open_with_credentials,
    use_cast_rate,
)
from voting import fast_lane, services
from voting.models import Ballot, Voter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


class Django:
    """Django's WSGI handler, counting the requests it is given."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # by lower-case name; repeated headers joined with "\n"
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(app, environ: dict) -> Answer:
    got: dict = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    headers: dict[str, str] = {}
    for name, value in got["headers"]:
        key = name.lower()
        headers[key] = f"{headers[key]}\n{value}" if key in headers else value
    return Answer(int(got["status"].split()[0]), headers, body)


def cast_request(setup: Setup, body, **extra) -> dict:
    """The WSGI environ of a cast, as gunicorn builds it; an `extra` of None drops a key."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/voting/elections/{setup.election.pk}/ballots/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for key, value in extra.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


def stored() -> tuple[int, int]:
    return Ballot.objects.count(), Voter.objects.filter(has_voted=True).count()


def assert_same_answer(lane: Answer, django: Answer) -> None:
    """Equal but for the tracking code (in the body and the Location)."""
    assert (lane.status, django.status) == (201, 201), (lane.body, django.body)
    lane_body, django_body = lane.json(), django.json()
    lane_code, django_code = lane_body.pop("tracking_code"), django_body.pop("tracking_code")
    assert lane_body == django_body
    lane_headers, django_headers = dict(lane.headers), dict(django.headers)
    assert lane_headers.pop("location").replace(lane_code, "CODE") == django_headers.pop(
        "location"
    ).replace(django_code, "CODE")
    assert lane_headers == django_headers


@pytest.fixture(autouse=True)
def lane_settings(settings):
    use_cast_rate(settings, "1000/minute")
    return settings


@pytest.fixture
def setup(postgres) -> Setup:
    return make_election()


def plain_ballot(setup: Setup, credential: str) -> dict:
    return {
        "credential": credential,
        "selections": ballot(setup, mayor=["Chen"], parks=["Bo", "Ada"], measure=["Yes"]),
    }


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9"},
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "city-kiosk/2.1"},
        {"CONTENT_TYPE": "application/json; charset=utf-8"},
    ],
    ids=["bare", "spanish", "accept-json", "accept-any", "charset"],
)
def test_a_plain_cast_is_answered_in_the_lane_as_django_answers_it(setup, extra):
    credentials = open_with_credentials(setup, voters=2)
    django = Django()
    lane = fast_lane.CastFastLane(django)

    in_lane = call(lane, cast_request(setup, plain_ballot(setup, credentials[0]), **extra))
    assert django.calls == 0, "the lane handed a plain cast on"
    by_django = call(Django(), cast_request(setup, plain_ballot(setup, credentials[1]), **extra))

    assert_same_answer(in_lane, by_django)
    assert stored() == (2, 2)
    cast = Ballot.objects.select_related("ledger_entry").get(
        tracking_code=in_lane.json()["tracking_code"]
    )
    assert cast.selections == plain_ballot(setup, "")["selections"] | {str(setup.council): []}
    assert cast.ledger_entry.kind == "voting.ballot_cast"


def test_behind_an_https_proxy_the_lane_adds_hsts_and_leaves_redirects_to_django(setup, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.CITYCHAIN_TRUSTED_PROXIES = 1
    credentials = open_with_credentials(setup, voters=3)
    django = Django()
    lane = fast_lane.CastFastLane(django)  # after the settings: middleware read them at start
    https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "198.51.100.4"}

    in_lane = call(lane, cast_request(setup, plain_ballot(setup, credentials[0]), **https))
    assert django.calls == 0
    by_django = call(Django(), cast_request(setup, plain_ballot(setup, credentials[1]), **https))
    assert_same_answer(in_lane, by_django)
    assert in_lane.headers["strict-transport-security"] == "max-age=3600"
    assert in_lane.headers["location"].startswith("https://testserver/")

    plain_http = call(lane, cast_request(setup, plain_ballot(setup, credentials[2])))
    assert (plain_http.status, django.calls) == (301, 1)
    assert plain_http.headers["location"].startswith("https://")
    assert stored() == (2, 2)


def test_the_lane_keys_the_throttle_on_the_client_address_behind_a_proxy(setup, settings):
    settings.CITYCHAIN_TRUSTED_PROXIES = 1
    use_cast_rate(settings, "1/minute")
    credentials = open_with_credentials(setup, voters=3)
    django = Django()
    lane = fast_lane.CastFastLane(django)

    def cast_from(address: str, credential: str) -> Answer:
        body = plain_ballot(setup, credential)
        return call(lane, cast_request(setup, body, HTTP_X_FORWARDED_FOR=f"10.0.0.9, {address}"))

    assert cast_from("198.51.100.1", credentials[0]).status == 201
    assert cast_from("198.51.100.2", credentials[1]).status == 201  # same proxy, other voter
    assert django.calls == 0
    again = cast_from("198.51.100.1", credentials[2])
    assert (again.status, django.calls) == (429, 1)
    assert int(again.headers["retry-after"]) > 0
    assert stored() == (2, 2)


# Each builds a request for the lane that is not a plain success, given the setup and two
# credentials of which the first has voted; and says what Django answers.
def _used(setup, creds):
    return cast_request(setup, plain_ballot(setup, creds[0]))


def _mistyped(setup, creds):
    credential = creds[1]
    typo = "2" if credential[0] != "2" else "3"
    return cast_request(setup, plain_ballot(setup, typo + credential[1:]))


def _overvote(setup, creds):
    body = plain_ballot(setup, creds[1])
    body["selections"][str(setup.mayor)] = [setup.ids["Chen"], setup.ids["Rivera"]]
    return cast_request(setup, body)


def _unknown_contest(setup, creds):
    body = plain_ballot(setup, creds[1])
    body["selections"]["999999"] = [1]
    return cast_request(setup, body)


def _with(**extra):
    return lambda setup, creds: cast_request(setup, plain_ballot(setup, creds[1]), **extra)


def _raw(raw: bytes, **extra):
    return lambda setup, creds: cast_request(setup, raw, **extra)


def _padded(setup, creds):
    raw = json.dumps(plain_ballot(setup, creds[1])).encode()
    return cast_request(setup, raw + b" " * fast_lane.MAX_BODY)


def _superscript_contest(setup, creds):
    body = plain_ballot(setup, creds[1])
    body["selections"]["\u00b2"] = []
    return cast_request(setup, body)


def _deeply_nested(setup, creds):
    raw = json.dumps(plain_ballot(setup, creds[1])).encode()
    return cast_request(setup, raw[:-1] + b', "x": ' + b"[" * 3000 + b"]" * 3000 + b"}")


def _form(setup, creds):
    raw = f"credential={creds[1]}".encode()
    return cast_request(setup, raw, CONTENT_TYPE="application/x-www-form-urlencoded")


REFERRED = {
    "used credential": (_used, 403, "cannot be used"),
    "mistyped credential": (_mistyped, 400, "typo"),
    "overvote": (_overvote, 400, "Mayor"),
    "unknown contest": (_unknown_contest, 400, "999999"),
    "not JSON": (_raw(b'{"credential": '), 400, "JSON"),
    "NaN": (_raw(b'{"credential": NaN, "selections": {}}'), 400, "JSON"),
    "form body": (_form, 400, "selections"),
    "a space in the media type": (_with(CONTENT_TYPE="application/ json"), 415, "media type"),
    "another charset": (_with(CONTENT_TYPE="application/json; charset=latin-1"), 201, "pending"),
    "an empty Accept": (_with(HTTP_ACCEPT=""), 406, "Accept"),
    "a superscript digit as contest id": (_superscript_contest, 400, "\u00b2"),
    "JSON nested deeper than Python parses": (_deeply_nested, 400, "nested too deeply"),
    "host not allowed": (_with(HTTP_HOST="evil.example"), 400, ""),
    "query string": (_with(QUERY_STRING="format=json"), 201, "tracking_code"),
    "browser's Accept": (_with(HTTP_ACCEPT="text/html"), 201, "<html"),
    "a cookie": (_with(HTTP_COOKIE="django_language=es"), 201, "tracking_code"),
    "an Authorization header": (_with(HTTP_AUTHORIZATION="Token x"), 201, "tracking_code"),
    "a body over the lane's limit": (_padded, 201, "tracking_code"),
    "a superscript digit as Content-Length": (_with(CONTENT_LENGTH="\u00b2"), 400, "credential"),
}


@pytest.mark.parametrize("case", REFERRED, ids=list(REFERRED))
def test_anything_but_a_plain_success_goes_to_django_whole(setup, case):
    build, status, says = REFERRED[case]
    credentials = open_with_credentials(setup, voters=2)
    services.ballot_cast(
        election_id=setup.election.pk,
        credential=credentials[0],
        selections=plain_ballot(setup, "")["selections"],
    )
    django = Django()
    lane = fast_lane.CastFastLane(django)

    answer = call(lane, build(setup, credentials))

    assert django.calls == 1, "the lane answered a request that was not a plain cast"
    assert answer.status == status, answer.body[:500]
    assert says in answer.body.decode(), answer.body[:500]
    # Django read the body the lane had read: a cast it stored, or nothing more stored.
    assert stored() == ((2, 2) if status == 201 else (1, 1))


@pytest.mark.parametrize("state", ["closed", "draft"])
def test_an_election_not_open_goes_to_django(setup, state):
    credentials = open_with_credentials(setup, voters=2)
    if state == "closed":
        services.election_close(setup.election)
    else:
        setup = make_election(title="Not yet")
    django = Django()
    answer = call(
        fast_lane.CastFastLane(django), cast_request(setup, plain_ballot(setup, credentials[0]))
    )
    assert django.calls == 1
    assert answer.status == (403 if state == "closed" else 404)
    assert stored() == (0, 0)


def test_an_attempt_the_lane_hands_on_is_counted_once(setup, settings):
    use_cast_rate(settings, "3/minute")
    credentials = open_with_credentials(setup, voters=4)
    django = Django()
    lane = fast_lane.CastFastLane(django)

    def cast(credential: str) -> int:
        return call(lane, cast_request(setup, plain_ballot(setup, credential))).status

    assert cast(credentials[0]) == 201
    assert cast(credentials[0]) == 403  # used: counted in the lane, answered by Django
    assert cast(credentials[1]) == 201  # the third attempt: still allowed
    assert django.calls == 1
    assert cast(credentials[2]) == 429
    assert stored() == (2, 2)


def test_a_database_error_is_answered_as_django_answers_it(setup, monkeypatch, caplog):
    credentials = open_with_credentials(setup, voters=2)

    def broken(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_ballot_cast_in_one_statement", broken)
    django = Django()
    with caplog.at_level(logging.ERROR, logger="django.request"):
        in_lane = call(
            fast_lane.CastFastLane(django), cast_request(setup, plain_ballot(setup, credentials[0]))
        )
        lane_logged = [r.getMessage() for r in caplog.records]
        caplog.clear()
        by_django = call(Django(), cast_request(setup, plain_ballot(setup, credentials[1])))
        django_logged = [r.getMessage() for r in caplog.records]

    assert django.calls == 0
    assert (in_lane.status, in_lane.body, in_lane.headers) == (
        by_django.status,
        by_django.body,
        by_django.headers,
    )
    assert in_lane.status == 500
    assert lane_logged == django_logged != []
    assert stored() == (0, 0)


def test_on_sqlite_the_lane_hands_every_cast_to_django():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite run checks this")
    setup = make_election()
    credentials = open_with_credentials(setup, voters=1)
    django = Django()
    answer = call(
        fast_lane.CastFastLane(django), cast_request(setup, plain_ballot(setup, credentials[0]))
    )
    assert (answer.status, django.calls) == (201, 1)
    assert stored() == (1, 1)


def test_the_lane_stands_aside_when_turned_off(setup, settings):
    credentials = open_with_credentials(setup, voters=1)
    settings.CITYCHAIN_CAST_FAST_LANE = False
    django = Django()
    answer = call(
        fast_lane.CastFastLane(django), cast_request(setup, plain_ballot(setup, credentials[0]))
    )
    assert (answer.status, django.calls) == (201, 1)


def test_the_lane_stands_aside_when_middleware_changed_since_its_review(setup, settings, caplog):
    credentials = open_with_credentials(setup, voters=1)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    django = Django()
    with caplog.at_level(logging.WARNING, logger="voting.fast_lane"):
        lane = fast_lane.CastFastLane(django)
    assert "cast fast lane off" in caplog.text
    answer = call(lane, cast_request(setup, plain_ballot(setup, credentials[0])))
    assert (answer.status, django.calls) == (201, 1)


def test_the_lane_was_reviewed_against_the_middleware_in_settings(settings):
    assert tuple(settings.MIDDLEWARE) == fast_lane.REVIEWED_MIDDLEWARE, (
        "MIDDLEWARE changed: review voting/fast_lane.py against it (does the new middleware "
        "change a plain cast's answer?), then update REVIEWED_MIDDLEWARE"
    )


# --- through gunicorn, in parallel ------------------------------------------------------------


def _post(port: int, path: str, body: dict, address: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "X-Forwarded-For": address},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_through_gunicorn_one_credential_gives_one_ballot_and_every_voter_counts(
    setup, environment
):
    credentials = open_with_credentials(setup, voters=21)
    path = f"/api/voting/elections/{setup.election.pk}/ballots/"
    env = environment(CITYCHAIN_TRUSTED_PROXIES="1", CITYCHAIN_VOTING_CAST_RATE="1000/minute")
    port = free_port()
    # As the Procfile runs it: gthread workers, so casts also race between threads.
    with serve(env, port, "--workers", "2", "--threads", "4"):
        same = run_together(
            20, lambda i: _post(port, path, plain_ballot(setup, credentials[0]), f"10.1.0.{i}")
        )
        statuses = Counter(status for status, _body in same)
        assert statuses == {201: 1, 403: 19}, same
        assert all("cannot be used" in body["detail"] for status, body in same if status == 403)

        each = run_together(
            20,
            lambda i: _post(port, path, plain_ballot(setup, credentials[i + 1]), f"10.2.0.{i}"),
        )
        assert [status for status, _body in each] == [201] * 20, each
        for _status, body in each:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", f"/api/voting/track/{body['tracking_code']}/")
            assert conn.getresponse().status == 200
            conn.close()
    assert stored() == (21, 21)
    codes = {body["tracking_code"] for _status, body in [*same, *each] if "tracking_code" in body}
    assert codes == set(Ballot.objects.values_list("tracking_code", flat=True))


@pytest.mark.slow
def test_through_gunicorn_threads_ask_a_real_worker_to_seal_every_ballot(
    setup, environment, private_redis, celery_processes
):
    """As production runs: gthread workers, whose threads share one Celery producer, with
    Redis as broker and cache, and a real Celery worker. There is no beat here, so every
    seal comes from a request the web threads sent. Casts arrive in waves more than a
    second apart (the web asks for a seal at most once a second), then one last ballot."""
    waves, per_wave = 4, 40
    credentials = iter(open_with_credentials(setup, voters=waves * per_wave + 1))
    path = f"/api/voting/elections/{setup.election.pk}/ballots/"
    env = environment(
        REDIS_URL=private_redis.url,
        CITYCHAIN_TRUSTED_PROXIES="1",
        CITYCHAIN_VOTING_CAST_RATE="10000/minute",
    )
    worker = celery_processes.worker(broker=private_redis.url)
    port = free_port()
    statuses = []
    with serve(env, port, "--workers", "2", "--threads", "4"):
        for wave in range(waves):
            batch = [next(credentials) for _ in range(per_wave)]
            statuses += run_together(
                per_wave,
                lambda i, batch=batch, wave=wave: _post(
                    port, path, plain_ballot(setup, batch[i]), f"10.3.{wave}.{i}"
                )[0],
            )
            time.sleep(1.2)
        statuses.append(_post(port, path, plain_ballot(setup, next(credentials)), "10.4.0.1")[0])
        assert statuses == [201] * (waves * per_wave + 1)
        wait_for(
            lambda: not Entry.objects.filter(leaf_index__isnull=True).exists(),
            timeout=60,
            message="every entry sealed by the worker",
        )
    asked = sum(
        "ledger.seal_pending[" in line and line.endswith("received")
        for line in worker.log().splitlines()
    )
    assert asked >= waves + 1, worker.log()[-3000:]
    assert " ERROR/" not in worker.log(), worker.log()[-3000:]
    assert Ballot.objects.count() == waves * per_wave + 1
    report = verify_ledger()
    assert report.ok, report.problem
