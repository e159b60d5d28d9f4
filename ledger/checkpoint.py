"""Tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes (c2sp.org/signed-note).

This module owns the text format that lets generic transparency-log tooling (witnesses,
monitors, ``golang.org/x/mod/sumdb/note``) read and verify the ledger's tree heads: the
checkpoint body, the Ed25519 note signature, key IDs and verifier key strings. Only
Ed25519 (signature type 0x01) is supported; the spec asks implementations to support only
the types they need.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ED25519_TYPE = b"\x01"
EM_DASH = "\u2014"
HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
# The spec requires accepting at least 16 signatures; a cap keeps hostile notes cheap.
MAX_SIGNATURES = 100

_DECIMAL_RE = re.compile(r"0|[1-9][0-9]*")
# Control characters other than newline are forbidden anywhere in a note.
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _check_name(name: object) -> str:
    """A key name (and so an origin): non-empty, no Unicode spaces, no '+', no controls."""
    if not isinstance(name, str) or not name:
        raise ValueError("key name / origin must be a non-empty string")
    for char in name:
        if char.isspace() or char == "+" or ord(char) < 0x20 or char == "\x7f":
            raise ValueError(f"key name / origin {name!r} must not contain spaces, '+' or controls")
    return name


def _check_public_key(public_key_bytes: object) -> bytes:
    if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} raw bytes")
    return public_key_bytes


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes) -> str:
    """The checkpoint note text: origin, decimal tree size, base64 root, each line ending "\\n"."""
    _check_name(origin)
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise ValueError("tree size must be a non-negative integer")
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise ValueError(f"root hash must be {HASH_SIZE} raw bytes")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode('ascii')}\n"


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) from a checkpoint body; extension lines are refused."""
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise ValueError("checkpoint body must be exactly three lines, each ending in a newline")
    origin, size_text, root_text = lines[:3]
    _check_name(origin)
    if not _DECIMAL_RE.fullmatch(size_text):
        raise ValueError(f"checkpoint tree size {size_text!r} is not a decimal without zeros")
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE or base64.b64encode(root).decode("ascii") != root_text:
        raise ValueError("checkpoint root hash must be the base64 of 32 bytes")
    return origin, int(size_text), root


def key_id(name: str, public_key_bytes: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_name(name)
    _check_public_key(public_key_bytes)
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key_bytes)
    return digest.digest()[:4]


def verifier_key_string(name: str, public_key_bytes: bytes) -> str:
    """The verifier key ``name+hexkeyid+base64(0x01 || public key)`` that note tools accept."""
    kid = key_id(name, public_key_bytes)
    encoded = base64.b64encode(ED25519_TYPE + public_key_bytes).decode("ascii")
    return f"{name}+{kid.hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """(name, public key) from a verifier key string, checking its type byte and key ID."""
    name, sep, rest = vkey.partition("+")
    kid_hex, sep2, encoded = rest.partition("+")
    if not (sep and sep2) or not re.fullmatch(r"[0-9a-f]{8}", kid_hex):
        raise ValueError("verifier key must be name+hexkeyid+base64key")
    raw = _b64decode(encoded, "verifier key")
    if raw[:1] != ED25519_TYPE or len(raw) != 1 + PUBLIC_KEY_SIZE:
        raise ValueError("verifier key is not an Ed25519 (type 0x01) key")
    public_key = raw[1:]
    if key_id(name, public_key).hex() != kid_hex:
        raise ValueError("verifier key's key ID does not match its name and key")
    return name, public_key


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise ValueError("note text must be a string ending in a newline")
    if _CONTROL_RE.search(text):
        raise ValueError("note text must not contain control characters other than newline")
    return text


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """``body`` signed by ``name``'s key: body, a blank line, then one signature line."""
    _check_text(body)
    _check_name(name)
    public_key = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(body.encode("utf-8"))
    blob = base64.b64encode(key_id(name, public_key) + signature).decode("ascii")
    return f"{body}\n{EM_DASH} {name} {blob}\n"


def verify_note(note: str, name: str, public_key_bytes: bytes) -> str:
    """The note's text if it carries a valid signature by this key; ValueError otherwise.

    Signatures by other keys are ignored, as the spec requires, so witness cosignatures
    may sit beside ours. A signature that claims to be ours and fails rejects the note.
    """
    _check_name(name)
    _check_public_key(public_key_bytes)
    if not isinstance(note, str):
        raise ValueError("note must be a string")
    _check_text(note)
    # The text ends at the last blank line; signature lines follow it.
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("note has no blank line before its signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    lines = signature_block.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise ValueError("note has no signature lines")
    lines = lines[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"note has more than {MAX_SIGNATURES} signatures")

    our_id = key_id(name, public_key_bytes)
    public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
    verified = False
    for line in lines:
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != EM_DASH or not fields[1]:
            raise ValueError(f"malformed signature line {line!r}")
        _, signer, encoded = fields
        raw = _b64decode(encoded, "signature")
        if len(raw) < 5:
            raise ValueError("signature is too short to hold a key ID")
        if signer != name or raw[:4] != our_id:
            continue
        if len(raw) != 4 + SIGNATURE_SIZE:
            raise ValueError(f"signature by {name} has the wrong length")
        try:
            public_key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise ValueError(f"signature by {name} does not verify") from None
        verified = True
    if not verified:
        raise ValueError(f"note is not signed by {name} with this key")
    return text
