"""The election officials' pages, at /officials/: elections and their ballot, the voter roll,
credential letters, opening, closing and certifying, and the count as it stands.

Views validate with voting.forms_official, call voting.services and render; results come
from voting.selectors. A credential exists only in the one response that prints its letter:
the roll keeps its hash, so the letters page is never cached and cannot be shown again.
"""

from __future__ import annotations

from functools import wraps

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from citychain import roles
from identity.forms import add_service_errors
from identity.models import CityCard, Resident
from voting import credentials as codes
from voting import delivery, selectors, services
from voting import forms_official as forms
from voting.models import Contest, Election, Voter

Status = Election.Status
ROLL_PAGE_SIZE = 50
# Referendum choices are stored in one language (services.contest_add); pages translate them.
REFERENDUM_LABELS = {"Yes": gettext_lazy("Yes"), "No": gettext_lazy("No")}


def official_required(view):
    """Election officials and city admins."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.has_role(request.user, roles.ELECTION_OFFICIAL, roles.CITY_ADMIN):
            raise PermissionDenied(_("Only election officials can manage elections."))
        return view(request, *args, **kwargs)

    return wrapper


# --- helpers ---------------------------------------------------------------------------


def _choice_label(contest: Contest, name: str) -> str:
    if contest.method == Contest.Method.REFERENDUM:
        return str(REFERENDUM_LABELS.get(name, name))
    return name


def _contests(election: Election) -> list[Contest]:
    contests = list(election.contests.prefetch_related("choices").order_by("position", "id"))
    for contest in contests:
        contest.choice_labels = [_choice_label(contest, c.name) for c in contest.choices.all()]
    return contests


def _service_error(request: HttpRequest, exc: ValidationError, form) -> None:
    """A service's refusal: on the form's fields it names, else as a message."""
    if hasattr(exc, "error_dict"):
        add_service_errors(exc, form)
    else:
        for message in exc.messages:
            messages.error(request, message)


def _voter_url(request: HttpRequest, election: Election, credential: str = "") -> str:
    return delivery.vote_url(request.build_absolute_uri("/"), election, credential)


def _qr_svg(url: str) -> str:
    qr = segno.make(url, error="m", micro=False)
    svg = qr.svg_inline(scale=3, omitsize=True, svgclass="qr", lineclass="qr-line", title=None)
    label = escape(_("QR code that opens the ballot with this credential"))
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))  # noqa: S308 - segno's own SVG, label escaped


# --- elections and their ballot --------------------------------------------------------


@official_required
def election_list(request: HttpRequest) -> HttpResponse:
    elections = Election.objects.annotate(
        contest_count=Count("contests", distinct=True),
        voter_count=Count("voters", distinct=True),
        voted_count=Count("voters", filter=Q(voters__has_voted=True), distinct=True),
    ).order_by("-created_at")
    return render(request, "voting/official/election_list.html", {"elections": elections})


@official_required
def election_new(request: HttpRequest) -> HttpResponse:
    form = forms.ElectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            election = services.election_create(
                acting_user=request.user,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                results_live=form.results_live,
                rcv_rules=form.rcv_rules(),
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Election created. Now add its contests."))
            return redirect("voting-official:election", election.pk)
    status = 400 if form.errors else 200
    return render(request, "voting/official/election_new.html", {"form": form}, status=status)


def _render_election(request, election, *, contest_form=None, choice_forms=None, status=200):
    contests = _contests(election)
    choice_forms = choice_forms or {}
    for contest in contests:
        contest.choice_form = choice_forms.get(contest.pk) or forms.ChoiceForm(
            prefix=f"contest-{contest.pk}"
        )
    context = {
        "election": election,
        "contests": contests,
        "contest_form": contest_form or forms.ContestForm(),
        "turnout": selectors.turnout(election),
        "rules": election.get_rcv_rules(),
        "has_ranked": any(c.method == Contest.Method.RANKED for c in contests),
        "section": "ballot",
    }
    return render(request, "voting/official/election_detail.html", context, status=status)


@official_required
def election_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_election(request, get_object_or_404(Election, pk=pk))


@official_required
@require_POST
def contest_add(request: HttpRequest, pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    form = forms.ContestForm(request.POST)
    if form.is_valid():
        try:
            contest = services.contest_add(
                election,
                title=form.cleaned_data["title"],
                method=form.cleaned_data["method"],
                seats=form.cleaned_data["seats"],
            )
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(request, _("Contest “%(title)s” added.") % {"title": contest.title})
            return redirect("voting-official:election", election.pk)
    election.refresh_from_db()
    return _render_election(request, election, contest_form=form, status=400)


@official_required
@require_POST
def choice_add(request: HttpRequest, pk: int, contest_pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    contest = get_object_or_404(Contest, pk=contest_pk, election=election)
    form = forms.ChoiceForm(request.POST, prefix=f"contest-{contest.pk}")
    if form.is_valid():
        try:
            choice = services.choice_add(contest, name=form.cleaned_data["name"])
        except ValidationError as exc:
            _service_error(request, exc, form)
        else:
            messages.success(
                request,
                _("“%(name)s” added to %(contest)s.")
                % {"name": choice.name, "contest": contest.title},
            )
            return redirect("voting-official:election", election.pk)
    election.refresh_from_db()
    return _render_election(request, election, choice_forms={contest.pk: form}, status=400)


# --- lifecycle -------------------------------------------------------------------------

TRANSITIONS = {
    "open": (
        services.election_open,
        gettext_lazy("Open the election"),
        gettext_lazy(
            "Voters can cast ballots from now until you close it. The ballot is frozen: no "
            "contest or choice can be added, and its fingerprint is published on the ledger."
        ),
        gettext_lazy("The election is open. Voters can cast their ballots."),
    ),
    "close": (
        services.election_close,
        gettext_lazy("Close the election"),
        gettext_lazy(
            "No ballot is accepted after this, and it cannot be reopened. Ballots being cast "
            "at this moment are finished first."
        ),
        gettext_lazy("The election is closed. No more ballots are accepted."),
    ),
    "certify": (
        services.election_certify,
        gettext_lazy("Certify the results"),
        gettext_lazy(
            "The results become final: their fingerprint is published on the ledger and "
            "nothing about this election can change again."
        ),
        gettext_lazy("The results are certified."),
    ),
}


@official_required
def election_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET asks to confirm; POST does it."""
    election = get_object_or_404(Election, pk=pk)
    service, title, consequence, done = TRANSITIONS[action]
    if request.method == "POST":
        try:
            service(election, acting_user=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, str(done))
        return redirect("voting-official:election", election.pk)
    context = {
        "election": election,
        "action": action,
        "title": title,
        "consequence": consequence,
        "turnout": selectors.turnout(election),
    }
    return render(request, "voting/official/confirm.html", context)


