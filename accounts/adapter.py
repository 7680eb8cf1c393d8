"""allauth glue: Encore's rules on sign-up, addresses and client IPs."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.email_domains import disposable_domain_error
from accounts.sms import sms_send


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

    # -- phone numbers (the "phone" verification level), see accounts/sms.py
    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.phone_number = phone
        user.phone_verified_at = timezone.now() if verified else None
        user.save(update_fields=["phone_number", "phone_verified_at"])

    def get_phone(self, user) -> tuple[str, bool] | None:
        if not user.phone_number:
            return None
        return user.phone_number, user.phone_verified_at is not None

    def set_phone_verified(self, user, phone: str) -> None:
        """Called once the code sent to ``phone`` came back right. If another account
        verified the same number meanwhile, the unique constraint keeps it theirs."""
        user.phone_number = phone
        user.phone_verified_at = timezone.now()
        try:
            with transaction.atomic():
                user.save(update_fields=["phone_number", "phone_verified_at"])
        except IntegrityError:
            user.refresh_from_db(fields=["phone_number", "phone_verified_at"])

    def get_user_by_phone(self, phone: str):
        from accounts.models import User

        # A number belongs to the account that verified it: one person, one phone.
        return User.objects.filter(phone_number=phone, phone_verified_at__isnull=False).first()

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        message = _("Your Encore verification code is %(code)s. It expires in a few minutes.") % {
            "code": code
        }
        sms_send(phone=phone, message=message)

    def send_account_already_exists_sms(self, phone: str) -> None:
        sms_send(phone=phone, message=_("This number is already verified on another Encore account."))

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
