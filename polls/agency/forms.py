"""Forms of the agency poll pages. They only parse; polls.lifecycle decides."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.timezones import time_zone_choices
from accounts.verification import VerificationLevel
from polls.agency.fraud_signals import KINDS
from polls.agency.rules import OPTION_METADATA_FIELDS, POLL_TEXT_FIELDS, VOTER_LEVELS
from polls.models import (
    MAX_OPTIONS,
    MAX_VOTES_PER_PERIOD,
    BallotStatus,
    Period,
    Poll,
    PollKind,
    ResultsVisibility,
    VotingMethod,
)

LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

# Form field names that differ from the lifecycle's.
LIFECYCLE_FIELD_OF_FORM_FIELD = {"least_account_age_days": "least_account_age"}
FORM_FIELD_OF_LIFECYCLE_FIELD = {value: key for key, value in LIFECYCLE_FIELD_OF_FORM_FIELD.items()}


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time with no zone yet: PollForm.clean places it in the poll's zone.

    Django's own field would first read it in the viewer's zone, and refuse times
    that do not exist there (a DST gap) though they exist where the poll runs.
    """

    widget = LocalDateTimeInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        return forms.fields.BaseTemporalField.to_python(self, value)


class TranslationFieldsMixin:
    """One fieldset per offered language (other than the text's own) for the translated
    fields; blank fields mean "not translated". Field names are ``tr_<code>_<field>``."""

    translated: tuple[str, ...] = ()

    def _translated_field(self, name: str, code: str) -> forms.Field:
        raise NotImplementedError

    def add_translation_fields(self, *, own_language: str | None = None) -> None:
        for code, _name in settings.LANGUAGES:
            if code == own_language:
                continue  # the text's own language is in the untranslated fields
            for name in self.translated:
                self.fields[f"tr_{code}_{name}"] = self._translated_field(name, code)

    def translation_fieldsets(self) -> list[dict]:
        return [
            {
                "code": code,
                "name": name,
                "fields": [
                    self[f"tr_{code}_{field}"]
                    for field in self.translated
                    if f"tr_{code}_{field}" in self.fields
                ],
            }
            for code, name in settings.LANGUAGES
            if f"tr_{code}_{self.translated[0]}" in self.fields
        ]

    def untranslated_fields(self) -> list:
        return [self[name] for name in self.fields if not name.startswith("tr_")]

    def translations_data(self) -> dict:
        data: dict[str, dict[str, str]] = {}
        for code, _name in settings.LANGUAGES:
            for name in self.translated:
                text = (self.cleaned_data.get(f"tr_{code}_{name}") or "").strip()
                if text:
                    data.setdefault(code, {})[name] = text
        return data

    @classmethod
    def translations_initial(cls, translations: dict) -> dict:
        return {
            f"tr_{code}_{name}": text
            for code, texts in (translations or {}).items()
            for name, text in texts.items()
            if name in cls.translated
        }


