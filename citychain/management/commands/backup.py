"""Back up the database into a new directory: a consistent copy plus a manifest.

This module owns the backup format (``citychain-backup/1``) that ``restore`` reads:

    DIR/database.dump       PostgreSQL: ``pg_dump --format=custom`` of one snapshot
    DIR/database.sqlite3    embedded default: SQLite's online backup of the database file
    DIR/manifest.json       what the copy holds: engine, SHA-256 and size of the copy, the
                            ledger head inside it, and fingerprints of the keys it needs

The ledger head in the manifest is read from the very snapshot that is copied (an exported
PostgreSQL snapshot shared with pg_dump; the finished SQLite copy), so it is exactly the
head a restore brings back, not one sealed a moment earlier or later.

No secret goes into a backup. The keys (``SECRET_KEY``, ``CITYCHAIN_DATA_KEYS``,
``CITYCHAIN_LEDGER_SIGNING_KEY``) are backed up separately (docs/backups.md); the manifest
names them only by values that are already public or reveal nothing: the ledger's public
key, each data key's 4-byte key id (written into every encrypted column anyway), and a
one-way fingerprint of ``SECRET_KEY``. ``restore`` uses them to refuse a restore under keys
that cannot read or continue the backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from citychain import crypto
from ledger import canonical, signing
from ledger.models import Block, Entry

FORMAT = "citychain-backup/1"
MANIFEST = "manifest.json"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
_FINGERPRINT_PREFIX = b"citychain backup fingerprint v1\0"
_CHUNK = 1 << 20


# --- shared with restore ---------------------------------------------------------------------


def key_fingerprints() -> dict[str, Any]:
    """What the configured keys are, without revealing any of them."""
    return {
        "ledger_public_key": signing.public_key_hex(
            signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)
        ),
        # A token's header is VERSION || key id; the id is a PRF output, public in every token.
        "data_key_ids": [
            crypto.encrypt(b"", [key], context="citychain.backup")[
                len(crypto.VERSION) : crypto.HEADER_BYTES
            ].hex()
            for key in settings.CITYCHAIN_DATA_KEYS
        ],
        "secret_key_fingerprint": hashlib.sha256(
            _FINGERPRINT_PREFIX + settings.SECRET_KEY.encode()
        ).hexdigest()[:16],
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def postgres_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq variables for pg_dump/pg_restore: the password never appears on a command line."""
    env = dict(os.environ)
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": (settings_dict.get("OPTIONS") or {}).get("sslmode"),
    }
    env.update({name: str(value) for name, value in values.items() if value})
    return env


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CommandError(
            f"{name} is not installed; install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client) of the server's major version or newer"
        )
    return path


def run_with_progress(args: list[str], env: dict[str, str], say, prefix: str) -> None:
    """Run pg_dump/pg_restore --verbose, echoing its per-table lines as progress."""
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    tail: list[str] = []
    for line in process.stderr:
        line = line.rstrip()
        tail = [*tail[-19:], line]
        if any(marker in line for marker in ("contents of table", "processing data for table")):
            say(f"  {line.removeprefix(prefix)}")
    if process.wait() != 0:
        details = "\n".join(tail)
        raise CommandError(f"{Path(args[0]).name} failed (exit {process.returncode}):\n{details}")


# Plain SQL, because the same query reads a pg_dump snapshot and a bare sqlite3 copy.
# The table names come from the models' Meta, never from input.
LEDGER_HEAD_SQL = (
    f"SELECT height, tree_size, root_hash, hash FROM {Block._meta.db_table} "  # noqa: S608
    "ORDER BY height DESC LIMIT 1"
)
LEDGER_PENDING_SQL = f"SELECT COUNT(*) FROM {Entry._meta.db_table} WHERE leaf_index IS NULL"  # noqa: S608


def ledger_head(cursor) -> dict[str, Any]:
    """The head and pending count seen by a DB-API cursor (any engine, no Django ORM)."""
    cursor.execute(LEDGER_HEAD_SQL)
    row = cursor.fetchone()
    cursor.execute(LEDGER_PENDING_SQL)
    pending = cursor.fetchone()[0]
    head = None
    if row is not None:
        height, tree_size, root_hash, block_hash = row
        head = {
            "height": height,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "hash": block_hash,
        }
    return {"head": head, "pending_entries": pending}


def describe_head(ledger: dict[str, Any]) -> str:
    head = ledger["head"]
    if head is None:
        return f"empty ledger, {ledger['pending_entries']:,} pending entries"
    return (
        f"ledger head height {head['height']:,}, tree size {head['tree_size']:,}, "
        f"root {head['root_hash']}, {ledger['pending_entries']:,} pending entries"
    )


