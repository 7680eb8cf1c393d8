"""Checks every allauth sign-up form runs: the page's, the headless API's, the social one.

allauth builds all of them on ``ACCOUNT_SIGNUP_FORM_CLASS`` (this module's class is
their common base), which is why the check lives here and not in
``accounts.forms.EncoreSignupForm``: the app clients sign up through
``allauth.headless`` with a form of allauth's own. Kept apart from ``accounts.forms``
because allauth imports this class while ``allauth.account.forms`` is being imported.
"""

from django import forms

from accounts.email_aliases import account_of_address


class EncoreSignupChecks(forms.Form):
    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email and not self.account_already_exists and account_of_address(email) is not None:
            # Another spelling of an existing account's address (fan+2@x, f.an@gmail):
            # that address, for "one account per email". allauth then answers as for
            # a new sign-up and mails the owner (no account enumeration).
            self.account_already_exists = True
        return cleaned

    def signup(self, request, user) -> None:
        """allauth's hook for extra fields; Encore asks none at sign-up."""
