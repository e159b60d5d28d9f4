"""The city's ledger key: Ed25519 signatures over block hashes, via ``cryptography``.

This module owns how the key is loaded from settings (a 32-byte seed in hex), how its
public half is published, and how block signatures are made and checked. Verification
returns False rather than raising, because what it checks comes from outside.
"""

from __future__ import annotations

import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
BLOCK_HASH_SIZE = 32

Ed25519Key = Ed25519PrivateKey | Ed25519PublicKey


def load_private_key(seed_hex: str) -> Ed25519PrivateKey:
    """The signing key from its 32-byte seed written as 64 hex digits.

    Surrounding whitespace is ignored, since seeds often arrive from files or environment
    variables with a trailing newline.
    """
    if not isinstance(seed_hex, str):
        raise ValueError(f"ledger key seed must be a hex string, got {type(seed_hex).__name__}")
    text = seed_hex.strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise ValueError("ledger key seed must be hex digits only") from None
    if len(seed) != SEED_SIZE:
        raise ValueError(
            f"ledger key seed must be {SEED_SIZE} bytes ({2 * SEED_SIZE} hex digits), "
            f"got {len(seed)} bytes"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def generate_seed_hex() -> str:
    """A fresh random seed, for ``manage.py`` key generation and tests."""
    return Ed25519PrivateKey.generate().private_bytes_raw().hex()


def _public(key: Ed25519Key) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_bytes(key: Ed25519Key) -> bytes:
    """The raw 32-byte public key (RFC 8032 encoding)."""
    return _public(key).public_bytes_raw()


def public_key_hex(key: Ed25519Key) -> str:
    """The raw public key as 64 lowercase hex digits, as the public API publishes it."""
    return public_key_bytes(key).hex()


def public_key_pem(key: Ed25519Key) -> str:
    """The public key as a SubjectPublicKeyInfo PEM block, for tools such as openssl."""
    return (
        _public(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign_block_hash(key: Ed25519PrivateKey, hash_bytes: bytes) -> str:
    """Sign the 32 raw bytes of a block hash; returns the 64-byte signature as lowercase hex."""
    if not isinstance(hash_bytes, bytes) or len(hash_bytes) != BLOCK_HASH_SIZE:
        raise ValueError(f"a block hash is {BLOCK_HASH_SIZE} raw bytes, not hex or a digest object")
    return key.sign(hash_bytes).hex()


def verify_block_signature(public_key_bytes: bytes, hash_bytes: bytes, signature_hex: str) -> bool:
    """Is ``signature_hex`` a valid signature of ``hash_bytes`` by that public key?

    False for any malformed key, hash or signature.
    """
    if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != PUBLIC_KEY_SIZE:
        return False
    if not isinstance(hash_bytes, bytes) or len(hash_bytes) != BLOCK_HASH_SIZE:
        return False
    if not isinstance(signature_hex, str) or len(signature_hex) != 2 * SIGNATURE_SIZE:
        return False
    try:
        signature = binascii.unhexlify(signature_hex)
        public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
        public_key.verify(signature, hash_bytes)
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
