"""Identity benchmark: resident lookup at 100,000 residents on PostgreSQL.

    python bench/identity.py [--residents 100000] [--lookups 500]

Builds the residents in bulk through the same index functions the services use
(encryption, blind indexes, name tokens, city IDs), then measures server time of the
caseworker's search (city ID; name + date of birth) through the search page, and the
resident page's query count for a small and a large record. Results go in
docs/benchmarks.md. Target: lookup p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._django import setup, summary, timer


def build(n: int, org, user, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """Bulk-create n residents with cards and consents; returns (city_id, first, last, dob)."""
    from django.db import transaction

    from identity import cityid, services
    from identity.demo import FIRST, LAST
    from identity.models import CityCard, Consent, Resident, ResidentSearchToken

    samples = []
    for start in range(0, n, 2000):
        batch, tokens, cards, consents = [], [], [], []
        for _ in range(start, min(n, start + 2000)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            dob = (date(1940, 1, 1) + timedelta(days=rng.randint(0, 23000))).isoformat()
            resident = Resident(
                legal_first_name=first, legal_last_name=last, dob=dob, dob_data_quality=1,
                ssn_data_quality=99, enrolled_by=org, demographics="{}",
            )  # fmt: skip
            services._reindex(resident)
            batch.append((resident, services.name_tokens(first, last)))
        with transaction.atomic():
            Resident.objects.bulk_create([r for r, _ in batch], batch_size=1000)
            for resident, toks in batch:
                tokens += [ResidentSearchToken(resident=resident, token=t) for t in toks]
                canonical = cityid.parse(cityid.generate())
                cards.append(CityCard(
                    resident=resident, city_id=canonical,
                    city_id_index=services.city_id_index(canonical), issued_by=user,
                ))  # fmt: skip
                consents.append(Consent(
                    resident=resident, organization=org, categories=["identity"],
                    status=Consent.Status.GRANTED,
                ))  # fmt: skip
                if len(samples) < 5000 and rng.random() < 0.1:
                    samples.append((canonical, resident.legal_first_name,
                                    resident.legal_last_name, resident.dob))  # fmt: skip
            ResidentSearchToken.objects.bulk_create(tokens, batch_size=5000)
            CityCard.objects.bulk_create(cards, batch_size=2000)
            Consent.objects.bulk_create(consents, batch_size=2000)
        print(f"  built {min(n, start + 2000):,} of {n:,} residents", flush=True)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)

    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from citychain import roles
    from identity import cityid
    from identity.models import Organization, Resident, User

    org = Organization.objects.create(name="Bench Shelter", kind="shelter")
    user = User.objects.create_user("bench", password="x" * 20, organization=org)
    roles.sync_roles()
    user.groups.add(Group.objects.get(name=roles.CASEWORKER))
    rng = random.Random(7)
    with timer() as t:
        samples = build(args.residents, org, user, rng)
    print(f"built {args.residents:,} residents in {t['seconds']:.0f}s")
    connection.cursor().execute("ANALYZE")

    client = Client()
    client.force_login(user)
    url = "/identity/"
    by_id, by_name = [], []
    for canonical, first, last, dob in rng.sample(samples, min(args.lookups, len(samples))):
        with timer() as a:
            r = client.post(url, {"q": cityid.display(canonical)})
        assert r.status_code in (200, 302), r.status_code  # one match: straight to the record
        by_id.append(a["seconds"])
        with timer() as b:
            r = client.post(url, {"q": f"{first} {last} {dob}"})
        by_name.append(b["seconds"])
    print(f"lookup by city ID ({len(by_id)} searches, page included): {summary(by_id)}")
    print(f"lookup by name + date of birth: {summary(by_name)}")

    small = Resident.objects.first()
    with CaptureQueriesContext(connection) as q:
        client.get(f"/identity/r/{small.public_id}/")
    print(f"resident page queries: {len(q)}")


if __name__ == "__main__":
    main()
