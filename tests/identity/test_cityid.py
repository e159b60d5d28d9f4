"""Tests for identity.cityid: the check symbol's guarantees, typing, parsing, generation."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.cityid import (
    ALPHABET,
    BODY_LENGTH,
    LENGTH,
    CityIdError,
    check_character,
    display,
    generate,
    is_valid,
    normalize,
    parse,
)

SAMPLE = [parse(generate()) for _ in range(200)]
bodies = st.text(alphabet=ALPHABET, min_size=BODY_LENGTH, max_size=BODY_LENGTH)


def with_check(body: str) -> str:
    return body + check_character(body)


# --- What the check symbol catches -----------------------------------------------------------


def test_alphabet_is_crockford() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_every_single_substitution_is_caught() -> None:
    for city_id in SAMPLE:
        for position, wrong in itertools.product(range(LENGTH), ALPHABET):
            if wrong != city_id[position]:
                assert not is_valid(city_id[:position] + wrong + city_id[position + 1 :])


def test_every_transposition_is_caught_at_any_distance() -> None:
    for city_id in SAMPLE:
        for i, j in itertools.combinations(range(LENGTH), 2):
            if city_id[i] != city_id[j]:
                swapped = list(city_id)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                assert not is_valid("".join(swapped)), (city_id, i, j)


def test_every_adjacent_transposition_of_every_pair_is_caught() -> None:
    # Exhaustive over symbol pairs and positions, on top of random IDs: no exceptions.
    rng = random.Random(7)
    for a, b in itertools.permutations(ALPHABET, 2):
        for position in range(LENGTH - 1):
            body = "".join(rng.choice(ALPHABET) for _ in range(BODY_LENGTH))
            city_id = with_check(body)
            typed = city_id[:position] + a + b + city_id[position + 2 :]
            swapped = city_id[:position] + b + a + city_id[position + 2 :]
            assert is_valid(typed) + is_valid(swapped) <= 1, (typed, swapped)


def test_twin_errors_are_caught() -> None:
    for city_id in SAMPLE[:50]:
        for position in range(LENGTH - 1):
            if city_id[position] == city_id[position + 1]:
                for other in ALPHABET.replace(city_id[position], ""):
                    assert not is_valid(city_id[:position] + other * 2 + city_id[position + 2 :])


def luhn_mod_32_sum(text: str) -> int:
    """Luhn mod N with N = 32: the comparison drawn in the module docstring."""
    total = 0
    for index, symbol in enumerate(reversed(text)):
        addend = ALPHABET.index(symbol) * (2 if index % 2 else 1)
        total += addend // 32 + addend % 32
    return total % 32


def test_luhn_mod_32_misses_what_the_docstring_says() -> None:
    # Why the module uses Damm's algorithm instead: Luhn misses 0Z <-> Z0 next to each other
    # (in either weight parity), and every transposition two apart.
    for pad in ("", "0"):
        missed = {
            frozenset((a, b))
            for a, b in itertools.combinations(ALPHABET, 2)
            if luhn_mod_32_sum(pad + a + b) == luhn_mod_32_sum(pad + b + a)
        }
        assert missed == {frozenset("0Z")}
    assert luhn_mod_32_sum("A0B") == luhn_mod_32_sum("B0A")


# --- Typing it back in -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("7k3m-q9xa-2fd", "7K3MQ9XA2FD"),
        ("  7K3M Q9XA 2FD\r\n", "7K3MQ9XA2FD"),  # a scanner's trailing Enter
        ("7K3M\u2013Q9XA\u20142FD", "7K3MQ9XA2FD"),  # dashes pasted from a document
        ("\uff17\uff2b\uff13\uff2d", "7K3M"),  # full-width input
        ("IiLl", "1111"),
        ("Oo", "00"),
        ("u", "U"),  # not decoded: parse reports it
        ("", ""),
    ],
)
def test_normalize(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


def test_typed_variants_parse_to_the_same_id() -> None:
    for city_id in SAMPLE[:50]:
        shown = display(city_id)
        assert parse(shown) == city_id
        assert parse(shown.lower()) == city_id
        assert parse(" ".join(city_id)) == city_id
        looks_alike = shown.lower().replace("1", "l").replace("0", "o")
        assert parse(looks_alike) == city_id


def test_display_groups() -> None:
    assert display("7K3MQ9XA2FD") == "7K3M-Q9XA-2FD"
    assert len(generate()) == LENGTH + 2


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a city ID"),
        ("   - ", "Enter a city ID"),
        ("7K3M-Q9XA-2F", "has 11 characters .*this one has 10"),
        ("7K3M-Q9XA-2FDD", "this one has 12"),
        ("7K3M-Q9XA-2FU", "cannot contain 'U'"),
        ("7K3M-Q9XA-2F#", "cannot contain '#'"),
        ("7K3M_Q9XA_2FD", "cannot contain '_'"),
    ],
)
def test_parse_errors(typed: str, message: str) -> None:
    with pytest.raises(CityIdError, match=message):
        parse(typed)
    assert not is_valid(typed)


def test_mistyped_character_message() -> None:
    city_id = SAMPLE[0]
    wrong = ALPHABET[(ALPHABET.index(city_id[3]) + 1) % 32]
    with pytest.raises(CityIdError, match="probably mistyped"):
        parse(city_id[:3] + wrong + city_id[4:])


def test_city_id_error_is_a_value_error() -> None:
    assert issubclass(CityIdError, ValueError)


def test_check_character() -> None:
    assert len(check_character("7K3MQ9XA2F")) == 1
    assert check_character("7k3m-q9xa-2f") == check_character("7K3MQ9XA2F")
    with pytest.raises(CityIdError, match="cannot contain 'U'"):
        check_character("U")


# --- Generation ------------------------------------------------------------------------------


def test_generated_ids_are_valid_and_unique() -> None:
    generated = [generate() for _ in range(100_000)]
    assert len(set(generated)) == len(generated)
    assert all(is_valid(city_id) for city_id in generated[:1000])


def test_generated_symbols_are_spread() -> None:
    # 50 random bits: every symbol shows up in every body position.
    bodies_seen = [parse(generate())[:BODY_LENGTH] for _ in range(5000)]
    for position in range(BODY_LENGTH):
        assert {body[position] for body in bodies_seen} == set(ALPHABET)


# --- Properties ------------------------------------------------------------------------------


@given(bodies)
def test_body_with_check_is_valid(body: str) -> None:
    city_id = with_check(body)
    assert parse(city_id) == city_id
    assert parse(display(city_id)) == city_id
    assert parse(display(city_id).lower()) == city_id


@given(bodies, st.integers(0, LENGTH - 1), st.sampled_from(ALPHABET))
def test_substitution_property(body: str, position: int, wrong: str) -> None:
    city_id = with_check(body)
    typed = city_id[:position] + wrong + city_id[position + 1 :]
    assert is_valid(typed) == (typed == city_id)


@given(bodies, st.integers(0, LENGTH - 1), st.integers(0, LENGTH - 1))
def test_transposition_property(body: str, i: int, j: int) -> None:
    city_id = list(with_check(body))
    city_id[i], city_id[j] = city_id[j], city_id[i]
    assert is_valid("".join(city_id)) == (city_id[i] == city_id[j])


@given(st.text(max_size=30))
def test_normalize_is_idempotent_and_parse_agrees(typed: str) -> None:
    assert normalize(normalize(typed)) == normalize(typed)
    try:
        canonical = parse(typed)
    except CityIdError:
        assert not is_valid(typed)
    else:
        assert is_valid(typed) and len(canonical) == LENGTH and set(canonical) <= set(ALPHABET)
