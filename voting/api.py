"""The public voting API: elections, the bulletin board, results, tracking, and casting.

No login: reads are public and a ballot is cast with its one-time credential, which is the
only authority the API needs. Errors are ``{"detail": "one message"}``, translated.

What is published when (the rules a recount depends on):

- A draft election does not exist publicly: every endpoint answers 404 for it.
- The bulletin board (every ballot's tracking code and selections) and the results follow
  one rule, ``selectors.results_visible``: after voting closes, or while it is open if the
  election shows results live. The board *is* the results (anyone can count it), so it can
  never be shown where the results are not. Before then both answer 403 saying when.
  (The ballots' ledger entries are public as they are sealed; holding back the board keeps
  official pages from showing a running count, it is not secrecy: docs/voting-security.md.)
- Tracking a ballot works whenever the ballot exists, so a voter can check their own at
  once; a tracking code reveals only the ballot it names.

Casting attempts are throttled per client address (scope ``voting-cast``); a credential has
135 random bits, so the throttle is against floods, not guessing.

Under gunicorn most casts never reach the view below: the cast fast lane
(voting/fast_lane.py) answers a plain cast in front of Django with this module's own
pieces (plain_cast_request, VotingCastThrottle, cast_response_data, cast_location), and
hands every other request here. A change to what a cast answers belongs in those pieces.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from citychain.api import RatesFromSettings
from ledger import selectors as ledger_selectors
from ledger.models import Block
from voting import credentials as codes
from voting import selectors, services
from voting.models import Ballot, Choice, Contest, Election
from voting.serializers import (
    BallotErrorSerializer,
    BallotSerializer,
    CastRequestSerializer,
    CastResponseSerializer,
    ElectionSerializer,
    ErrorSerializer,
    ResultsSerializer,
    TrackSerializer,
)

THROTTLE_SCOPE = "voting-cast"
# Used only if settings name no rate for the scope, so a missing setting never means a 500.
TAGS = ["voting"]

NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such election (a draft is not published)."
)
NOT_YET = OpenApiResponse(
    ErrorSerializer,
    description="Not published yet: after voting closes, or while open if the election "
    "shows results live. The message says when.",
)


class ElectionNotFound(NotFound):
    default_detail = _("There is no published election with this id.")


# Set in the WSGI environ by the cast fast lane (voting/fast_lane.py) when it has counted an
# attempt and then hands the request to Django; a request's headers cannot set it (they
# arrive as HTTP_* keys).
CAST_ATTEMPT_COUNTED = "citychain.voting.cast_attempt_counted"


class VotingCastThrottle(RatesFromSettings, ScopedRateThrottle):
    """Casting attempts per client address (REST_FRAMEWORK's "voting-cast")."""

    def allow_request(self, request, view) -> bool:
        if request.META.get(CAST_ATTEMPT_COUNTED):
            return True  # this attempt was counted (and allowed) in the fast lane
        return super().allow_request(request, view)


class PublicVotingView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


def published_elections() -> QuerySet[Election]:
    choices = Prefetch("choices", queryset=Choice.objects.order_by("position", "id"))
    contests = Prefetch(
        "contests", queryset=Contest.objects.order_by("position", "id").prefetch_related(choices)
    )
    return Election.objects.exclude(status=Election.Status.DRAFT).prefetch_related(contests)


def published_election(election_id: str, queryset: QuerySet[Election] | None = None) -> Election:
    """The election, or 404 for an unknown id, a malformed one and a draft alike."""
    if not election_id.isdigit() or len(election_id) > 18:
        raise ElectionNotFound()
    if queryset is None:
        queryset = Election.objects.exclude(status=Election.Status.DRAFT)
    election = queryset.filter(pk=int(election_id)).first()
    if election is None:
        raise ElectionNotFound()
    return election


def election_data(election: Election) -> dict[str, Any]:
    rules = dataclasses.asdict(election.get_rcv_rules())
    return {
        "id": election.pk,
        "title": election.title,
        "status": election.status,
        "results_live": election.results_live,
        "definition_sha256": election.definition_sha256,
        "rcv_rules": {k: list(v) if isinstance(v, tuple) else v for k, v in rules.items()},
        "contests": [
            {
                "id": contest.pk,
                "title": contest.title,
                "method": contest.method,
                "seats": contest.seats,
                "choices": [{"id": c.pk, "name": c.name} for c in contest.choices.all()],
                "tie_decisions": list(contest.tie_decisions),
            }
            for contest in election.contests.all()
        ],
    }


def require_published_results(election: Election, what: str) -> None:
    if selectors.results_visible(election):
        return
    if what == "ballots":
        message = _(
            "The ballots of this election are published on the bulletin board when voting "
            "closes, so no running count can sway the voters still to come."
        )
    else:
        message = _(
            "The results of this election are published when voting closes, so no running "
            "count can sway the voters still to come."
        )
    raise PermissionDenied(message)


# --- elections -----------------------------------------------------------------------------


class ElectionPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ElectionListView(generics.ListAPIView):
    """Every published election (open, closed or certified), newest first."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = ElectionSerializer
    pagination_class = ElectionPagination

    def get_queryset(self) -> QuerySet[Election]:
        return published_elections().order_by("-created_at", "-id")

    @extend_schema(
        operation_id="voting_elections_list",
        summary="Elections",
        responses={
            200: ElectionSerializer(many=True),
            404: OpenApiResponse(
                ErrorSerializer,
                description="No such page: `page` is past the last or not a whole number.",
            ),
        },
        tags=TAGS,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            ElectionSerializer([election_data(e) for e in page], many=True).data
        )


class ElectionDetailView(PublicVotingView):
    @extend_schema(
        operation_id="voting_election",
        summary="One election and its ballot",
        responses={200: ElectionSerializer, 404: NOT_FOUND},
        tags=TAGS,
    )
    def get(self, request: Request, election_id: str) -> Response:
        election = published_election(election_id, published_elections())
        return Response(ElectionSerializer(election_data(election)).data)


# --- the bulletin board and casting --------------------------------------------------------


class BoardPagination(CursorPagination):
    """Keyset pages by tracking code: stable while ballots keep arriving (no ballot is
    skipped or shown twice), and the order says nothing about when a ballot was cast."""

    ordering = ("tracking_code",)
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


class BallotBoardView(generics.GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = BallotSerializer
    pagination_class = BoardPagination
    throttle_scope = THROTTLE_SCOPE

    def get_throttles(self):
        # Only casting is throttled; reading the board is as free as reading the ledger.
        return [VotingCastThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="voting_ballots_list",
        summary="The bulletin board: every ballot",
        description=(
            "Every ballot of the election: its tracking code, its selections, and its leaf "
            "index on the ledger (null while its entry waits to be sealed, a few seconds). "
            "Ordered by tracking code, which is random, never by when ballots were cast. "
            "Published after voting closes, or while it is open if the election shows "
            "results live; before then 403. Follow `next` for further pages."
        ),
        responses={200: BallotSerializer(many=True), 403: NOT_YET, 404: NOT_FOUND},
        tags=TAGS,
    )
    def get(self, request: Request, election_id: str) -> Response:
        election = published_election(election_id)
        require_published_results(election, "ballots")
        page = self.paginate_queryset(selectors.board_ballots(election))
        data = [
            {
                "tracking_code": ballot.tracking_code,
                "selections": ballot.selections,
                "leaf_index": ballot.ledger_entry.leaf_index,
            }
            for ballot in page
        ]
        return self.get_paginated_response(BallotSerializer(data, many=True).data)

    @extend_schema(
        operation_id="voting_ballot_cast",
        summary="Cast a ballot",
        description=(
            "Casts one ballot with a one-time credential and returns its tracking code. "
            "Nothing is stored when the cast is refused. Ranked contests list choices in "
            "order of preference. Attempts are limited per client address (429)."
        ),
        request=CastRequestSerializer,
        responses={
            201: CastResponseSerializer,
            400: OpenApiResponse(
                BallotErrorSerializer,
                description="The ballot is not valid (an overvote, a choice ranked twice, an "
                "unknown contest or choice: the message says which), the request is "
                "malformed, or the credential was mistyped (its check symbol does not match).",
            ),
            403: OpenApiResponse(
                ErrorSerializer,
                description="Voting in this election has closed; or the credential is "
                "unknown, used or voided (one message for all three).",
            ),
            404: NOT_FOUND,
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many attempts from this address; retry after "
                "`Retry-After` seconds.",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request, election_id: str) -> Response:
        # The cast reads (and share-locks) the election itself: one query, not two.
        if not election_id.isdigit() or len(election_id) > 18:
            raise ElectionNotFound()
        body = _cast_request(request.data)
        if isinstance(body, Response):
            return body
        try:
            ballot = services.ballot_cast(election_id=int(election_id), **body)
        except (Election.DoesNotExist, services.VotingNotStarted):
            raise ElectionNotFound() from None  # a draft is not published: as unknown
        except services.CredentialMistyped as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except services.VotingRefused as exc:
            raise PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            problems = [str(m) for m in exc.messages]
            return Response(
                {"detail": " ".join(problems), "problems": problems},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            cast_response_data(ballot),
            status=status.HTTP_201_CREATED,
            headers={"Location": cast_location(request, ballot)},
        )


def cast_response_data(ballot: Ballot) -> dict[str, Any]:
    # Already the plain JSON CastResponseSerializer describes: not run through it, which
    # would cost a cast as much CPU as its two database round trips.
    return {
        "tracking_code": ballot.tracking_code,
        "election": ballot.election_id,
        "selections": ballot.selections,
        "leaf_index": None,
        "status": "pending",
    }


def cast_location(request: HttpRequest, ballot: Ballot) -> str:
    return request.build_absolute_uri(reverse("voting-api:track", args=[ballot.tracking_code]))


# A credential as the letter prints it, typed or scanned: CastRequestSerializer would take
# it unchanged (no surrounding space, no character its CharField refuses).
_PLAIN_CREDENTIAL = re.compile(r"[0-9A-Za-z][0-9A-Za-z -]{0,98}[0-9A-Za-z]")


def _cast_request(data: Any) -> dict[str, Any] | Response:
    """The credential and selections of a cast request, or the 400 that refuses it.

    A well-formed request is read as it is; anything else goes through
    CastRequestSerializer, which words the refusal. (Building that serializer costs more
    CPU than the rest of a cast's request handling, and nearly every request is well formed.)
    """
    plain = plain_cast_request(data)
    if plain is not None:
        return plain
    body = CastRequestSerializer(data=data)
    if not body.is_valid():
        return Response(_request_problems(body.errors), status=status.HTTP_400_BAD_REQUEST)
    return {key: body.validated_data[key] for key in ("credential", "selections")}


def plain_cast_request(data: Any) -> dict[str, Any] | None:
    """The credential and selections of a request CastRequestSerializer would take as it
    is, or None to let the serializer decide."""
    if isinstance(data, Mapping):
        credential, selections = data.get("credential"), data.get("selections")
        if (
            isinstance(credential, str)
            and _PLAIN_CREDENTIAL.fullmatch(credential)
            and selections is not None
        ):
            return {"credential": credential, "selections": selections}
    return None


def _request_problems(errors: dict[str, Any]) -> dict[str, Any]:
    problems = [
        f"{field}: {message}"
        for field, messages in errors.items()
        for message in (messages if isinstance(messages, list) else [messages])
    ]
    return {"detail": " ".join(problems), "problems": problems}


# --- results -------------------------------------------------------------------------------


def _contest_result(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **result,
        "blank": result.get("blank"),
        "overvotes": result.get("overvotes"),
        "passed": result.get("passed"),
    }


class ResultsView(PublicVotingView):
    @extend_schema(
        operation_id="voting_results",
        summary="Results and turnout",
        description=(
            "Every contest counted from the ballots on the bulletin board (instant runoff "
            "round by round for ranked contests), and turnout. Published after voting "
            "closes, or while it is open if the election shows results live; before then "
            "403."
        ),
        responses={200: ResultsSerializer, 403: NOT_YET, 404: NOT_FOUND},
        tags=TAGS,
    )
    def get(self, request: Request, election_id: str) -> Response:
        election = published_election(election_id)
        require_published_results(election, "results")
        counted = selectors.results(election)
        data = {
            "election": election.pk,
            "status": election.status,
            "final": election.status in (Election.Status.CLOSED, Election.Status.CERTIFIED),
            "contests": [_contest_result(c) for c in counted["contests"]],
            "turnout": selectors.turnout(election),
        }
        return Response(ResultsSerializer(data).data)


# --- tracking ------------------------------------------------------------------------------


class BallotNotFound(NotFound):
    default_detail = _("No ballot has this tracking code.")


class TrackView(PublicVotingView):
    @extend_schema(
        operation_id="voting_track",
        summary="Find a ballot by its tracking code",
        description=(
            "The ballot's ledger entry, exactly as hashed, with an RFC 9162 inclusion proof "
            "in the signed block that sealed it (check the block at "
            "/api/ledger/blocks/<block_height>/ and its signature with /api/ledger/key/). "
            "While the entry waits to be sealed (a few seconds) `status` is `pending` and "
            "the ledger fields are null. The code may be typed in any case, with or "
            "without dashes."
        ),
        parameters=[OpenApiParameter("tracking_code", str, OpenApiParameter.PATH)],
        responses={
            200: TrackSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Not a tracking code: it was probably mistyped."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No ballot has this code."),
        },
        tags=TAGS,
    )
    def get(self, request: Request, tracking_code: str) -> Response:
        try:
            codes.normalize_tracking_code(tracking_code)
        except codes.CodeFormatError:
            return Response(
                {
                    "detail": _(
                        "This is not a tracking code; it was probably mistyped. Check it "
                        "against your receipt and try again."
                    )
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        ballot = selectors.ballot_by_tracking_code(tracking_code)
        if ballot is None:
            raise BallotNotFound()
        return Response(TrackSerializer(_tracked(ballot)).data)


def _tracked(ballot: Ballot) -> dict[str, Any]:
    entry = ballot.ledger_entry
    data: dict[str, Any] = {
        "tracking_code": ballot.tracking_code,
        "election": ballot.election_id,
        "status": "pending",
        "selections": None,
        "leaf_index": None,
        "block_height": None,
        "leaf_hash": None,
        "entry": None,
        "inclusion_proof": None,
    }
    if entry.leaf_index is None or entry.block_height is None:
        return data
    block = Block.objects.get(height=entry.block_height)
    proof = ledger_selectors.inclusion_proof(entry.leaf_index, block.tree_size)
    content = ledger_selectors.entry_content(entry)
    return {
        **data,
        "status": "sealed",
        # From the entry as hashed, not the ballot row: this is what the ledger vouches for.
        "selections": content["data"]["selections"],
        "leaf_index": entry.leaf_index,
        "block_height": block.height,
        "leaf_hash": proof.leaf_hash.hex(),
        "entry": content,
        "inclusion_proof": {
            "block_height": block.height,
            "tree_size": proof.tree_size,
            "audit_path": [h.hex() for h in proof.audit_path],
            "root_hash": proof.root_hash.hex(),
        },
    }
