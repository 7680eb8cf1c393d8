"""Fans' forms for calls: propose (by kind) and support. The rules are the services'."""

from django import forms
from django.utils.translation import gettext_lazy as _

from polls.models import PollKind
from polls.participation.models import MAX_PROPOSAL_TEXT
from voting.bot_friction import FormStampField, stamp_problem


class BotFrictionForm(forms.Form):
    shown_at = FormStampField()
    # Bots fill every field; people never see this one.
    website = forms.CharField(
        required=False,
        label=_("Leave this empty"),
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def bot_problem(self) -> str | None:
        if self.cleaned_data.get("website"):
            return str(_("This form could not be accepted."))
        return stamp_problem(self.cleaned_data.get("shown_at"))


class ProposalForm(BotFrictionForm):
    def __init__(self, *args, kind: str, cities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == PollKind.CITY:
            self.fields["geoname_id"] = forms.TypedChoiceField(
                label=_("Your city"),
                choices=[(city.geoname_id, f"{city.name} ({city.country})") for city in cities],
                coerce=int,
                widget=forms.RadioSelect,
            )
        elif kind == PollKind.DESIGN:
            self.fields["image"] = forms.ImageField(label=_("Your design (PNG, JPEG or WebP)"))
            self.fields["text"] = forms.CharField(
                label=_("Title (optional)"), max_length=MAX_PROPOSAL_TEXT, required=False
            )
        else:
            label = _("Song title") if kind == PollKind.SINGLE else _("Your idea")
            self.fields["text"] = forms.CharField(label=label, max_length=MAX_PROPOSAL_TEXT)


class CitySearchForm(forms.Form):
    city = forms.CharField(label=_("Search a city"), max_length=100, required=False)
