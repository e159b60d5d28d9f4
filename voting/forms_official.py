"""Forms of the election officials' pages: they check what an official typed and say what to fix.

They write nothing: views hand the cleaned values to voting.services, whose ValidationErrors
come back onto the same forms (identity.forms.add_service_errors).
"""

from __future__ import annotations

import dataclasses

from django import forms
from django.utils.translation import gettext_lazy as _

from voting import services, tally
from voting.models import Contest, rcv_rules_from_json

MAX_ROLL_BYTES = 10 * 1024 * 1024

RESULTS_AFTER_CLOSE = "after_close"
RESULTS_LIVE = "live"

OVERVOTE_CHOICES = [
    (tally.EXHAUST_IMMEDIATELY, _("The ballot stops counting at the overvoted rank")),
    (tally.ALWAYS_SKIP_TO_NEXT_RANK, _("Skip the overvoted rank and read the next one")),
    (
        tally.EXHAUST_IF_MULTIPLE_CONTINUING,
        _("Stop only if two or more of the overvoted choices are still in the count"),
    ),
]
DUPLICATE_CHOICES = [
    (tally.DUPLICATE_SKIP, _("Pass over a choice ranked again and read on")),
    (tally.DUPLICATE_EXHAUST, _("The ballot stops counting at a choice ranked again")),
]
TIEBREAK_CHOICES = [
    (tally.STOP_COUNTING_AND_ASK, _("Stop the count; officials decide by lot, as the law says")),
    (
        tally.PREVIOUS_ROUND_COUNTS_THEN_ASK,
        _("Fewest votes in the previous rounds, then officials decide by lot"),
    ),
    (tally.USE_CANDIDATE_ORDER, _("The order of the choices on the ballot")),
    (tally.GENERATE_PERMUTATION, _("An order shuffled from the seed")),
    (tally.RANDOM, _("A draw from the seed")),
    (
        tally.PREVIOUS_ROUND_COUNTS_THEN_RANDOM,
        _("Fewest votes in the previous rounds, then a draw from the seed"),
    ),
]
_DEFAULT_RULES = dataclasses.asdict(tally.RcvRules())
_RULE_FIELDS = (
    "overvote",
    "max_skipped",
    "duplicate",
    "batch_elimination",
    "continue_until_two",
    "tiebreak",
    "seed",
    "minimum_vote_threshold",
)