# --- the command -----------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Back up the database into a new directory: a consistent copy (pg_dump custom format, "
        "or SQLite's online backup) and manifest.json with the ledger head and checksums. "
        "Keys are NOT included; back them up separately (docs/backups.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            required=True,
            type=Path,
            metavar="DIR",
            help="a directory that does not exist yet, or is empty",
        )

    def handle(self, *args, output: Path, **options):
        started = time.monotonic()
        engine = _engine()
        try:
            tables = connection.introspection.table_names()
        except OperationalError as exc:
            raise CommandError(f"cannot open the database: {exc}") from None
        if Block._meta.db_table not in tables:
            raise CommandError("the database has no ledger tables: run `manage.py migrate` first")
        output = output.expanduser().resolve()
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise CommandError(f"{output} exists and is not an empty directory; choose a new one")
        output.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = output / DATABASE_FILES[engine]
        partial = target.with_name(target.name + ".partial")
        try:
            if engine == "postgresql":
                ledger = self._dump_postgresql(partial)
            else:
                ledger = self._copy_sqlite(partial)
            os.chmod(partial, 0o600)
            size = partial.stat().st_size
            self.stderr.write(f"  checksumming {size:,} bytes")
            checksum = file_sha256(partial)
            os.replace(partial, target)
            manifest = {
                "format": FORMAT,
                "created_at": canonical.format_timestamp(timezone.now()),
                "engine": engine,
                "database_file": target.name,
                "sha256": checksum,
                "size_bytes": size,
                "ledger": ledger,
                "keys": key_fingerprints(),
                "tool": _tool_version(engine),
            }
            # Written last and atomically: a directory with a manifest is a complete backup.
            tmp = output / (MANIFEST + ".partial")
            tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, output / MANIFEST)
        except BaseException:
            for leftover in (partial, target, output / (MANIFEST + ".partial")):
                leftover.unlink(missing_ok=True)
            raise
        elapsed = time.monotonic() - started
        self.stdout.write(f"Backup of {engine} database: {target} ({size:,} bytes, {elapsed:.1f}s)")
        self.stdout.write(f"  {describe_head(ledger)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {output}. Keys are not in it: keep SECRET_KEY, "
                "CITYCHAIN_DATA_KEYS and CITYCHAIN_LEDGER_SIGNING_KEY in the secret store."
            )
        )

    def _dump_postgresql(self, path: Path) -> dict[str, Any]:
        pg_dump = require_program("pg_dump")
        settings_dict = connection.settings_dict
        # Our own connection, so the caller's transaction state does not matter. It exports
        # its snapshot to pg_dump: the dump and the head below see exactly the same commits.
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = False
            with raw.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                ledger = ledger_head(cursor)
                self.stderr.write(f"  snapshot {snapshot}: {describe_head(ledger)}")
                run_with_progress(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={path}",
                        "--verbose",
                    ],
                    postgres_environment(settings_dict),
                    self.stderr.write,
                    "pg_dump: ",
                )
            raw.rollback()
        finally:
            raw.close()
        return ledger

    def _copy_sqlite(self, path: Path) -> dict[str, Any]:
        source_path = Path(connection.settings_dict["NAME"])
        if not source_path.is_file():
            raise CommandError(f"no SQLite database at {source_path}")
        last = [0.0]

        def progress(status: int, remaining: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 1 or remaining == 0:
                last[0] = now
                self.stderr.write(f"  copied {total - remaining:,} of {total:,} pages")

        # SQLite's online backup restarts if another connection writes mid-copy, so the
        # copy is always one consistent state of the database, taken while it stays in use.
        source = sqlite3.connect(source_path, timeout=20)
        copy = sqlite3.connect(path)
        try:
            source.backup(copy, pages=4096, progress=progress)
            problems = copy.execute("PRAGMA integrity_check").fetchall()
            if problems != [("ok",)]:
                raise CommandError(f"the copy fails SQLite's integrity check: {problems[:5]}")
            ledger = ledger_head(copy.cursor())
        finally:
            copy.close()
            source.close()
        return ledger


def _engine() -> str:
    if connection.vendor not in DATABASE_FILES:
        raise CommandError(f"cannot back up a {connection.vendor} database")
    return connection.vendor


def _tool_version(engine: str) -> str:
    if engine == "sqlite":
        return f"sqlite {sqlite3.sqlite_version}"
    result = subprocess.run(
        [require_program("pg_dump"), "--version"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()
