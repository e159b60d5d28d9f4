"""The credit pages.

- Reporters (staff with the credit_reporter role, or city admins, acting for their own
  organization only): their payment records, recording a payment, a resident's records
  found by city ID (POSTed, never in a URL), disputes about their records, and, for a
  lending-circle fund, its circles' members, contributions and payouts.
- Residents, signed in at the kiosk (identity's ``kiosk_required``): their citychain
  payment score with its key factors, what would raise it and a chart; their records and
  disputes; bureau reporting opt-in; printable reports with a QR code; share links.
- Everyone: verifying a report against the ledger, and a shared report until its link
  expires.

Views validate with credit.forms, write through credit.services and read through
credit.selectors. The score is never called a credit bureau score: it is the "citychain
payment score", 0 to 100.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache, wraps

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from citychain import roles
from citychain.charts import Series, bar_chart, line_chart
from credit import forms, selectors, services
from credit.models import Dispute, LendingCircle, PaymentKind, PaymentRecord
from identity import selectors as identity_selectors
from identity.forms import add_service_errors
from identity.models import Organization
from identity.views_kiosk import IDLE_SECONDS, kiosk_required

PAGE_SIZE = 50
RESIDENT_PAGE_SIZE = 25
CHART_MONTHS = 12
UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# What each kind of organization reports (a city department may report any kind).
KINDS_BY_ORGANIZATION = {
    Organization.Kind.LANDLORD: ["rent", "other"],
    Organization.Kind.UTILITY: ["utility", "other"],
    Organization.Kind.MICROGRID: ["energy"],
    Organization.Kind.LENDING_CIRCLE: ["lending_circle"],
}

# Headlines of the scorecard's parts and key factors, by code (credit.score gives their sentences).
FACTOR_NAMES = {
    "A": gettext_lazy("Payments made by their due date"),
    "B": gettext_lazy("Late and missed payments (how late, how recent)"),
    "C": gettext_lazy("Length of payment history"),
    "D": gettext_lazy("Share of amounts due that was paid"),
    "E": gettext_lazy("Kinds of payments on record"),
}
KEY_FACTOR_NAMES = {
    "LT01": gettext_lazy("Payments 30 or more days overdue and still unpaid"),
    "LT02": gettext_lazy("Payments paid 90 or more days late"),
    "LT03": gettext_lazy("Payments paid 60-89 days late"),
    "LT04": gettext_lazy("Payments paid 30-59 days late"),
    "LT05": gettext_lazy("Payments 1-29 days late"),
    "ON01": gettext_lazy("Payments not made by their due date"),
    "HS01": gettext_lazy("Short payment history"),
    "AM01": gettext_lazy("Less paid than was due"),
    "MX01": gettext_lazy("Few kinds of payments on record"),
}
KIND_LABELS = dict(PaymentKind.choices)


# --- helpers -------------------------------------------------------------------------------


def money(cents: int | None) -> str:
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    return f"{sign}${number_format(Decimal(abs(cents)) / 100, 2, force_grouping=True)}"


def _day(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return parse_date(value)


def payment_state(
    *,
    due: date,
    paid_on: date | None,
    amount_due_cents: int,
    amount_paid_cents: int,
    in_dispute: bool = False,
    deleted: bool = False,
    today: date | None = None,
) -> tuple[str, str]:
    """(css class, words) for how a bill was paid; the words carry the meaning."""
    today = today or timezone.localdate()
    if deleted:
        return "state-deleted", _("Deleted after a dispute")
    if in_dispute:
        return "state-disputed", _("Under dispute: not counted in the score")
    if paid_on is not None and (amount_paid_cents or not amount_due_cents):
        late = (paid_on - due).days
        if late <= 0:
            if amount_paid_cents < amount_due_cents:
                return "state-late", _("Paid on time, not in full")
            return "state-ok", _("Paid on time")
        return "state-late", ngettext("Paid %(days)d day late", "Paid %(days)d days late", late) % {
            "days": late
        }
    if due >= today:
        return "state-due", _("Not due yet")
    overdue = (today - due).days
    return "state-unpaid", ngettext(
        "Not paid: %(days)d day overdue", "Not paid: %(days)d days overdue", overdue
    ) % {"days": overdue}


def _record_row(record: PaymentRecord, today: date) -> dict:
    css, words = payment_state(
        due=record.due_date,
        paid_on=record.paid_on,
        amount_due_cents=record.amount_due_cents,
        amount_paid_cents=record.amount_paid_cents,
        in_dispute=record.in_dispute,
        deleted=record.status == PaymentRecord.Status.DELETED,
        today=today,
    )
    return {
        "record": record,
        "kind": KIND_LABELS.get(record.kind, record.kind),
        "amount_due": money(record.amount_due_cents),
        "amount_paid": money(record.amount_paid_cents) if record.paid_on else "—",
        "state_class": css,
        "state": words,
    }


def _service_error(request: HttpRequest, exc: Exception, form=None) -> None:
    """A service's refusal onto the form (on the field it names), else as a message."""
    if isinstance(exc, ValidationError) and form is not None:
        add_service_errors(exc, form)
    elif isinstance(exc, ValidationError):
        for message in exc.messages:
            messages.error(request, message)
    elif form is not None:
        form.add_error(None, str(exc))
    else:
        messages.error(request, str(exc))


