"""Every write of the identity app.

Invariants:
- Personal data is encrypted at rest (citychain.fields); exact-match search uses keyed
  blind indexes and partial names keyed prefix tokens, both recomputed whenever the
  data they come from changes, in the same transaction.
- Every event that matters (enrollment, card issue and revocation, consent, document
  attestation, access to a record) is recorded on the ledger in the same transaction,
  under the resident's pseudonym and with no personal data, except for residents
  protected by VAWA, who never reach the ledger.
- Every view, search, SSN reveal and download is written to the append-only audit
  trail (AccessEvent), which is on the ledger too.
- Erasure deletes the resident's records and pseudonym key; the ledger still verifies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citychain import crypto
from identity import cityid
from identity.models import (
    AccessEvent,
    CityCard,
    Consent,
    Document,
    DocumentAttestation,
    Encounter,
    Organization,
    RecordCategory,
    Referral,
    Resident,
    ResidentLink,
    ResidentSearchToken,
    User,
)
from ledger import kinds
from ledger import services as ledger

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_PHOTO_BYTES = 2 * 1024 * 1024
KIOSK_MAX_FAILURES = 5
KIOSK_LOCKOUT = timedelta(minutes=15)
MIN_TOKEN_LENGTH = 2

for _kind, _visibility, _description in (
    ("identity.resident_enrolled", "private", "A resident was enrolled"),
    ("identity.card_issued", "private", "A city ID card was issued"),
    ("identity.card_revoked", "private", "A city ID card was revoked"),
    ("identity.consent_recorded", "private", "A consent was granted, refused or revoked"),
    ("identity.record_accessed", "private", "A resident's record was searched, viewed or used"),
    ("identity.document_attested", "public", "An organization attested a document fingerprint"),
    ("identity.encounter_recorded", "private", "A service encounter was recorded"),
    ("identity.referral_updated", "private", "A referral was sent or answered"),
    ("identity.resident_erased", "private", "A resident's records were erased"),
):
    kinds.register(_kind, _visibility, _description)


def _keys() -> list[bytes]:
    return settings.CITYCHAIN_DATA_KEYS


# --- indexes ---------------------------------------------------------------------


def name_dob_index(first: str, last: str, dob: str | None) -> str:
    if not dob:
        return ""
    value = f"{crypto.normalize_name(first)}|{crypto.normalize_name(last)}|{dob}"
    return crypto.blind_index(value, _keys(), purpose="identity.name_dob")


def dob_index(dob: str | None) -> str:
    return crypto.blind_index(dob, _keys(), purpose="identity.dob") if dob else ""


def ssn_last4_index(last4: str) -> str:
    return crypto.blind_index(last4, _keys(), purpose="identity.ssn_last4") if last4 else ""


def city_id_index(canonical: str) -> str:
    return crypto.blind_index(canonical, _keys(), purpose="identity.city_id")


def name_token(prefix: str) -> str:
    return crypto.blind_index(prefix, _keys(), purpose="identity.name_prefix")


def name_tokens(*names: str | None) -> set[str]:
    """Keyed tokens for every prefix (2+ characters) of every word of the names."""
    tokens = set()
    for name in names:
        for word in crypto.normalize_name(name or "").split():
            for end in range(MIN_TOKEN_LENGTH, len(word) + 1):
                tokens.add(name_token(word[:end]))
    return tokens


def _reindex(resident: Resident) -> None:
    resident.name_dob_index = name_dob_index(
        resident.legal_first_name, resident.legal_last_name, resident.dob
    )
    resident.dob_index = dob_index(resident.dob)
    digits = "".join(c for c in (resident.ssn or "") if c.isdigit())
    resident.ssn_last4_index = ssn_last4_index(digits[-4:]) if len(digits) >= 4 else ""


def _retokenize(resident: Resident) -> None:
    aliases = (resident.aliases or "").splitlines()
    tokens = name_tokens(
        resident.legal_first_name,
        resident.legal_middle_name,
        resident.legal_last_name,
        resident.preferred_name,
        *aliases,
    )
    ResidentSearchToken.objects.filter(resident=resident).delete()
    ResidentSearchToken.objects.bulk_create(
        [ResidentSearchToken(resident=resident, token=t) for t in tokens]
    )


# --- ledger and audit ------------------------------------------------------------


def org_ref(organization: Organization) -> str:
    """Organizations are institutions, not people: their public code is their id."""
    return f"org-{organization.pk}"


def _record(resident: Resident, kind: str, data: dict) -> None:
    if resident.vawa_protected:
        return  # VAWA: a victim-service provider's clients never reach the ledger
    ledger.record(kind, resident.ledger_subject, data)


@transaction.atomic
def access_log(
    *,
    actor: User | None,
    action: str,
    resident: Resident | None = None,
    detail: str = "",
    organization: Organization | None = None,
) -> AccessEvent:
    """Write one audit event (and its ledger entry). `detail` must hold no personal data."""
    organization = organization or (actor.organization if actor else None)
    subject = resident.ledger_subject if resident else ""
    event = AccessEvent.objects.create(
        actor=actor,
        organization=organization,
        action=action,
        subject=subject,
        detail=detail[:200],
    )
    if resident is None or not resident.vawa_protected:
        ledger.record(
            "identity.record_accessed",
            subject or ledger.pseudonym("identity.user", str(actor.pk if actor else "system")),
            {
                "action": action,
                "organization": org_ref(organization) if organization else None,
                "event": event.pk,
            },
        )
    return event


# --- enrollment ---------------------------------------------------------------------


@dataclass
class ResidentData:
    legal_first_name: str
    legal_last_name: str
    dob: date | None
    dob_data_quality: int
    ssn: str = ""
    ssn_data_quality: int = 99
    legal_middle_name: str = ""
    name_suffix: str = ""
    preferred_name: str = ""
    aliases: list[str] = field(default_factory=list)
    name_data_quality: int = 1
    demographics: dict = field(default_factory=dict)
    phone: str = ""
    email: str = ""
    notes: str = ""
    photo: bytes | None = None
    photo_type: str = ""


def _clean_ssn(ssn: str, quality: int) -> str:
    digits = "".join(c for c in ssn if c.isdigit())
    if ssn and not digits:
        raise ValidationError({"ssn": _("An SSN has digits only.")})
    if quality == 1 and len(digits) != 9:
        raise ValidationError({"ssn": _("A full SSN has 9 digits.")})
    if quality == 2 and not 4 <= len(digits) <= 9:
        raise ValidationError({"ssn": _("A partial SSN needs at least the last 4 digits.")})
    if quality in (8, 9, 99) and digits:
        raise ValidationError(
            {"ssn": _("Leave the SSN empty when the client doesn't know it or prefers not to say.")}
        )
    if len(digits) == 9 and (digits[:3] in ("000", "666") or digits[0] == "9"):
        raise ValidationError({"ssn": _("That is not a valid SSN.")})
    return digits


def _apply(resident: Resident, data: ResidentData) -> None:
    if not data.legal_first_name.strip() or not data.legal_last_name.strip():
        raise ValidationError(_("A legal first and last name are required."))
    if data.dob and data.dob > timezone.localdate():
        raise ValidationError({"dob": _("The date of birth is in the future.")})
    if data.dob is None and data.dob_data_quality in (1, 2):
        raise ValidationError({"dob": _("Enter the date of birth, or say why it is missing.")})
    if data.photo is not None and len(data.photo) > MAX_PHOTO_BYTES:
        raise ValidationError({"photo": _("The photo is larger than 2 MB.")})
    resident.legal_first_name = data.legal_first_name.strip()
    resident.legal_middle_name = data.legal_middle_name.strip() or None
    resident.legal_last_name = data.legal_last_name.strip()
    resident.name_suffix = data.name_suffix.strip() or None
    resident.preferred_name = data.preferred_name.strip() or None
    resident.aliases = "\n".join(a.strip() for a in data.aliases if a.strip()) or None
    resident.name_data_quality = data.name_data_quality
    resident.dob = data.dob.isoformat() if data.dob else None
    resident.dob_data_quality = data.dob_data_quality
    resident.ssn = _clean_ssn(data.ssn, data.ssn_data_quality) or None
    resident.ssn_data_quality = data.ssn_data_quality
    resident.demographics = json.dumps(data.demographics, sort_keys=True)
    resident.phone = data.phone.strip() or None
    resident.email = data.email.strip() or None
    resident.notes = data.notes.strip() or None
    if data.photo is not None:
        resident.photo, resident.photo_type = data.photo, data.photo_type
    _reindex(resident)


def possible_duplicates(first: str, last: str, dob: date | None) -> list[Resident]:
    """Records that may be this person: same name and birth date, or same birth date and a
    similar name (a shared name prefix), so a caseworker can check before enrolling again."""
    if dob is None:
        return []
    exact = Resident.objects.filter(name_dob_index=name_dob_index(first, last, dob.isoformat()))
    prefixes = {
        name_token(word[:3])
        for word in crypto.normalize_name(f"{first} {last}").split()
        if len(word) >= 3
    }
    similar = Resident.objects.filter(
        dob_index=dob_index(dob.isoformat()), search_tokens__token__in=prefixes
    )
    return list((exact | similar).distinct()[:20])


@transaction.atomic
def resident_enroll(
    *,
    acting_user: User,
    data: ResidentData,
    pin: str = "",
    consent_categories: list[str] | None = None,
    consent_status: str = Consent.Status.GRANTED,
    consent_expires_on: date | None = None,
    consent_reason: str = "",
) -> Resident:
    """Enroll a resident, issue their city ID, and record their consent to this org."""
    organization = acting_user.organization
    if organization is None:
        raise ValidationError(_("Your account belongs to no organization."))
    resident = Resident(
        enrolled_by=organization,
        vawa_protected=organization.is_victim_service_provider,
    )
    _apply(resident, data)
    if pin:
        resident.kiosk_pin = _pin_hash(pin)
    resident.full_clean(exclude=["legal_first_name", "legal_last_name", "demographics"])
    resident.save()
    _retokenize(resident)
    _record(resident, "identity.resident_enrolled", {"organization": org_ref(organization)})
    card_issue(resident=resident, acting_user=acting_user)
    consent_record(
        resident=resident,
        organization=organization,
        categories=consent_categories or [RecordCategory.IDENTITY],
        status=consent_status,
        expires_on=consent_expires_on,
        reason=consent_reason,
        acting_user=acting_user,
    )
    access_log(actor=acting_user, action=AccessEvent.Action.ENROLL, resident=resident)
    return resident


@transaction.atomic
def resident_update(*, acting_user: User, resident: Resident, data: ResidentData) -> Resident:
    _apply(resident, data)
    resident.save()
    _retokenize(resident)
    access_log(actor=acting_user, action=AccessEvent.Action.UPDATE, resident=resident)
    return resident


# --- city ID cards ----------------------------------------------------------------------


def card_issue(*, resident: Resident, acting_user: User) -> tuple[CityCard, str]:
    """Issue a new active card; returns the card and the city ID in display form."""
    for _attempt in range(5):
        display = cityid.generate()
        canonical = cityid.parse(display)
        try:
            with transaction.atomic():
                card = CityCard.objects.create(
                    resident=resident,
                    city_id=canonical,
                    city_id_index=city_id_index(canonical),
                    issued_by=acting_user,
                )
        except IntegrityError:
            if CityCard.objects.filter(resident=resident, status="active").exists():
                raise ValidationError(_("This resident already has an active card.")) from None
            continue  # a random ID collided: draw again
        _record(resident, "identity.card_issued", {"card": card.pk})
        return card, display
    raise RuntimeError("could not draw an unused city ID")


@transaction.atomic
def card_reissue(*, resident: Resident, acting_user: User, reason: str) -> tuple[CityCard, str]:
    """A lost or stolen card: revoke the old ID (still findable) and issue a new one."""
    now = timezone.now()
    for old in CityCard.objects.select_for_update().filter(resident=resident, status="active"):
        old.status, old.revoked_at, old.revoked_reason = CityCard.Status.REVOKED, now, reason[:200]
        old.save(update_fields=["status", "revoked_at", "revoked_reason"])
        _record(resident, "identity.card_revoked", {"card": old.pk})
    return card_issue(resident=resident, acting_user=acting_user)


def active_card(resident: Resident) -> CityCard | None:
    return resident.cards.filter(status=CityCard.Status.ACTIVE).first()


# --- consent ---------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    resident: Resident,
    organization: Organization,
    categories: list[str],
    status: str,
    acting_user: User | None,
    expires_on: date | None = None,
    reason: str = "",
) -> Consent:
    """Record a release of information: signed, verbal, or refused (with a reason)."""
    valid = set(RecordCategory.values)
    if not categories and status != Consent.Status.REFUSED:
        raise ValidationError(_("Choose at least one kind of record to share."))
    if set(categories) - valid:
        raise ValidationError(_("Unknown record category."))
    if status not in (Consent.Status.GRANTED, Consent.Status.VERBAL, Consent.Status.REFUSED):
        raise ValidationError(_("Unknown consent status."))
    if status == Consent.Status.REFUSED and not reason.strip():
        raise ValidationError({"reason": _("Say why the consent was refused.")})
    if expires_on and expires_on < timezone.localdate():
        raise ValidationError({"expires_on": _("The expiry date is in the past.")})
    consent = Consent.objects.create(
        resident=resident,
        organization=organization,
        categories=sorted(set(categories)),
        status=status,
        expires_on=expires_on,
        reason=reason.strip() or None,
        recorded_by=acting_user,
    )
    _record(
        resident,
        "identity.consent_recorded",
        {
            "consent": consent.pk,
            "organization": org_ref(organization),
            "status": status,
            "categories": consent.categories,
            "expires_on": expires_on.isoformat() if expires_on else None,
        },
    )
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, acting_user: User | None) -> Consent:
    """Revoke at once; `acting_user` is None when the resident revokes at the kiosk."""
    if consent.status == Consent.Status.REVOKED:
        return consent
    consent.status, consent.revoked_at = Consent.Status.REVOKED, timezone.now()
    consent.save(update_fields=["status", "revoked_at"])
    _record(
        consent.resident,
        "identity.consent_recorded",
        {
            "consent": consent.pk,
            "organization": org_ref(consent.organization),
            "status": "revoked",
            "by": "resident" if acting_user is None else "staff",
        },
    )
    return consent


# --- documents ---------------------------------------------------------------------------

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff_content_type(content: bytes) -> str | None:
    """PDF, JPEG or PNG by their first bytes; the file name is never trusted."""
    for magic, content_type in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    return None


@transaction.atomic
def document_upload(
    *, acting_user: User, resident: Resident, content: bytes, category: str, title: str
) -> Document:
    if not content:
        raise ValidationError({"file": _("The file is empty.")})
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationError({"file": _("The file is larger than 10 MB.")})
    content_type = sniff_content_type(content)
    if content_type is None:
        raise ValidationError({"file": _("Only PDF, JPEG and PNG files can be uploaded.")})
    if category not in RecordCategory.values:
        raise ValidationError({"category": _("Unknown record category.")})
    digest = hashlib.sha256(content).hexdigest()
    organization = acting_user.organization
    document = Document.objects.create(
        resident=resident,
        category=category,
        title=title.strip() or _("Untitled document"),
        content=content,
        content_type=content_type,
        size=len(content),
        sha256=digest,
        organization=organization,
        uploaded_by=acting_user,
    )
    entry = None
    if not resident.vawa_protected:
        entry = ledger.record(
            "identity.document_attested",
            ledger.pseudonym("identity.organization", str(organization.pk)),
            {"sha256": digest, "organization": org_ref(organization)},
        )
    DocumentAttestation.objects.create(
        sha256=digest,
        organization=organization,
        attested_at=document.uploaded_at,
        ledger_entry=entry,
    )
    return document


# --- encounters and referrals ---------------------------------------------------------------


@transaction.atomic
def encounter_record(
    *, acting_user: User, resident: Resident, kind: str, on: date, notes: str = ""
) -> Encounter:
    if kind not in Encounter.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of service.")})
    if on > timezone.localdate():
        raise ValidationError({"date": _("The date is in the future.")})
    encounter = Encounter.objects.create(
        resident=resident,
        organization=acting_user.organization,
        kind=kind,
        date=on,
        notes=notes.strip() or None,
        recorded_by=acting_user,
    )
    _record(
        resident,
        "identity.encounter_recorded",
        {"encounter": encounter.pk, "organization": org_ref(encounter.organization), "kind": kind},
    )
    return encounter


@transaction.atomic
def referral_send(
    *,
    acting_user: User,
    resident: Resident,
    to_organization: Organization,
    service: str,
    note: str = "",
) -> Referral:
    from identity.selectors import active_consent

    if to_organization == acting_user.organization:
        raise ValidationError({"to_organization": _("Refer to another organization.")})
    if active_consent(resident, to_organization) is None:
        raise ValidationError(
            {
                "to_organization": _(
                    "The resident has not consented to share their record with %(org)s. "
                    "Record their consent first."
                )
                % {"org": to_organization}
            }
        )
    referral = Referral.objects.create(
        resident=resident,
        from_organization=acting_user.organization,
        to_organization=to_organization,
        service=service.strip(),
        note=note.strip() or None,
        created_by=acting_user,
    )
    _record(resident, "identity.referral_updated", {"referral": referral.pk, "status": "sent"})
    return referral


_NEXT = {
    Referral.Status.SENT: {Referral.Status.ACCEPTED, Referral.Status.DECLINED},
    Referral.Status.ACCEPTED: {Referral.Status.COMPLETED},
}


@transaction.atomic
def referral_set_status(
    *, acting_user: User, referral: Referral, status: str, note: str = ""
) -> Referral:
    """sent → accepted or declined → completed, by the receiving organization."""
    if referral.to_organization_id != acting_user.organization_id:
        raise ValidationError(_("Only the receiving organization can answer a referral."))
    if status not in _NEXT.get(referral.status, set()):
        raise ValidationError(
            _("A %(current)s referral cannot become %(new)s.")
            % {"current": referral.get_status_display(), "new": status}
        )
    referral.status = status
    if note.strip():
        referral.response_note = note.strip()
    referral.save(update_fields=["status", "response_note", "updated_at"])
    _record(
        referral.resident, "identity.referral_updated", {"referral": referral.pk, "status": status}
    )
    return referral


# --- links between records -------------------------------------------------------------


@transaction.atomic
def resident_link(*, acting_user: User, a: Resident, b: Resident, reason: str) -> ResidentLink:
    if a.pk == b.pk:
        raise ValidationError(_("A record cannot be linked to itself."))
    if not reason.strip():
        raise ValidationError({"reason": _("Say why these records are the same person.")})
    first, second = sorted((a, b), key=lambda r: r.pk)
    try:
        with transaction.atomic():
            return ResidentLink.objects.create(
                first=first, second=second, linked_by=acting_user, reason=reason.strip()
            )
    except IntegrityError:
        raise ValidationError(_("These records are already linked.")) from None


@transaction.atomic
def resident_unlink(*, acting_user: User, link: ResidentLink) -> ResidentLink:
    link.unlinked_by, link.unlinked_at = acting_user, timezone.now()
    link.save(update_fields=["unlinked_by", "unlinked_at"])
    return link


# --- kiosk PIN ----------------------------------------------------------------------------


def _pin_hash(pin: str) -> str:
    if not pin.isdigit() or not 4 <= len(pin) <= 8:
        raise ValidationError({"pin": _("The PIN must be 4 to 8 digits.")})
    return make_password(pin)


@transaction.atomic
def kiosk_set_pin(*, acting_user: User, resident: Resident, pin: str) -> None:
    resident.kiosk_pin = _pin_hash(pin)
    resident.kiosk_failed_attempts, resident.kiosk_locked_until = 0, None
    resident.save(update_fields=["kiosk_pin", "kiosk_failed_attempts", "kiosk_locked_until"])


class KioskLocked(Exception):
    def __init__(self, until):
        self.until = until


@transaction.atomic
def kiosk_check_pin(*, resident: Resident, pin: str) -> bool:
    """True on the right PIN. Repeated failures lock the kiosk for this resident."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    now = timezone.now()
    if resident.kiosk_locked_until and resident.kiosk_locked_until > now:
        raise KioskLocked(resident.kiosk_locked_until)
    if resident.kiosk_pin and check_password(pin, resident.kiosk_pin):
        resident.kiosk_failed_attempts, resident.kiosk_locked_until = 0, None
        resident.save(update_fields=["kiosk_failed_attempts", "kiosk_locked_until"])
        access_log(actor=None, action=AccessEvent.Action.KIOSK, resident=resident)
        return True
    resident.kiosk_failed_attempts += 1
    if resident.kiosk_failed_attempts >= KIOSK_MAX_FAILURES:
        resident.kiosk_locked_until, resident.kiosk_failed_attempts = now + KIOSK_LOCKOUT, 0
    resident.save(update_fields=["kiosk_failed_attempts", "kiosk_locked_until"])
    return False


# --- erasure ---------------------------------------------------------------------------------


@transaction.atomic
def resident_erase(*, acting_user: User, resident: Resident) -> None:
    """Delete the resident's records and pseudonym key. The ledger keeps only entries that
    can no longer be linked to anyone, and still verifies; attestations name no one."""
    subject_key = str(resident.public_id)
    if not resident.vawa_protected:
        ledger.record("identity.resident_erased", resident.ledger_subject, {})
    access_log(actor=acting_user, action=AccessEvent.Action.ERASE, detail="resident erased")
    resident.delete()
    ledger.pseudonym_erase("identity.resident", subject_key)
