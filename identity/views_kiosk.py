"""The resident kiosk: a resident signs in with their city ID and PIN at a library or
shelter computer, sees their own record, documents, consents and who looked at their
record, and can revoke a consent.

A kiosk session is not a staff session: it holds the resident's pk (and when it was last
used, for the 15-minute idle limit), never an authenticated user. Signing in at the kiosk
ends any staff session in that browser, and a staff sign-in ends the kiosk session, so
neither ever grants the other's access.
"""

from __future__ import annotations

import time
from datetime import date
from functools import cache as memoize
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.hashers import check_password, make_password
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from citychain.throttle import AddressWindow
from identity import cityid, selectors, services
from identity.models import AccessEvent, Consent, RecordCategory, Resident
from identity.views_documents import document_response

SESSION_KEY = "kiosk_resident"
SEEN_KEY = "kiosk_seen"
IDLE_SECONDS = 15 * 60
THROTTLE_ATTEMPTS = 20
THROTTLE_WINDOW = 10 * 60
SIGN_IN_LIMIT = AddressWindow("kiosk-signin", THROTTLE_ATTEMPTS, THROTTLE_WINDOW)
AUDIT_PAGE_SIZE = 25

# Plain words for people who may read little English (Spanish through the catalog).
PLAIN_CATEGORIES = {
    RecordCategory.IDENTITY: gettext_lazy("ID papers"),
    RecordCategory.MEDICAL: gettext_lazy("Health records"),
    RecordCategory.HOUSING: gettext_lazy("Housing records"),
    RecordCategory.BENEFITS: gettext_lazy("Benefits records"),
    RecordCategory.CASE_NOTES: gettext_lazy("Notes from your caseworker"),
    RecordCategory.SUBSTANCE_USE: gettext_lazy("Drug and alcohol treatment records"),
}
PLAIN_ACTIONS = {
    AccessEvent.Action.SEARCH: gettext_lazy("Found your record in a search"),
    AccessEvent.Action.VIEW: gettext_lazy("Looked at your record"),
    AccessEvent.Action.SSN_REVEAL: gettext_lazy("Looked at your Social Security number"),
    AccessEvent.Action.DOWNLOAD: gettext_lazy("Downloaded one of your documents"),
    AccessEvent.Action.EXPORT: gettext_lazy("Sent a report with your record"),
    AccessEvent.Action.ENROLL: gettext_lazy("Signed you up"),
    AccessEvent.Action.UPDATE: gettext_lazy("Changed your record"),
    AccessEvent.Action.KIOSK: gettext_lazy("Signed in at the kiosk"),
}


@memoize
def _dummy_pin_hash() -> str:
    return make_password("kiosk-dummy-pin")


