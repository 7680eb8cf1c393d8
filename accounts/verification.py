"""Verification levels, derived from what is already stored.

The levels form a ladder: ``none`` < ``email`` < ``phone`` < ``trusted``. An account
stands on the highest rung whose evidence it has, and every rung above ``none`` needs
a verified email address first (no vote without one). Nothing here is stored twice:
the email rung reads allauth's EmailAddress, the phone rung ``phone_verified_at``, the
trusted rung ``trusted_at``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class VerificationLevel(models.TextChoices):
    NONE = "none", _("Not verified")
    EMAIL = "email", _("Verified email")
    PHONE = "phone", _("Verified phone")
    TRUSTED = "trusted", _("Trusted")


LADDER = [VerificationLevel.NONE, VerificationLevel.EMAIL, VerificationLevel.PHONE, VerificationLevel.TRUSTED]


def level_rank(level: str) -> int:
    return LADDER.index(VerificationLevel(level))


def has_verified_email(user) -> bool:
    from allauth.account.models import EmailAddress

    if not getattr(user, "is_authenticated", False):
        return False
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def verification_level_of(user, *, email_verified: bool | None = None) -> VerificationLevel:
    """The user's rung; ``email_verified`` spares the query when the caller knows it."""
    if email_verified is None:
        email_verified = has_verified_email(user)
    if not email_verified:
        return VerificationLevel.NONE
    if user.trusted_at is not None:
        return VerificationLevel.TRUSTED
    if user.phone_verified_at is not None:
        return VerificationLevel.PHONE
    return VerificationLevel.EMAIL


def meets_level(user, least: str) -> bool:
    return level_rank(verification_level_of(user)) >= level_rank(least)