@lru_cache(maxsize=512)
def _qr_svg(url: str, label: str) -> str:
    # Cached: a report's URL never changes, and choosing the QR mask is most of a report
    # page's server time.
    qr = segno.make(url, error="m", micro=False)
    svg = qr.svg_inline(scale=3, omitsize=True, svgclass="qr", lineclass="qr-line", title=None)
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))  # noqa: S308 - segno's own SVG, label escaped


def _score_words(result_score: dict) -> dict:
    """A score (from a report's content or a ScoreResult turned into the same shape) with
    the scorecard's words translated by code."""
    return {
        "value": result_score.get("value"),
        "months": result_score.get("months_of_history", 0),
        "factors": [
            {
                "name": FACTOR_NAMES.get(f["code"], f["name"]),
                "points": f["points"],
                "max": f["max"],
            }
            for f in result_score.get("factors", [])
        ],
        "key_factors": [
            {
                "name": KEY_FACTOR_NAMES.get(k["code"], k["code"]),
                "text": k["text"],
                "points_lost": k["points_lost"],
                "code": k["code"],
            }
            for k in result_score.get("key_factors", [])
        ],
        "improvements": result_score.get("improvements", []),
        "notes": result_score.get("notes", []),
        "disputed_excluded": result_score.get("disputed_excluded", 0),
    }


def _result_as_dict(result) -> dict:
    return {
        "value": result.score,
        "months_of_history": result.months_of_history,
        "factors": [
            {"code": f.code, "name": f.name, "points": f.points, "max": f.max_points}
            for f in result.factors
        ],
        "key_factors": [
            {"code": k.code, "text": k.text, "points_lost": k.points_lost}
            for k in result.key_factors
        ],
        "improvements": [{"text": i.text, "points": i.points} for i in result.improvements],
        "notes": list(result.notes),
        "disputed_excluded": result.disputed_excluded,
    }


def _score_chart(history: list[tuple[date, int | None]], *, title: str):
    labels = [date_format(day, "M Y") for day, _value in history]
    values = [value for _day, value in history]
    return line_chart(
        labels,
        [Series(_("citychain payment score"), values)],
        title=title,
        unit=_("points out of 100"),
    )


# --- reporters -----------------------------------------------------------------------------


