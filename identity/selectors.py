"""Every read of the identity app, and the consent rules that decide what a caseworker sees.

A caseworker sees a resident only under an active consent from that resident to the
caseworker's organization; which records (documents by category, case notes, SSN) they
see follows the consent's categories. Anything else is "not found", with no hint that
it exists. Reads here do not write the audit trail: views do, through services.access_log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone

from identity import cityid, services
from identity.models import (
    CityCard,
    Consent,
    Document,
    Encounter,
    Organization,
    RecordCategory,
    Referral,
    Resident,
    ResidentLink,
    ResidentSearchToken,
    User,
)

ACTIVE = (Consent.Status.GRANTED, Consent.Status.VERBAL)
MAX_RESULTS = 50


def active_consents(organization: Organization) -> QuerySet[Consent]:
    today = timezone.localdate()
    return Consent.objects.filter(organization=organization, status__in=ACTIVE).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=today)
    )


def active_consent(resident: Resident, organization: Organization | None) -> Consent | None:
    if organization is None:
        return None
    return active_consents(organization).filter(resident=resident).order_by("-recorded_at").first()


@dataclass(frozen=True)
class Access:
    """What one organization may see of one resident, from its active consents."""

    categories: frozenset[str]

    @property
    def any(self) -> bool:
        return bool(self.categories)

    def allows(self, category: str) -> bool:
        return category in self.categories

    @property
    def ssn(self) -> bool:
        return RecordCategory.IDENTITY in self.categories

    @property
    def case_notes(self) -> bool:
        return RecordCategory.CASE_NOTES in self.categories


def access_for(resident: Resident, organization: Organization | None) -> Access:
    if organization is None:
        return Access(frozenset())
    categories: set[str] = set()
    for consent in active_consents(organization).filter(resident=resident):
        categories.update(consent.categories)
    return Access(frozenset(categories))


def visible_residents(user: User) -> QuerySet[Resident]:
    """Residents with an active consent to the user's organization."""
    if user.organization is None:
        return Resident.objects.none()
    return Resident.objects.filter(pk__in=active_consents(user.organization).values("resident_id"))


def resident_for(user: User, public_id) -> Resident | None:
    """The resident if the user's organization may see them; otherwise None (→ 404)."""
    return visible_residents(user).filter(public_id=public_id).first()


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}/\d{1,2}/\d{4}$")


def _parse_date(text: str) -> date | None:
    try:
        if "/" in text:
            month, day, year = (int(p) for p in text.split("/"))
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        return None


def resident_by_city_id(canonical: str) -> Resident | None:
    """Any card, active or revoked (a former ID still finds the person)."""
    card = (
        CityCard.objects.select_related("resident")
        .filter(city_id_index=services.city_id_index(canonical))
        .first()
    )
    return card.resident if card else None


def search(user: User, query: str) -> list[Resident]:
    """Search as caseworkers do: city ID (typed or scanned), date of birth, last 4 of the
    SSN, partial names — any mix, all must match — within the residents they may see."""
    terms = query.split()
    residents = visible_residents(user)
    if not terms:
        return []
    if len(terms) > 1 and cityid.is_valid(query):  # typed in groups with spaces
        terms = [cityid.normalize(query)]
    rest = []
    for term in terms:
        if _DATE.match(term) and (dob := _parse_date(term)):
            residents = residents.filter(dob_index=services.dob_index(dob.isoformat()))
        elif term.isdigit() and len(term) == 4:
            residents = residents.filter(ssn_last4_index=services.ssn_last4_index(term))
        elif cityid.is_valid(term) and len(cityid.normalize(term)) == cityid.LENGTH:
            found = resident_by_city_id(cityid.normalize(term))
            residents = residents.filter(pk=found.pk if found else -1)
        else:
            rest.append(term)
    for word in " ".join(rest).split():
        from citychain.crypto import normalize_name

        for part in normalize_name(word).split():
            token = services.name_token(part) if len(part) >= 2 else None
            if token is None:
                continue
            residents = residents.filter(
                pk__in=ResidentSearchToken.objects.filter(token=token).values("resident_id")
            )
    return list(residents.order_by("-updated_at")[:MAX_RESULTS])


def documents_for(resident: Resident, access: Access) -> QuerySet[Document]:
    return resident.documents.filter(category__in=access.categories).defer("content")


def encounters_for(
    resident: Resident, organization: Organization, access: Access
) -> QuerySet[Encounter]:
    """Your organization's encounters; other organizations' only under the case-notes
    category, and medical visits only under the medical category too (a clinic visit
    is medical information)."""
    mine = Q(organization=organization)
    others = Q(pk__in=[]) if not access.case_notes else ~Q(organization=organization)
    if not access.allows(RecordCategory.MEDICAL):
        others &= ~Q(kind=Encounter.Kind.MEDICAL_VISIT)
    return resident.encounters.filter(mine | others).select_related("organization", "recorded_by")[
        :100
    ]


def referrals_for(
    resident: Resident, organization: Organization, access: Access
) -> QuerySet[Referral]:
    """Referrals to or from your organization; others' only under the case-notes category
    (where a resident was referred can itself be sensitive, e.g. a treatment program)."""
    visible = Q(from_organization=organization) | Q(to_organization=organization)
    if access.case_notes:
        visible = Q()
    return resident.referrals.filter(visible).select_related("from_organization", "to_organization")


def referral_queue(organization: Organization) -> QuerySet[Referral]:
    return (
        Referral.objects.filter(
            to_organization=organization,
            status__in=[Referral.Status.SENT, Referral.Status.ACCEPTED],
        )
        .select_related("resident", "from_organization")
        .order_by("created_at")
    )


def links_for(resident: Resident) -> list[tuple[ResidentLink, Resident]]:
    links = ResidentLink.objects.filter(
        Q(first=resident) | Q(second=resident), unlinked_at__isnull=True
    ).select_related("first", "second")
    return [(link, link.second if link.first_id == resident.pk else link.first) for link in links]


def consents_for(resident: Resident) -> QuerySet[Consent]:
    return resident.consents.select_related("organization", "recorded_by")
