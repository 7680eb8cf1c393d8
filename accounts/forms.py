from allauth.account.forms import SignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, TokenScope, User
from accounts.timezones import time_zone_choices
from voting.bot_friction import FormStampField, form_stamp, stamp_problem


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    class Meta:
        model = User
        fields = ["display_name", "country", "preferred_language", "time_zone"]


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ANALYST)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=80, help_text=_("What uses it, e.g. “data team dashboard”.")
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=TokenScope.choices, initial=TokenScope.READ)
    lifetime_days = forms.IntegerField(
        label=_("Expires after (days)"), min_value=1, max_value=3650, initial=90, required=False
    )


class EncoreSignupForm(SignupForm):
    """allauth's sign-up form with the "shown at" stamp of voting/bot_friction.py
    (allauth's own honeypot field, ``website``, is on as well)."""

    shown_at = FormStampField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["shown_at"] = form_stamp()
        honeypot = self.fields.get("website")
        if honeypot is not None:
            # allauth renders it with an empty label and autocomplete="nope": a screen
            # reader user would meet a nameless field and a browser an invalid token.
            # Named as on the ballot form; site.css keeps it off screen.
            honeypot.label = _("Leave this empty")
            honeypot.widget.attrs["autocomplete"] = "off"

    def clean(self):
        cleaned = super().clean()
        problem = stamp_problem(self.data.get("shown_at"))
        if problem:
            raise forms.ValidationError(problem, code="form_rejected")
        return cleaned