# --- the roll --------------------------------------------------------------------------


def _render_roll(request, election, *, upload_form=None, residents_form=None, status=200):
    voters = Voter.objects.filter(election=election).order_by("pk")
    page = Paginator(voters, ROLL_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "election": election,
        "page": page,
        "turnout": selectors.turnout(election),
        "with_credential": voters.filter(credential_hash__isnull=False).count(),
        "roll_editable": election.status in (Status.DRAFT, Status.OPEN),
        "upload_form": upload_form or forms.RollUploadForm(),
        "residents_form": residents_form or forms.RollResidentsForm(),
        "section": "roll",
    }
    return render(request, "voting/official/roll.html", context, status=status)


@official_required
def roll(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_roll(request, get_object_or_404(Election, pk=pk))


@official_required
@require_POST
def roll_upload(request: HttpRequest, pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    form = forms.RollUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            voters = services.roll_import_csv(election, form.cleaned_data["file"])
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d voter added to the roll.",
                    "%(count)d voters added to the roll.",
                    len(voters),
                )
                % {"count": len(voters)},
            )
            return redirect("voting-official:roll", election.pk)
    return _render_roll(request, election, upload_form=form, status=400)


def eligible_residents(*, only_active_card: bool):
    """Residents who may go on a roll from identity. Residents protected by VAWA never leave
    identity (no ledger, no exports), so they are not added: add them by CSV if they ask."""
    residents = Resident.objects.filter(vawa_protected=False).defer("photo")
    if only_active_card:
        residents = residents.filter(
            pk__in=CityCard.objects.filter(status=CityCard.Status.ACTIVE).values("resident_id")
        )
    return residents.order_by("pk")


