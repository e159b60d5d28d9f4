"""Demo elections, made through voting.services as officials and voters would make them.

- "Neighborhood budget 2026": open, results live, with a plurality contest, a ranked-choice
  contest (five choices, rank up to three) and a referendum; a roll of residents with an
  active city ID card, of whom about half have voted. The credentials of those who have not
  are written to var/demo-credentials.csv, so anyone trying the demo can vote as one of them.
- "Library levy 2025": a referendum, closed and certified.

Preferences are drawn from one random seed, so every run gives the same ballots; the
credentials are random, as they must be. Idempotent: an election already there (by title)
is left alone, so a second run adds nothing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from identity.models import User
from voting import services
from voting.management.commands.issue_credentials import (
    DEFAULT_BASE_URL,
    open_private_file,
    write_credentials,
)
from voting.models import Contest, Election, Voter
from voting.views_official import eligible_residents

DEMO_TITLE = "Neighborhood budget 2026"
PAST_TITLE = "Library levy 2025"
ROLL_SIZE = 240
PAST_ROLL_SIZE = 180
TURNOUT = 0.5
PAST_TURNOUT = 0.68
MIN_ROLL = 200
SEED = 20260503

# (name, weight): how likely a voter is to put it first.
CHAIR = [("Rosa Delgado", 34), ("Marcus Bell", 29), ("Linh Tran", 22), ("Omar Haddad", 15)]
PRIORITIES = [
    ("Street lighting", 27),
    ("Park repairs", 24),
    ("Youth programs", 23),
    ("Protected bike lanes", 15),
    ("Longer library hours", 11),
]
# Voters who put the first choice first tend to rank the second next.
AFFINITY = {
    "Protected bike lanes": "Park repairs",
    "Longer library hours": "Youth programs",
    "Youth programs": "Longer library hours",
    "Street lighting": "Park repairs",
    "Park repairs": "Protected bike lanes",
}


def credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.csv"


def _official() -> User | None:
    return User.objects.filter(username="official").first()


def _weighted_order(rng: random.Random, weighted: list[tuple[int, float]]) -> list[int]:
    """Choice ids in a random order, heavier ones first more often (weighted sampling)."""
    keyed = sorted(((rng.random() ** (1 / weight), pk) for pk, weight in weighted), reverse=True)
    return [pk for _key, pk in keyed]


def _ranking(rng: random.Random, ids: dict[str, int], seats: int) -> list[int]:
    first = _weighted_order(rng, [(ids[name], w) for name, w in PRIORITIES])[0]
    name_of = {pk: name for name, pk in ids.items()}
    ranking = [first]
    length = rng.choices([1, 2, 3], weights=[20, 30, 50])[0]
    while len(ranking) < min(length, seats):
        previous = name_of[ranking[-1]]
        rest = [
            (ids[name], w * (4 if AFFINITY.get(previous) == name else 1))
            for name, w in PRIORITIES
            if ids[name] not in ranking
        ]
        ranking.append(_weighted_order(rng, rest)[0])
    return ranking


def _ballot(rng: random.Random, chair: Contest, budget: Contest, measure: Contest) -> dict:
    chair_ids = {c.name: c.pk for c in chair.choices.all()}
    budget_ids = {c.name: c.pk for c in budget.choices.all()}
    yes, no = (c.pk for c in measure.choices.order_by("position"))
    chair_choice = rng.choices([chair_ids[n] for n, _w in CHAIR], [w for _n, w in CHAIR])[0]
    return {
        str(chair.pk): [] if rng.random() < 0.04 else [chair_choice],
        str(budget.pk): _ranking(rng, budget_ids, budget.seats),
        str(measure.pk): [] if rng.random() < 0.03 else [yes if rng.random() < 0.6 else no],
    }


def _seed_past(rng: random.Random, residents, progress: Callable[[str], None]) -> None:
    official = _official()
    election = services.election_create(
        acting_user=official,
        title=PAST_TITLE,
        description="Renew the library levy that keeps branches open on evenings and weekends.",
    )
    measure = services.contest_add(
        election,
        title="Measure L: renew the library levy (8 cents per $1,000 of assessed value, 6 years)",
        method=Contest.Method.REFERENDUM,
    )
    services.roll_from_residents(election, residents[:PAST_ROLL_SIZE])
    issued = services.credentials_issue(election, acting_user=official)
    services.election_open(election, acting_user=official)
    yes, no = (c.pk for c in measure.choices.order_by("position"))
    voting = rng.sample(issued, k=round(len(issued) * PAST_TURNOUT))
    for _voter, credential in voting:
        choice = [] if rng.random() < 0.03 else [yes if rng.random() < 0.61 else no]
        services.ballot_cast(
            election_id=election.pk, credential=credential, selections={str(measure.pk): choice}
        )
    services.election_close(election, acting_user=official)
    services.election_certify(election, acting_user=official)
    progress(f"  {PAST_TITLE}: {len(voting)} of {len(issued)} voted; closed and certified")


def _seed_open(rng: random.Random, residents, output: Path, progress) -> None:
    official = _official()
    election = services.election_create(
        acting_user=official,
        title=DEMO_TITLE,
        description=(
            "Choose the chair of the neighborhood council, rank your priorities for next "
            "year's $250,000 neighborhood budget, and decide when budget meetings are held."
        ),
        results_live=True,
    )
    chair = services.contest_add(election, title="Neighborhood council chair", method="plurality")
    for name, _weight in CHAIR:
        services.choice_add(chair, name=name)
    budget = services.contest_add(
        election, title="Budget priorities", method=Contest.Method.RANKED, seats=3
    )
    for name, _weight in PRIORITIES:
        services.choice_add(budget, name=name)
    measure = services.contest_add(
        election,
        title="Measure B: hold budget meetings in the evening",
        method=Contest.Method.REFERENDUM,
    )
    services.roll_from_residents(election, residents)
    issued = services.credentials_issue(election, acting_user=official)
    services.election_open(election, acting_user=official)
    voting = rng.sample(range(len(issued)), k=round(len(issued) * TURNOUT))
    for count, index in enumerate(sorted(voting), start=1):
        services.ballot_cast(
            election_id=election.pk,
            credential=issued[index][1],
            selections=_ballot(rng, chair, budget, measure),
        )
        if count % 50 == 0:
            progress(f"  {DEMO_TITLE}: {count} of {len(voting)} ballots cast")
    voted = set(voting)
    remaining = [pair for index, pair in enumerate(issued) if index not in voted]
    handle, temporary = open_private_file(output)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            write_credentials(out, election, remaining, base=DEFAULT_BASE_URL)
        os.replace(temporary, output)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    progress(
        f"  {DEMO_TITLE}: open, {len(voting)} of {len(issued)} voted; the credentials of the "
        f"{len(remaining)} who have not are in {output}"
    )


def seed(progress: Callable[[str], None] = print, *, output: Path | None = None) -> None:
    output = output or credentials_file()
    residents = list(eligible_residents(only_active_card=True)[:ROLL_SIZE])
    if len(residents) < MIN_ROLL:
        progress(
            f"  only {len(residents)} residents with an active city ID card; the demo "
            f"elections need {MIN_ROLL} (seed the residents first)"
        )
        return
    if Election.objects.filter(title=PAST_TITLE).exists():
        progress(f"  {PAST_TITLE} already there")
    else:
        with transaction.atomic():
            _seed_past(random.Random(SEED), residents, progress)  # noqa: S311 - demo data
    demo = Election.objects.filter(title=DEMO_TITLE).first()
    if demo is not None:
        waiting = Voter.objects.filter(election=demo, has_voted=False).count()
        progress(f"  {DEMO_TITLE} already there ({waiting} voters have not voted yet)")
        if not output.exists():
            progress(
                f"  {output} is gone; for fresh credentials run: python manage.py "
                f"issue_credentials {demo.pk} --output {output}"
            )
        return
    with transaction.atomic():
        _seed_open(random.Random(SEED + 1), residents, output, progress)  # noqa: S311
