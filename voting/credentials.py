"""Voting credentials and ballot tracking codes: their format, check character and hash.

This module owns the strings a voter types: the one-time credential on their letter, and the
tracking code on their receipt. It does not import Django, so the format can be read, tested
and reused (a letter printer, the recount tool) alone.

Format, version 1:

- Both use Crockford's base-32 alphabet (digits and capital letters without I, L, O, U): no
  two symbols look alike, case does not matter, and the letters people mistake for digits
  (O for 0; I and L for 1) are read as those digits.
- A **credential** is 27 random symbols (135 bits, from the operating system's CSPRNG) and
  one check symbol, shown in seven groups of four: ``7K2M-Q9XD-...``. 128 bits is the floor:
  at that size guessing one live credential is hopeless even for an attacker making billions
  of tries, and the check symbol adds no secrecy (it is computed from the rest).
- A **tracking code** is 10 random symbols (50 bits) and one check symbol, shown as
  ``ABCD-EFGH-JKM``. It is not a secret and need not be unguessable: it names one published
  ballot, and the database's unique constraint, not its length, keeps it unique.
- The **check symbol** is a weighted sum over GF(32): ``sum(g**i * v_i)`` with ``g`` a
  generator of the field (x modulo x^5 + x^2 + 1). In a field a non-zero difference never
  vanishes, so every single mistyped symbol and every swap of two neighbours (or of two
  symbols one apart) changes the sum: the portal says "typo" before asking the server.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Crockford's decoding: what a person may type for the symbol they see.
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = frozenset(" -_.\t\n\r\u00a0\u2010\u2011\u2012\u2013\u2014")

CREDENTIAL_RANDOM_SYMBOLS = 27  # 135 bits
CREDENTIAL_LENGTH = CREDENTIAL_RANDOM_SYMBOLS + 1
CREDENTIAL_GROUP = 4
TRACKING_RANDOM_SYMBOLS = 10  # 50 bits
TRACKING_CODE_LENGTH = TRACKING_RANDOM_SYMBOLS + 1
TRACKING_GROUP = 4

# GF(32) as polynomials over GF(2) modulo the primitive x^5 + x^2 + 1.
_FIELD_MODULUS = 0b100101
_GENERATOR = 0b00010  # x, whose powers run through all 31 non-zero elements


class CodeFormatError(ValueError):
    """A credential or tracking code that cannot be one, whatever the server holds.

    ``reason`` is ``"length"``, ``"character"`` or ``"check"`` so a caller can word its own
    (translated) message; the exception text is for developers.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _gf_mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0b100000:
            a ^= _FIELD_MODULUS
    return product


def _weights(count: int) -> list[int]:
    weights, power = [], 1
    for _ in range(count):
        power = _gf_mul(power, _GENERATOR)  # g**1, g**2, ...: distinct while count < 31
        weights.append(power)
    return weights


_MAX_CHECKED = 30
_WEIGHTS = _weights(_MAX_CHECKED)


def check_symbol(symbols: str) -> str:
    """The check symbol of a string of base-32 symbols (at most 30 of them)."""
    if len(symbols) > _MAX_CHECKED:
        raise ValueError(f"a check symbol covers at most {_MAX_CHECKED} symbols")
    total = 0
    for weight, symbol in zip(_WEIGHTS, symbols, strict=False):
        total ^= _gf_mul(weight, _VALUES[symbol])
    return ALPHABET[total]


def _random_symbols(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))


def _group(canonical: str, size: int) -> str:
    return "-".join(canonical[i : i + size] for i in range(0, len(canonical), size))


def _normalize(text: str, length: int, what: str) -> str:
    if not isinstance(text, str):
        raise CodeFormatError("character", f"a {what} is text")
    symbols = []
    for char in text.upper():
        if char in _SEPARATORS:
            continue
        char = _ALIASES.get(char, char)
        if char not in _VALUES:
            raise CodeFormatError("character", f"{char!r} cannot appear in a {what}")
        symbols.append(char)
    canonical = "".join(symbols)
    if len(canonical) != length:
        raise CodeFormatError(
            "length", f"a {what} has {length} symbols; this one has {len(canonical)}"
        )
    if check_symbol(canonical[:-1]) != canonical[-1]:
        raise CodeFormatError("check", f"the {what} has a typo (its check symbol does not match)")
    return canonical


# -- credentials -------------------------------------------------------------------------


def new_credential() -> str:
    """A fresh one-time credential, in the grouped form printed on a letter."""
    body = _random_symbols(CREDENTIAL_RANDOM_SYMBOLS)
    return _group(body + check_symbol(body), CREDENTIAL_GROUP)


def normalize(credential: str) -> str:
    """The canonical form (28 symbols, no separators) of a credential as a voter typed it.

    Raises CodeFormatError for a wrong length, a character outside the alphabet, or a check
    symbol that does not match (a typo).
    """
    return _normalize(credential, CREDENTIAL_LENGTH, "credential")


def format_credential(credential: str) -> str:
    """The grouped form of a credential, for letters and screens."""
    return _group(normalize(credential), CREDENTIAL_GROUP)


def credential_hash(credential: str) -> str:
    """SHA-256 (hex) of the canonical credential: all the server ever stores of it.

    No salt and no slow hash: those protect low-entropy secrets (passwords) from guessing and
    precomputed tables. A credential has 135 random bits, so even the fastest hashing of
    every guess cannot find one; and an unsalted hash is what lets the server find the voter
    from the credential alone, through a unique index.
    """
    return hashlib.sha256(normalize(credential).encode("ascii")).hexdigest()


# -- tracking codes ----------------------------------------------------------------------


def new_tracking_code() -> str:
    """A fresh tracking code in canonical form (11 symbols, no separators)."""
    body = _random_symbols(TRACKING_RANDOM_SYMBOLS)
    return body + check_symbol(body)


def normalize_tracking_code(code: str) -> str:
    """The canonical form of a tracking code as someone typed it; CodeFormatError if bad."""
    return _normalize(code, TRACKING_CODE_LENGTH, "tracking code")


def format_tracking_code(code: str) -> str:
    """The grouped form of a tracking code (``ABCD-EFGH-JKM``), for receipts."""
    return _group(normalize_tracking_code(code), TRACKING_GROUP)