@official_required
@require_POST
def roll_residents(request: HttpRequest, pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    form = forms.RollResidentsForm(request.POST)
    if form.is_valid():
        residents = eligible_residents(only_active_card=form.cleaned_data["only_active_card"])
        try:
            voters = services.roll_from_residents(election, residents)
        except ValidationError as exc:
            _service_error(request, exc, form)
            return _render_roll(request, election, residents_form=form, status=400)
        messages.success(
            request,
            ngettext(
                "%(count)d resident added to the roll (those already on it were skipped).",
                "%(count)d residents added to the roll (those already on it were skipped).",
                len(voters),
            )
            % {"count": len(voters)},
        )
    return redirect("voting-official:roll", election.pk)


# --- credentials -----------------------------------------------------------------------


@official_required
@never_cache
def credentials(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what issuing does. POST: issue, and print the letters (the one time they exist)."""
    election = get_object_or_404(Election, pk=pk)
    form = forms.CredentialsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        scope = Voter.objects.filter(election=election, has_voted=False)
        if form.cleaned_data["scope"] == forms.CREDENTIALS_NEW:
            scope = scope.filter(credential_hash__isnull=True)
        if not scope.exists():
            messages.info(request, _("No voter on the roll needs a credential."))
            return redirect("voting-official:credentials", election.pk)
        try:
            if form.cleaned_data["delivery"] == forms.DELIVERY_EMAIL:
                return _email_credentials(request, election, scope)
            issued = services.credentials_issue(election, voters=scope, acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _render_letters(request, election, issued)
    context = {
        "election": election,
        "form": form,
        "turnout": selectors.turnout(election),
        "with_credential": election.voters.filter(credential_hash__isnull=False).count(),
        "can_issue": election.status in (Status.DRAFT, Status.OPEN),
        "section": "credentials",
    }
    return render(
        request, "voting/official/credentials.html", context, status=400 if form.errors else 200
    )


def _email_credentials(request, election, scope) -> HttpResponse:
    result = delivery.email_credentials(
        election,
        voters=scope,
        base_url=request.build_absolute_uri("/"),
        acting_user=request.user,
    )
    if result.sent:
        messages.success(
            request,
            ngettext(
                "Emailed a new credential to %(count)d voter.",
                "Emailed a new credential to %(count)d voters.",
                result.sent,
            )
            % {"count": result.sent},
        )
    if result.failed:
        messages.warning(
            request,
            ngettext(
                "The mail server refused %(count)d message; that credential was voided. "
                "Issue a letter to voters with no credential.",
                "The mail server refused %(count)d messages; those credentials were voided. "
                "Issue letters to voters with no credential.",
                len(result.failed),
            )
            % {"count": len(result.failed)},
        )
    if result.without_email:
        messages.info(
            request,
            ngettext(
                "%(count)d voter has no email address on the roll and was not sent anything: "
                "issue a letter to voters with no credential.",
                "%(count)d voters have no email address on the roll and were not sent "
                "anything: issue letters to voters with no credential.",
                result.without_email,
            )
            % {"count": result.without_email},
        )
    return redirect("voting-official:credentials", election.pk)


def _render_letters(request, election, issued) -> HttpResponse:
    letters = []
    for voter, credential in issued:
        url = _voter_url(request, election, credential)
        letters.append(
            {
                "name": voter.name,
                "credential": codes.format_credential(credential),
                "qr_svg": _qr_svg(url),
            }
        )
    context = {
        "election": election,
        "letters": letters,
        "vote_url": _voter_url(request, election),
        "city_name": getattr(settings, "CITYCHAIN_CITY_NAME", "") or _("City of citychain"),
    }
    response = render(request, "voting/official/letters.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


# --- results and ties ------------------------------------------------------------------


def _contest_results(election: Election) -> list[dict]:
    contests = {c.pk: c for c in _contests(election)}
    shown = []
    for result in selectors.results(election)["contests"]:
        contest = contests[result["id"]]
        labels = {
            str(choice.pk): _choice_label(contest, choice.name) for choice in contest.choices.all()
        }
        total = sum(result["tally"].values())
        winners = {str(w) for w in result["winners"]}
        rows = [
            {
                "name": labels[key],
                "votes": result["tally"].get(key, 0),
                "percent": round(100 * result["tally"].get(key, 0) / total, 1) if total else 0,
                "winner": key in winners,
            }
            for key in labels
        ]
        shown.append(
            {
                "contest": contest,
                "result": result,
                "rows": rows,
                "total": total,
                "rounds": _rounds_table(result["rounds"], labels),
                "tie": _tie(contest, result["tie"], labels),
            }
        )
    return shown


def _rounds_table(rounds: list[dict], labels: dict[str, str]) -> dict | None:
    """The instant-runoff count as a table: a row per choice, a column per round."""
    if not rounds:
        return None
    rows = []
    for key, name in labels.items():
        cells = [r["tallies"].get(key) for r in rounds]
        rows.append({"name": name, "cells": cells})
    return {
        "numbers": [r["number"] for r in rounds],
        "rows": rows,
        "exhausted": [r["exhausted"] for r in rounds],
        "thresholds": [r["threshold"] for r in rounds],
        "eliminated": [", ".join(labels[str(c)] for c in r["eliminated"]) for r in rounds],
        "elected": [", ".join(labels[str(c)] for c in r["elected"]) for r in rounds],
    }


def _tie(contest: Contest, tie: dict | None, labels: dict[str, str]) -> dict | None:
    if tie is None:
        return None
    candidates = [(c, labels[str(c)]) for c in tie["candidates"]]
    return {
        **tie,
        "names": [name for _c, name in candidates],
        "form": forms.TieDecisionForm(candidates=candidates, prefix=f"tie-{contest.pk}"),
    }


@official_required
@never_cache
def results(request: HttpRequest, pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    context = {
        "election": election,
        "turnout": selectors.turnout(election),
        "contests": [] if election.status == Status.DRAFT else _contest_results(election),
        "public": selectors.results_visible(election),
        "section": "results",
    }
    return render(request, "voting/official/results.html", context)


@official_required
@require_POST
def ties_decide(request: HttpRequest, pk: int, contest_pk: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=pk)
    contest = get_object_or_404(Contest, pk=contest_pk, election=election)
    tie = selectors.contest_result(contest, selectors.contest_ballots(contest))["tie"]
    if tie is None:
        messages.info(request, _("This contest has no tie to decide."))
        return redirect("voting-official:results", election.pk)
    candidates = [(c, str(c)) for c in tie["candidates"]]
    form = forms.TieDecisionForm(request.POST, candidates=candidates, prefix=f"tie-{contest.pk}")
    if not form.is_valid():
        messages.error(request, _("Choose one of the tied choices."))
        return redirect("voting-official:results", election.pk)
    try:
        services.contest_decide_ties(
            contest,
            decisions=[*contest.tie_decisions, form.cleaned_data["choice"]],
            acting_user=request.user,
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("The tie decision is recorded on the ledger; the count has gone on past it.")
        )
    return redirect("voting-official:results", election.pk)
