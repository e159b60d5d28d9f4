"""Backup and restore, with real processes, as an operator and an auditor go through them.

`manage.py backup` and `manage.py restore` run as subprocesses against real databases (the
test database, and fresh ones created here: PostgreSQL databases named *_backup_test, or
SQLite files), the site is served by gunicorn, and the auditors' tools/verify_remote.py
checks it over HTTP. The restored site is served at the same address as the original, as
it would be after a disaster, so the auditor's remembered head applies to it.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from citychain import roles
from conftest import free_port, serve
from identity import services as identity_services
from ledger import services, signing
from ledger.models import Block
from tests.factories import OrganizationFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VERIFY_REMOTE = ROOT / "tools" / "verify_remote.py"


# --- helpers: processes ----------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def verify_remote(url: str, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFY_REMOTE), url, "--state", str(state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def fresh_database(tmp_path) -> Iterator:
    """Make new, empty databases of this test run's engine; returns their DATABASE_URLs."""
    made: list[str] = []
    numbers = itertools.count()
    db = connection.settings_dict

    def admin_connection():
        import psycopg

        return psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        )

    def make() -> str:
        number = next(numbers)
        if connection.vendor == "sqlite":
            return f"sqlite:///{tmp_path / f'restored-{number}.sqlite3'}"
        name = f"cc{os.getpid()}_{number}_backup_test"
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"

    yield make
    if made:
        with admin_connection() as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seal_batches(sizes: list[int], *, prefix: str) -> Block:
    block = None
    for batch, size in enumerate(sizes):
        for n in range(size):
            services.record("ledger.synthetic", f"{prefix}-{batch}-{n}", {"n": n})
        block = services.seal_pending()
    assert block is not None
    return block


