"""Encryption of personal data at rest, and blind indexes for exact-match search on it.

This module owns the token format of every encrypted column and the derivation of every key
made from the data keys (``CITYCHAIN_DATA_KEYS``). It does not import Django: callers pass
the keys in, so the format can be read, tested and reused (a rotation script, an export
tool) without the project.

Token format, version 1 (all lengths in bytes)::

    0x01 || key_id (4) || nonce (12) || AES-256-GCM ciphertext || tag (16)

- The data keys are 32 random bytes each. The first one encrypts; all of them decrypt, so
  a key is rotated by putting a new one first and re-encrypting (``needs_reencryption``).
- No raw data key touches data: HKDF-SHA256 derives, with a distinct ``info`` per purpose,
  the AES key (``citychain data v1``), the key id (``citychain key id v1``) and one blind
  index key per purpose (``citychain blind index v1:<purpose>``).
- The key id is derived rather than a hash of the key so that the raw key stays an HKDF
  input only; 4 bytes of a PRF output say nothing about the key. Two configured keys with
  the same id (chance 2**-32 per pair, or the same key listed twice) are refused, so an id
  always names exactly one key and ``needs_reencryption`` can trust it.
- The nonce is random (``os.urandom``): AES-GCM stays safe for about 2**32 encryptions per
  key, far beyond a city's records between rotations.
- The associated data is the 5-byte header followed by ``context`` (the column, e.g.
  ``identity.Resident.legal_name``), so a token copied into another column, or with its
  header edited, fails authentication instead of decrypting there.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
KEY_BYTES = 32
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(VERSION) + KEY_ID_BYTES
MIN_TOKEN_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
# 128 bits: accidental collisions stay out of reach for any number of residents, and the
# column and its index are half the size of a full SHA-256 hex digest. Truncating further
# (to blur frequencies, as some designs do) would turn exact-match search into candidate
# search; the index is for finding a person, so we keep it exact.
BLIND_INDEX_HEX_CHARS = 32

_DATA_INFO = b"citychain data v1"
_KEY_ID_INFO = b"citychain key id v1"
_BLIND_INDEX_INFO = b"citychain blind index v1:"

# Marks that join parts of one name ("O'Neil", also typed with a typographic apostrophe or an
# accent): dropped, not turned into spaces, so the name indexes the same with or without it.
_APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u02b9`\u00b4")
# The combining diacritics NFKD splits off Latin, Greek and Cyrillic letters. Marks of other
# scripts (a Devanagari virama, say) spell the name, so they stay.
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Latin letters that NFKD leaves whole; without this, "Søren" and "Soren" would not match.
_LETTER_FOLDS = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ħ": "h",
    "\u0131": "i",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}


class DecryptionError(Exception):
    """A token cannot be decrypted; the message says why and never contains key material."""


@dataclass(frozen=True)
class _DataKey:
    key_id: bytes
    aead: AESGCM


def _hkdf(key: bytes, info: bytes) -> bytes:
    # Salt-less HKDF is sound here: the input is already a uniformly random key.
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


@functools.lru_cache(maxsize=64)
def _data_key(key: bytes) -> _DataKey:
    # Cached because from_db_value decrypts every row a query returns.
    return _DataKey(
        key_id=_hkdf(key, _KEY_ID_INFO)[:KEY_ID_BYTES], aead=AESGCM(_hkdf(key, _DATA_INFO))
    )


@functools.lru_cache(maxsize=64)
def _blind_index_key(key: bytes, purpose: str) -> bytes:
    return _hkdf(key, _BLIND_INDEX_INFO + purpose.encode("utf-8"))


def _data_keys(keys: Sequence[bytes]) -> list[_DataKey]:
    if not keys:
        raise ValueError("no data keys: at least one 32-byte key is needed")
    for position, key in enumerate(keys, start=1):
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"data key {position} is not {KEY_BYTES} bytes")
    derived = [_data_key(key) for key in keys]
    first_position: dict[bytes, int] = {}
    for position, data_key in enumerate(derived, start=1):
        if data_key.key_id in first_position:
            raise ValueError(
                f"data keys {first_position[data_key.key_id]} and {position} have the same "
                "key id: remove the duplicate, or replace one with a newly generated key"
            )
        first_position[data_key.key_id] = position
    return derived


def _associated_data(header: bytes, context: str) -> bytes:
    if not context:
        raise ValueError("context must name what the data is, e.g. 'identity.Resident.legal_name'")
    # The header has a fixed length, so header + context cannot be split two ways.
    return header + context.encode("utf-8")


def _header(token: bytes) -> bytes:
    if not token:
        raise DecryptionError("empty token")
    if token[:1] != VERSION:
        raise DecryptionError(f"unsupported token version {token[0]:#04x}")
    if len(token) < MIN_TOKEN_BYTES:
        raise DecryptionError(f"token too short ({len(token)} bytes; at least {MIN_TOKEN_BYTES})")
    return token[:HEADER_BYTES]


def encrypt(plaintext: bytes, keys: Sequence[bytes], *, context: str) -> bytes:
    """Encrypt ``plaintext`` under ``keys[0]``, bound to ``context``; return a version-1 token."""
    current = _data_keys(keys)[0]
    header = VERSION + current.key_id
    nonce = os.urandom(NONCE_BYTES)
    sealed = current.aead.encrypt(nonce, bytes(plaintext), _associated_data(header, context))
    return header + nonce + sealed


def decrypt(token: bytes, keys: Sequence[bytes], *, context: str) -> bytes:
    """Return the plaintext of ``token``, which must have been encrypted for ``context``.

    Raises DecryptionError for a bad version, a key id that no configured key has, or a
    token that fails authentication (altered, or encrypted for another context).
    """
    token = bytes(token)
    header = _header(token)
    key_id = header[len(VERSION) :]
    data_key = next((k for k in _data_keys(keys) if k.key_id == key_id), None)
    if data_key is None:
        raise DecryptionError(
            f"no configured data key has key id {key_id.hex()}: "
            "was the key that encrypted this removed from the data keys too early?"
        )
    nonce = token[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    try:
        return data_key.aead.decrypt(
            nonce, token[HEADER_BYTES + NONCE_BYTES :], _associated_data(header, context)
        )
    except InvalidTag:
        raise DecryptionError(
            f"token failed authentication for context {context!r}: "
            "it was altered, or it was encrypted for another column"
        ) from None


def needs_reencryption(token: bytes, keys: Sequence[bytes]) -> bool:
    """True when ``token`` was not encrypted under the current key, ``keys[0]``.

    Reads the header only (no context is needed); a malformed header raises DecryptionError,
    since re-encrypting would have to decrypt it anyway.
    """
    header = _header(bytes(token))
    return header[len(VERSION) :] != _data_keys(keys)[0].key_id


def blind_index(value: str, keys: Sequence[bytes], *, purpose: str) -> str:
    """A keyed, deterministic digest of ``value`` for exact-match search on encrypted data.

    HMAC-SHA256 under a key derived from ``keys[0]`` for this ``purpose`` alone (so an
    index of names cannot be compared with an index of SSNs), truncated to 32 hex
    characters. It follows the current key: rotating keys means recomputing every index,
    which the rotation command does while it re-encrypts. Normalize ``value`` first (for
    names, ``normalize_name``); this function matches bytes exactly.
    """
    if not purpose:
        raise ValueError("purpose must name the index, e.g. 'identity.Resident.legal_name'")
    _data_keys(keys)  # the same checks as encryption, so a bad key list fails the same way
    index_key = _blind_index_key(keys[0], purpose)
    digest = hmac.new(index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:BLIND_INDEX_HEX_CHARS]


def normalize_name(name: str) -> str:
    """Fold a person's name to the form its blind index is computed on.

    Case and accents fold away, apostrophes vanish, and every other run of punctuation or
    whitespace becomes one space: "José  O'Neil", "JOSE ONEIL" and "jose-oneil" all become
    "jose oneil".
    """
    # Unicode's compatibility caseless match (D146): NFKD(casefold(NFKD(casefold(s)))),
    # so ligatures, full-width letters and characters whose fold decomposes all settle.
    # Apostrophes go first too: NFKD would split the acute accent into a space and a mark.
    name = "".join(char for char in name if char not in _APOSTROPHES)
    folded = unicodedata.normalize("NFKD", name.casefold())
    folded = unicodedata.normalize("NFKD", folded.casefold())
    # Accents (like apostrophes) are the typist's choice, not part of the name.
    folded = _DIACRITICS.sub("", folded)
    kept: list[str] = []
    for char in folded:
        if char in _APOSTROPHES:
            continue
        if char.isalnum() or unicodedata.category(char).startswith("M"):
            # Marks left are other scripts' vowel signs and viramas: part of the word.
            kept.append(_LETTER_FOLDS.get(char, char))
        else:
            kept.append(" ")
    return " ".join("".join(kept).split())