class KioskSignInForm(forms.Form):
    city_id = forms.CharField(
        label=gettext_lazy("Your city ID"),
        max_length=40,
        help_text=gettext_lazy(
            "It is on your city ID card, like 7K3M-Q9XA-2FD. You can type it or scan the card."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    pin = forms.CharField(
        label=gettext_lazy("Your PIN"),
        max_length=8,
        help_text=gettext_lazy("The 4 to 8 numbers you chose when you got your card."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a proxy we
    # trust rewrites it, and a throttle keyed on it would be trivial to dodge.
    return request.META.get("REMOTE_ADDR", "")


def throttle_hit(request: HttpRequest) -> bool:
    """Count one sign-in attempt from this address; True if it is over the limit."""
    if SIGN_IN_LIMIT.exceeded(request):
        return True
    SIGN_IN_LIMIT.hit(request)
    return False


def kiosk_sign_out(request: HttpRequest) -> None:
    request.session.flush()


def kiosk_required(view):
    """The signed-in resident as `request.kiosk_resident`, or back to the sign-in page."""

    @never_cache
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        resident_pk = request.session.get(SESSION_KEY)
        if resident_pk is None:
            return redirect("identity:kiosk")
        if request.user.is_authenticated:
            # A staff sign-in in this browser ended the kiosk session.
            request.session.pop(SESSION_KEY, None)
            request.session.pop(SEEN_KEY, None)
            return redirect("identity:kiosk")
        now = int(time.time())
        if now - request.session.get(SEEN_KEY, 0) > IDLE_SECONDS:
            kiosk_sign_out(request)
            messages.info(request, _("You were signed out after 15 minutes without activity."))
            return redirect("identity:kiosk")
        resident = Resident.objects.filter(pk=resident_pk).first()
        if resident is None:  # erased meanwhile
            kiosk_sign_out(request)
            return redirect("identity:kiosk")
        request.session[SEEN_KEY] = now
        request.kiosk_resident = resident
        return view(request, *args, **kwargs)

    return wrapper


def _check_credentials(form: KioskSignInForm) -> Resident | None:
    """The resident for the typed city ID and PIN, or None with the form's errors set.
    Raises services.KioskLocked."""
    try:
        canonical = cityid.parse(form.cleaned_data["city_id"])
    except cityid.CityIdError:
        form.add_error(
            "city_id",
            _(
                "This city ID does not look right: a character may be mistyped. Check it "
                "against your card and try again."
            ),
        )
        return None
    resident = selectors.resident_by_city_id(canonical)
    card = services.active_card(resident) if resident else None
    # A revoked (lost or stolen) card does not open the kiosk.
    if card is None or card.city_id != canonical:
        check_password(form.cleaned_data["pin"], _dummy_pin_hash())  # same time as a real check
        resident = None
    elif not services.kiosk_check_pin(resident=resident, pin=form.cleaned_data["pin"]):
        resident = None
    if resident is None:
        # The same words for an unknown ID and a wrong PIN: no hint which was wrong.
        form.add_error(None, _("The city ID or the PIN is not right. Try again or ask staff."))
    return resident


def _start_kiosk_session(request: HttpRequest, resident: Resident) -> None:
    # A new session with nothing in it: no staff sign-in, nothing of whoever used this
    # computer before, and a new key.
    request.session.flush()
    request.session[SESSION_KEY] = resident.pk
    request.session[SEEN_KEY] = int(time.time())
    request.session.set_expiry(0)  # ends when the browser closes


def _signin_page(request: HttpRequest, form: KioskSignInForm, status: int, **extra):
    return render(request, "identity/kiosk/signin.html", {"form": form, **extra}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def kiosk(request: HttpRequest) -> HttpResponse:
    """Sign in with city ID and PIN."""
    signed_in = request.session.get(SESSION_KEY) is not None
    if request.method == "GET" and signed_in and not request.user.is_authenticated:
        return redirect("identity:kiosk_home")
    form = KioskSignInForm(request.POST or None)
    if request.method == "POST":
        if throttle_hit(request):
            return _signin_page(request, KioskSignInForm(), 429, throttled=True)
        if form.is_valid():
            try:
                resident = _check_credentials(form)
            except services.KioskLocked as locked:
                until = date_format(timezone.localtime(locked.until), "TIME_FORMAT")
                form.add_error(
                    None,
                    _("Too many tries. Try again after %(time)s or ask staff.") % {"time": until},
                )
                return _signin_page(request, form, 429)
            if resident is not None:
                _start_kiosk_session(request, resident)
                return redirect("identity:kiosk_home")
    return _signin_page(request, form, 400 if form.errors else 200)


def _consent_rows(resident: Resident) -> list[dict]:
    today = timezone.localdate()
    rows = []
    for consent in selectors.consents_for(resident):
        active = consent.is_active(today)
        if active:
            state = _("Sharing now")
        elif consent.status == Consent.Status.REVOKED:
            state = _("Stopped")
        elif consent.status == Consent.Status.REFUSED:
            state = _("You said no")
        else:
            state = _("Ended")
        rows.append(
            {
                "consent": consent,
                "active": active,
                "state": state,
                "categories": [PLAIN_CATEGORIES.get(c, c) for c in consent.categories],
            }
        )
    return rows


@kiosk_required
@require_http_methods(["GET"])
def kiosk_home(request: HttpRequest) -> HttpResponse:
    resident = request.kiosk_resident
    card = services.active_card(resident)
    events = Paginator(
        AccessEvent.objects.filter(subject=resident.ledger_subject)
        .select_related("organization")
        .order_by("-at", "-pk"),
        AUDIT_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    audit = [
        {"event": e, "what": PLAIN_ACTIONS.get(e.action, e.get_action_display())} for e in events
    ]
    documents = [
        {"document": d, "category": PLAIN_CATEGORIES.get(d.category, d.get_category_display())}
        for d in resident.documents.defer("content")
    ]
    return render(
        request,
        "identity/kiosk/home.html",
        {
            "resident": resident,
            "dob": date.fromisoformat(resident.dob) if resident.dob else None,
            "city_id": cityid.display(card.city_id) if card else None,
            "documents": documents,
            "consents": _consent_rows(resident),
            "page": events,
            "audit": audit,
            "idle_seconds": IDLE_SECONDS + 5,
        },
    )


@kiosk_required
@require_http_methods(["GET"])
def kiosk_document(request: HttpRequest, pk: int) -> HttpResponse:
    resident = request.kiosk_resident
    document = resident.documents.filter(pk=pk).first()
    if document is None:
        raise Http404
    services.access_log(
        actor=None,
        action=AccessEvent.Action.DOWNLOAD,
        resident=resident,
        detail=f"document {document.pk}",
    )
    return document_response(document)


@kiosk_required
@require_POST
def kiosk_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    consent = (
        request.kiosk_resident.consents.select_related("organization", "resident")
        .filter(pk=pk)
        .first()
    )
    if consent is None:
        raise Http404
    if consent.is_active():
        services.consent_revoke(consent=consent, acting_user=None)
        messages.success(
            request,
            _(
                "You stopped sharing your records with %(organization)s. Ask staff if you "
                "want to share them again."
            )
            % {"organization": consent.organization},
        )
    return redirect("identity:kiosk_home")


@require_POST
def kiosk_signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        # This button is the resident's: it never signs staff out by accident.
        request.session.pop(SESSION_KEY, None)
        request.session.pop(SEEN_KEY, None)
    else:
        kiosk_sign_out(request)
    messages.success(request, _("You are signed out. Thank you."))
    return redirect("identity:kiosk")
