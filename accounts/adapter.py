"""allauth glue: Encore's rules on sign-up, addresses and client IPs."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.email_aliases import account_of_address, canonical_email
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
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:
                # The address (or another spelling of it) got its account between the
                # sign-up form's check and this insert: the constraint kept one account
                # per inbox; answer exactly as for a duplicate.
                raise ImmediateHttpResponse(_answer_as_duplicate_signup(request, user.email)) from None
        return user

    # -- one account per inbox (accounts/email_aliases.py, docs/decisions/email-aliases.md)
    def send_account_already_exists_mail(self, email: str) -> None:
        """A sign-up with a taken address or another spelling of it: its owner is told,
        at the address the account has, never at the spelling typed (which may be
        someone else's mailbox where plus-tags are not aliases)."""
        owner = account_of_address(email)
        if not self._first_alias_notice(email):
            return
        if owner is None or owner.email == email.lower():
            super().send_account_already_exists_mail(email)
            return
        self.send_mail(
            "accounts/email/alias_signup",
            owner.email,
            {
                "attempted_email": email,
                "password_reset_url": self.request.build_absolute_uri(reverse("account_reset_password")),
            },
        )

    def send_confirmation_mail(self, request, emailconfirmation, signup: bool) -> None:
        """No link that could verify an address whose inbox already has an account:
        its owner is told instead. The person adding it sees the same page as for any
        address (no account enumeration)."""
        address = emailconfirmation.email_address
        owner = account_of_address(address.email, exclude_user_id=address.user_id)
        if owner is None:
            super().send_confirmation_mail(request, emailconfirmation, signup)
            return
        if self._first_alias_notice(address.email):
            self.send_mail("accounts/email/address_in_use", owner.email, {"attempted_email": address.email})

    def confirm_email(self, request, email_address) -> bool:
        """Verifying makes the address the account's own (ACCOUNT_CHANGE_EMAIL), so an
        address whose inbox has another account meanwhile is refused, with a reason."""
        if account_of_address(email_address.email, exclude_user_id=email_address.user_id) is None:
            try:
                with transaction.atomic():
                    return super().confirm_email(request, email_address)
            except IntegrityError:
                pass  # the other account committed after the check: the constraint held
        email_address.verified = False
        self.add_message(
            request,
            messages.ERROR,
            message=_(
                "%(email)s reaches the same inbox as an address that already belongs to an "
                "Encore account (a +tag, or dots in a Gmail address, do not make another "
                "address). One account per address: it was not added."
            )
            % {"email": email_address.email},
        )
        return False

    def _first_alias_notice(self, email: str) -> bool:
        """At most one notice per inbox per cooldown (allauth's ``confirm_email`` rate),
        whatever spelling is tried: aliases must not turn sign-up into a mail bomb."""
        return ratelimit.consume(self.request, action="confirm_email", key=f"inbox:{canonical_email(email)}")


class EncoreSocialAccountAdapter(DefaultSocialAccountAdapter):
    """A provider-verified address counts as verified (allauth's own behaviour);
    disposable domains are refused here as well."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        email = (sociallogin.user.email or "").lower()
        return not (email and disposable_domain_error(email)) and super().is_open_for_signup(
            request, sociallogin
        )

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        # allauth checks the exact address before signing up without a form; another
        # spelling of a taken one goes through the form, whose checks treat it as taken.
        email = sociallogin.user.email or ""
        if email and account_of_address(email) is not None:
            return False
        return super().is_auto_signup_allowed(request, sociallogin)


def _answer_as_duplicate_signup(request, email: str):
    """What allauth answers to a sign-up with a taken address: the pages (or the
    headless answer) of a new sign-up, and a mail to the owner."""
    from allauth.account.internal.flows.signup import prevent_enumeration

    response = prevent_enumeration(request, email=email)
    if hasattr(request.allauth, "headless"):
        from allauth.headless.base.response import AuthenticationResponse

        response = AuthenticationResponse(request)
    return response


def _languages():
    from django.conf import settings

    return settings.LANGUAGES
