"""allauth glue: Encore's rules on sign-up, addresses and client IPs."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.utils import translation

from accounts.email_domains import disposable_domain_error


class EncoreAccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        email = super().clean_email(email).strip().lower()
        error = disposable_domain_error(email)
        if error:
            raise forms.ValidationError(error, code="disposable_email")
        return email

    def get_client_ip(self, request) -> str:
        # The one address computed by ClientIPMiddleware, so allauth's rate limits
        # count the same client as ours do, proxies included.
        ip = getattr(request, "client_ip", None)
        return ip or super().get_client_ip(request)

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        if not user.preferred_language:
            user.preferred_language = translation.get_language() or ""
            if user.preferred_language not in {code for code, _ in _languages()}:
                user.preferred_language = ""
        if commit:
            user.save()
        return user


class EncoreSocialAccountAdapter(DefaultSocialAccountAdapter):
    """A provider-verified address counts as verified (allauth's own behaviour);
    disposable domains are refused here as well."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        email = (sociallogin.user.email or "").lower()
        return not (email and disposable_domain_error(email)) and super().is_open_for_signup(
            request, sociallogin
        )


def _languages():
    from django.conf import settings

    return settings.LANGUAGES
