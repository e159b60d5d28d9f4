"""Configuration from the environment, checked before Django starts.

Owns the list of environment variables citychain reads, their defaults in
development, and the refusal of missing or weak values in production. Pure
Python (no Django import), so manage.py, WSGI and Celery can all call it and
print a one-line error instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
ENVIRONMENTS = ("development", "production")
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE = 5


class ConfigError(Exception):
    """A missing or unusable configuration value; the message names the variable."""


@dataclass(frozen=True)
class Config:
    env: str
    secret_key: str
    database_url: str
    redis_url: str | None
    allowed_hosts: list[str]
    data_keys: list[bytes]
    ledger_signing_key: str

    @property
    def production(self) -> bool:
        return self.env == "production"


def parse_data_keys(raw: str) -> list[bytes]:
    keys = []
    for position, part in enumerate(raw.split(","), start=1):
        part = part.strip()
        try:
            key = base64.urlsafe_b64decode(part.encode() + b"=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"CITYCHAIN_DATA_KEYS: key {position} is not urlsafe base64"
            ) from None
        if len(key) != 32:
            raise ConfigError(
                f"CITYCHAIN_DATA_KEYS: key {position} must decode to 32 bytes, not {len(key)}"
            )
        if len(set(key)) < 8:
            raise ConfigError(f"CITYCHAIN_DATA_KEYS: key {position} is too weak (repetitive)")
        keys.append(key)
    if not keys:
        raise ConfigError("CITYCHAIN_DATA_KEYS: at least one key is needed")
    return keys


def check_signing_key(raw: str) -> str:
    raw = raw.strip().lower()
    try:
        seed = bytes.fromhex(raw)
    except ValueError:
        raise ConfigError("CITYCHAIN_LEDGER_SIGNING_KEY: must be hex") from None
    if len(seed) != 32:
        raise ConfigError(
            f"CITYCHAIN_LEDGER_SIGNING_KEY: must be 32 bytes (64 hex digits), not {len(seed)}"
        )
    if len(set(seed)) < 8:
        raise ConfigError("CITYCHAIN_LEDGER_SIGNING_KEY: too weak (repetitive)")
    return raw


def check_secret_key(raw: str) -> str:
    if (
        len(raw) < MIN_SECRET_KEY_LENGTH
        or len(set(raw)) < MIN_SECRET_KEY_UNIQUE
        or raw.startswith("django-insecure")
    ):
        raise ConfigError(
            f"SECRET_KEY: too weak; use at least {MIN_SECRET_KEY_LENGTH} random characters"
        )
    return raw


def _dev_secrets() -> dict[str, str]:
    """Generated once into var/ (git-ignored) so development needs no set-up."""
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CITYCHAIN_DATA_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "CITYCHAIN_LEDGER_SIGNING_KEY": secrets.token_bytes(32).hex(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)  # atomic: two processes starting at once agree on one set
    return json.loads(path.read_text())


def load(environ: os._Environ[str] | dict[str, str] = os.environ) -> Config:
    env = environ.get("CITYCHAIN_ENV", "development").strip() or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"CITYCHAIN_ENV: must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"

    def required(name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name}: must be set when CITYCHAIN_ENV=production")
        return value

    if production:
        secret_key = check_secret_key(required("SECRET_KEY"))
        database_url = required("DATABASE_URL")
        redis_url = required("REDIS_URL")
        hosts = [h.strip() for h in required("ALLOWED_HOSTS").split(",") if h.strip()]
        if "*" in hosts:
            raise ConfigError("ALLOWED_HOSTS: '*' is not allowed in production; list the hosts")
        data_keys = parse_data_keys(required("CITYCHAIN_DATA_KEYS"))
        signing_key = check_signing_key(required("CITYCHAIN_LEDGER_SIGNING_KEY"))
    else:
        dev = _dev_secrets()
        secret_key = environ.get("SECRET_KEY") or dev["SECRET_KEY"]
        database_url = environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'citychain.sqlite3'}"
        redis_url = environ.get("REDIS_URL") or None
        hosts = [
            h.strip()
            for h in environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
            if h.strip()
        ]
        data_keys = parse_data_keys(
            environ.get("CITYCHAIN_DATA_KEYS") or dev["CITYCHAIN_DATA_KEYS"]
        )
        signing_key = check_signing_key(
            environ.get("CITYCHAIN_LEDGER_SIGNING_KEY") or dev["CITYCHAIN_LEDGER_SIGNING_KEY"]
        )
    if not database_url.startswith(("postgres://", "postgresql://", "sqlite:///")):
        raise ConfigError("DATABASE_URL: must start with postgresql:// or sqlite:///")
    if redis_url and not redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("REDIS_URL: must start with redis:// or rediss://")
    return Config(env, secret_key, database_url, redis_url, hosts, data_keys, signing_key)


def load_or_exit() -> Config:
    """For entry points: one clear line on stderr and exit status 2 instead of a traceback."""
    try:
        return load()
    except ConfigError as exc:
        print(f"citychain: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
