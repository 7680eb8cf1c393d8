"""The ballot as an HTML form, for every voting method, without JavaScript."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from polls.models import Poll, VotingMethod
from voting.bot_friction import FormStampField, stamp_problem

ORDINALS = [
    pgettext_lazy("rank", "1st choice"),
    pgettext_lazy("rank", "2nd choice"),
    pgettext_lazy("rank", "3rd choice"),
]


def rank_label(index: int) -> str:
    if index < len(ORDINALS):
        return str(ORDINALS[index])
    return str(_("Choice %(n)s")) % {"n": index + 1}


class BallotForm(forms.Form):
    """``choices()`` gives the option ids in the voter's order; the rules (how many,
    which exist) are checked by the service, not here, so both front ends agree."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=128)
    shown_at = FormStampField()
    # Bots fill every field; people never see this one.
    website = forms.CharField(
        required=False,
        label=_("Leave this empty"),
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, poll: Poll, **kwargs):
        super().__init__(*args, **kwargs)
        self.poll = poll
        options = [(option.pk, option.label) for option in poll.options.all()]
        if poll.method == VotingMethod.SINGLE:
            self.fields["choice"] = forms.TypedChoiceField(
                label=_("Your choice"), choices=options, coerce=int, widget=forms.RadioSelect
            )
        elif poll.method == VotingMethod.MULTIPLE:
            self.fields["choice"] = forms.TypedMultipleChoiceField(
                label=_("Your choices"), choices=options, coerce=int, widget=forms.CheckboxSelectMultiple
            )
        else:
            blank = [("", _("— none —"))]
            for index in range(poll.max_choices):
                self.fields[f"rank_{index + 1}"] = forms.TypedChoiceField(
                    label=rank_label(index),
                    choices=blank + options,
                    coerce=int,
                    empty_value=None,
                    required=index < poll.min_choices,
                )

    def rank_fields(self):
        return [self[name] for name in self.fields if name.startswith("rank_")]

    def choices(self) -> list[int]:
        data = self.cleaned_data
        if self.poll.method == VotingMethod.SINGLE:
            return [data["choice"]]
        if self.poll.method == VotingMethod.MULTIPLE:
            return list(data["choice"])
        return [data[name] for name in self.fields if name.startswith("rank_") and data.get(name)]

    def bot_problem(self) -> str | None:
        """Why this submission looks automated (honeypot filled, sent too fast)."""
        if self.cleaned_data.get("website"):
            return str(_("This form could not be accepted."))
        return stamp_problem(self.cleaned_data.get("shown_at"))