class ElectionForm(forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("Voters see it on the voting page, on their letter and with the results."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to voters above their ballot."),
    )
    results = forms.ChoiceField(
        label=_("When results are shown"),
        choices=[
            (
                RESULTS_AFTER_CLOSE,
                _("After voting closes (the safe choice for official elections)"),
            ),
            (RESULTS_LIVE, _("Live, while voting is open")),
        ],
        initial=RESULTS_AFTER_CLOSE,
        widget=forms.RadioSelect,
        help_text=_(
            "Officials can always see the count. This decides when voters and the public can."
        ),
    )
    # Ranked-choice rules: RCTab's options with our defaults (docs/voting-tally.md).
    overvote = forms.ChoiceField(
        label=_("Overvotes (two choices at one rank)"),
        choices=OVERVOTE_CHOICES,
        initial=_DEFAULT_RULES["overvote"],
        help_text=_("Electronic ballots cannot overvote; this matters for imported paper ballots."),
    )
    max_skipped = forms.IntegerField(
        label=_("Skipped ranks allowed in a row"),
        min_value=0,
        required=False,
        initial=_DEFAULT_RULES["max_skipped"],
        help_text=_("Leave empty for no limit. With 1, two blank ranks in a row end the ballot."),
    )
    duplicate = forms.ChoiceField(
        label=_("A choice ranked twice"),
        choices=DUPLICATE_CHOICES,
        initial=_DEFAULT_RULES["duplicate"],
        help_text=_(
            "Electronic ballots cannot rank a choice twice; this matters for paper ballots."
        ),
    )
    batch_elimination = forms.BooleanField(
        label=_("Batch elimination"),
        required=False,
        help_text=_(
            "Eliminate at once every choice that could not catch up. The winner is the same; "
            "the table shows fewer transfers."
        ),
    )
    continue_until_two = forms.BooleanField(
        label=_("Continue until two choices remain"),
        required=False,
        help_text=_("Keep counting after the win, for a report of the final two."),
    )
    tiebreak = forms.ChoiceField(
        label=_("How a tie is broken"),
        choices=TIEBREAK_CHOICES,
        initial=_DEFAULT_RULES["tiebreak"],
        help_text=_("When two choices are tied for last place (or for the win) in a round."),
    )
    seed = forms.IntegerField(
        label=_("Seed for draws"),
        required=False,
        help_text=_("Needed by the tie-break modes that draw or shuffle; anyone can repeat them."),
    )
    minimum_vote_threshold = forms.IntegerField(
        label=_("Minimum votes to stay in the count"),
        min_value=0,
        initial=0,
        help_text=_(
            "Every choice with fewer votes is eliminated, and a winner needs at least this "
            "many. 0 means no minimum."
        ),
    )

    rule_fields = _RULE_FIELDS

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                rcv_rules_from_json(self.rcv_rules())
            except ValueError as exc:
                self.add_error(
                    None,
                    _("The ranked-choice rules are not valid: %(error)s") % {"error": exc},
                )
        return cleaned

    def rcv_rules(self) -> dict:
        """The rules that differ from our defaults: {} means the defaults for official use."""
        chosen = {name: self.cleaned_data.get(name) for name in _RULE_FIELDS}
        chosen["batch_elimination"] = bool(chosen["batch_elimination"])
        chosen["continue_until_two"] = bool(chosen["continue_until_two"])
        if chosen["minimum_vote_threshold"] is None:
            chosen["minimum_vote_threshold"] = 0
        return {name: value for name, value in chosen.items() if value != _DEFAULT_RULES[name]}

    @property
    def results_live(self) -> bool:
        return self.cleaned_data["results"] == RESULTS_LIVE


class ContestForm(forms.Form):
    title = forms.CharField(
        label=_("Contest title"),
        max_length=200,
        help_text=_("The office or question, as voters will read it on the ballot."),
    )
    method = forms.ChoiceField(
        label=_("Voting method"),
        help_text=_(
            "Plurality: mark one. Approval: mark every choice you accept. Ranked choice: rank "
            "the choices in order (instant runoff). Referendum: Yes or No."
        ),
    )
    seats = forms.IntegerField(
        label=_("How many choices a voter may mark or rank"),
        min_value=1,
        max_value=100,
        initial=1,
        help_text=_("For approval and ranked choice; plurality and referendums are vote for one."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = services.allowed_methods()
        self.fields["method"].choices = [
            (value, label) for value, label in Contest.Method.choices if value in allowed
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("method") in (Contest.Method.PLURALITY, Contest.Method.REFERENDUM):
            cleaned["seats"] = 1
        return cleaned


class ChoiceForm(forms.Form):
    name = forms.CharField(
        label=_("Choice"),
        max_length=200,
        help_text=_("A candidate's name or an option, exactly as voters should read it."),
    )


class RollUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Voter roll (CSV)"),
        help_text=_(
            "UTF-8 CSV with a header line naming the columns voter_id and name, and optionally "
            "email. Any problem refuses the whole file."
        ),
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_ROLL_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
            ) from None


class RollResidentsForm(forms.Form):
    only_active_card = forms.BooleanField(
        label=_("Only residents with an active city ID card"),
        required=False,
        initial=True,
        help_text=_("Leaves out residents whose card was lost or revoked and not replaced."),
    )


CREDENTIALS_NEW = "new"
CREDENTIALS_ALL = "all"
DELIVERY_LETTERS = "letters"
DELIVERY_EMAIL = "email"


class CredentialsForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("Who gets a new credential"),
        choices=[
            (CREDENTIALS_NEW, _("Voters who have no credential yet")),
            (
                CREDENTIALS_ALL,
                _("Every voter who has not voted (their earlier letters stop working)"),
            ),
        ],
        initial=CREDENTIALS_NEW,
        widget=forms.RadioSelect,
    )
    delivery = forms.ChoiceField(
        label=_("How the credentials reach the voters"),
        choices=[
            (DELIVERY_LETTERS, _("Printed letters with a QR code, shown once on the next page")),
            (
                DELIVERY_EMAIL,
                _("Email, to voters with an email address on the roll (the others get nothing)"),
            ),
        ],
        initial=DELIVERY_LETTERS,
        widget=forms.RadioSelect,
    )


class TieDecisionForm(forms.Form):
    choice = forms.TypedChoiceField(
        label=_("Chosen by lot"),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("Draw lots as the law says first, then record the choice the lot picked."),
    )

    def __init__(self, *args, candidates: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = candidates
