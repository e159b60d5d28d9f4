"""The voter portal's forms: the credential, the ballot and the tracking code.

They only validate. A credential is checked for typos by its check symbol (said apart) and
then against the roll; a ballot's marks go through services.ballot_validate, so the portal
refuses exactly what the casting service refuses, and each problem is shown beside its
contest. Casting is services.ballot_cast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from voting import credentials as codes
from voting import selectors, services
from voting.models import Ballot, Choice, Contest, Election, Voter

# The same words for an unknown, used, voided or other election's credential (the service's
# own message), so a refusal tells nothing about the roll.
CREDENTIAL_REFUSED = _(
    "This credential cannot be used: it is not valid for this election, or it has "
    "already been used. If you believe this is wrong, contact the election office."
)
CREDENTIAL_MISTYPED = _(
    "This credential is probably mistyped: check each letter and digit against your letter "
    "and try again."
)
TRACKING_MISTYPED = _(
    "This tracking code is probably mistyped: check each letter and digit against your "
    "receipt and try again."
)
TRACKING_NOT_FOUND = _("No ballot has this tracking code. Check it against your receipt.")

# Ranks are labelled in words a voter knows; beyond ten, by number.
ORDINAL_CHOICES = {
    1: _("1st choice"),
    2: _("2nd choice"),
    3: _("3rd choice"),
    4: _("4th choice"),
    5: _("5th choice"),
    6: _("6th choice"),
    7: _("7th choice"),
    8: _("8th choice"),
    9: _("9th choice"),
    10: _("10th choice"),
}
# Referendum choices are stored in English (services.contest_add); voters read them translated.
REFERENDUM_ANSWERS = {"Yes": _("Yes"), "No": _("No")}

_CODE_WIDGET_ATTRS = {
    "autocomplete": "off",
    "autocapitalize": "characters",
    "autocorrect": "off",
    "spellcheck": "false",
    "class": "code-input",
}


def rank_label(rank: int) -> str:
    return str(ORDINAL_CHOICES.get(rank) or gettext("Choice %(rank)d") % {"rank": rank})


def choice_label(contest: Contest, choice: Choice) -> str:
    if contest.method == Contest.Method.REFERENDUM:
        return str(REFERENDUM_ANSWERS.get(choice.name, choice.name))
    return choice.name


def contest_hint(contest: Contest) -> str:
    """What a voter may mark in a contest, in words."""
    if contest.method == Contest.Method.PLURALITY:
        return gettext("Choose one.")
    if contest.method == Contest.Method.REFERENDUM:
        return gettext("Choose yes or no.")
    if contest.method == Contest.Method.APPROVAL:
        return ngettext("You may choose %(seats)d.", "Choose up to %(seats)d.", contest.seats) % {
            "seats": contest.seats
        }
    return ngettext(
        "Rank up to %(seats)d choice: choose your 1st choice.",
        "Rank up to %(seats)d choices: choose your 1st choice, then your 2nd if you like, "
        "and so on. Choose each one only once.",
        contest.seats,
    ) % {"seats": contest.seats}


def _credential_opens_ballot(election: Election, canonical: str) -> bool:
    # A read of the roll by the credential's hash; the cast checks it again, atomically.
    return Voter.objects.filter(
        election=election, credential_hash=codes.credential_hash(canonical), has_voted=False
    ).exists()


class CredentialForm(forms.Form):
    credential = forms.CharField(
        label=_("Your voting credential"),
        max_length=80,
        help_text=_(
            "It is printed on your letter: 28 letters and digits in groups of four, like "
            "7K2M-Q9XD-…. Capital or small letters, with or without the dashes."
        ),
        error_messages={"required": _("Type the credential from your letter.")},
        widget=forms.TextInput(attrs=_CODE_WIDGET_ATTRS),
    )

    def __init__(self, *args: Any, election: Election, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.election = election

    def clean_credential(self) -> str:
        try:
            canonical = codes.normalize(self.cleaned_data["credential"])
        except codes.CodeFormatError:
            raise ValidationError(CREDENTIAL_MISTYPED, code="mistyped") from None
        if not _credential_opens_ballot(self.election, canonical):
            raise ValidationError(CREDENTIAL_REFUSED, code="refused")
        return canonical

    def error_links(self) -> list[dict[str, str]]:
        return [
            {"target": self["credential"].auto_id, "message": message}
            for message in self.errors.get("credential", [])
        ]


class TrackForm(forms.Form):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=40,
        help_text=_("It is on your receipt: 11 letters and digits, like ABCD-EFGH-JKM."),
        error_messages={"required": _("Type the tracking code from your receipt.")},
        widget=forms.TextInput(attrs=_CODE_WIDGET_ATTRS),
    )

    def clean_code(self) -> str:
        try:
            canonical = codes.normalize_tracking_code(self.cleaned_data["code"])
        except codes.CodeFormatError:
            raise ValidationError(TRACKING_MISTYPED, code="mistyped") from None
        self.ballot: Ballot | None = selectors.ballot_by_tracking_code(canonical)
        if self.ballot is None:
            raise ValidationError(TRACKING_NOT_FOUND, code="not_found")
        return canonical

    def error_links(self) -> list[dict[str, str]]:
        return [
            {"target": self["code"].auto_id, "message": message}
            for message in self.errors.get("code", [])
        ]


def _field_names(contest: Contest) -> list[str]:
    if contest.method == Contest.Method.RANKED:
        return [f"contest_{contest.pk}_rank_{rank}" for rank in range(1, contest.seats + 1)]
    return [f"contest_{contest.pk}"]


class BallotForm(forms.Form):
    """Every contest of a ballot: radios (vote for one, yes/no), checkboxes (vote for up to
    N), and one select per rank (ranked choice, so ranking needs no dragging)."""

    def __init__(self, *args: Any, election: Election, contests: Sequence[Contest], **kwargs):
        super().__init__(*args, **kwargs)
        self.election = election
        self.contests = list(contests)
        for contest in self.contests:
            choices = [(str(c.pk), choice_label(contest, c)) for c in contest.choices.all()]
            names = _field_names(contest)
            if contest.method == Contest.Method.RANKED:
                for rank, name in enumerate(names, start=1):
                    self.fields[name] = forms.ChoiceField(
                        label=rank_label(rank),
                        choices=[("", gettext("No choice")), *choices],
                        required=False,
                    )
            elif contest.method == Contest.Method.APPROVAL:
                self.fields[names[0]] = forms.MultipleChoiceField(
                    label=contest.title,
                    choices=choices,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                )
            else:
                self.fields[names[0]] = forms.ChoiceField(
                    label=contest.title, choices=choices, required=False, widget=forms.RadioSelect
                )

    @staticmethod
    def initial_from(
        contests: Sequence[Contest], selections: Mapping[str, list[int]] | None
    ) -> dict[str, Any]:
        """The form's initial values from a ballot's selections (to change them)."""
        initial: dict[str, Any] = {}
        for contest in contests:
            marks = [str(m) for m in (selections or {}).get(str(contest.pk), [])]
            names = _field_names(contest)
            if contest.method == Contest.Method.RANKED:
                initial.update(zip(names, marks, strict=False))
            elif contest.method == Contest.Method.APPROVAL:
                initial[names[0]] = marks
            elif marks:
                initial[names[0]] = marks[0]
        return initial

    def _marks(self, contest: Contest) -> list[str] | None:
        """The contest's marks as the voter made them, or None if a field was refused."""
        names = _field_names(contest)
        if any(name in self.errors for name in names):
            return None
        values = [self.cleaned_data.get(name) for name in names]
        if contest.method == Contest.Method.APPROVAL:
            return list(values[0] or [])
        if contest.method != Contest.Method.RANKED:
            return [values[0]] if values[0] else []
        ranked = [value for value in values if value]
        if values[: len(ranked)] != ranked:
            self.add_error(
                names[0],
                gettext(
                    "%(contest)s: rank your choices in order, with no gaps: a 1st choice "
                    "before a 2nd, and so on."
                )
                % {"contest": contest.title},
            )
            return None
        return ranked

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        marks = {contest.pk: self._marks(contest) for contest in self.contests}
        if any(m is None for m in marks.values()):
            given = {pk: m for pk, m in marks.items() if m is not None}
        else:
            given = marks
        try:
            self.selections = services.ballot_validate(self.election, given)
        except ValidationError:
            # Ask again contest by contest, so each message goes beside its own contest.
            for contest in self.contests:
                if marks[contest.pk] is None:
                    continue
                try:
                    services.ballot_validate(self.election, {contest.pk: marks[contest.pk]})
                except ValidationError as exc:
                    for message in exc.messages:
                        self.add_error(_field_names(contest)[0], message)
        return cleaned

    def contest_rows(self) -> list[dict[str, Any]]:
        """Per contest, what the template needs: its fields, hint, errors and anchors."""
        rows = []
        for contest in self.contests:
            fields = [self[name] for name in _field_names(contest)]
            errors = [message for field in fields for message in field.errors]
            anchor = f"contest-{contest.pk}"
            for field in fields:
                # Each input points at its contest's one list of errors; the hint is the
                # fieldset's description.
                if errors:
                    field.field.widget.attrs["aria-describedby"] = f"{anchor}-errors"
                else:
                    field.field.widget.attrs.pop("aria-describedby", None)
            ranked = contest.method == Contest.Method.RANKED
            first = fields[0].auto_id
            rows.append(
                {
                    "contest": contest,
                    "anchor": anchor,
                    "hint": contest_hint(contest),
                    "fields": fields,
                    "ranked": ranked,
                    "errors": errors,
                    # The error summary links to the contest's first input.
                    "target": first if ranked else f"{first}_0",
                }
            )
        return rows

    def error_links(self) -> list[dict[str, str]]:
        return [
            {"target": row["target"], "message": message}
            for row in self.contest_rows()
            for message in row["errors"]
        ]
