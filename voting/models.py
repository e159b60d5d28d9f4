"""Elections, their ballots' definition, the voter roll, and the cast ballots.

Secrecy is a property of these tables, not of the code that writes them: a ``Ballot`` row has
no column that names a voter or a credential and none that records when it was cast, and its
primary key is random, so neither its columns nor its id say who cast it or in what order.
The roll (``Voter``) says only *that* a voter has voted, never when. Every write goes through
``voting.services``; docs/voting-security.md says what this does and does not protect.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from citychain.fields import EncryptedTextField
from voting import tally


class Election(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        CERTIFIED = "certified", _("Certified")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    results_live = models.BooleanField(
        _("results shown while open"),
        default=False,
        help_text=_(
            "Official elections show results only after voting closes, so early counts "
            "cannot sway the voters still to come."
        ),
    )
    # RcvRules' fields by name (voting.tally); {} means our defaults for official elections.
    rcv_rules = models.JSONField(_("ranked-choice rules"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    certified_at = models.DateTimeField(_("certified"), null=True, blank=True)
    # SHA-256 of the ballot definition as it was opened (also on the ledger).
    definition_sha256 = models.CharField(_("ballot definition digest"), max_length=64, blank=True)
    # The election's ledger pseudonym, kept when it opens so a cast needs no extra query.
    ledger_subject = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("election")
        verbose_name_plural = _("elections")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "closed", "certified"]),
                name="voting_election_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(opened_at__isnull=False),
                name="voting_election_opened_at_set",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open"]) | Q(closed_at__isnull=False),
                name="voting_election_closed_at_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="certified") | Q(certified_at__isnull=False),
                name="voting_election_certified_at_set",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def get_rcv_rules(self) -> tally.RcvRules:
        """The election's ranked-choice rules (raises ValueError if the JSON is not valid)."""
        return rcv_rules_from_json(self.rcv_rules or {})


def rcv_rules_from_json(data: dict) -> tally.RcvRules:
    """RcvRules from their JSON form; unknown keys and bad values raise ValueError."""
    if not isinstance(data, dict):
        raise ValueError("the ranked-choice rules are a JSON object")
    fields = tally.RcvRules.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown ranked-choice rules: {', '.join(unknown)}")
    values = {
        key: tuple(str(v) for v in value) if isinstance(value, list) else value
        for key, value in data.items()
    }
    try:
        return tally.RcvRules(**values)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class Contest(models.Model):
    class Method(models.TextChoices):
        PLURALITY = "plurality", _("Plurality (vote for one)")
        APPROVAL = "approval", _("Vote for up to N (approval)")
        RANKED = "ranked", _("Ranked choice (instant runoff)")
        REFERENDUM = "referendum", _("Yes/no referendum")

    election = models.ForeignKey(
        Election, verbose_name=_("election"), on_delete=models.CASCADE, related_name="contests"
    )
    title = models.CharField(_("title"), max_length=200)
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    seats = models.PositiveSmallIntegerField(
        _("seats"),
        default=1,
        help_text=_("How many choices a voter may mark (approval) or rank (ranked choice)."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # Choice ids officials chose, by lot as the law says, for the ties the count stopped at
    # (voting.tally's tie_decisions), in the order the count meets them.
    tie_decisions = models.JSONField(_("tie decisions"), default=list, blank=True)

    class Meta:
        ordering = ["election", "position", "id"]
        verbose_name = _("contest")
        verbose_name_plural = _("contests")
        constraints = [
            models.UniqueConstraint(
                fields=["election", "position"], name="voting_contest_position_unique"
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="voting_contest_seats_min"),
            models.CheckConstraint(
                condition=Q(method__in=["plurality", "approval", "ranked", "referendum"]),
                name="voting_contest_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Choice(models.Model):
    contest = models.ForeignKey(
        Contest, verbose_name=_("contest"), on_delete=models.CASCADE, related_name="choices"
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["contest", "position", "id"]
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        constraints = [
            models.UniqueConstraint(
                fields=["contest", "position"], name="voting_choice_position_unique"
            ),
            models.UniqueConstraint(fields=["contest", "name"], name="voting_choice_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Voter(models.Model):
    """One person on an election's roll: who may vote, and whether they have.

    There is deliberately no "voted at" column, and the credential is kept only as its hash,
    which is cleared when it is used.
    """

    election = models.ForeignKey(
        Election, verbose_name=_("election"), on_delete=models.CASCADE, related_name="voters"
    )
    # A resident's public_id, or the voter ID of an imported roll; encrypted like the name,
    # found again through its keyed blind index.
    reference = EncryptedTextField(_("voter ID"))
    reference_index = models.CharField(max_length=32)
    name = EncryptedTextField(_("name"))
    email = EncryptedTextField(_("email"), null=True, blank=True)
    has_voted = models.BooleanField(_("has voted"), default=False)
    credential_hash = models.CharField(
        _("credential hash"), max_length=64, unique=True, null=True, blank=True
    )
    credential_issued_at = models.DateTimeField(_("credential issued"), null=True, blank=True)

    class Meta:
        verbose_name = _("voter")
        verbose_name_plural = _("voters")
        constraints = [
            models.UniqueConstraint(
                fields=["election", "reference_index"], name="voting_voter_reference_unique"
            ),
            # A used credential is gone: nothing can cast with it again.
            models.CheckConstraint(
                condition=Q(has_voted=False) | Q(credential_hash__isnull=True),
                name="voting_voter_used_credential_cleared",
            ),
        ]
        indexes = [models.Index(fields=["election", "has_voted"], name="voting_voter_turnout")]

    def __str__(self) -> str:
        # Never a name: __str__ ends up in logs and admin history.
        return f"voter #{self.pk}"


class Ballot(models.Model):
    """A cast ballot, as published on the bulletin board.

    No voter, no credential, no timestamp: see the module docstring. ``selections`` maps each
    contest id (a string, as JSON keys are) to the chosen choice ids, in order of preference
    for ranked contests; an empty list is a blank (undervoted) contest.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    election = models.ForeignKey(
        Election, verbose_name=_("election"), on_delete=models.PROTECT, related_name="ballots"
    )
    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    selections = models.JSONField(_("selections"))
    ledger_entry = models.OneToOneField(
        "ledger.Entry",
        verbose_name=_("ledger entry"),
        on_delete=models.PROTECT,
        related_name="ballot",
    )

    class Meta:
        # Tracking codes are random, so this order says nothing about when a ballot was cast.
        ordering = ["tracking_code"]
        verbose_name = _("ballot")
        verbose_name_plural = _("ballots")
        indexes = [models.Index(fields=["election", "tracking_code"], name="voting_ballot_board")]

    def __str__(self) -> str:
        return f"ballot {self.tracking_code}"
