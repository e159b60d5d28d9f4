"""tools/verify_remote.py, the auditors' standalone verifier, run against a live server.

The tool runs as a subprocess, exactly as an auditor runs it: it sees only the public HTTP
API, never the database or Django, so these tests show the published data alone suffices
to verify the ledger and to catch a tampered block or a rewritten log.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

from ledger import kinds, merkle, services, signing
from ledger.models import Block, Entry, Node

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "verify_remote.py"
AUDITLIB = ROOT / "tools" / "auditlib.py"


def verify(url: str, state: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, str(TOOL), url, "--state", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def seal_batches(sizes: list[int], *, start: int = 0, prefix: str = "s") -> Block:
    """Record entries and seal them, one block per batch; returns the last block."""
    block = None
    n = start
    for size in sizes:
        for _ in range(size):
            services.record("ledger.synthetic", f"{prefix}{n}", {"n": n})
            n += 1
        block = services.seal_pending()
        assert block is not None
    assert block is not None
    return block


def public_key_hex() -> str:
    return signing.public_key_hex(signing.load_private_key(settings.CITYCHAIN_LEDGER_SIGNING_KEY))


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_remote", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up by name while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_sealed_ledger_and_its_entries_verify(live_server, tmp_path):
    head = seal_batches([8, 7, 9, 6])
    assert head.height == 3 and head.tree_size == 30
    state = tmp_path / "state.json"

    result = verify(live_server.url, state)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"OK: 4 blocks, tree size 30, root {head.root_hash}"
    assert "consistency: 3 block-to-block proof(s) verified" in result.stdout
    assert json.loads(state.read_text()) == {
        "base_url": live_server.url,
        "public_key": public_key_hex(),
        "tree_size": 30,
        "root_hash": head.root_hash,
        "height": 3,
        "hash": head.hash,
    }

    entries = verify(live_server.url, state, "--entry", "0", "--entry", "15", "--entry", "29")
    assert entries.returncode == 0, entries.stdout + entries.stderr
    for leaf, height in [(0, 0), (15, 2), (29, 3)]:
        assert f"entry {leaf}: ledger.synthetic in block {height}, included" in entries.stdout
    assert entries.stdout.count("content re-hashed") == 3


def test_quiet_prints_only_the_verdict_and_a_pinned_key_must_match(live_server, tmp_path):
    head = seal_batches([3, 2])
    state = tmp_path / "state.json"

    pinned = verify(live_server.url, state, "--quiet", "--public-key", public_key_hex())
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert pinned.stdout == f"OK: 2 blocks, tree size 5, root {head.root_hash}\n"

    other_key = signing.public_key_hex(signing.load_private_key(signing.generate_seed_hex()))
    wrong = verify(live_server.url, tmp_path / "other.json", "--public-key", other_key)
    assert wrong.returncode == 1
    assert "FAIL: published key" in wrong.stdout and "not the pinned key" in wrong.stdout


def test_a_second_run_proves_the_log_only_grew(live_server, tmp_path):
    seal_batches([10, 10, 10])
    state = tmp_path / "state.json"
    assert verify(live_server.url, state).returncode == 0

    head = seal_batches([5, 4], start=30)
    again = verify(live_server.url, state, "--entry", "33")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "growth: tree size 30 (height 2) from last run extends to 39 (height 4)" in again.stdout
    assert again.stdout.splitlines()[-1] == f"OK: 5 blocks, tree size 39, root {head.root_hash}"
    assert json.loads(state.read_text())["tree_size"] == 39


def test_an_altered_signature_fails_naming_the_block(live_server, tmp_path):
    seal_batches([4, 4, 4])
    # A real signature by the real key, over another block's hash: well-formed, and wrong.
    Block.objects.filter(height=1).update(signature=Block.objects.get(height=0).signature)

    result = verify(live_server.url, tmp_path / "state.json")

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        "FAIL: signature does not verify with the ledger key (block height 1)"
    )
    assert not (tmp_path / "state.json").exists()


def test_a_rewritten_log_fails_against_the_remembered_head(live_server, tmp_path):
    seal_batches([6, 6, 6])
    state = tmp_path / "state.json"
    assert verify(live_server.url, state).returncode == 0
    remembered = state.read_text()

    # A fresh, internally valid chain signed by the same key, even longer than the old one.
    Entry.objects.all().delete()
    Node.objects.all().delete()
    Block.objects.all().delete()
    seal_batches([9, 9, 9], prefix="rewritten")

    alone = verify(live_server.url, tmp_path / "fresh.json")
    assert alone.returncode == 0, "the rewritten chain verifies on its own"
    result = verify(live_server.url, state)
    assert result.returncode == 1
    last = result.stdout.splitlines()[-1]
    assert last.startswith("FAIL: log is not an extension of the one verified last run")
    assert last.endswith("(block height 2)")
    assert state.read_text() == remembered, "a failed run must not overwrite the state"


def test_an_empty_ledger_is_ok_until_a_head_has_been_seen(live_server, tmp_path):
    state = tmp_path / "state.json"
    empty = verify(live_server.url, state)
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert "empty ledger" in empty.stdout
    assert not state.exists()

    seal_batches([2])
    assert verify(live_server.url, state).returncode == 0
    Entry.objects.all().delete()
    Node.objects.all().delete()
    Block.objects.all().delete()

    emptied = verify(live_server.url, state)
    assert emptied.returncode == 1
    assert "FAIL: ledger is empty, but the last run verified a head" in emptied.stdout


def test_private_entries_and_a_missing_rfc8785_check_the_leaf_hash_only(live_server, tmp_path):
    kinds.register("ledger.test_private", kinds.Visibility.PRIVATE, "test")
    services.record("ledger.test_private", "s", {"secret_digest": "ab" * 32})
    seal_batches([2], start=1)
    state = tmp_path / "state.json"

    private = verify(live_server.url, state, "--entry", "0")
    assert private.returncode == 0, private.stdout + private.stderr
    assert "entry 0: ledger.test_private in block 0" in private.stdout
    assert "content not published" in private.stdout

    # A module that refuses to import stands in for an auditor without rfc8785.
    shadow = tmp_path / "no_rfc8785"
    shadow.mkdir()
    (shadow / "rfc8785.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    without = verify(live_server.url, state, "--entry", "1", env=env)
    assert without.returncode == 0, without.stdout + without.stderr
    assert "entry content NOT re-hashed, leaf hash only" in without.stdout


def test_more_blocks_than_one_page_are_followed_through_next_links(live_server, tmp_path):
    head = seal_batches([1] * 53)

    result = verify(live_server.url, tmp_path / "state.json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetch: 53 blocks from 2 list page(s)" in result.stdout
    assert result.stdout.splitlines()[-1] == f"OK: 53 blocks, tree size 53, root {head.root_hash}"


def test_usage_and_network_errors_exit_2_without_a_traceback(live_server, tmp_path):
    state = tmp_path / "state.json"
    cases = [
        ("ftp://example.org", "must be an http:// or https:// URL"),
        ("http://127.0.0.1:9", "cannot connect"),
        (live_server.url + "/nothing-here", "not found; is this a citychain server?"),
    ]
    for url, says in cases:
        result = verify(url, state)
        assert result.returncode == 2, (url, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr

    seal_batches([3])
    beyond = verify(live_server.url, state, "--entry", "3")
    assert beyond.returncode == 2
    assert "leaf index 3 is not in the head's tree of 3" in beyond.stderr


def test_the_tool_imports_only_the_standard_library_and_cryptography():
    # The tool's only other import is tools/auditlib.py beside it, held to the same rule.
    for path, allowed in ((TOOL, {"cryptography", "auditlib"}), (AUDITLIB, {"cryptography"})):
        tree = ast.parse(path.read_text())
        imported = {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert imported - set(sys.stdlib_module_names) <= allowed, path


def test_the_tools_rfc9162_verification_agrees_with_the_ledger():
    tool = load_tool()
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    for size in range(1, 40):
        nodes = {(0, i): h for i, h in enumerate(leaves[:size])}
        level = 1
        while 1 << level <= size:
            for i in range(size >> level):
                left, right = nodes[(level - 1, 2 * i)], nodes[(level - 1, 2 * i + 1)]
                nodes[(level, i)] = merkle.node_hash(left, right)
            level += 1
        root = merkle.root_from_leaves(leaves[:size])
        for i in range(size):
            path = merkle.inclusion_proof(i, size, nodes)
            assert tool.verify_inclusion(leaves[i], i, size, path, root)
            assert not tool.verify_inclusion(leaves[i], i, size, [*path, root], root)
            assert not tool.verify_inclusion(leaves[(i + 1) % 40], i, size, path, root)
        for first in range(1, size):
            proof = merkle.consistency_proof(first, size, nodes)
            first_root = merkle.root_from_leaves(leaves[:first])
            assert tool.verify_consistency(first, size, first_root, root, proof)
            assert not tool.verify_consistency(first, size, root, root, proof)
            for j in range(len(proof)):
                bad = [*proof]
                bad[j] = merkle.leaf_hash(bad[j])
                assert not tool.verify_consistency(first, size, first_root, root, bad)
