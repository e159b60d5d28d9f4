"""Restore a backup made by ``manage.py backup`` into the configured database, then verify it.

Refuses, changing nothing, when: the manifest is missing or of another format; the copy's
SHA-256 or size differs from the manifest (a damaged or altered backup); the backup is of
another engine; the configured keys cannot continue it (another ledger signing key, or a
data key the backup's records may be encrypted with is missing); or the target database
already has tables (unless ``--replace``). The PostgreSQL restore is one transaction
(``pg_restore --single-transaction --exit-on-error``) and the SQLite one a single backup
step, so a failure half-way leaves the target as it was.

Afterwards it checks that the ledger head named in the manifest is the restored head, runs
the full ledger verification (every leaf, node, root, block hash, link and signature), and
says which migrations the running code still needs. Exit status 1 if any of that fails.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor

from citychain.management.commands.backup import (
    DATABASE_FILES,
    FORMAT,
    MANIFEST,
    describe_head,
    file_sha256,
    key_fingerprints,
    ledger_head,
    postgres_environment,
    require_program,
    run_with_progress,
)
from ledger.verify import verify_ledger


class Command(BaseCommand):
    help = (
        "Restore a backup directory written by `backup` into the configured (empty) database, "
        "then verify the ledger. Needs the same keys as when the backup was taken."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", dest="directory", required=True, type=Path, metavar="DIR")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="drop the backup's objects from the target first (stop web and workers before)",
        )
        parser.add_argument(
            "--skip-key-check",
            action="store_true",
            help="restore even if the configured keys are not the backup's (see docs/backups.md)",
        )

    def handle(self, *args, directory: Path, replace: bool, skip_key_check: bool, **options):
        started = time.monotonic()
        directory = directory.expanduser().resolve()
        manifest = read_manifest(directory)
        engine = manifest["engine"]
        if engine != connection.vendor:
            raise CommandError(
                f"this is a {engine} backup; the configured database is {connection.vendor}"
            )
        copy = directory / manifest["database_file"]
        if copy.name != DATABASE_FILES[engine] or not copy.is_file():
            raise CommandError(f"backup is incomplete: {copy} is missing")
        self.stderr.write(f"  checking {manifest['size_bytes']:,} bytes against the manifest")
        if copy.stat().st_size != manifest["size_bytes"] or file_sha256(copy) != manifest["sha256"]:
            raise CommandError(
                f"backup is damaged: {copy.name} does not match the SHA-256 and size in "
                f"{MANIFEST}; nothing was restored"
            )
        problems, warnings = compare_keys(manifest["keys"], key_fingerprints())
        for warning in warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        if problems and not skip_key_check:
            raise CommandError(
                "the configured keys cannot continue this backup; nothing was restored:\n  "
                + "\n  ".join(problems)
            )
        try:
            tables = connection.introspection.table_names()
        except OperationalError as exc:
            raise CommandError(f"cannot open the target database: {exc}") from None
        if tables and not replace:
            raise CommandError(
                f"the target database is not empty ({len(tables)} tables); restore into a new "
                "database, or pass --replace to drop the backup's objects from it first"
            )

        self.stderr.write(f"  restoring {describe_head(manifest['ledger'])}")
        connection.close()
        if engine == "postgresql":
            self._restore_postgresql(copy, replace=replace)
        else:
            self._restore_sqlite(copy)
        connection.close()

        self.stdout.write(
            f"Restored the {engine} backup of {manifest['created_at']} from {directory} "
            f"in {time.monotonic() - started:.1f}s."
        )
        failed = self._check_head(manifest["ledger"])
        failed |= self._verify_ledger()
        self._report_migrations()
        if failed:
            raise SystemExit(1)
        self.stdout.write(
            self.style.SUCCESS(
                "Restore verified. Before starting workers, purge the broker's queue "
                "(celery -A citychain purge); then let auditors run tools/verify_remote.py."
            )
        )

    def _restore_postgresql(self, copy: Path, *, replace: bool) -> None:
        pg_restore = require_program("pg_restore")
        args = [
            pg_restore,
            f"--dbname={connection.settings_dict['NAME']}",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--verbose",
        ]
        if replace:
            args += ["--clean", "--if-exists"]
        run_with_progress(
            [*args, str(copy)],
            postgres_environment(connection.settings_dict),
            self.stderr.write,
            "pg_restore: ",
        )

    def _restore_sqlite(self, copy: Path) -> None:
        target = Path(connection.settings_dict["NAME"])
        source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        destination = sqlite3.connect(target, timeout=20)
        try:
            # One step (pages=-1): the destination changes in a single transaction or not at all.
            source.backup(destination, pages=-1)
        finally:
            destination.close()
            source.close()
        self.stderr.write(f"  copied into {target}")

    def _check_head(self, expected: dict[str, Any]) -> bool:
        with connection.cursor() as cursor:
            restored = ledger_head(cursor)
        if restored != expected:
            self.stderr.write(
                self.style.ERROR(
                    f"FAILED: the restored ledger is not the backup's: expected "
                    f"{describe_head(expected)}; found {describe_head(restored)}"
                )
            )
            return True
        self.stdout.write(f"  ledger head as in the manifest: {describe_head(restored)}")
        return False

    def _verify_ledger(self) -> bool:
        started = time.monotonic()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 1 or done == total:
                last[0] = now
                self.stderr.write(f"  verified {done:,} of {total:,} entries")

        report = verify_ledger(progress)
        if not report.ok:
            self.stderr.write(self.style.ERROR(f"FAILED: verify_ledger: {report.problem}"))
            return True
        self.stdout.write(
            f"  verify_ledger OK: {report.blocks:,} blocks, {report.entries:,} entries, "
            f"{report.nodes:,} tree nodes in {time.monotonic() - started:.1f}s"
        )
        return False

    def _report_migrations(self) -> None:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            self.stdout.write(
                self.style.WARNING(
                    f"  the code has {len(plan)} migration(s) the backup lacks ({names}{more}): "
                    "run `manage.py migrate` before starting the site"
                )
            )


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CommandError(
            f"{path} not found: not a backup directory, or an unfinished one"
        ) from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError(f"{path} is not a {FORMAT} manifest")
    required = {
        "engine": str,
        "database_file": str,
        "sha256": str,
        "size_bytes": int,
        "created_at": str,
        "ledger": dict,
        "keys": dict,
    }
    for name, kind in required.items():
        if not isinstance(manifest.get(name), kind):
            raise CommandError(f"{path}: '{name}' is missing or not a {kind.__name__}")
    ledger = manifest["ledger"]
    if not isinstance(ledger.get("pending_entries"), int) or not isinstance(
        ledger.get("head", False), dict | None
    ):
        raise CommandError(f"{path}: 'ledger' must hold 'head' and 'pending_entries'")
    if manifest["engine"] not in DATABASE_FILES:
        raise CommandError(f"{path}: unknown engine {manifest['engine']!r}")
    return manifest


def compare_keys(backup: dict[str, Any], configured: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Problems that make the restored site unusable, and warnings that only degrade it."""
    problems, warnings = [], []
    if backup.get("ledger_public_key") != configured["ledger_public_key"]:
        problems.append(
            f"CITYCHAIN_LEDGER_SIGNING_KEY: the backup's blocks are signed by public key "
            f"{backup.get('ledger_public_key')}, the configured key is "
            f"{configured['ledger_public_key']}; verify_ledger would fail and new blocks "
            "would not verify under the published key"
        )
    missing = [k for k in backup.get("data_key_ids") or [] if k not in configured["data_key_ids"]]
    if missing:
        problems.append(
            f"CITYCHAIN_DATA_KEYS: the backup's records may be encrypted with key id(s) "
            f"{', '.join(missing)}, which are not configured (configured: "
            f"{', '.join(configured['data_key_ids'])}); they could not be decrypted"
        )
    if backup.get("secret_key_fingerprint") != configured["secret_key_fingerprint"]:
        warnings.append(
            "SECRET_KEY differs from the backup's: sessions and reset links are void, and new "
            "ledger entries about existing people get new pseudonyms (docs/backups.md)"
        )
    return problems, warnings
