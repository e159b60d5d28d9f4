"""Demo data for credit: a year of rent (Riverside Housing Co-op) and utility bills (City
Water & Power) for a few hundred of identity's demo residents, mostly paid on time, some
late and a few missed; two lending circles run by Neighbors Lending Circle Fund (one
finished, one under way with a missed contribution); one open dispute; bureau policies
and opt-ins; and one issued report, so every credit page has something to show.

Everything goes through credit.services, as a reporter's own system would, so every
record is attested on the ledger. Deterministic (one random seed, dates relative to
today) and idempotent: a second run finds every reference already there and adds nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from credit import services
from credit.models import CreditReport, Dispute, LendingCircle, PaymentRecord
from identity.models import Organization, Resident

RESIDENTS = 200
MONTHS = 12
CHUNK = 50
LANDLORD = "Riverside Housing Co-op"
UTILITY = "City Water & Power"
FUND = "Neighbors Lending Circle Fund"
STREETS = ["River Rd", "Elm St", "Oak Ave", "Main St", "Harbor Way", "Mill St", "Park Ave"]


def _month_start(today: date, months_back: int) -> date:
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, min(day.day, 28))


def _profile(rng: random.Random) -> tuple[float, float, float]:
    """(share paid late, share of late ones 30+ days late, share never paid) for one person."""
    roll = rng.random()
    if roll < 0.68:
        return 0.0, 0.0, 0.0  # always on time
    if roll < 0.88:
        return 0.12, 0.1, 0.0  # now and then a few days late
    if roll < 0.97:
        return 0.35, 0.35, 0.0  # often late
    return 0.25, 0.5, 0.09  # struggling: some bills never paid


def _paid(rng, due: date, today: date, profile, amount: int) -> tuple[date | None, int]:
    late_share, serious_share, missed_share = profile
    if rng.random() < missed_share and (today - due).days > 35:
        return None, 0
    if rng.random() < late_share:
        days = rng.randint(31, 65) if rng.random() < serious_share else rng.randint(2, 20)
    else:
        days = -rng.randint(0, 4)
    paid_on = due + timedelta(days=days)
    if paid_on > today:
        return None, 0
    return paid_on, amount


def _payment_rows(rng: random.Random, resident: Resident, index: int, today: date) -> list[dict]:
    """Rent every month (a newer tenant: fewer months), utilities for most residents."""
    months = rng.randint(3, 5) if index % 10 == 9 else MONTHS  # some too new for a score
    profile = _profile(rng)
    rent = rng.randrange(65_000, 140_001, 2_500)
    rows = []
    for back in range(months - 1, -1, -1):
        due = _month_start(today, back)
        if due > today:
            continue
        paid_on, paid = _paid(rng, due, today, profile, rent)
        rows.append(
            dict(
                kind="rent",
                reporter=LANDLORD,
                account_reference=f"LEASE-{index:04d}",
                reference=f"demo-rent-{index:04d}-{due:%Y-%m}",
                due_date=due,
                amount_due_cents=rent,
                paid_on=paid_on,
                amount_paid_cents=paid,
            )
        )
        if index % 4 != 3:
            bill = rng.randrange(4_500, 14_000, 5)
            utility_due = due.replace(day=15)
            if utility_due > today:
                continue
            paid_on, paid = _paid(rng, utility_due, today, profile, bill)
            rows.append(
                dict(
                    kind="utility",
                    reporter=UTILITY,
                    account_reference=f"CWP-{100000 + index}",
                    reference=f"demo-cwp-{index:04d}-{due:%Y-%m}",
                    due_date=utility_due,
                    amount_due_cents=bill,
                    paid_on=paid_on,
                    amount_paid_cents=paid,
                )
            )
    return rows


def _seed_payments(progress, residents: list[Resident], orgs: dict[str, Organization]) -> None:
    today = timezone.localdate()
    existing = set(
        PaymentRecord.objects.filter(reference__startswith="demo-").values_list(
            "reporter_id", "reference"
        )
    )
    rng = random.Random(20261126)  # noqa: S311 - synthetic demo data, not secrets
    plans = [(r, _payment_rows(rng, r, i, today)) for i, r in enumerate(residents)]
    added = 0
    for start in range(0, len(plans), CHUNK):
        with transaction.atomic():
            for resident, rows in plans[start : start + CHUNK]:
                for row in rows:
                    reporter = orgs[row.pop("reporter")]
                    if (reporter.pk, row["reference"]) in existing:
                        continue
                    services.record_payment(reporter=reporter, resident=resident, **row)
                    added += 1
        progress(f"  payments: residents {min(start + CHUNK, len(plans))} of {len(plans)}")
    progress(f"  {added:,} payment records added")


def _seed_circle(progress, fund, name, members, contribution, first_due, paid_rounds, miss):
    """A circle with its members; contributions recorded round by round up to today."""
    circle = LendingCircle.objects.filter(organization=fund, name=name).first()
    if circle is not None:
        progress(f"  circle {name!r} already there")
        return
    today = timezone.localdate()
    with transaction.atomic():
        circle = services.circle_create(
            organization=fund,
            name=name,
            monthly_contribution_cents=contribution,
            first_due_date=first_due,
        )
        for resident in members:
            services.circle_add_member(circle=circle, resident=resident)
        services.circle_start(circle=circle)
        circle_members = list(circle.members.order_by("payout_position"))
        for round_ in range(1, paid_rounds + 1):
            due = _add_months(first_due, round_ - 1)
            if due > today:
                break
            for member in circle_members:
                if (member.payout_position, round_) == miss:
                    continue  # never paid: shows as late, then missed
                late = 9 if (member.payout_position + round_) % 7 == 0 else 0
                services.circle_record_contribution(
                    member=member,
                    round_number=round_,
                    paid_on=min(due + timedelta(days=late - 1), today),
                )
            services.circle_record_payout(
                circle=circle, round_number=round_, paid_on=min(due + timedelta(days=3), today)
            )
    progress(f"  circle {name!r}: {len(members)} members, {paid_rounds} rounds recorded")


def _seed_extras(progress, residents: list[Resident], orgs: dict[str, Organization]) -> None:
    # Bureau reporting: each reporter's policy, and a third of the residents opted in.
    services.reporter_policy_set(
        organization=orgs[LANDLORD], policy="full_file", furnisher_id="RHC0001"
    )
    services.reporter_policy_set(
        organization=orgs[FUND], policy="positive_only", furnisher_id="NLCF001"
    )
    rng = random.Random(7)  # noqa: S311 - synthetic demo data
    opted = 0
    for resident in residents[::3]:
        if resident.bureau_consents.filter(revoked_at__isnull=True).exists():
            continue
        services.bureau_consent_grant(
            resident=resident,
            address_line_1=f"{rng.randint(10, 2999)} {rng.choice(STREETS)}",
            address_line_2=f"Apt {rng.randint(1, 40)}" if rng.random() < 0.6 else "",
            city="Springfield",
            state="IL",
            zip_code=f"627{rng.randint(0, 99):02d}",
        )
        opted += 1
    progress(f"  bureau reporting: {opted} residents opted in")

    # One open dispute: a resident says a late rent payment was on time.
    if not Dispute.objects.filter(payment__reference__startswith="demo-rent-").exists():
        payment = (
            PaymentRecord.objects.filter(
                reporter=orgs[LANDLORD], reference__startswith="demo-rent-", paid_on__isnull=False
            )
            .exclude(resident__vawa_protected=True)
            .order_by("due_date", "reference")
        )
        late = next((p for p in payment[:2000] if p.paid_on > p.due_date), None)
        if late is not None:
            services.dispute_open(
                payment=late,
                reason="I paid this in cash at the office on the due date; I have the receipt.",
            )
            progress("  one open dispute")

    # One issued report, so the verification page has something to check.
    first = residents[0]
    if not CreditReport.objects.filter(resident=first).exists():
        services.report_issue(resident=first)
        progress("  one credit report issued")


def _fund_login(progress, fund: Organization) -> None:
    """A staff account for the fund, so its lending-circle pages can be seen in the demo
    (citychain.demo's logins have one reporter, for the landlord)."""
    from django.contrib.auth.models import Group

    from citychain import roles
    from citychain.demo import DEMO_PASSWORD
    from identity.models import User

    user, created = User.objects.get_or_create(
        username="fund",
        defaults={
            "first_name": "Grace",
            "last_name": "Mensah",
            "email": "fund@demo.citychain.invalid",
            "organization": fund,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        roles.sync_roles()
        user.groups.add(Group.objects.get(name=roles.CREDIT_REPORTER))
        progress(f"  lending-circle staff sign-in: fund / {DEMO_PASSWORD}")


def seed(progress=print, count: int | None = None) -> None:
    count = RESIDENTS if count is None else count
    names = [LANDLORD, UTILITY, FUND]
    orgs = {o.name: o for o in Organization.objects.filter(name__in=names)}
    if len(orgs) < len(names):
        progress("  demo organizations missing: run the people seeder first")
        return
    # The first identity demo residents, except those protected by VAWA.
    residents = list(Resident.objects.filter(vawa_protected=False).order_by("pk")[:count])
    if len(residents) < 40:
        progress("  too few residents: run the identity seeder first")
        return
    _seed_payments(progress, residents, orgs)
    today = timezone.localdate()
    # A finished circle: 8 members, $100 a month, the last payout two months ago.
    _seed_circle(
        progress,
        orgs[FUND],
        "Spring savings circle",
        residents[1:9],
        10_000,
        _month_start(today, 9),
        paid_rounds=8,
        miss=(None, None),
    )
    # One under way: 6 members, $50 a month, in its third round; one member missed round 2.
    _seed_circle(
        progress,
        orgs[FUND],
        "Autumn savings circle",
        residents[20:26],
        5_000,
        _month_start(today, 2),
        paid_rounds=3,
        miss=(4, 2),
    )
    _seed_extras(progress, residents, orgs)
    _fund_login(progress, orgs[FUND])