def reporter_required(view):
    """Credit reporters and city admins who belong to a reporting organization; every
    page shows and changes that organization's records only."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not roles.has_role(user, roles.CREDIT_REPORTER, roles.CITY_ADMIN):
            raise PermissionDenied(_("Only staff of a reporting organization can see this."))
        organization = user.organization
        if organization is None or organization.kind not in services.REPORTER_KINDS:
            raise PermissionDenied(
                _(
                    "Your account does not belong to a landlord, utility, microgrid or "
                    "lending circle, so it has no payment records to show."
                )
            )
        request.reporter = organization
        return view(request, *args, **kwargs)

    return wrapper


def _kinds_for(organization: Organization) -> list[str]:
    return KINDS_BY_ORGANIZATION.get(organization.kind, list(PaymentKind.values))


def _reporter_page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    context.setdefault("organization", request.reporter)
    context.setdefault("is_fund", request.reporter.kind == Organization.Kind.LENDING_CIRCLE)
    return render(request, f"credit/reporter/{template}", context, status=status)


@reporter_required
@require_http_methods(["GET"])
def reporter_home(request: HttpRequest) -> HttpResponse:
    organization = request.reporter
    filters = forms.RecordFilterForm(request.GET or None)
    kind = state = ""
    if filters.is_valid():
        kind, state = filters.cleaned_data["kind"], filters.cleaned_data["state"]
    records = selectors.reporter_records(organization, kind=kind, state=state)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    summary = selectors.reporter_monthly_summary(organization, months=CHART_MONTHS, today=today)
    chart = bar_chart(
        [date_format(row.month, "M Y") for row in summary],
        [
            Series(_("Paid on time"), [row.on_time for row in summary]),
            Series(_("Paid late"), [row.late for row in summary]),
            Series(_("Not paid"), [row.unpaid for row in summary]),
        ],
        title=_("Bills by due month and how they were paid"),
        unit=_("bills"),
        stacked=True,
    )
    query = request.GET.copy()
    query.pop("page", None)
    return _reporter_page(
        request,
        "home.html",
        {
            "filters": filters,
            "page": page,
            "rows": [_record_row(r, today) for r in page],
            "chart": chart,
            "open_disputes": selectors.reporter_open_dispute_count(organization),
            "lookup_form": forms.ResidentLookupForm(),
            "filter_query": query.urlencode(),
        },
        status=400 if filters.errors else 200,
    )


@reporter_required
@never_cache
@require_POST
def resident_lookup(request: HttpRequest) -> HttpResponse:
    """A resident's records with this organization, found by the city ID on their card.

    POST, and the answer is this response itself (no redirect to a URL naming anyone)."""
    form = forms.ResidentLookupForm(request.POST)
    resident = None
    rows: list[dict] = []
    if form.is_valid():
        resident = identity_selectors.resident_by_city_id(form.cleaned_data["city_id"])
        if resident is None:
            form.add_error("city_id", _("No resident has this city ID. Check it and try again."))
        else:
            today = timezone.localdate()
            rows = [
                _record_row(r, today)
                for r in selectors.reporter_resident_records(request.reporter, resident)
            ]
    record_form = None
    if resident is not None:
        initial = {"city_id": request.POST.get("city_id", "")}
        if rows:  # the next bill is most likely on the same account
            latest = rows[0]["record"]
            initial.update(kind=latest.kind, account_reference=latest.account.reference)
        record_form = forms.PaymentRecordForm(initial=initial, kinds=_kinds_for(request.reporter))
    return _reporter_page(
        request,
        "lookup.html",
        {"lookup_form": form, "resident": resident, "rows": rows, "record_form": record_form},
        status=400 if form.errors else 200,
    )


@reporter_required
@never_cache
@require_http_methods(["GET", "POST"])
def record_new(request: HttpRequest) -> HttpResponse:
    organization = request.reporter
    form = forms.PaymentRecordForm(request.POST or None, kinds=_kinds_for(organization))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        resident = identity_selectors.resident_by_city_id(data["city_id"])
        if resident is None:
            form.add_error("city_id", _("No resident has this city ID. Check it and try again."))
        else:
            try:
                record = services.record_payment(
                    reporter=organization,
                    resident=resident,
                    kind=data["kind"],
                    account_reference=data["account_reference"],
                    reference=data["reference"],
                    due_date=data["due_date"],
                    amount_due_cents=data["amount_due"],
                    paid_on=data["paid_on"],
                    amount_paid_cents=data["amount_paid"],
                    acting_user=request.user,
                )
            except (ValidationError, services.PaymentConflict) as exc:
                _service_error(request, exc, form)
            else:
                messages.success(
                    request,
                    _("Payment %(reference)s recorded and attested on the city's ledger.")
                    % {"reference": record.reference},
                )
                return redirect("credit:record_detail", record.public_id)
    return _reporter_page(
        request, "record_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _reporter_record(request: HttpRequest, public_id) -> PaymentRecord:
    record = selectors.payment_for_reporter(request.reporter, public_id)
    if record is None:
        raise Http404
    return record


@reporter_required
@require_http_methods(["GET"])
def record_detail(request: HttpRequest, public_id) -> HttpResponse:
    record = _reporter_record(request, public_id)
    return _record_page(request, record, forms.PaymentPaidForm(), 200)


def _record_page(request, record: PaymentRecord, paid_form, status: int) -> HttpResponse:
    today = timezone.localdate()
    disputes = list(record.disputes.order_by("-opened_at"))
    return _reporter_page(
        request,
        "record.html",
        {
            "row": _record_row(record, today),
            "record": record,
            "resident": record.resident,
            "disputes": disputes,
            "paid_form": paid_form if not record.is_paid and record.status == "active" else None,
        },
        status=status,
    )


@reporter_required
@require_POST
def record_mark_paid(request: HttpRequest, public_id) -> HttpResponse:
    record = _reporter_record(request, public_id)
    form = forms.PaymentPaidForm(request.POST)
    if form.is_valid():
        try:
            services.payment_mark_paid(
                payment=record,
                paid_on=form.cleaned_data["paid_on"],
                amount_paid_cents=form.cleaned_data["amount_paid"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Payment recorded and attested on the city's ledger."))
            return redirect("credit:record_detail", record.public_id)
    return _record_page(request, record, form, 400)


@reporter_required
@require_http_methods(["GET"])
def dispute_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    if status not in ("open", "all", *Dispute.Status.values):
        status = "open"
    disputes = selectors.reporter_dispute_list(
        request.reporter, status="" if status == "all" else status
    )
    page = Paginator(disputes, PAGE_SIZE).get_page(request.GET.get("page"))
    return _reporter_page(
        request,
        "disputes.html",
        {
            "page": page,
            "status": status,
            "statuses": [
                ("open", _("Open")),
                ("resolved", _("Resolved")),
                ("all", _("All")),
            ],
        },
    )


def _reporter_dispute(request: HttpRequest, public_id) -> Dispute:
    dispute = selectors.dispute_by_public_id(public_id)
    if dispute is None or dispute.payment.reporter_id != request.reporter.pk:
        raise Http404
    return dispute


def _dispute_page(request, dispute: Dispute, form, status: int = 200) -> HttpResponse:
    return _reporter_page(
        request,
        "dispute.html",
        {
            "dispute": dispute,
            "row": _record_row(dispute.payment, timezone.localdate()),
            "form": form,
        },
        status=status,
    )


@reporter_required
@require_http_methods(["GET"])
def dispute_detail(request: HttpRequest, public_id) -> HttpResponse:
    dispute = _reporter_dispute(request, public_id)
    return _dispute_page(request, dispute, forms.DisputeResolveForm())


@reporter_required
@require_POST
def dispute_investigate(request: HttpRequest, public_id) -> HttpResponse:
    dispute = _reporter_dispute(request, public_id)
    try:
        services.dispute_investigate(dispute=dispute, acting_user=request.user)
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(request, _("You are investigating this dispute."))
    return redirect("credit:dispute_detail", dispute.public_id)


@reporter_required
@require_POST
def dispute_resolve(request: HttpRequest, public_id) -> HttpResponse:
    dispute = _reporter_dispute(request, public_id)
    form = forms.DisputeResolveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        changes = {}
        if data["outcome"] == Dispute.Outcome.CORRECTED:
            if data["paid_on"] is not None:
                changes["paid_on"] = data["paid_on"]
            if data["amount_paid"] is not None:
                changes["amount_paid_cents"] = data["amount_paid"]
        try:
            services.dispute_resolve(
                dispute=dispute,
                outcome=data["outcome"],
                note=data["note"],
                acting_user=request.user,
                **changes,
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(
                request, _("The dispute is resolved; the outcome is on the city's ledger.")
            )
            return redirect("credit:dispute_detail", dispute.public_id)
    return _dispute_page(request, dispute, form, status=400)


# --- lending circles -------------------------------------------------------------------------


def _fund_circle(request: HttpRequest, public_id) -> LendingCircle:
    circle = selectors.circle_by_public_id(public_id)
    if circle is None or circle.organization_id != request.reporter.pk:
        raise Http404
    return circle


def _fund_required(request: HttpRequest) -> None:
    if request.reporter.kind != Organization.Kind.LENDING_CIRCLE:
        raise Http404


def _circles_page(request, form, status: int = 200) -> HttpResponse:
    circles = list(selectors.circles_for_organization(request.reporter))
    for circle in circles:
        circle.contribution = money(circle.monthly_contribution_cents)
        circle.pot = money(circle.monthly_contribution_cents * circle.member_count)
    return _reporter_page(request, "circles.html", {"circles": circles, "form": form}, status)


@reporter_required
@require_http_methods(["GET"])
def circle_list(request: HttpRequest) -> HttpResponse:
    _fund_required(request)
    return _circles_page(request, forms.CircleCreateForm())


@reporter_required
@require_POST
def circle_new(request: HttpRequest) -> HttpResponse:
    _fund_required(request)
    form = forms.CircleCreateForm(request.POST)
    if form.is_valid():
        try:
            circle = services.circle_create(
                organization=request.reporter,
                name=form.cleaned_data["name"],
                monthly_contribution_cents=form.cleaned_data["monthly_contribution"],
                first_due_date=form.cleaned_data["first_due_date"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Circle created. Now add its members."))
            return redirect("credit:circle_detail", circle.public_id)
    return _circles_page(request, form, status=400)


def _member_choices(members) -> list[tuple[int, str]]:
    return [(m.pk, f"{m.payout_position}. {m.resident.display_name}") for m in members]


def _circle_page(
    request, circle, *, contribution_form=None, payout_form=None, member_form=None, status=200
):
    detail = selectors.circle_detail(circle)
    today = timezone.localdate()
    rounds = []
    for round_ in detail.rounds:
        cells = []
        for contribution in round_.contributions:
            p = contribution.payment
            css, words = payment_state(
                due=p.due_date,
                paid_on=p.paid_on,
                amount_due_cents=p.amount_due_cents,
                amount_paid_cents=p.amount_paid_cents,
                in_dispute=p.in_dispute,
                today=today,
            )
            cells.append({"member": contribution.member, "state": words, "state_class": css})
        rounds.append(
            {
                "round": round_,
                "cells": cells,
                "payout_amount": money(round_.payout.amount_cents) if round_.payout else "",
            }
        )
    count = len(detail.members)
    if contribution_form is None:
        contribution_form = forms.CircleContributionForm(
            members=_member_choices(detail.members), rounds=count
        )
    if payout_form is None:
        payout_form = forms.CirclePayoutForm(rounds=count)
    if member_form is None:
        member_form = forms.CircleMemberForm()
    return _reporter_page(
        request,
        "circle.html",
        {
            "circle": circle,
            "detail": detail,
            "rounds": rounds,
            "contribution": money(circle.monthly_contribution_cents),
            "pot": money(detail.pot_cents),
            "active": circle.status == LendingCircle.Status.ACTIVE,
            "contribution_form": contribution_form,
            "payout_form": payout_form,
            "member_form": member_form,
            "forming": circle.status == LendingCircle.Status.FORMING,
        },
        status=status,
    )


@reporter_required
@require_http_methods(["GET"])
def circle_detail(request: HttpRequest, public_id) -> HttpResponse:
    return _circle_page(request, _fund_circle(request, public_id))


@reporter_required
@require_POST
def circle_member_add(request: HttpRequest, public_id) -> HttpResponse:
    circle = _fund_circle(request, public_id)
    form = forms.CircleMemberForm(request.POST)
    if form.is_valid():
        resident = identity_selectors.resident_by_city_id(form.cleaned_data["city_id"])
        if resident is None:
            form.add_error("city_id", _("No resident has this city ID. Check it and try again."))
        else:
            try:
                member = services.circle_add_member(
                    circle=circle,
                    resident=resident,
                    payout_position=form.cleaned_data["payout_position"],
                    acting_user=request.user,
                )
            except ValidationError as exc:
                _service_error(request, exc, form)
            else:
                messages.success(
                    request,
                    _("%(name)s joined the circle, in payout position %(position)d.")
                    % {"name": resident.display_name, "position": member.payout_position},
                )
                return redirect("credit:circle_detail", circle.public_id)
    return _circle_page(request, circle, member_form=form, status=400)


@reporter_required
@require_POST
def circle_start(request: HttpRequest, public_id) -> HttpResponse:
    circle = _fund_circle(request, public_id)
    try:
        services.circle_start(circle=circle, acting_user=request.user)
    except ValidationError as exc:
        _service_error(request, exc)
    else:
        messages.success(
            request,
            _(
                "The circle started: every member's contributions are scheduled, and each "
                "counts as on time when recorded by its due date."
            ),
        )
    return redirect("credit:circle_detail", circle.public_id)


@reporter_required
@require_POST
def circle_contribution(request: HttpRequest, public_id) -> HttpResponse:
    circle = _fund_circle(request, public_id)
    members = list(circle.members.select_related("resident").order_by("payout_position"))
    form = forms.CircleContributionForm(
        request.POST, members=_member_choices(members), rounds=len(members)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.circle_record_contribution(
                member=next(m for m in members if m.pk == data["member"]),
                round_number=data["round"],
                paid_on=data["paid_on"],
                amount_paid_cents=data["amount_paid"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Contribution recorded and attested on the ledger."))
            return redirect("credit:circle_detail", circle.public_id)
    return _circle_page(request, circle, contribution_form=form, status=400)


@reporter_required
@require_POST
def circle_payout(request: HttpRequest, public_id) -> HttpResponse:
    circle = _fund_circle(request, public_id)
    form = forms.CirclePayoutForm(request.POST, rounds=circle.members.count())
    if form.is_valid():
        try:
            services.circle_record_payout(
                circle=circle,
                round_number=form.cleaned_data["round"],
                paid_on=form.cleaned_data["paid_on"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Payout recorded and attested on the ledger."))
            return redirect("credit:circle_detail", circle.public_id)
    return _circle_page(request, circle, payout_form=form, status=400)


# --- residents (kiosk) ---------------------------------------------------------------------


def _kiosk_page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    context.setdefault("resident", request.kiosk_resident)
    context.setdefault("idle_seconds", IDLE_SECONDS + 5)
    return render(request, f"credit/resident/{template}", context, status=status)


@kiosk_required
@require_http_methods(["GET"])
def my_credit(request: HttpRequest) -> HttpResponse:
    resident = request.kiosk_resident
    today = timezone.localdate()
    credit = selectors.resident_credit(resident, months=CHART_MONTHS, as_of=today)
    records = Paginator(selectors.resident_page_payments(resident), RESIDENT_PAGE_SIZE)
    page = records.get_page(request.GET.get("page"))
    reports = list(selectors.resident_reports_with_links(resident)[:5])
    now = timezone.now()
    for report in reports:
        report.active_links = [
            link for link in report.links.all() if link.revoked_at is None and link.expires_at > now
        ]
    return _kiosk_page(
        request,
        "my_credit.html",
        {
            "score": _score_words(_result_as_dict(credit.result)),
            "result": credit.result,
            "chart": _score_chart(credit.history, title=_("Your score, month by month")),
            "page": page,
            "rows": [_record_row(r, today) for r in page],
            "disputes": list(selectors.resident_disputes(resident)[:20]),
            "consent": selectors.bureau_consent(resident),
            "reports": reports,
        },
    )


@kiosk_required
@require_http_methods(["GET", "POST"])
def my_dispute(request: HttpRequest, public_id) -> HttpResponse:
    resident = request.kiosk_resident
    record = selectors.payment_for_resident(resident, public_id)
    if record is None:
        raise Http404
    form = forms.DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.dispute_open(payment=record, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(
                request,
                _(
                    "Your dispute was sent to %(organization)s. Until it is resolved, this "
                    "record does not count in your score."
                )
                % {"organization": record.reporter.name},
            )
            return redirect("credit:my_credit")
    return _kiosk_page(
        request,
        "dispute.html",
        {"form": form, "row": _record_row(record, timezone.localdate())},
        status=400 if form.errors else 200,
    )


@kiosk_required
@require_http_methods(["GET", "POST"])
def my_bureau(request: HttpRequest) -> HttpResponse:
    resident = request.kiosk_resident
    form = forms.BureauOptInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.bureau_consent_grant(resident=resident, **form.cleaned_data)
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(
                request,
                _(
                    "You opted in: your rent and lending-circle payments will be reported to "
                    "the credit bureaus. You can stop at any time."
                ),
            )
            return redirect("credit:my_credit")
    return _kiosk_page(
        request,
        "bureau.html",
        {"form": form, "consent": selectors.bureau_consent(resident)},
        status=400 if form.errors else 200,
    )


@kiosk_required
@require_POST
def my_bureau_stop(request: HttpRequest) -> HttpResponse:
    if services.bureau_consent_revoke(resident=request.kiosk_resident):
        messages.success(
            request,
            _("You opted out: nothing more of yours will be reported to the credit bureaus."),
        )
    return redirect("credit:my_credit")


@kiosk_required
@require_POST
def my_report_issue(request: HttpRequest) -> HttpResponse:
    report = services.report_issue(resident=request.kiosk_resident)
    messages.success(
        request,
        _("Your report is ready. Print it, or make a link to share it."),
    )
    return redirect("credit:my_report", report.public_id)


def _own_report(request: HttpRequest, public_id):
    report = selectors.report_by_public_id(public_id)
    if report is None or report.resident_id != request.kiosk_resident.pk:
        raise Http404
    return report


def verify_url(request: HttpRequest, report) -> str:
    path = reverse("credit:verify_report", args=[report.public_id])
    return request.build_absolute_uri(f"{path}?sha256={report.sha256}")


def report_context(request: HttpRequest, report) -> dict:
    """The issued report as a page: its frozen content, translated labels, the QR code."""
    document = selectors.report_document(report)
    today = _day(document["as_of"])
    payments = []
    for row in document.get("payments", []):
        due, paid_on = _day(row["due"]), _day(row.get("paid_on"))
        css, words = payment_state(
            due=due,
            paid_on=paid_on,
            amount_due_cents=row["amount_due_cents"],
            amount_paid_cents=row["amount_paid_cents"],
            in_dispute=row.get("in_dispute", False),
            today=today,
        )
        payments.append(
            {
                "reporter": row["reporter"],
                "kind": KIND_LABELS.get(row["kind"], row["kind"]),
                "due": due,
                "amount_due": money(row["amount_due_cents"]),
                "paid_on": paid_on,
                "amount_paid": money(row["amount_paid_cents"]) if paid_on else "—",
                "state": words,
                "state_class": css,
            }
        )
    accounts = [
        {**a, "kind": KIND_LABELS.get(a["kind"], a["kind"]), "opened": _day(a["opened"]),
         "closed": _day(a.get("closed"))}
        for a in document.get("accounts", [])
    ]  # fmt: skip
    history = [(_day(h["month_end"]), h["score"]) for h in document.get("history", [])]
    url = verify_url(request, report)
    return {
        "report": report,
        "document": document,
        "issued_at": parse_datetime(document["issued_at"]),
        "as_of": today,
        "score": _score_words(document["score"]),
        "accounts": accounts,
        "payments": payments,
        "chart": _score_chart(history[-CHART_MONTHS:], title=_("Score, month by month"))
        if history
        else None,
        "verify_url": url,
        "qr_svg": _qr_svg(url, _("QR code that opens the verification page of this report")),
    }


@kiosk_required
@require_http_methods(["GET"])
def my_report(request: HttpRequest, public_id) -> HttpResponse:
    report = _own_report(request, public_id)
    return _report_page(request, report)


def _report_page(request, report, *, new_link=None, share_form=None, status=200):
    context = report_context(request, report)
    now = timezone.now()
    context.update(
        {
            "links": [
                {"link": link, "active": link.revoked_at is None and link.expires_at > now}
                for link in selectors.report_share_links(report)
            ],
            "share_form": share_form or forms.ShareLinkForm(),
            "new_link": new_link,
        }
    )
    return _kiosk_page(request, "report.html", context, status=status)


@kiosk_required
@require_http_methods(["GET"])
def my_report_json(request: HttpRequest, public_id) -> HttpResponse:
    """The machine-readable copy: the exact bytes whose SHA-256 is on the ledger."""
    report = _own_report(request, public_id)
    response = HttpResponse(report.content.encode(), content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="credit-report-{report.public_id}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


@kiosk_required
@require_POST
def my_share_create(request: HttpRequest, public_id) -> HttpResponse:
    report = _own_report(request, public_id)
    form = forms.ShareLinkForm(request.POST)
    if not form.is_valid():
        return _report_page(request, report, share_form=form, status=400)
    try:
        _link, token = services.share_link_create(report=report, days=form.cleaned_data["days"])
    except ValidationError as exc:
        _service_error(request, exc, form)
        return _report_page(request, report, share_form=form, status=400)
    # Shown in this response only: the token is not stored, so it cannot be shown again.
    url = request.build_absolute_uri(reverse("credit:shared_report", args=[token]))
    return _report_page(request, report, new_link=url)


@kiosk_required
@require_POST
def my_share_revoke(request: HttpRequest, public_id) -> HttpResponse:
    link = (
        selectors.report_share_links_for_resident(request.kiosk_resident)
        .filter(public_id=public_id)
        .first()
    )
    if link is None:
        raise Http404
    services.share_link_revoke(link=link)
    messages.success(request, _("The link no longer works."))
    return redirect("credit:my_report", link.report.public_id)


# --- public: verification and shared reports -----------------------------------------------


@never_cache
@require_http_methods(["GET"])
def verify_start(request: HttpRequest) -> HttpResponse:
    form = forms.VerifyStartForm(request.GET or None)
    if request.GET and form.is_valid():
        return redirect("credit:verify_report", form.cleaned_data["code"])
    return render(
        request,
        "credit/verify_start.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify_report(request: HttpRequest, code: str) -> HttpResponse:
    code = code.strip().lower()
    given = request.GET.get("sha256", "").strip().lower() or None
    if SHA256_RE.match(code):
        result = selectors.report_verify(sha256=code)
    elif UUID_RE.match(code):
        result = selectors.report_verify(public_id=code, sha256=given)
    else:
        raise Http404
    copy_form = forms.ReportCopyForm()
    copy_result = None
    if request.method == "POST" and result.report is not None:
        copy_form = forms.ReportCopyForm(request.POST, request.FILES)
        if copy_form.is_valid():
            copy_result = selectors.report_verify(
                public_id=str(result.report.public_id), document=copy_form.cleaned_data["copy"]
            )
    stored_ok = result.report is not None and selectors.report_stored_copy_intact(result.report)
    status = result.status
    if status in ("authentic", "pending") and not stored_ok:
        status = "mismatch"
    summary = None
    if result.report is not None and stored_ok and status in ("authentic", "pending"):
        document = selectors.report_document(result.report)
        summary = {
            "name": document["resident"]["name"],
            "issued_at": parse_datetime(document["issued_at"]),
            "as_of": _day(document["as_of"]),
            "score": document["score"].get("value"),
            "months": document["score"].get("months_of_history"),
            "payments": len(document.get("payments", [])),
        }
    entry = result.entry
    leaf_data = None
    if entry is not None and entry.leaf_index is not None:
        leaf_data = bytes(entry.leaf_data).decode()
    http_status = 200
    if status == "unknown":
        http_status = 404
    elif copy_form.errors or (copy_result is not None and copy_result.status == "invalid"):
        http_status = 400
    return render(
        request,
        "credit/verify.html",
        {
            "code": code,
            "result": result,
            "status": status,
            "stored_ok": stored_ok,
            "summary": summary,
            "leaf_data": leaf_data,
            "copy_form": copy_form,
            "copy_result": copy_result,
        },
        status=http_status,
    )


@never_cache
@require_http_methods(["GET"])
def shared_report(request: HttpRequest, token: str) -> HttpResponse:
    resolution = selectors.share_link_resolve(token)
    if resolution.status == "invalid":
        return render(request, "credit/shared_gone.html", {"reason": "invalid"}, status=404)
    if resolution.status != "ok":
        return render(
            request,
            "credit/shared_gone.html",
            {"reason": resolution.status, "link": resolution.link},
            status=410,
        )
    context = report_context(request, resolution.report)
    context["link"] = resolution.link
    response = render(request, "credit/shared.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
