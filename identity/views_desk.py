"""The caseworker desk: search, enroll, the consolidated record, the card, consent,
encounters, referrals, links between records and erasure.

Views validate with a form, call identity.services and render. A resident is loaded
through `selectors.resident_for`, so a resident the caseworker's organization may not see
is a plain 404, whatever the UUID. Every search, view and SSN reveal is audited through
`services.access_log`, whose detail holds ids and counts only.
"""

from __future__ import annotations

import uuid
from datetime import date

import segno
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Prefetch, Q, Subquery, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from citychain import crypto, roles
from identity import cityid, selectors, services
from identity.forms import (
    CATEGORY_DESCRIPTIONS,
    GENDER_CHOICES,
    MISSING_CHOICES,
    NO_YES_CHOICES,
    RACE_CHOICES,
    SEX_CHOICES,
    CardReissueForm,
    ConsentForm,
    EncounterForm,
    EnrollForm,
    EraseForm,
    LinkForm,
    ReferralForm,
    ReferralStatusForm,
    RequestAccessForm,
    SearchForm,
    add_service_errors,
)
from identity.models import (
    AccessEvent,
    CityCard,
    Consent,
    RecordCategory,
    Referral,
    Resident,
    ResidentLink,
    User,
)
from identity.permissions import city_admin_required, desk_required

Action = AccessEvent.Action
AUDIT_TRAIL_LENGTH = 20
REQUEST_ACCESS_MAX_FAILURES = 10
REQUEST_ACCESS_WINDOW = 15 * 60  # seconds
REQUEST_ACCESS_TOKEN_AGE = 15 * 60
_REQUEST_ACCESS_SALT = "identity.desk.request_access"


# --- small reads the selectors do not have ----------------------------------------


def _resident_or_404(user: User, public_id) -> Resident:
    resident = selectors.resident_for(user, public_id)
    if resident is None:
        raise Http404
    return resident


def _active_city_id():
    """The resident's active city ID (canonical), as a decrypted annotation."""
    return Subquery(
        CityCard.objects.filter(resident=OuterRef("pk"), status=CityCard.Status.ACTIVE).values(
            "city_id"
        )[:1],
        output_field=CityCard._meta.get_field("city_id"),
    )


def _linked_records(user: User, resident: Resident) -> list[tuple[ResidentLink, Resident]]:
    """Active links to records the user's organization may also see: two queries always."""
    links = ResidentLink.objects.filter(
        Q(first=resident) | Q(second=resident), unlinked_at__isnull=True
    )
    others = {
        other.pk: other
        for other in selectors.visible_residents(user)
        .filter(Q(pk__in=links.values("first_id")) | Q(pk__in=links.values("second_id")))
        .exclude(pk=resident.pk)
        .defer("photo")
        .annotate(active_city_id=_active_city_id())
    }
    result = []
    for link in links.order_by("linked_at"):
        other_id = link.second_id if link.first_id == resident.pk else link.first_id
        if other_id in others:
            other = others[other_id]
            other.city_id_display = (
                cityid.display(other.active_city_id) if other.active_city_id else ""
            )
            result.append((link, other))
    return result


def _audit_trail(subject: str):
    return AccessEvent.objects.filter(subject=subject).select_related("actor", "organization")[
        :AUDIT_TRAIL_LENGTH
    ]


def _with_category_labels(consents) -> list[Consent]:
    labels = dict(RecordCategory.choices)
    consents = list(consents)
    for consent in consents:
        consent.category_labels = [str(labels.get(c, c)) for c in consent.categories]
    return consents


def _dob(resident: Resident) -> date | None:
    return date.fromisoformat(resident.dob) if resident.dob else None


def _masked_ssn(ssn: str | None) -> str:
    return f"•••-••-{ssn[-4:]}" if ssn and len(ssn) >= 4 else ""


def _formatted_ssn(ssn: str) -> str:
    return f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}" if len(ssn) == 9 else ssn


def _labels(choices, values) -> list[str]:
    labels = dict(choices)
    return [str(labels.get(v, v)) for v in values]


