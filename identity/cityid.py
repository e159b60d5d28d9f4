"""The city ID: how it is generated, written, typed back in and checked.

This module owns the format of a resident's city ID. It does not import Django.

A city ID is 10 random symbols and 1 check symbol from Crockford's base 32 alphabet
(digits and capital letters without I, L, O and U, so nothing reads as another symbol or
spells a word), shown in groups for reading aloud: ``7K3M-Q9XA-2FD``. The canonical,
stored form is the 11 symbols without hyphens.

- **Not guessable.** The 10 body symbols come from ``secrets``: 50 bits. With a million
  residents, a guessed well-formed ID belongs to someone with probability below 1e-9. The
  ID names a person; it is not a password, and it never goes on the ledger raw.
- **Unique.** Random IDs collide rarely (about 1 in 500 million pairs for 2,000 residents,
  1 in 2,000 for a million); the unique constraint on the column catches the rest, and the
  service that issues IDs draws again.
- **Check symbol.** The check is Damm's algorithm over the 32 symbols, with the totally
  anti-symmetric quasigroup ``r * d = x·r + d`` in GF(32) (polynomials over GF(2) modulo
  the primitive x^5 + x^2 + 1): start at r = 0, fold every symbol in, and a valid ID ends
  at 0. Unrolled, this is sum(x^(n-i) · d_i) = 0 in GF(32), so an error e in one
  position changes the sum by x^k·e, never 0 (every single substitution is caught), and
  swapping two different symbols a and b at any distance k < 31 changes it by
  (a + b)(x^i + x^j) = (a + b)·x^j·(x^k + 1), never 0 because x has order 31 (every
  transposition, adjacent or not, is caught; so are twin errors aa -> bb).
  Luhn mod 32, the obvious alternative, misses one adjacent transposition (``0Z`` <->
  ``Z0``, like decimal Luhn's ``09`` <-> ``90``) and every transposition two apart, since
  those positions share a weight. ISO/IEC 7064 MOD 37,36 needs a 36-symbol alphabet
  (with I, L, O, U), which would undo Crockford's decoding of typed I, L and O.
- **Typing.** ``normalize`` accepts what a person or a USB scanner types: any case, spaces,
  hyphens and dashes anywhere, full-width characters, and I or L for 1 and O for 0.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 10
LENGTH = BODY_LENGTH + 1
GROUPS = (4, 4, 3)

_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Crockford's decoding: letters a reader may write for the digits they resemble.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
# Separators a person or a scanner may put between groups; all are dropped.
_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
_MODULUS = 0b100101  # x^5 + x^2 + 1


class CityIdError(ValueError):
    """Typed text is not a city ID; the message says why in words a caseworker can act on."""


def _times_x(value: int) -> int:
    value <<= 1
    return value ^ _MODULUS if value & 0b100000 else value


def _fold(canonical: str) -> int:
    interim = 0
    for symbol in canonical:
        interim = _times_x(interim) ^ _VALUES[symbol]
    return interim


def normalize(typed: str) -> str:
    """Typed or scanned text in canonical symbols: upper case, no separators, I/L -> 1, O -> 0.

    Does not check the result; ``parse`` does.
    """
    text = unicodedata.normalize("NFKC", typed).upper()
    text = "".join(char for char in text if not char.isspace() and char not in _SEPARATORS)
    # Again, since dropping a separator can put a letter next to a stray combining mark.
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)


def _check_symbols(text: str) -> None:
    for char in text:
        if char not in _VALUES:
            raise CityIdError(
                f"A city ID cannot contain {char!r}: it uses the digits 0-9 and the letters "
                "A-Z except I, L, O and U."
            )


def check_character(body: str) -> str:
    """The check symbol that makes ``body`` (typed or canonical) a valid city ID."""
    canonical = normalize(body)
    _check_symbols(canonical)
    # The symbol c with r * c = x·r + c = 0 (addition in GF(2^5) is XOR, so c = x·r).
    return ALPHABET[_times_x(_fold(canonical))]


def display(canonical: str) -> str:
    """The canonical form in groups for reading aloud: ``7K3M-Q9XA-2FD``."""
    groups, start = [], 0
    for size in GROUPS:
        groups.append(canonical[start : start + size])
        start += size
    return "-".join(groups)


def generate() -> str:
    """A new random city ID, in display form. The caller makes sure it is not already used."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return display(body + check_character(body))


def parse(typed: str) -> str:
    """The canonical form of a typed or scanned city ID; CityIdError says what is wrong."""
    canonical = normalize(typed)
    if not canonical:
        raise CityIdError("Enter a city ID.")
    _check_symbols(canonical)
    if len(canonical) != LENGTH:
        raise CityIdError(
            f"A city ID has {LENGTH} characters (not counting hyphens); "
            f"this one has {len(canonical)}."
        )
    if _fold(canonical) != 0:
        raise CityIdError("The check character does not match: a character was probably mistyped.")
    return canonical


def is_valid(typed: str) -> bool:
    """Whether ``parse`` would accept ``typed``."""
    try:
        parse(typed)
    except CityIdError:
        return False
    return True
