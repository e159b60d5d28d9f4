"""Shared test fixtures: services, real Celery worker processes, and the browser.

Tests that need PostgreSQL, Redis or Chromium skip when those are missing on a
developer's machine, and fail instead when CITYCHAIN_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


def require_services() -> bool:
    return os.environ.get("CITYCHAIN_REQUIRE_SERVICES") == "1"


def missing(what: str) -> None:
    """Skip on a developer's machine; fail in CI, where everything must be there."""
    if require_services():
        pytest.fail(f"{what} is required (CITYCHAIN_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


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
    app.pool.force_close_all()
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


class WorkerProcess:
    """`celery worker` in its own process (prefork pool): the real thing, not eager mode."""

    def __init__(self, env: dict, *, concurrency: int = 1, name: str = "w1", log_dir: Path):
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "citychain", "worker",
                "--pool", "prefork", "--concurrency", str(concurrency),
                "--hostname", f"{name}@%h", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready:\n{self.log_path.read_text()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def start_worker(tmp_path, test_broker_dir):
    """Start real worker processes; all are stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(*, broker: str = "same", concurrency: int = 1, name: str | None = None):
        """broker: "same" as this test process, "redis" (REDIS_URL), or "filesystem"."""
        redis_url = os.environ.get("REDIS_URL") if broker in {"same", "redis"} else None
        if broker == "redis" and not redis_url:
            redis_url = "redis://127.0.0.1:6379/15"
        env = worker_environment(
            broker_dir=None if redis_url else test_broker_dir, redis_url=redis_url
        )
        worker = WorkerProcess(
            env, concurrency=concurrency, name=name or f"w{len(started) + 1}", log_dir=tmp_path
        )
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


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