class PollForm(TranslationFieldsMixin, forms.Form):
    """A poll's text and rules. Times are read as wall-clock times in the poll's own
    time zone, the way an agency announces them ("opens 20:00 in Seoul")."""

    translated = ("title", "description")

    title = forms.CharField(label=_("Title"), max_length=200)
    slug = forms.SlugField(
        label=_("Address"),
        max_length=80,
        required=False,
        help_text=_(
            "Lowercase letters, digits and hyphens. Left empty, it is made from the title with a "
            "random ending, so nobody can guess it before the poll is public."
        ),
    )
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    language = forms.ChoiceField(
        label=_("Language of the title, description and options"),
        choices=lambda: settings.LANGUAGES,
        initial="en",
        required=False,
        help_text=_("Fans reading another language see your translations below, or this text."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=PollKind.choices)
    method = forms.ChoiceField(
        label=_("Voting method"), choices=VotingMethod.choices, initial=VotingMethod.SINGLE
    )
    min_choices = forms.IntegerField(label=_("Fewest choices"), min_value=1, max_value=MAX_OPTIONS, initial=1)
    max_choices = forms.IntegerField(label=_("Most choices"), min_value=1, max_value=MAX_OPTIONS, initial=1)
    votes_per_period = forms.IntegerField(
        label=_("Votes per account"), min_value=1, max_value=MAX_VOTES_PER_PERIOD, initial=1
    )
    period = forms.ChoiceField(label=_("Per"), choices=Period.choices, initial=Period.ONCE)
    timezone = forms.ChoiceField(label=_("Time zone of the poll"), choices=time_zone_choices, initial="UTC")
    opens_at = WallClockDateTimeField(
        label=_("Opens at"),
        input_formats=LOCAL_INPUT_FORMATS,
        help_text=_("In the poll's time zone."),
    )
    closes_at = WallClockDateTimeField(
        label=_("Closes at"),
        input_formats=LOCAL_INPUT_FORMATS,
        help_text=_("In the poll's time zone."),
    )
    results_visibility = forms.ChoiceField(
        label=_("Results are shown"), choices=ResultsVisibility.choices, initial=ResultsVisibility.AFTER_CLOSE
    )
    least_verification = forms.ChoiceField(
        label=_("Least verification level"),
        choices=[(level.value, level.label) for level in VOTER_LEVELS],
        initial=VerificationLevel.EMAIL,
    )
    least_account_age_days = forms.IntegerField(
        label=_("Least account age (days, at opening)"), min_value=0, max_value=3650, initial=0
    )
    allowed_countries = forms.MultipleChoiceField(
        label=_("Only these countries"),
        choices=lambda: list(countries),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Leave empty for everywhere."),
    )
    blocked_countries = forms.MultipleChoiceField(
        label=_("Not these countries"),
        choices=lambda: list(countries),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args, text_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if text_only:
            # Once scheduled, only the text may still be corrected.
            for name in list(self.fields):
                if name not in POLL_TEXT_FIELDS:
                    del self.fields[name]
        self.add_translation_fields()

    def _translated_field(self, name: str, code: str) -> forms.Field:
        attrs = {"lang": code}
        if name == "title":
            return forms.CharField(
                label=_("Title"), max_length=200, required=False, widget=forms.TextInput(attrs)
            )
        return forms.CharField(
            label=_("Description"),
            max_length=5000,
            required=False,
            widget=forms.Textarea({"rows": 3, **attrs}),
        )

    @classmethod
    def initial_of(cls, poll: Poll) -> dict:
        zone = ZoneInfo(poll.timezone)
        return {
            **cls.translations_initial(poll.translations),
            "title": poll.title,
            "slug": poll.slug,
            "description": poll.description,
            "language": poll.language,
            "kind": poll.kind,
            "method": poll.method,
            "min_choices": poll.min_choices,
            "max_choices": poll.max_choices,
            "votes_per_period": poll.votes_per_period,
            "period": poll.period,
            "timezone": poll.timezone,
            "opens_at": poll.opens_at.astimezone(zone).replace(tzinfo=None),
            "closes_at": poll.closes_at.astimezone(zone).replace(tzinfo=None),
            "results_visibility": poll.results_visibility,
            "least_verification": poll.least_verification,
            "least_account_age_days": poll.least_account_age.days,
            "allowed_countries": [country.code for country in poll.allowed_countries],
            "blocked_countries": [country.code for country in poll.blocked_countries],
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        zone = ZoneInfo(cleaned.get("timezone") or "UTC")
        for name in ("opens_at", "closes_at"):
            moment = cleaned.get(name)
            if isinstance(moment, datetime):
                cleaned[name] = moment.replace(tzinfo=zone)
        return cleaned

    def lifecycle_data(self) -> dict:
        data = {"translations": self.translations_data()}
        for name, value in self.cleaned_data.items():
            if name.startswith("tr_"):
                continue
            if name in ("slug", "language") and not value:
                continue  # keep the current address, or make one from the title
            if name == "least_account_age_days":
                data["least_account_age"] = timedelta(days=value)
                continue
            data[name] = value
        return data


class OptionForm(TranslationFieldsMixin, forms.Form):
    """An option, with the fields of the poll's kind only, and its translations."""

    translated = ("label", "description")

    label = forms.CharField(label=_("Label"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    country = forms.ChoiceField(label=_("Country"), choices=lambda: [("", "—"), *countries])
    latitude = forms.DecimalField(
        label=_("Latitude"), min_value=-90, max_value=90, max_digits=8, decimal_places=5
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), min_value=-180, max_value=180, max_digits=8, decimal_places=5
    )
    population = forms.IntegerField(label=_("Population"), min_value=0, required=False)
    artist = forms.CharField(label=_("Artist"), max_length=200)
    track = forms.CharField(label=_("Track"), max_length=200)
    preview_url = forms.URLField(
        label=_("Audio preview address"),
        required=False,
        assume_scheme="https",
        help_text=_("Optional; an http or https address."),
    )
    image = forms.FileField(
        label=_("Image"),
        help_text=_("PNG, JPEG or WebP, at most 5 MB and 4096 by 4096 pixels."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )

    def __init__(self, *args, kind: str, own_language: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        keep = {"label", "description", *OPTION_METADATA_FIELDS.get(kind, ())}
        if kind == PollKind.DESIGN:
            keep.add("image")
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        self.add_translation_fields(own_language=own_language)

    def _translated_field(self, name: str, code: str) -> forms.Field:
        attrs = {"lang": code}
        if name == "label":
            return forms.CharField(
                label=_("Label"), max_length=200, required=False, widget=forms.TextInput(attrs)
            )
        return forms.CharField(
            label=_("Description"),
            max_length=5000,
            required=False,
            widget=forms.Textarea({"rows": 2, **attrs}),
        )

    def lifecycle_data(self) -> tuple[dict, object | None]:
        data = {name: value for name, value in self.cleaned_data.items() if not name.startswith("tr_")}
        image = data.pop("image", None)
        data = {name: value for name, value in data.items() if value is not None}
        data["translations"] = self.translations_data()
        return data, image


class OptionTranslationsForm(TranslationFieldsMixin, forms.Form):
    """An option's translations alone, to add or correct them on an existing option."""

    translated = OptionForm.translated
    _translated_field = OptionForm._translated_field

    def __init__(self, *args, own_language: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_translation_fields(own_language=own_language)


class InvalidationForm(forms.Form):
    """Quarantine, invalidate or count again the ballots of one fraud-signal cluster.
    polls.review decides who may and whether a second member must approve."""

    kind = forms.ChoiceField(choices=[(kind, kind) for kind in KINDS], widget=forms.HiddenInput)
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        label=_("Action"),
        choices=[
            (BallotStatus.QUARANTINED, _("Quarantine (set aside, reversible)")),
            (BallotStatus.INVALIDATED, _("Invalidate")),
            (BallotStatus.COUNTED, _("Count again")),
        ],
    )
    reason = forms.RegexField(
        label=_("Reason code"),
        regex=r"^[a-z0-9][a-z0-9_\-]{1,63}$",
        max_length=64,
        required=False,
        initial="bot_network",
        help_text=_("Public, short, lower case, e.g. bot_network. Not needed to count again."),
    )
    note = forms.CharField(
        label=_("Note for your colleagues"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def review_data(self) -> dict:
        data = self.cleaned_data
        return {
            "cluster": (data["kind"], data["key"]),
            "status": data["status"],
            "reason": data["reason"],
            "note": data["note"],
        }
