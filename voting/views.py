"""The voter portal: credential → ballot → review → cast → receipt; tracking; results.

Public pages, no sign-in. The credential is never in a URL and never in a page after it is
entered: a QR code's ``?c=`` is moved into the session at once and the URL dropped, and the
session holds the credential only until the ballot is cast (or refused). Writes are
services.ballot_cast alone; docs/voting-security.md says what a receipt does and does not
prove.
"""

from __future__ import annotations

import time
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from citychain.throttle import AddressWindow
from voting import credentials as codes
from voting import selectors, services
from voting.forms import BallotForm, CredentialForm, TrackForm, choice_label, rank_label
from voting.models import Contest, Election

SESSION_KEY = "voting"  # {"election", "credential", "selections"} until the cast
PREFILL_KEY = "voting_prefill"  # {"election", "credential"} from a letter's QR code
RECEIPT_KEY = "voting_receipt"  # {"election", "tracking_code", "at"} after the cast
RECEIPT_SECONDS = 30 * 60  # a receipt left on a shared device does not stay for the next person
THROTTLE_ATTEMPTS = 20
THROTTLE_WINDOW = 10 * 60
CREDENTIAL_LIMIT = AddressWindow("vote-credential", THROTTLE_ATTEMPTS, THROTTLE_WINDOW)

Status = Election.Status


# --- helpers ---------------------------------------------------------------------------


def _throttled(request: HttpRequest) -> bool:
    return CREDENTIAL_LIMIT.exceeded(request)


def _count_failure(request: HttpRequest) -> None:
    # Only refused tries count: guessing is what the limit stops, and one household or
    # library behind one address may well cast many good credentials.
    CREDENTIAL_LIMIT.hit(request)


def _grouped(credential: str | None) -> str | None:
    """A credential from a QR code in the letter's grouped form, if it is one."""
    try:
        return codes.format_credential(credential) if credential else None
    except codes.CodeFormatError:
        return credential


def _contests(election: Election) -> list[Contest]:
    return list(election.contests.prefetch_related("choices").order_by("position", "id"))


def _voting_state(request: HttpRequest, election: Election) -> dict[str, Any] | None:
    state = request.session.get(SESSION_KEY)
    return state if state and state.get("election") == election.pk else None


def _receipt(request: HttpRequest, election_id: int) -> dict[str, Any] | None:
    receipt = request.session.get(RECEIPT_KEY)
    if not receipt or receipt.get("election") != election_id:
        return None
    if time.time() - receipt.get("at", 0) > RECEIPT_SECONDS:
        request.session.pop(RECEIPT_KEY, None)
        return None
    return receipt


def selections_in_words(contests: list[Contest], selections: dict[str, list[int]]) -> list[dict]:
    """Each contest with its marks named (and ranked, for a ranked contest)."""
    rows = []
    for contest in contests:
        names = {choice.pk: choice_label(contest, choice) for choice in contest.choices.all()}
        marks = selections.get(str(contest.pk)) or []
        ranked = contest.method == Contest.Method.RANKED
        rows.append(
            {
                "contest": contest,
                "anchor": f"contest-{contest.pk}",
                "ranked": ranked,
                "marks": [
                    {"rank": rank_label(rank) if ranked else "", "name": names.get(mark, mark)}
                    for rank, mark in enumerate(marks, start=1)
                ],
            }
        )
    return rows


def election_voting(view):
    """Load the election from the URL; an election that is not open says so (403)."""

    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, election_id: int, *args, **kwargs) -> HttpResponse:
        election = get_object_or_404(Election, pk=election_id)
        if election.status == Status.OPEN:
            return view(request, election, *args, **kwargs)
        if _voting_state(request, election) is not None:
            request.session.pop(SESSION_KEY)  # a credential that can no longer cast
        return _not_open(request, election)

    return wrapper


def _not_open(request: HttpRequest, election: Election, message: str = "") -> HttpResponse:
    if not message:
        message = (
            _("Voting in this election has not started yet.")
            if election.status == Status.DRAFT
            else _("Voting in this election has closed.")
        )
    context = {
        "election": election,
        "message": message,
        "results_visible": selectors.results_visible(election),
    }
    return render(request, "voting/closed.html", context, status=403)


# --- the voter's steps -----------------------------------------------------------------


