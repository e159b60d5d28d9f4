"""Input and output shapes of the public voting API (voting.api).

Output serializers say exactly which fields leave the server: a ballot is its tracking code,
its selections and its place on the ledger, never anything about who cast it or when.
Errors are ``{"detail": "one message"}`` (ledger.serializers.ErrorSerializer, one schema
component for the whole API); an invalid ballot also lists each problem.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Re-used, not redefined: a second class named ErrorSerializer would clash in the schema.
from ledger.serializers import ErrorSerializer, LedgerEntryContentSerializer
from voting.models import Contest, Election

__all__ = [
    "BallotErrorSerializer",
    "BallotSerializer",
    "CastRequestSerializer",
    "CastResponseSerializer",
    "ElectionSerializer",
    "ErrorSerializer",
    "ResultsSerializer",
    "TrackSerializer",
]

SELECTIONS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "integer"}},
    "description": (
        "Contest id → the ids of the chosen choices, in order of preference for a ranked "
        "contest. An empty list (or a missing contest) is a blank contest."
    ),
    "example": {"12": [31], "13": [40, 38]},
}


@extend_schema_field(SELECTIONS_SCHEMA)
class SelectionsField(serializers.JSONField):
    """Any JSON in, checked by voting.services.ballot_validate, whose messages name the
    contest; a stricter field here would answer in field paths instead."""


@extend_schema_field({"type": "string", "example": "pending"})
class BallotStatusField(serializers.CharField):
    """``pending`` or ``sealed``, as a plain string: drf-spectacular names enums by field
    name, so a second choice set on a ``status`` field (besides the election's) would get a
    hashed component name."""


# --- elections --------------------------------------------------------------------------


class ChoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ContestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    method = serializers.ChoiceField(choices=Contest.Method.choices)
    seats = serializers.IntegerField(
        help_text="How many choices a voter may mark (approval) or rank (ranked); 1 otherwise."
    )
    choices = ChoiceSerializer(many=True, help_text="In ballot order.")
    tie_decisions = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Choice ids officials chose by lot for the ties the count stopped at, in "
        "the order the count meets them (also on the ledger as voting.ties_decided).",
    )


class ElectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Election.Status.choices)
    results_live = serializers.BooleanField(
        help_text="Whether results and the bulletin board are published while voting is open."
    )
    definition_sha256 = serializers.CharField(
        help_text="SHA-256 of the ballot definition as opened (also on the ledger)."
    )
    rcv_rules = serializers.DictField(
        help_text="The ranked-choice rules (voting.tally.RcvRules, RCTab's options) in force."
    )
    contests = ContestSerializer(many=True)


# --- the bulletin board and casting -------------------------------------------------------


class BallotSerializer(serializers.Serializer):
    tracking_code = serializers.CharField()
    selections = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Contest id → chosen choice ids (ranked contests in order of preference).",
    )
    leaf_index = serializers.IntegerField(
        allow_null=True,
        help_text="The ballot's entry in the ledger (/api/ledger/entries/<leaf_index>/); "
        "null until the entry is sealed into a block, within seconds.",
    )


class CastRequestSerializer(serializers.Serializer):
    credential = serializers.CharField(
        max_length=100,
        help_text="The one-time credential from the voter's letter, as typed or scanned "
        "(any case, with or without dashes).",
    )
    selections = SelectionsField()


class CastResponseSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(
        help_text="The receipt: look the ballot up at /api/voting/track/<tracking_code>/."
    )
    election = serializers.IntegerField()
    selections = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="The ballot as stored: every contest, blank ones as empty lists.",
    )
    leaf_index = serializers.IntegerField(allow_null=True, help_text="Null until sealed.")
    status = BallotStatusField(help_text="Always `pending`: sealing follows within seconds.")


class BallotErrorSerializer(serializers.Serializer):
    """400: what is wrong with the ballot, every problem found (up to 20)."""

    detail = serializers.CharField(help_text="Every problem, in one message.")
    problems = serializers.ListField(child=serializers.CharField(), required=False)


# --- tracking ----------------------------------------------------------------------------


class BallotInclusionProofSerializer(serializers.Serializer):
    block_height = serializers.IntegerField(help_text="The signed block the proof is for.")
    tree_size = serializers.IntegerField()
    audit_path = serializers.ListField(child=serializers.CharField())
    root_hash = serializers.CharField(help_text="The block's root hash, lowercase hex.")


class TrackSerializer(serializers.Serializer):
    tracking_code = serializers.CharField()
    election = serializers.IntegerField()
    status = BallotStatusField(
        help_text="`pending` until the entry is sealed into a block, then `sealed`."
    )
    selections = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        allow_null=True,
        help_text="From the ledger entry as hashed; null while pending.",
    )
    leaf_index = serializers.IntegerField(allow_null=True)
    block_height = serializers.IntegerField(allow_null=True)
    leaf_hash = serializers.CharField(allow_null=True)
    entry = LedgerEntryContentSerializer(
        allow_null=True, help_text="The ledger entry exactly as hashed (RFC 8785)."
    )
    inclusion_proof = BallotInclusionProofSerializer(
        allow_null=True,
        help_text="RFC 9162 proof that the entry is in the tree of the block that sealed it.",
    )


# --- results -----------------------------------------------------------------------------


class RoundSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    tallies = serializers.DictField(child=serializers.IntegerField())
    threshold = serializers.IntegerField()
    exhausted = serializers.IntegerField()
    overvotes = serializers.IntegerField()
    skipped_rankings = serializers.IntegerField()
    repeated_rankings = serializers.IntegerField()
    exhausted_choices = serializers.IntegerField()
    undervotes = serializers.IntegerField()
    elected = serializers.ListField(child=serializers.IntegerField())
    eliminated = serializers.ListField(child=serializers.IntegerField())
    transfers = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    tiebreak = serializers.CharField(allow_null=True)


class TieSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    candidates = serializers.ListField(child=serializers.IntegerField())
    selecting = serializers.ChoiceField(choices=[("winner", "winner"), ("loser", "loser")])
    votes = serializers.IntegerField()
    seats = serializers.IntegerField()


class ContestResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.ChoiceField(choices=Contest.Method.choices)
    ballots = serializers.IntegerField()
    tally = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Choice id → votes (first choices, for a ranked contest).",
    )
    rounds = RoundSerializer(many=True, help_text="Instant-runoff rounds; empty otherwise.")
    winners = serializers.ListField(child=serializers.IntegerField())
    tie = TieSerializer(
        allow_null=True, help_text="A tie the count stopped at, for officials to decide by lot."
    )
    blank = serializers.IntegerField(allow_null=True)
    overvotes = serializers.IntegerField(allow_null=True)
    passed = serializers.BooleanField(allow_null=True, help_text="Referendums only.")


class TurnoutSerializer(serializers.Serializer):
    voters = serializers.IntegerField()
    voted = serializers.IntegerField()
    ballots = serializers.IntegerField()
    percent = serializers.FloatField(allow_null=True)


class ResultsSerializer(serializers.Serializer):
    election = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Election.Status.choices)
    final = serializers.BooleanField(
        help_text="True once voting has closed; while open (live results) counts still change."
    )
    contests = ContestResultSerializer(many=True)
    turnout = TurnoutSerializer()
