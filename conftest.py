"""Shared test fixtures: services, real Celery worker processes, and the browser.

Tests that need PostgreSQL, Redis or Chromium skip when those are missing on a
developer's machine, and fail instead when CITYCHAIN_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's live
# server and ORM calls from the test must still be allowed there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def reset_broker_connections(app) -> None:
    """Drop the app's cached broker connections so the next publish uses its current conf."""
    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's global producer pools hold connections to the old broker


def require_services() -> bool:
    return os.environ.get("CITYCHAIN_REQUIRE_SERVICES") == "1"


def missing(what: str) -> None:
    """Skip on a developer's machine; fail in CI, where everything must be there."""
    if require_services():
        pytest.fail(f"{what} is required (CITYCHAIN_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """A deliberately slow password hash (PBKDF2, ~0.5 s here) is what protects production
    passwords; in tests it only makes every user the factories create cost half a second.
    Production keeps Django's default hashers (PBKDF2)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def test_broker_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("broker")


@pytest.fixture(scope="session", autouse=True)
def _isolated_broker(test_broker_dir):
    """Keep the tests' task messages out of a running dev server's broker."""
    from django.conf import settings

    from citychain.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for sub in ("queue", "processed", "control"):
            (test_broker_dir / sub).mkdir(exist_ok=True)
        options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
        options["data_folder_in"] = options["data_folder_out"] = str(test_broker_dir / "queue")
        options["processed_folder"] = str(test_broker_dir / "processed")
        options["control_folder"] = str(test_broker_dir / "control")
        app.conf.broker_transport_options = options
    reset_broker_connections(app)
    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
    except Exception as exc:  # a broker that is down is some tests' subject
        print(f"test broker not purged: {exc}")
    yield


@pytest.fixture
def postgres(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        missing("PostgreSQL (set DATABASE_URL=postgresql://…)")
    return connection


@pytest.fixture
def redis_url(settings) -> str:
    url = os.environ.get("REDIS_URL") or (
        "redis://127.0.0.1:6379/15" if require_services() else None
    )
    if not url:
        missing("Redis (set REDIS_URL=redis://…)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        missing(f"Redis at {url}")
    return url


def worker_environment(*, broker_dir: Path | None = None, redis_url: str | None = None) -> dict:
    """The environment for a real worker process that uses the test database."""
    from django.db import connection

    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = (
            f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    if redis_url:
        env["REDIS_URL"] = redis_url
    if broker_dir:
        env["CITYCHAIN_BROKER_DIR"] = str(broker_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def environment(test_broker_dir):
    """The environment of a manage.py or gunicorn process on a given database, with this
    test process's keys (so every process agrees on them) and the tests' private broker."""

    from django.conf import settings

    def environment(database_url: str | None = None, **overrides: str) -> dict[str, str]:
        env = worker_environment(broker_dir=test_broker_dir)
        if database_url:
            env["DATABASE_URL"] = database_url
        env["SECRET_KEY"] = settings.SECRET_KEY
        env["CITYCHAIN_DATA_KEYS"] = ",".join(
            base64.urlsafe_b64encode(key).decode() for key in settings.CITYCHAIN_DATA_KEYS
        )
        env["CITYCHAIN_LEDGER_SIGNING_KEY"] = settings.CITYCHAIN_LEDGER_SIGNING_KEY
        env.update(overrides)
        return env

    return environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict[str, str], port: int, *options: str) -> Iterator[str]:
    """gunicorn serving the database in `env` at http://127.0.0.1:port until the block ends
    (as the Procfile serves it, with `options` such as --threads added)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "citychain.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120", *options],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{process.stderr.read()[-3000:]}")
            with (
                contextlib.suppress(OSError),  # refused, reset or slow while it starts
                urllib.request.urlopen(f"{url}/healthz/", timeout=10) as response,  # noqa: S310 (http://127.0.0.1)
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("gunicorn did not answer /healthz/ within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class CeleryProcess:
    """`celery worker` (prefork pool) or `celery beat` in its own process group:
    the real thing, not eager mode, and killable as a whole with SIGKILL."""

    def __init__(self, env: dict, args: list[str], *, name: str, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"celery-{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "citychain", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_log(self, text: str, timeout: float = 60) -> CeleryProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: no {text!r} in its log:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL the whole process group: a worker dying with no chance to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # orphaned pool children
        self._log.close()


def _celery_env(broker: str, broker_dir: Path, extra: dict | None) -> dict:
    """broker: "same" as this test process, "filesystem", or a redis:// URL."""
    if broker == "same":
        broker = os.environ.get("REDIS_URL") or "filesystem"
    redis_url = broker if broker.startswith("redis") else None
    env = worker_environment(broker_dir=None if redis_url else broker_dir, redis_url=redis_url)
    env.update(extra or {})
    return env


@pytest.fixture
def celery_processes(tmp_path, test_broker_dir):
    """Start real Celery workers and beats; all are stopped when the test ends."""
    started: list[CeleryProcess] = []

    def worker(*, broker="same", concurrency=1, name=None, env=None, wait=True):
        name = name or f"worker{len(started) + 1}"
        proc = CeleryProcess(
            _celery_env(broker, test_broker_dir, env),
            [
                "worker", "--pool", "prefork", "--concurrency", str(concurrency),
                "--hostname", f"{name}@%h", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            name=name,
            log_dir=tmp_path,
        )  # fmt: skip
        started.append(proc)
        return proc.wait_for_log(" ready.") if wait else proc

    def beat(*, broker="same", env=None):
        name = f"beat{len(started) + 1}"
        proc = CeleryProcess(
            _celery_env(broker, test_broker_dir, env),
            ["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / f"{name}-schedule")],
            name=name,
            log_dir=tmp_path,
        )
        started.append(proc)
        return proc.wait_for_log("beat: Starting")

    yield SimpleNamespace(worker=worker, beat=beat)
    for proc in started:
        proc.stop()


@pytest.fixture
def start_worker(celery_processes):
    return celery_processes.worker


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # `npm ci` at the repository root
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page, where: str = "") -> None:
    """axe-core (from the npm registry) finds no WCAG 2.1 A/AA violation on the page.

    Where axe-core is not installed the browser flows still run without this check; CI,
    with CITYCHAIN_REQUIRE_SERVICES=1, fails instead.
    """
    if not AXE.exists():
        if require_services():
            missing(f"axe-core at {AXE} (npm ci at the repository root)")
        return
    violations = axe_violations(page)
    where = where or page.url
    if violations:
        print(f"axe-core violations on {where}:\n{json.dumps(violations, indent=2)}")
    assert violations == [], f"axe-core found WCAG 2.1 AA violations on {where}"


def axe_violations(page, *, preload: bool = True) -> list[dict]:
    """Run axe-core's WCAG 2.1 A/AA rules on the page: each violation's rule, what it
    asks for, and (up to five of) the elements that break it.

    preload=False: axe-core does not load the page's style sheets itself (for its
    css-orientation-lock rule). It reads an @import by adding a <style> element, which a
    strict Content-Security-Policy blocks and the browser tests then report as the page's
    violation; Django's admin (forms.css) has one.
    """
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "([tags, preload]) => axe.run(document, {runOnly: {type: 'tag', values: tags}, preload})",
        [WCAG_AA, preload],
    )
    assert found["passes"], "axe-core ran no checks"
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found["violations"]
    ]


# What the focused element is, and whether it shows a focus indicator (an outline or a
# box-shadow: citychain.css draws both on :focus-visible).
FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const words = text => (text || '').trim().split(/\\s+/).join(' ');
  return {
    tag: e.tagName.toLowerCase(), id: e.id, type: e.type || '', value: e.value || '',
    text: words(e.textContent),
    label: words(e.labels && e.labels[0] ? e.labels[0].textContent : ''),
    ring: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
      || (style.boxShadow !== '' && style.boxShadow !== 'none'),
  };
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page, matches, what: str, *, back: bool = False, limit: int = 150) -> dict:
    """Press Tab (Shift+Tab with back=True) until the focused element satisfies `matches`.
    Each element on the way must show that it has the focus (WCAG 2.4.7)."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        element = focused(page)
        if element["tag"] != "body":
            assert element["ring"], f"no visible focus on {element} (on the way to {what})"
        if matches(element):
            return element
    raise AssertionError(f"{key} never reached {what} on {page.url}")


def tab_to_text(page, text: str, **kw) -> dict:
    """To the link or button whose text is `text`."""
    return tab_to(
        page, lambda e: e["text"] == text and e["tag"] in ("a", "button"), repr(text), **kw
    )


def tab_to_field(page, field_id: str, **kw) -> dict:
    return tab_to(page, lambda e: e["id"] == field_id, f"the field #{field_id}", **kw)


@pytest.fixture
def axe():
    """assert_accessible, for browser tests; fails at once in CI when axe-core is missing."""
    if not AXE.exists() and require_services():
        missing(f"axe-core at {AXE} (npm ci at the repository root)")
    return assert_accessible


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(0) … work(count - 1) in threads released at once by one barrier (real
    races against the database or a server). Returns what each returned, or the exception
    it raised; each thread closes its own database connections when done."""
    from django.db import connections

    barrier = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            outcomes[index] = work(index)
        except Exception as exc:  # the outcome under test, success or refusal
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def wait_for(condition, *, timeout: float = 30, interval: float = 0.1, message: str = ""):
    """Poll `condition` until it returns something truthy (tests of real processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")


# --- Browser (Playwright driving Debian's Chromium) ---------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists() or not shutil.which(CHROMIUM):
        missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-US"}


CSP_VIOLATIONS = pytest.StashKey[list]()
# Chromium logs every violation to the console ("Refused to … because it violates the
# following Content Security Policy directive …"); the init script also reports the
# securitypolicyviolation event, in case a violation's console line ever changes.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective +
                " blocked " + (event.blockedURI || "inline") + " at " + event.sourceFile +
                ":" + event.lineNumber);
});
"""


@pytest.fixture(autouse=True)
def _fail_on_csp_violation(request, monkeypatch):
    """Every page a browser test opens is watched for Content-Security-Policy violations;
    the test fails if one is logged (see pytest_runtest_call below)."""
    if request.node.get_closest_marker("browser") is None:
        yield
        return
    browser = request.getfixturevalue("browser")
    seen: list[str] = []
    request.node.stash[CSP_VIOLATIONS] = seen

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{message.location.get('url', '?')}: {message.text}")

    def watched(target):
        target.add_init_script(CSP_REPORTER)
        target.on("console", on_console)
        return target

    # Test tooling (axe-core) is injected with page.add_script_tag(path=…), which adds an
    # inline <script> that the policy rightly blocks. Run such sources through DevTools
    # instead, which the page's policy does not govern, so the page keeps its real policy.
    from playwright.sync_api import Page

    add_script_tag = Page.add_script_tag

    def add_script_tag_via_devtools(page, *, url=None, path=None, content=None, type=None):
        if url is not None or type == "module":
            return add_script_tag(page, url=url, path=path, content=content, type=type)
        page.evaluate(Path(path).read_text() if path is not None else content)
        return None

    monkeypatch.setattr(Page, "add_script_tag", add_script_tag_via_devtools)
    new_context, new_page = browser.new_context, browser.new_page
    # pytest-playwright's `context` and `page` fixtures also open contexts this way.
    monkeypatch.setattr(browser, "new_context", lambda *a, **kw: watched(new_context(*a, **kw)))
    monkeypatch.setattr(browser, "new_page", lambda *a, **kw: watched(new_page(*a, **kw)))
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    violations = item.stash.get(CSP_VIOLATIONS, None)
    if violations:
        pytest.fail(
            "the page broke its Content-Security-Policy:\n" + "\n".join(dict.fromkeys(violations)),
            pytrace=False,
        )
    return result


class RedisServer:
    """A private redis-server on a free port, which a fault test may stop and restart."""

    def __init__(self, workdir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        wait_for(lambda: _pings(redis, self.url), timeout=10, message="redis-server to start")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _pings(redis, url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        missing("redis-server (apt-get install redis-server)")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def broker():
    """Point this test process's Celery app at another broker URL for one test."""
    from citychain.celery import app

    saved = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))

    def use(url: str) -> None:
        app.conf.broker_url = url
        app.conf.broker_transport_options = {}
        reset_broker_connections(app)

    yield use
    app.conf.broker_url, app.conf.broker_transport_options = saved
    reset_broker_connections(app)