def _demographics(resident: Resident) -> list[tuple[str, str]]:
    """The HMIS answers in words, for the record page."""
    data = resident.demographic_data
    missing = dict(MISSING_CHOICES)
    rows = []
    race = _labels(RACE_CHOICES, data.get("race") or [])
    if not race and data.get("race_none") in missing:
        race = [str(missing[data["race_none"]])]
    if data.get("additional_race_ethnicity"):
        race.append(data["additional_race_ethnicity"])
    rows.append((_("Race and ethnicity"), ", ".join(race)))
    gender = _labels(GENDER_CHOICES, data.get("gender") or [])
    if not gender and data.get("gender_none") in missing:
        gender = [str(missing[data["gender_none"]])]
    rows.append((_("Gender"), ", ".join(gender)))
    for key, label, choices in (
        ("sex", _("Sex"), SEX_CHOICES),
        ("veteran_status", _("Veteran"), NO_YES_CHOICES),
        ("disabling_condition", _("Disabling condition"), NO_YES_CHOICES),
    ):
        if key in data:
            rows.append((label, _labels(choices, [data[key]])[0]))
    return [(label, value) for label, value in rows if value]


def _duplicate_fingerprint(user: User, first: str, last: str, dob: date | None) -> str:
    """Ties the "different person — enroll" confirmation to the name and birth date that
    were checked: change either and the duplicate check runs again."""
    value = f"{user.pk}|{crypto.normalize_name(first)}|{crypto.normalize_name(last)}|{dob}"
    return salted_hmac("identity.desk.enroll_confirm", value, algorithm="sha256").hexdigest()


def _uuids(values: list[str]) -> list[uuid.UUID]:
    result = []
    for value in values:
        try:
            result.append(uuid.UUID(value))
        except ValueError:
            continue
    return result


def _search_results(user: User, query: str) -> list[Resident]:
    results = selectors.search(user, query)
    prefetch_related_objects(
        results,
        "enrolled_by",
        Prefetch(
            "cards",
            queryset=CityCard.objects.filter(status=CityCard.Status.ACTIVE),
            to_attr="active_cards",
        ),
    )
    for resident in results:
        resident.dob_date = _dob(resident)
        cards = resident.active_cards
        resident.city_id_display = cityid.display(cards[0].city_id) if cards else ""
    return results


# --- home: search and the referral queue --------------------------------------------


def _render_home(request, form, *, results=None, status=200):
    organization = request.user.organization
    queue = list(selectors.referral_queue(organization))
    visible = set(
        selectors.visible_residents(request.user)
        .filter(pk__in=[r.resident_id for r in queue])
        .values_list("pk", flat=True)
    )
    for referral in queue:
        referral.resident_visible = referral.resident_id in visible
    return render(
        request,
        "identity/desk/home.html",
        {"form": form, "results": results, "queue": queue},
        status=status,
    )


@desk_required
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """Search (POSTed, so names and birth dates stay out of logs and history) and queue."""
    if request.method != "POST":
        return _render_home(request, SearchForm())
    form = SearchForm(request.POST)
    if not form.is_valid():
        return _render_home(request, form, status=400)
    query = form.cleaned_data["q"]
    results = _search_results(request.user, query)
    services.access_log(actor=request.user, action=Action.SEARCH, detail=str(len(results)))
    if len(results) == 1 and cityid.is_valid(query):
        # A scanned or typed card: straight to the record.
        return redirect("identity:resident", results[0].public_id)
    return _render_home(request, form, results=results)


