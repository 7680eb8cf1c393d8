"""Cheap friction for bots on HTML forms: a signed "form shown at" stamp.

People take a few seconds to read and fill a form; scripts post at once. A form
posted back sooner than ``MIN_FORM_FILL_SECONDS`` after it was shown, or without a
valid stamp, is refused. Together with a honeypot field this stops naive bots; it
is not meant to stop a determined one (rate limits and fraud signals do that).
"""

import time

from django import forms
from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

SALT = "encore.form-shown-at"


def form_stamp() -> str:
    return signing.dumps(time.time(), salt=SALT)


def stamp_problem(stamp: str | None) -> str | None:
    """None when the stamp is valid and old enough, else a message for the person."""
    try:
        shown_at = float(signing.loads(stamp or "", salt=SALT, max_age=24 * 3600))
    except (signing.BadSignature, TypeError, ValueError):
        return str(_("This form has expired. Please reload the page and try again."))
    if time.time() - shown_at < settings.MIN_FORM_FILL_SECONDS:
        return str(_("That was quick! Please take a moment to check your choices and send again."))
    return None


class FormStampField(forms.CharField):
    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
