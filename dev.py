#!/usr/bin/env python3
"""citychain's two set-up commands, on a machine with nothing but Python 3.11+.

    python3 dev.py run    # virtualenv, install, migrate, demo data; web + worker + beat
    python3 dev.py test   # virtualenv, install, the whole test suite (pytest args pass through)

Standard library only: this script runs before any dependency is installed.
Dependencies are read from pyproject.toml and pinned by constraints.txt, so every
machine installs the same versions.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036 - say so before tomllib fails to import
    sys.exit("citychain: Python 3.11 or newer is needed")

import tomllib

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def say(message: str) -> None:
    print(f"citychain: {message}", flush=True)


def requirements(with_test: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + project["optional-dependencies"]["docs"]
    if with_test:
        reqs += project["optional-dependencies"]["test"]
    return reqs


def ensure_venv(with_test: bool) -> None:
    if not PYTHON.exists():
        say(f"creating a virtualenv in {VENV.name}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    reqs = requirements(with_test)
    digest = hashlib.sha256(
        "\n".join(reqs).encode() + (ROOT / "constraints.txt").read_bytes()
    ).hexdigest()
    stamp = VENV / f".installed-{'test' if with_test else 'run'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing dependencies (pinned by constraints.txt)")
    subprocess.run(
        [
            str(PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            *reqs,
        ],
        check=True,
    )
    stamp.write_text(digest)


def manage(*args: str) -> None:
    subprocess.run([str(PYTHON), str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def build_guides() -> None:
    """The guides (mkdocs.yml) into var/docs-site/, which the app serves at /docs/."""
    say("building the guides into var/docs-site/ (served at /docs/)")
    built = subprocess.run([str(PYTHON), "-m", "mkdocs", "build", "--quiet"], cwd=ROOT)
    if built.returncode != 0:
        say("the guides did not build; the app runs without them (/docs/ says so)")


def run() -> None:
    ensure_venv(with_test=False)
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    build_guides()
    say("starting web server, Celery worker and beat (Ctrl-C stops all three)")
    honcho = str(BIN / "honcho")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.chdir(ROOT)
    # exec, so Ctrl-C goes straight to honcho, which stops web, worker and beat.
    os.execve(honcho, [honcho, "start", "-f", "Procfile.dev"], env)  # noqa: S606


def test(pytest_args: list[str]) -> None:
    ensure_venv(with_test=True)
    completed = subprocess.run([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT)
    sys.exit(completed.returncode)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"run", "test", "install"}:
        sys.exit(__doc__)
    if argv[0] == "run":
        run()
    elif argv[0] == "install":
        ensure_venv(with_test=True)
    else:
        test(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