@desk_required
@require_POST
def referral_status(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral, pk=pk, to_organization=request.user.organization)
    form = ReferralStatusForm(request.POST)
    if form.is_valid():
        try:
            services.referral_set_status(
                acting_user=request.user,
                referral=referral,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if form.errors:
        messages.error(
            request,
            _("The referral was not changed: %(errors)s")
            % {"errors": " ".join(str(e) for errors in form.errors.values() for e in errors)},
        )
        return _render_home(request, SearchForm(), status=400)
    messages.success(
        request, _("The referral is now “%(status)s”.") % {"status": referral.get_status_display()}
    )
    return redirect("identity:home")


# --- enrollment --------------------------------------------------------------------


def _split_duplicates(user: User, duplicates: list[Resident]):
    """Records the organization may see (with their details) and whether there are others.

    Residents of a victim-service provider are left out of the hint entirely: VAWA means
    not even "someone like this is known elsewhere"."""
    visible_ids = set(
        selectors.visible_residents(user)
        .filter(pk__in=[d.pk for d in duplicates])
        .values_list("pk", flat=True)
    )
    visible = [d for d in duplicates if d.pk in visible_ids]
    prefetch_related_objects(
        visible,
        Prefetch(
            "cards",
            queryset=CityCard.objects.filter(status=CityCard.Status.ACTIVE),
            to_attr="active_cards",
        ),
    )
    for resident in visible:
        resident.dob_date = _dob(resident)
        cards = resident.active_cards
        resident.city_id_display = cityid.display(cards[0].city_id) if cards else ""
    hidden = any(d.pk not in visible_ids and not d.vawa_protected for d in duplicates)
    return visible, hidden


@transaction.atomic
def _enroll_and_link(user: User, form: EnrollForm, consent: ConsentForm, link_to: list[Resident]):
    """Enroll, then link the new record to the duplicates the caseworker named: together."""
    resident = services.resident_enroll(
        acting_user=user,
        data=form.resident_data(),
        pin=form.cleaned_data["pin"],
        consent_categories=consent.cleaned_data["categories"],
        consent_status=consent.cleaned_data["status"],
        consent_expires_on=consent.cleaned_data["expires_on"],
    )
    for other in link_to:
        services.resident_link(
            acting_user=user, a=resident, b=other, reason=_("Possible duplicate at enrollment")
        )
    return resident


@desk_required
@never_cache
def enroll(request: HttpRequest) -> HttpResponse:
    post = request.method == "POST"
    form = EnrollForm(request.POST if post else None, request.FILES if post else None)
    consent = ConsentForm(
        request.POST if post else None,
        prefix="consent",
        allow_refusal=False,
        initial={"categories": [RecordCategory.IDENTITY]},
    )
    context = {"form": form, "consent_form": consent}
    if not post:
        return render(request, "identity/desk/enroll.html", context)
    if not (form.is_valid() and consent.is_valid()):
        return render(request, "identity/desk/enroll.html", context, status=400)

    data = form.cleaned_data
    fingerprint = _duplicate_fingerprint(
        request.user, data["legal_first_name"], data["legal_last_name"], data["dob"]
    )
    if not constant_time_compare(request.POST.get("confirmed", ""), fingerprint):
        duplicates = services.possible_duplicates(
            data["legal_first_name"], data["legal_last_name"], data["dob"]
        )
        if duplicates:
            visible, hidden = _split_duplicates(request.user, duplicates)
            context.update(
                duplicates=visible,
                hidden_duplicates=hidden,
                fingerprint=fingerprint,
                photo_given=bool(data.get("photo")),
            )
            return render(request, "identity/desk/enroll.html", context)

    link_to = list(
        selectors.visible_residents(request.user).filter(
            public_id__in=_uuids(request.POST.getlist("link_to"))
        )
    )
    try:
        resident = _enroll_and_link(request.user, form, consent, link_to)
    except ValidationError as exc:
        add_service_errors(exc, form, consent)
        return render(request, "identity/desk/enroll.html", context, status=400)
    messages.success(request, _("The resident is enrolled and has a city ID. Print their card."))
    return redirect("identity:card", resident.public_id)


# --- the consolidated record ------------------------------------------------------------


def _render_resident(
    request, resident: Resident, *, ssn: str = "", link_form=None, status: int = 200
):
    user = request.user
    organization = user.organization
    access = selectors.access_for(resident, organization)
    subject = resident.ledger_subject
    card = services.active_card(resident)
    documents = list(selectors.documents_for(resident, access).select_related("organization"))
    context = {
        "resident": resident,
        "dob": _dob(resident),
        "access": access,
        "city_id": cityid.display(card.city_id) if card else "",
        "card": card,
        "ssn_masked": _masked_ssn(resident.ssn) if access.ssn else "",
        "ssn_revealed": _formatted_ssn(ssn) if ssn else "",
        "demographics": _demographics(resident),
        "aliases": (resident.aliases or "").splitlines(),
        "documents": documents,
        "has_part2": any(d.category == RecordCategory.SUBSTANCE_USE for d in documents),
        "part2": RecordCategory.SUBSTANCE_USE,
        "consents": _with_category_labels(
            selectors.consents_for(resident).filter(organization=organization)
        ),
        "encounters": selectors.encounters_for(resident, organization, access),
        "referrals": selectors.referrals_for(resident, organization, access),
        "links": _linked_records(user, resident),
        "link_form": link_form or LinkForm(),
        "audit": _audit_trail(subject),
        "is_city_admin": roles.has_role(user, roles.CITY_ADMIN),
    }
    return render(request, "identity/desk/resident.html", context, status=status)


@desk_required
@never_cache
def resident(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    services.access_log(actor=request.user, action=Action.VIEW, resident=resident)
    return _render_resident(request, resident)


@desk_required
@never_cache
@require_POST
def ssn_reveal(request: HttpRequest, public_id) -> HttpResponse:
    """Show the full SSN once, in this response only; audited."""
    resident = _resident_or_404(request.user, public_id)
    if not selectors.access_for(resident, request.user.organization).ssn:
        raise Http404
    services.access_log(actor=request.user, action=Action.SSN_REVEAL, resident=resident)
    if not resident.ssn:
        messages.info(request, _("No SSN is on record for this resident."))
    return _render_resident(request, resident, ssn=resident.ssn or "")


# --- the card -----------------------------------------------------------------------


def _qr_svg(canonical: str) -> str:
    """The city ID as a QR code in inline SVG, drawn here: no script, no outside service."""
    qr = segno.make(canonical, error="m", micro=False)
    svg = qr.svg_inline(scale=4, omitsize=True, svgclass="qr", lineclass="qr-line", title=None)
    label = escape(_("QR code of the city ID"))
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))  # noqa: S308 - segno's own SVG, label escaped


