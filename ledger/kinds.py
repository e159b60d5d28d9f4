"""The registry of entry kinds and their visibility.

Every app declares the kinds it records (in its AppConfig.ready) before it may
record them: a *public* kind's whole entry is published; a *private* kind shows
only its leaf hash, so the tree stays verifiable without revealing the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class Kind:
    name: str
    visibility: Visibility
    description: str


_KIND_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_registry: dict[str, Kind] = {}


class UnknownKindError(LookupError):
    pass


def register(name: str, visibility: Visibility | str, description: str) -> Kind:
    """Declare a kind, e.g. ``register("voting.ballot_cast", "public", "A ballot was cast")``.

    Names are ``app.event`` in lower case. Registering the same kind twice with the same
    visibility is harmless (apps may be re-imported); changing its visibility is an error,
    because published entries of that kind would change meaning.
    """
    if not _KIND_NAME.fullmatch(name):
        raise ValueError(f"kind {name!r}: use lower-case dotted names like 'voting.ballot_cast'")
    kind = Kind(name, Visibility(visibility), description)
    existing = _registry.get(name)
    if existing and existing.visibility != kind.visibility:
        raise ValueError(f"kind {name!r} is already registered as {existing.visibility}")
    _registry[name] = kind
    return kind


def get(name: str) -> Kind:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownKindError(
            f"ledger kind {name!r} is not registered; declare it with ledger.kinds.register()"
        ) from None


def is_public(name: str) -> bool:
    """Unknown kinds (say, from an app since removed) are treated as private."""
    kind = _registry.get(name)
    return bool(kind and kind.visibility is Visibility.PUBLIC)


def all_kinds() -> list[Kind]:
    return sorted(_registry.values(), key=lambda k: k.name)