def manifest_of(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def table_count(env: dict[str, str]) -> int:
    count = "from django.db import connection as c; print(len(c.introspection.table_names()))"
    result = manage(env, "shell", "--no-imports", "-c", count)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


# --- the operator's and the auditor's path ---------------------------------------------------


def test_a_restored_backup_verifies_and_the_auditor_finds_it_consistent(
    environment, fresh_database, tmp_path
):
    head = seal_batches([5, 4, 6], prefix="before")
    original = environment()
    port = free_port()
    state = tmp_path / "auditor.json"
    with serve(original, port) as url:
        seen = verify_remote(url, state)
    assert seen.returncode == 0, seen.stdout + seen.stderr

    backup_dir = tmp_path / "backup"
    backup = manage(original, "backup", "--output", str(backup_dir))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert manifest_of(backup_dir)["ledger"] == {
        "head": {
            "height": 2,
            "tree_size": 15,
            "root_hash": head.root_hash,
            "hash": head.hash,
        },
        "pending_entries": 0,
    }
    # What happens after the backup and before the disaster is what a restore loses.
    seal_batches([3, 3], prefix="after")

    restored = environment(fresh_database())
    result = manage(restored, "restore", "--input", str(backup_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger head as in the manifest: ledger head height 2, tree size 15" in result.stdout
    assert "verify_ledger OK: 3 blocks, 15 entries" in result.stdout

    verified = manage(restored, "verify_ledger")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK: 3 blocks, 15 entries" in verified.stdout

    with serve(restored, port) as url:
        same = verify_remote(url, state)
        assert same.returncode == 0, same.stdout + same.stderr
        assert "growth: none, head unchanged since last run (height 2)" in same.stdout
        assert last_line(same) == f"OK: 3 blocks, tree size 15, root {head.root_hash}"

        # The restored site goes on sealing under the same key; the auditor sees the log grow.
        more = manage(restored, "ledger_load", "--entries", "4", "--seal")
        assert more.returncode == 0, more.stdout + more.stderr
        grown = verify_remote(url, state)
        assert grown.returncode == 0, grown.stdout + grown.stderr
        assert "growth: tree size 15 (height 2) from last run extends to 19 (height 3)" in (
            grown.stdout
        )
    assert manage(restored, "verify_ledger").returncode == 0


def test_restoring_a_backup_older_than_the_auditors_head_is_reported_as_a_rollback(
    environment, fresh_database, tmp_path
):
    seal_batches([5, 4], prefix="before")
    original = environment()
    backup_dir = tmp_path / "backup"
    assert manage(original, "backup", "--output", str(backup_dir)).returncode == 0
    seal_batches([3, 3], prefix="after")  # height 3, tree size 15: published, then lost

    port = free_port()
    state = tmp_path / "auditor.json"
    with serve(original, port) as url:
        assert verify_remote(url, state).returncode == 0
    remembered = state.read_text()
    assert json.loads(remembered)["tree_size"] == 15

    restored = environment(fresh_database())
    result = manage(restored, "restore", "--input", str(backup_dir))
    # The backup itself is sound: the operator's checks pass...
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify_ledger OK: 2 blocks, 9 entries" in result.stdout

    with serve(restored, port) as url:
        # ...but the auditor, who saw a longer log, is told it shrank.
        shrunk = verify_remote(url, state)
        assert shrunk.returncode == 1, shrunk.stdout + shrunk.stderr
        assert last_line(shrunk) == (
            "FAIL: log is not an extension of the one verified last run: head was at height 3, "
            "now 1 (block height 3)"
        )

        # Sealing new entries past the lost head does not hide it: the log has forked.
        assert manage(restored, "ledger_load", "--entries", "8").returncode == 0
        assert manage(restored, "seal", "--batch-size", "3").returncode == 0
        forked = verify_remote(url, state)
        assert forked.returncode == 1, forked.stdout + forked.stderr
        assert last_line(forked).startswith(
            "FAIL: log is not an extension of the one verified last run: consistency proof "
            "from tree size 15 to 17 does not verify"
        )
    assert state.read_text() == remembered, "a failed run must not move the auditor's state"


def test_personal_data_is_readable_after_a_restore_with_the_same_keys(
    environment, fresh_database, tmp_path
):
    caseworker = UserFactory(
        username="backup-caseworker", organization=OrganizationFactory(), role=roles.CASEWORKER
    )
    resident = identity_services.resident_enroll(
        acting_user=caseworker,
        data=identity_services.ResidentData(
            legal_first_name="Rosa",
            legal_last_name="Delgado",
            dob=date(1975, 3, 2),
            dob_data_quality=1,
        ),
    )
    services.seal_all()
    backup_dir = tmp_path / "backup"
    assert manage(environment(), "backup", "--output", str(backup_dir)).returncode == 0
    show_name = (
        "from identity.models import Resident; "
        f"r = Resident.objects.get(public_id='{resident.public_id}'); "
        "print(r.legal_first_name, r.legal_last_name, r.dob)"
    )

    restored = environment(fresh_database())
    result = manage(restored, "restore", "--input", str(backup_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    shown = manage(restored, "shell", "--no-imports", "-c", show_name)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "Rosa Delgado 1975-03-02"

    # What a lost data key means: forced through, the records are there but unreadable.
    other_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    blind = environment(fresh_database(), CITYCHAIN_DATA_KEYS=other_key)
    refused = manage(blind, "restore", "--input", str(backup_dir))
    assert refused.returncode == 1
    assert "CITYCHAIN_DATA_KEYS: the backup's records may be encrypted with key id" in (
        refused.stderr
    )
    forced = manage(blind, "restore", "--input", str(backup_dir), "--skip-key-check")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    unreadable = manage(blind, "shell", "--no-imports", "-c", show_name)
    assert unreadable.returncode != 0
    assert "Rosa" not in unreadable.stdout + unreadable.stderr
    assert "DecryptionError" in unreadable.stderr


def test_a_backup_taken_while_blocks_are_sealed_restores_exactly_its_manifest_head(
    environment, fresh_database, tmp_path
):
    seal_batches([10], prefix="first")
    stop = threading.Event()

    def keep_sealing() -> None:
        try:
            n = 0
            while not stop.is_set():
                services.record("ledger.synthetic", f"busy-{n}", {"n": n})
                services.seal_pending()
                n += 1
        finally:
            connection.close()

    writer = threading.Thread(target=keep_sealing)
    writer.start()
    try:
        backup_dir = tmp_path / "backup"
        backup = manage(environment(), "backup", "--output", str(backup_dir))
    finally:
        stop.set()
        writer.join()
    assert backup.returncode == 0, backup.stdout + backup.stderr
    head = manifest_of(backup_dir)["ledger"]["head"]
    assert Block.objects.count() > head["height"] + 1, "blocks were sealed during the backup"

    # restore checks the restored head against the manifest, then verifies every block.
    result = manage(environment(fresh_database()), "restore", "--input", str(backup_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ledger head height {head['height']:,}, tree size {head['tree_size']:,}" in (
        result.stdout
    )


# --- what a backup holds, and what restore refuses -------------------------------------------


def test_a_backup_holds_the_head_and_checksum_but_no_secret(environment, tmp_path):
    seal_batches([3], prefix="s")
    services.record("ledger.synthetic", "pending", {"n": 1})
    backup_dir = tmp_path / "backup"
    result = manage(environment(), "backup", "--output", str(backup_dir))
    assert result.returncode == 0, result.stdout + result.stderr

    manifest = manifest_of(backup_dir)
    database_file = backup_dir / manifest["database_file"]
    assert manifest["format"] == "citychain-backup/1"
    assert manifest["engine"] == connection.vendor
    assert manifest["ledger"]["head"]["tree_size"] == 3
    assert manifest["ledger"]["pending_entries"] == 1
    assert manifest["size_bytes"] == database_file.stat().st_size
    assert manifest["sha256"] == hashlib.sha256(database_file.read_bytes()).hexdigest()
    assert manifest["keys"]["ledger_public_key"] == signing.public_key_hex(
        signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY)
    )
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(
        ["manifest.json", database_file.name]
    )
    for path in backup_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
        content = path.read_bytes()
        secrets = [
            settings.SECRET_KEY.encode(),
            settings.CITYCHAIN_LEDGER_SIGNING_KEY.encode(),
            bytes.fromhex(settings.CITYCHAIN_LEDGER_SIGNING_KEY),
        ]
        for key in settings.CITYCHAIN_DATA_KEYS:
            secrets += [key, base64.urlsafe_b64encode(key).rstrip(b"=")]
        for secret in secrets:
            assert secret not in content, f"a key is in {path.name}"


def test_backup_refuses_a_directory_that_is_not_empty(environment, tmp_path):
    seal_batches([2], prefix="s")
    (tmp_path / "older-notes.txt").write_text("keep me")
    result = manage(environment(), "backup", "--output", str(tmp_path))
    assert result.returncode == 1
    assert "is not an empty directory; choose a new one" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["older-notes.txt"]


def test_restore_refuses_a_damaged_backup_and_leaves_the_target_empty(
    environment, fresh_database, tmp_path
):
    seal_batches([4], prefix="s")
    backup_dir = tmp_path / "backup"
    assert manage(environment(), "backup", "--output", str(backup_dir)).returncode == 0
    database_file = backup_dir / manifest_of(backup_dir)["database_file"]
    data = bytearray(database_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    database_file.write_bytes(bytes(data))

    target = environment(fresh_database())
    result = manage(target, "restore", "--input", str(backup_dir))
    assert result.returncode == 1
    assert "backup is damaged: " in result.stderr and "nothing was restored" in result.stderr
    assert table_count(target) == 0

    (backup_dir / "manifest.json").unlink()
    missing = manage(target, "restore", "--input", str(backup_dir))
    assert missing.returncode == 1
    assert "not a backup directory, or an unfinished one" in missing.stderr


def test_restore_refuses_a_database_that_is_not_empty_or_another_signing_key(
    environment, fresh_database, tmp_path
):
    head = seal_batches([4, 2], prefix="s")
    backup_dir = tmp_path / "backup"
    assert manage(environment(), "backup", "--output", str(backup_dir)).returncode == 0
    seal_batches([3], prefix="later")

    onto_live = manage(environment(), "restore", "--input", str(backup_dir))
    assert onto_live.returncode == 1
    assert "the target database is not empty" in onto_live.stderr
    assert Block.objects.count() == 3, "the live ledger is untouched"

    other_key = signing.generate_seed_hex()
    target = environment(fresh_database(), CITYCHAIN_LEDGER_SIGNING_KEY=other_key)
    wrong_key = manage(target, "restore", "--input", str(backup_dir))
    assert wrong_key.returncode == 1
    assert (
        "CITYCHAIN_LEDGER_SIGNING_KEY: the backup's blocks are signed by public key "
        f"{manifest_of(backup_dir)['keys']['ledger_public_key']}"
    ) in wrong_key.stderr
    assert table_count(target) == 0
    assert head.height == 1