@desk_required
@never_cache
def card(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    services.access_log(actor=request.user, action=Action.VIEW, resident=resident, detail="card")
    active = services.active_card(resident)
    context = {
        "resident": resident,
        "card": active,
        "city_id": cityid.display(active.city_id) if active else "",
        "qr_svg": _qr_svg(active.city_id) if active else "",
        "city_name": getattr(settings, "CITYCHAIN_CITY_NAME", "") or _("City of citychain"),
        "reissue_form": CardReissueForm(),
    }
    return render(request, "identity/desk/card.html", context)


@desk_required
def photo(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    if not resident.photo:
        raise Http404
    services.access_log(actor=request.user, action=Action.VIEW, resident=resident, detail="photo")
    response = HttpResponse(bytes(resident.photo), content_type=resident.photo_type)
    response["Cache-Control"] = "no-store"
    return response


@desk_required
@require_POST
def card_reissue(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    form = CardReissueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose why the resident needs a new card."))
        return redirect("identity:card", resident.public_id)
    services.card_reissue(
        resident=resident, acting_user=request.user, reason=form.cleaned_data["reason"]
    )
    messages.success(
        request,
        _("A new card was issued. The old city ID no longer works on cards; print the new one."),
    )
    return redirect("identity:card", resident.public_id)


# --- consent ------------------------------------------------------------------------------


def _after_consent_change(request, resident: Resident) -> HttpResponse:
    if selectors.resident_for(request.user, resident.public_id) is None:
        return redirect("identity:home")
    return redirect("identity:resident", resident.public_id)


def _record_consent(request, resident: Resident, form: ConsentForm) -> bool:
    try:
        services.consent_record(
            resident=resident,
            organization=request.user.organization,
            categories=form.cleaned_data["categories"],
            status=form.cleaned_data["status"],
            acting_user=request.user,
            expires_on=form.cleaned_data["expires_on"],
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        add_service_errors(exc, form)
        return False
    if form.cleaned_data["status"] == Consent.Status.REFUSED:
        messages.success(request, _("The refusal was recorded."))
    else:
        messages.success(request, _("The consent was recorded."))
    return True


@desk_required
@never_cache
def consent_new(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    form = ConsentForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid() and _record_consent(request, resident, form):
            return _after_consent_change(request, resident)
        status = 400
    else:
        status = 200
    return render(
        request,
        "identity/desk/consent_new.html",
        {"resident": resident, "form": form},
        status=status,
    )


@desk_required
@never_cache
def consent_print(request: HttpRequest, public_id) -> HttpResponse:
    """A release-of-information form to print and sign. ?categories=... preticks them."""
    resident = _resident_or_404(request.user, public_id)
    chosen = [c for c in request.GET.getlist("categories") if c in RecordCategory.values]
    categories = [
        (value, label, CATEGORY_DESCRIPTIONS[value], value in chosen)
        for value, label in RecordCategory.choices
    ]
    try:
        expires_on = date.fromisoformat(request.GET.get("expires_on", ""))
    except ValueError:
        expires_on = None
    return render(
        request,
        "identity/desk/consent_print.html",
        {
            "resident": resident,
            "organization": request.user.organization,
            "categories": categories,
            "prefilled": bool(chosen),
            "expires_on": expires_on,
            "part2": not chosen or RecordCategory.SUBSTANCE_USE in chosen,
            "today": timezone.localdate(),
        },
    )


@desk_required
@require_POST
def consent_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    consent = get_object_or_404(
        Consent.objects.select_related("resident"),
        pk=pk,
        organization=request.user.organization,
    )
    resident = _resident_or_404(request.user, consent.resident.public_id)
    services.consent_revoke(consent=consent, acting_user=request.user)
    messages.success(request, _("The consent was revoked."))
    return _after_consent_change(request, resident)


# --- a resident of another organization asks to be served here ----------------------------


def _throttle_key(user: User) -> str:
    return f"identity:request_access:failures:{user.pk}"


def _request_access_match(form: RequestAccessForm) -> Resident | None:
    """The resident whose ACTIVE card has this ID and whose birth date matches; a lost or
    stolen (revoked) card does not open anyone's record."""
    card = (
        CityCard.objects.select_related("resident")
        .filter(
            city_id_index=services.city_id_index(form.cleaned_data["city_id"]),
            status=CityCard.Status.ACTIVE,
        )
        .first()
    )
    if card is None or card.resident.dob != form.cleaned_data["dob"].isoformat():
        return None
    return card.resident


@desk_required
@never_cache
def request_access(request: HttpRequest) -> HttpResponse:
    """City ID + date of birth, both from the resident in front of the caseworker, then the
    consent they give now. No match looks the same whether or not the ID exists."""
    template = "identity/desk/request_access.html"
    if request.method != "POST":
        return render(request, template, {"form": RequestAccessForm()})

    token = request.POST.get("token")
    if token:
        try:
            public_id = signing.loads(
                token,
                salt=f"{_REQUEST_ACCESS_SALT}:{request.user.pk}",
                max_age=REQUEST_ACCESS_TOKEN_AGE,
            )["resident"]
        except (signing.BadSignature, KeyError, TypeError):
            messages.error(
                request, _("That took too long. Enter the city ID and date of birth again.")
            )
            return redirect("identity:request_access")
        resident = Resident.objects.filter(public_id=public_id).first()
        if resident is None:
            raise Http404
        form = ConsentForm(request.POST)
        if form.is_valid() and _record_consent(request, resident, form):
            return _after_consent_change(request, resident)
        return render(request, template, {"consent_form": form, "token": token}, status=400)

    form = RequestAccessForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    failures = cache.get(_throttle_key(request.user), 0)
    if failures >= REQUEST_ACCESS_MAX_FAILURES:
        form.add_error(
            None, _("Too many tries that matched no one. Wait 15 minutes, then try again.")
        )
        return render(request, template, {"form": form}, status=429)
    resident = _request_access_match(form)
    services.access_log(
        actor=request.user,
        action=Action.SEARCH,
        resident=resident,
        detail=f"request access: {1 if resident else 0}",
    )
    if resident is None:
        cache.set(_throttle_key(request.user), failures + 1, REQUEST_ACCESS_WINDOW)
        form.add_error(
            None,
            _(
                "No record matches that city ID and date of birth. Check both with the "
                "resident, or enroll them."
            ),
        )
        return render(request, template, {"form": form}, status=404)
    token = signing.dumps(
        {"resident": str(resident.public_id)}, salt=f"{_REQUEST_ACCESS_SALT}:{request.user.pk}"
    )
    consent_form = ConsentForm(initial={"categories": [RecordCategory.IDENTITY]})
    return render(request, template, {"consent_form": consent_form, "token": token})


# --- encounters and referrals --------------------------------------------------------------


@desk_required
@never_cache
def encounter_new(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    form = EncounterForm(request.POST or None, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.encounter_record(
                acting_user=request.user,
                resident=resident,
                kind=form.cleaned_data["kind"],
                on=form.cleaned_data["date"],
                notes=form.cleaned_data["notes"],
            )
        except ValidationError as exc:
            add_service_errors(exc, form)
        else:
            messages.success(request, _("The service was recorded."))
            return redirect("identity:resident", resident.public_id)
    return render(
        request,
        "identity/desk/encounter_new.html",
        {"resident": resident, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@desk_required
@never_cache
def referral_new(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    form = ReferralForm(request.POST or None, organization=request.user.organization)
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_send(
                acting_user=request.user,
                resident=resident,
                to_organization=form.cleaned_data["to_organization"],
                service=form.cleaned_data["service"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            add_service_errors(exc, form)
        else:
            messages.success(request, _("The referral was sent."))
            return redirect("identity:resident", resident.public_id)
    return render(
        request,
        "identity/desk/referral_new.html",
        {"resident": resident, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# --- links between records ------------------------------------------------------------------


@desk_required
@require_POST
def link(request: HttpRequest, public_id) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    form = LinkForm(request.POST)
    if form.is_valid():
        other = selectors.resident_by_city_id(form.cleaned_data["city_id"])
        if other is not None:
            other = selectors.resident_for(request.user, other.public_id)
        if other is None:
            form.add_error("city_id", _("No record your organization can see has that city ID."))
        else:
            try:
                services.resident_link(
                    acting_user=request.user,
                    a=resident,
                    b=other,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                add_service_errors(exc, form)
            else:
                messages.success(request, _("The records are linked as the same person."))
                return redirect("identity:resident", resident.public_id)
    return _render_resident(request, resident, link_form=form, status=400)


@desk_required
@require_POST
def unlink(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    resident = _resident_or_404(request.user, public_id)
    found = get_object_or_404(
        ResidentLink.objects.filter(Q(first=resident) | Q(second=resident)),
        pk=pk,
        unlinked_at__isnull=True,
    )
    services.resident_unlink(acting_user=request.user, link=found)
    messages.success(request, _("The records are no longer linked."))
    return redirect("identity:resident", resident.public_id)


# --- erasure (city admins) -------------------------------------------------------------------


@city_admin_required
@never_cache
def erase(request: HttpRequest, public_id) -> HttpResponse:
    """Typing the resident's city ID confirms which person is erased, for good."""
    resident = get_object_or_404(Resident, public_id=public_id)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        index = services.city_id_index(form.cleaned_data["city_id"])
        if resident.cards.filter(city_id_index=index).exists():
            services.resident_erase(acting_user=request.user, resident=resident)
            messages.success(request, _("The resident's records were erased."))
            return redirect("dashboard")
        form.add_error("city_id", _("That is not this resident's city ID."))
    return render(
        request,
        "identity/desk/erase.html",
        {"public_id": resident.public_id, "form": form},
        status=400 if request.method == "POST" else 200,
    )
