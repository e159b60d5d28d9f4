"""Tests for citychain.crypto: the token format, key rotation, blind indexes, name folding."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citychain.crypto import (
    BLIND_INDEX_HEX_CHARS,
    HEADER_BYTES,
    KEY_ID_BYTES,
    MIN_TOKEN_BYTES,
    NONCE_BYTES,
    VERSION,
    DecryptionError,
    blind_index,
    decrypt,
    encrypt,
    needs_reencryption,
    normalize_name,
)

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
OTHER_KEY = bytes(range(200, 232))
KEYS = [NEW_KEY]
CONTEXT = "identity.Resident.legal_name"


# --- Encryption ------------------------------------------------------------------------------


def test_round_trip() -> None:
    token = encrypt(b"Jos\xc3\xa9 O'Neil", KEYS, context=CONTEXT)
    assert decrypt(token, KEYS, context=CONTEXT) == b"Jos\xc3\xa9 O'Neil"


def test_empty_plaintext_round_trips() -> None:
    token = encrypt(b"", KEYS, context=CONTEXT)
    assert len(token) == MIN_TOKEN_BYTES
    assert decrypt(token, KEYS, context=CONTEXT) == b""


def test_token_layout() -> None:
    plaintext = b"123-45-6789"
    token = encrypt(plaintext, KEYS, context=CONTEXT)
    assert token[:1] == VERSION
    assert len(token) == 1 + KEY_ID_BYTES + NONCE_BYTES + len(plaintext) + 16
    assert plaintext not in token
    # The key id is derived, not a slice of the key or of its plain SHA-256.
    assert token[1:HEADER_BYTES] not in NEW_KEY


def test_decrypt_accepts_memoryview() -> None:
    token = encrypt(b"data", KEYS, context=CONTEXT)
    assert decrypt(memoryview(token), KEYS, context=CONTEXT) == b"data"


def test_wrong_context_fails() -> None:
    token = encrypt(b"1990-04-01", KEYS, context="identity.Resident.date_of_birth")
    with pytest.raises(DecryptionError, match="another column"):
        decrypt(token, KEYS, context="identity.Resident.legal_name")


@pytest.mark.parametrize("position", [0, 1, 4, 5, 16, 17, -1])
def test_tampered_byte_fails(position: int) -> None:
    token = bytearray(encrypt(b"Jane Doe", KEYS, context=CONTEXT))
    token[position] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt(bytes(token), KEYS, context=CONTEXT)


def test_truncated_token_fails() -> None:
    token = encrypt(b"Jane Doe", KEYS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="too short"):
        decrypt(token[: MIN_TOKEN_BYTES - 1], KEYS, context=CONTEXT)
    with pytest.raises(DecryptionError, match="empty"):
        decrypt(b"", KEYS, context=CONTEXT)


def test_bad_version_fails() -> None:
    token = b"\x02" + encrypt(b"Jane Doe", KEYS, context=CONTEXT)[1:]
    with pytest.raises(DecryptionError, match="version 0x02"):
        decrypt(token, KEYS, context=CONTEXT)


def test_unknown_key_fails_without_showing_key_material() -> None:
    token = encrypt(b"Jane Doe", [OTHER_KEY], context=CONTEXT)
    with pytest.raises(DecryptionError, match="no configured data key") as excinfo:
        decrypt(token, KEYS, context=CONTEXT)
    message = str(excinfo.value)
    for key in (OTHER_KEY, NEW_KEY):
        assert key.hex() not in message
        assert repr(key) not in message


def test_authentication_failure_is_not_chained_to_library_error() -> None:
    token = bytearray(encrypt(b"Jane Doe", KEYS, context=CONTEXT))
    token[-1] ^= 0x80
    with pytest.raises(DecryptionError) as excinfo:
        decrypt(bytes(token), KEYS, context=CONTEXT)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__


def test_rotation() -> None:
    old_token = encrypt(b"Jane Doe", [OLD_KEY], context=CONTEXT)
    rotated = [NEW_KEY, OLD_KEY]
    assert decrypt(old_token, rotated, context=CONTEXT) == b"Jane Doe"
    assert needs_reencryption(old_token, rotated)

    new_token = encrypt(decrypt(old_token, rotated, context=CONTEXT), rotated, context=CONTEXT)
    assert not needs_reencryption(new_token, rotated)
    # Once everything is re-encrypted the old key can go.
    assert decrypt(new_token, [NEW_KEY], context=CONTEXT) == b"Jane Doe"
    with pytest.raises(DecryptionError):
        decrypt(old_token, [NEW_KEY], context=CONTEXT)


def test_needs_reencryption_rejects_malformed_token() -> None:
    with pytest.raises(DecryptionError):
        needs_reencryption(b"\x01abc", KEYS)


def test_nonces_differ() -> None:
    tokens = {encrypt(b"same", KEYS, context=CONTEXT) for _ in range(200)}
    assert len(tokens) == 200
    nonces = {token[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] for token in tokens}
    assert len(nonces) == 200


@pytest.mark.parametrize(
    "keys",
    [[], [b"short"], [NEW_KEY, b"x" * 31], ["a" * 32]],
    ids=["none", "short", "second-short", "str"],
)
def test_bad_key_lists_are_refused(keys: list) -> None:
    with pytest.raises(ValueError, match="key"):
        encrypt(b"x", keys, context=CONTEXT)


def test_duplicate_key_is_refused() -> None:
    with pytest.raises(ValueError, match="same key id"):
        encrypt(b"x", [NEW_KEY, OLD_KEY, NEW_KEY], context=CONTEXT)


def test_empty_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        encrypt(b"x", KEYS, context="")


@given(
    plaintext=st.binary(max_size=2048),
    context=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=80),
    key=st.binary(min_size=32, max_size=32),
)
def test_round_trip_property(plaintext: bytes, context: str, key: bytes) -> None:
    keys = [key, OLD_KEY] if key != OLD_KEY else [key]
    token = encrypt(plaintext, keys, context=context)
    assert decrypt(token, keys, context=context) == plaintext
    assert decrypt(token, list(reversed(keys)), context=context) == plaintext
    assert len(token) == MIN_TOKEN_BYTES + len(plaintext)
    with pytest.raises(DecryptionError):
        decrypt(token, keys, context=context + ".other")


# --- Blind indexes ---------------------------------------------------------------------------


def test_blind_index_is_stable_and_short() -> None:
    first = blind_index("jose oneil", KEYS, purpose=CONTEXT)
    assert first == blind_index("jose oneil", KEYS, purpose=CONTEXT)
    assert len(first) == BLIND_INDEX_HEX_CHARS
    assert int(first, 16) >= 0


def test_blind_index_depends_on_key() -> None:
    assert blind_index("jose oneil", [NEW_KEY], purpose=CONTEXT) != blind_index(
        "jose oneil", [OLD_KEY], purpose=CONTEXT
    )


def test_blind_index_follows_current_key() -> None:
    # Older keys only decrypt; indexes are always under keys[0], hence recomputed on rotation.
    assert blind_index("x", [NEW_KEY, OLD_KEY], purpose=CONTEXT) == blind_index(
        "x", [NEW_KEY], purpose=CONTEXT
    )


def test_blind_index_separates_purposes() -> None:
    assert blind_index("123456789", KEYS, purpose="identity.Resident.ssn") != blind_index(
        "123456789", KEYS, purpose="identity.Resident.legal_name"
    )


def test_blind_index_separates_values() -> None:
    values = [f"resident {n}" for n in range(1000)]
    assert len({blind_index(value, KEYS, purpose=CONTEXT) for value in values}) == 1000


def test_blind_index_needs_purpose() -> None:
    with pytest.raises(ValueError, match="purpose"):
        blind_index("x", KEYS, purpose="")


def test_blind_index_is_not_plain_hmac_of_raw_key() -> None:
    raw = hmac.new(NEW_KEY, b"x", hashlib.sha256).hexdigest()[:BLIND_INDEX_HEX_CHARS]
    assert blind_index("x", KEYS, purpose=CONTEXT) != raw


@given(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.binary(min_size=32, max_size=32),
)
def test_blind_index_property(value: str, key: bytes) -> None:
    index = blind_index(value, [key], purpose=CONTEXT)
    assert index == blind_index(value, [key], purpose=CONTEXT)
    assert len(index) == BLIND_INDEX_HEX_CHARS
    assert set(index) <= set("0123456789abcdef")


# --- Names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("José  O'Neil", "jose oneil"),
        ("jose oneil", "jose oneil"),
        ("JOSE O\u2019NEIL", "jose oneil"),  # typographic apostrophe
        ("O\u00b4Neil", "oneil"),  # acute accent typed as an apostrophe
        ("O Neil", "o neil"),  # a space is not an apostrophe
        ("  Mary-Jane\tSmith. ", "mary jane smith"),
        ("Nguyễn Văn An", "nguyen van an"),
        ("Zoë Brontë", "zoe bronte"),
        ("François", "francois"),
        ("Straße", "strasse"),
        ("Søren Łukasz", "soren lukasz"),
        ("Æthelred", "aethelred"),
        ("\uff2a\uff2f\uff33\uff25", "jose"),  # full-width letters
        ("\ufb01ona", "fiona"),  # ligature
        ("Smith, Jr.", "smith jr"),
        ("", ""),
        ("-- '' --", ""),
    ],
)
def test_normalize_name(typed: str, folded: str) -> None:
    assert normalize_name(typed) == folded


def test_normalize_name_keeps_other_scripts() -> None:
    assert normalize_name("दीपिका  शर्मा") == "दीपिका शर्मा"
    assert normalize_name("Иван Петров") == "иван петров"


def test_same_person_same_index() -> None:
    def index(name: str) -> str:
        return blind_index(normalize_name(name), KEYS, purpose=CONTEXT)

    assert index("José  O'Neil") == index("jose oneil") == index("JOSE O\u2019NEIL")
    assert index("Jose ONeil") != index("Jane ONeil")


@given(st.text(max_size=60))
def test_normalize_name_properties(name: str) -> None:
    folded = normalize_name(name)
    assert normalize_name(folded) == folded
    assert folded == folded.strip()
    assert "  " not in folded
    assert "'" not in folded


def test_urandom_is_the_nonce_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fixed nonce would make equal plaintexts visible; the module must use os.urandom.
    calls: list[int] = []
    real_urandom = os.urandom

    def recording_urandom(size: int) -> bytes:
        calls.append(size)
        return real_urandom(size)

    monkeypatch.setattr("citychain.crypto.os.urandom", recording_urandom)
    encrypt(b"x", KEYS, context=CONTEXT)
    assert calls == [NONCE_BYTES]
