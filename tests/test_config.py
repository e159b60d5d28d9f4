"""Settings come from the environment; production refuses missing or weak values."""

import base64
import importlib
import os
import secrets
import subprocess
import sys

import pytest

from citychain import config

ROOT = config.BASE_DIR


def production_env(**overrides):
    env = {
        "CITYCHAIN_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/citychain",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "city.example.org",
        "CITYCHAIN_DATA_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "CITYCHAIN_LEDGER_SIGNING_KEY": secrets.token_hex(32),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_production_accepts_strong_values():
    cfg = config.load(production_env())
    assert cfg.production
    assert cfg.allowed_hosts == ["city.example.org"]
    assert len(cfg.data_keys) == 1


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "CITYCHAIN_DATA_KEYS",
        "CITYCHAIN_LEDGER_SIGNING_KEY",
    ],
)
def test_production_refuses_each_missing_variable_by_name(name):
    with pytest.raises(config.ConfigError, match=f"^{name}: must be set"):
        config.load(production_env(**{name: None}))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SECRET_KEY", "short", "too weak"),
        ("SECRET_KEY", "django-insecure-" + "x" * 60, "too weak"),
        ("SECRET_KEY", "a" * 80, "too weak"),
        ("CITYCHAIN_DATA_KEYS", "not base64!!", "not urlsafe base64"),
        ("CITYCHAIN_DATA_KEYS", base64.urlsafe_b64encode(b"x" * 16).decode(), "32 bytes"),
        ("CITYCHAIN_DATA_KEYS", base64.urlsafe_b64encode(b"\0" * 32).decode(), "too weak"),
        ("CITYCHAIN_LEDGER_SIGNING_KEY", "zz" * 32, "must be hex"),
        ("CITYCHAIN_LEDGER_SIGNING_KEY", "ab" * 16, "32 bytes"),
        ("CITYCHAIN_LEDGER_SIGNING_KEY", "00" * 32, "too weak"),
        ("ALLOWED_HOSTS", "*", "not allowed"),
        ("DATABASE_URL", "mysql://x/y", "postgresql://"),
        ("REDIS_URL", "amqp://x", "redis://"),
    ],
)
def test_production_refuses_weak_values(name, value, says):
    with pytest.raises(config.ConfigError, match=f"^{name}: .*{says}"):
        config.load(production_env(**{name: value}))


def test_unknown_environment_is_refused():
    with pytest.raises(config.ConfigError, match=r"^CITYCHAIN_ENV"):
        config.load({"CITYCHAIN_ENV": "staging"})


def test_data_keys_rotation_keeps_all_keys_in_order():
    keys = [secrets.token_bytes(32) for _ in range(3)]
    raw = ",".join(base64.urlsafe_b64encode(k).decode().rstrip("=") for k in keys)
    assert config.parse_data_keys(raw) == keys


def test_development_generates_secrets_once(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    first = config.load({})
    second = config.load({})
    assert first.secret_key == second.secret_key
    assert first.data_keys == second.data_keys
    assert first.database_url.startswith("sqlite:///")
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def run_manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_production_value_is_one_line_not_a_traceback():
    result = run_manage("check", env=production_env(CITYCHAIN_DATA_KEYS=None))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "citychain: configuration error: CITYCHAIN_DATA_KEYS: must be set when "
        "CITYCHAIN_ENV=production"
    ]
    assert "Traceback" not in result.stderr


def test_production_settings_pass_deploy_checks():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def _project_paths(value):
    """Every dotted path into the project's own code that a setting names."""
    if isinstance(value, str):
        module, _, name = value.rpartition(".")
        if module.split(".")[0] in PROJECT_PACKAGES and name:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _project_paths(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _project_paths(item)


PROJECT_PACKAGES = {"citychain", "identity", "voting", "energy", "credit", "ledger"}


def _named_in_settings():
    """{dotted path: True for a module, False for an attribute of one}, for every path into
    the project's code that a setting names (not a Celery task name nor a host name)."""
    from django.conf import settings

    paths = set()
    for setting in dir(settings):
        if setting.isupper():
            paths.update(_project_paths(getattr(settings, setting)))
    named = {}
    for path in sorted(paths):
        module, _, name = path.rpartition(".")
        try:
            importlib.import_module(path)
            named[path] = True
        except ImportError:
            try:
                if hasattr(importlib.import_module(module), name):
                    named[path] = False
            except ImportError:
                pass
    return named


def test_each_path_the_settings_name_loads_first_in_a_fresh_process():
    """Django and DRF import what settings name lazily, in whatever order a command needs
    them. Each must load as the very first thing after setup, or a command that happens to
    reach it first fails (`manage.py check` reached the CSRF failure view first and found
    `citychain.api` half-imported through DRF's parser setting)."""
    named = _named_in_settings()
    assert named["citychain.urls"] is True
    assert named["citychain.views.csrf_failure"] is False
    assert named["citychain.parsers.JSONParser"] is False
    for path, is_module in named.items():
        load = f"importlib.import_module({path!r})" if is_module else f"import_string({path!r})"
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import importlib, django; django.setup();"
                "from django.utils.module_loading import import_string;" + load,
            ],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "citychain.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{path}:\n{result.stderr}"