@never_cache
@require_http_methods(["GET"])
def enter(request: HttpRequest) -> HttpResponse:
    """The elections open now, and recent ones with their results."""
    elections = Election.objects.exclude(status=Status.DRAFT).order_by("-opened_at")
    return render(
        request,
        "voting/enter.html",
        {
            "open_elections": list(elections.filter(status=Status.OPEN)),
            "past_elections": list(elections.exclude(status=Status.OPEN)[:10]),
        },
    )


def _credential_page(request, election, form, status=200, **extra) -> HttpResponse:
    context = {"election": election, "form": form, **extra}
    return render(request, "voting/credential.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def credential(request: HttpRequest, election_id: int) -> HttpResponse:
    if request.method == "GET" and "c" in request.GET:
        # From the QR code on the letter: keep it in the session and drop it from the URL
        # (and so from the history), whatever the election's state: letters may be scanned
        # before voting opens, and the credential stays good until it is used.
        election = get_object_or_404(Election, pk=election_id)
        typed = request.GET["c"][:80]
        request.session[PREFILL_KEY] = {"election": election.pk, "credential": typed}
        return redirect("voting:credential", election_id=election.pk)
    return _credential(request, election_id)


@election_voting
def _credential(request: HttpRequest, election: Election) -> HttpResponse:
    if request.method == "GET":
        prefill = request.session.get(PREFILL_KEY) or {}
        typed = prefill.get("credential") if prefill.get("election") == election.pk else None
        form = CredentialForm(initial={"credential": _grouped(typed)}, election=election)
        return _credential_page(request, election, form, from_letter=bool(typed))
    if _throttled(request):
        form = CredentialForm(election=election)
        return _credential_page(request, election, form, 429, throttled=True)
    form = CredentialForm(request.POST, election=election)
    if not form.is_valid():
        _count_failure(request)
        return _credential_page(request, election, form, 400)
    request.session.cycle_key()  # a new session key for a session that holds a credential
    for key in (PREFILL_KEY, RECEIPT_KEY):
        request.session.pop(key, None)
    request.session[SESSION_KEY] = {
        "election": election.pk,
        "credential": form.cleaned_data["credential"],
        "selections": None,
    }
    return redirect("voting:ballot", election_id=election.pk)


@require_http_methods(["GET", "POST"])
@election_voting
def ballot(request: HttpRequest, election: Election) -> HttpResponse:
    state = _voting_state(request, election)
    if state is None:
        return redirect("voting:credential", election_id=election.pk)
    contests = _contests(election)
    if request.method == "POST":
        form = BallotForm(request.POST, election=election, contests=contests)
        if form.is_valid():
            request.session[SESSION_KEY] = {**state, "selections": form.selections}
            return redirect("voting:review", election_id=election.pk)
    else:
        initial = BallotForm.initial_from(contests, state["selections"])
        form = BallotForm(initial=initial, election=election, contests=contests)
    context = {"election": election, "form": form, "rows": form.contest_rows()}
    return render(request, "voting/ballot.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@election_voting
def review(request: HttpRequest, election: Election) -> HttpResponse:
    state = _voting_state(request, election)
    if state is None:
        if request.method == "POST" and _receipt(request, election.pk):
            return redirect("voting:receipt", election_id=election.pk)  # a second click
        return redirect("voting:credential", election_id=election.pk)
    if state["selections"] is None:
        return redirect("voting:ballot", election_id=election.pk)
    if request.method == "POST":
        return _cast(request, election, state)
    rows = selections_in_words(_contests(election), state["selections"])
    return render(request, "voting/review.html", {"election": election, "rows": rows})


def _cast(request: HttpRequest, election: Election, state: dict[str, Any]) -> HttpResponse:
    try:
        cast = services.ballot_cast(
            election_id=election.pk,
            credential=state["credential"],
            selections=state["selections"],
        )
    except services.VotingClosed as refused:
        request.session.pop(SESSION_KEY, None)
        return _not_open(request, election, str(refused))
    except services.CredentialRefused as refused:
        request.session.pop(SESSION_KEY, None)
        form = CredentialForm(election=election)
        links = [{"target": form["credential"].auto_id, "message": str(refused)}]
        return _credential_page(request, election, form, 403, refusal_links=links)
    except ValidationError as invalid:
        for message in invalid.messages:
            messages.error(request, message)
        return redirect("voting:ballot", election_id=election.pk)
    request.session.pop(SESSION_KEY, None)
    request.session[RECEIPT_KEY] = {
        "election": election.pk,
        "tracking_code": cast.tracking_code,
        "at": time.time(),
    }
    return redirect("voting:receipt", election_id=election.pk)


@never_cache
@require_http_methods(["GET"])
def receipt(request: HttpRequest, election_id: int) -> HttpResponse:
    election = get_object_or_404(Election, pk=election_id)
    found = _receipt(request, election.pk)
    if found is None:
        return redirect("voting:enter")
    code = codes.format_tracking_code(found["tracking_code"])
    return render(
        request,
        "voting/receipt.html",
        {"election": election, "tracking_code": code, "groups": code.split("-")},
    )


# --- anyone -----------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """Find a ballot by its tracking code (POSTed, so codes stay out of URLs and logs)."""
    form = TrackForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            found = form.ballot
            context.update(
                found=found,
                tracking_code=codes.format_tracking_code(found.tracking_code),
                rows=selections_in_words(_contests(found.election), found.selections),
            )
        else:
            status = 404 if form.has_error("code", "not_found") else 400
    return render(request, "voting/track.html", context, status=status)


@require_http_methods(["GET"])
def results(request: HttpRequest, election_id: int) -> HttpResponse:
    election = get_object_or_404(Election.objects.exclude(status=Status.DRAFT), pk=election_id)
    visible = selectors.results_visible(election)
    contests = (
        results_for_display(_contests(election), selectors.results(election)) if visible else []
    )
    context = {
        "election": election,
        "turnout": selectors.turnout(election),
        "visible": visible,
        "contests": contests,
    }
    return render(request, "voting/results.html", context)


# --- results, as tables and charts -----------------------------------------------------

_CHART_ROW_EM = 3.2  # a label line and a bar under it


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for the server-drawn SVG: widths in percent, heights in em, so the
    chart follows the page's width and the reader's text size."""
    most = max((row["votes"] for row in rows), default=0)
    bars = []
    for i, row in enumerate(rows):
        top = i * _CHART_ROW_EM
        bars.append(
            {
                **row,
                "label_y": f"{top + 1.1:.2f}em",
                "bar_y": f"{top + 1.5:.2f}em",
                "width": f"{100 * row['votes'] / most:.1f}%" if most else "0%",
            }
        )
    return {"bars": bars, "height": f"{len(rows) * _CHART_ROW_EM + 0.4:.2f}em"}


def _rounds_table(result: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    rounds = result["rounds"]
    rows = []
    for choice_id, name in names.items():
        cells = []
        for r in rounds:
            votes = r["tallies"].get(str(choice_id))
            note = ""
            if choice_id in r["elected"]:
                note = _("elected")
            elif choice_id in r["eliminated"]:
                note = _("eliminated")
            cells.append({"votes": votes, "note": note})
        rows.append({"name": name, "cells": cells})
    return {
        "numbers": [r["number"] for r in rounds],
        "rows": rows,
        "exhausted": [r["exhausted"] for r in rounds],
        "threshold": [r["threshold"] for r in rounds],
    }


def results_for_display(contests: list[Contest], counted: dict[str, Any]) -> list[dict]:
    by_id = {result["id"]: result for result in counted["contests"]}
    shown = []
    for contest in contests:
        result = by_id[contest.pk]
        names = {c.pk: choice_label(contest, c) for c in contest.choices.all()}
        tally = result["tally"]
        approval = contest.method == Contest.Method.APPROVAL
        whole = result["ballots"] if approval else sum(tally.values())
        rows = [
            {
                "name": name,
                "votes": tally.get(str(choice_id), 0),
                "percent": _percent(tally.get(str(choice_id), 0), whole),
                "winner": choice_id in result["winners"],
            }
            for choice_id, name in names.items()
        ]
        ranked = contest.method == Contest.Method.RANKED
        shown.append(
            {
                "contest": contest,
                "result": result,
                "winners": ", ".join(names[w] for w in result["winners"] if w in names),
                "rows": rows,
                "approval": approval,
                "ranked": ranked,
                "chart": _chart(rows),
                "rounds": _rounds_table(result, names) if ranked else None,
            }
        )
    return shown
