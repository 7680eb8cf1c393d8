"""Demo accounts for `make run`: an agency, its owner, a second manager (for the
four-eyes review) and a verified fan.

The owner and the manager have a real allauth TOTP authenticator (and recovery codes),
so that a person trying the demo can sign in with a second factor and schedule, close,
review and publish: those actions need a session that used MFA
(docs/decisions/mfa-used-by-the-session.md). Their secrets are printed by `seed_demo`,
like the password: demo only, refused off the embedded defaults.
"""

import time
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Membership, Role, User

DEMO_PASSWORD = "encore-demo-2026"
DEMO_OWNER_EMAIL = "owner@encore.example"
DEMO_MANAGER_EMAIL = "manager@encore.example"
DEMO_FAN_EMAIL = "fan@encore.example"


@dataclass(frozen=True)
class DemoAuthenticator:
    """What a person needs to add the account to an authenticator app."""

    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


@dataclass(frozen=True)
class DemoAccounts:
    agency: Agency
    owner: User
    manager: User
    fan: User
    owner_totp: DemoAuthenticator
    manager_totp: DemoAuthenticator


def _verified_user(email: str, display_name: str, **extra) -> User:
    user, created = User.objects.get_or_create(email=email, defaults={"display_name": display_name, **extra})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def demo_totp_enable(user: User) -> DemoAuthenticator:
    """The user's TOTP authenticator and recovery codes, made with allauth.mfa's own
    classes the first time. Later runs read the stored secret back: the one printed
    stays the one in the person's authenticator app for as long as the database lives."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    else:
        secret = decrypt(authenticator.data["secret"])
    codes = RecoveryCodes.activate(user).get_unused_codes()
    return DemoAuthenticator(
        secret=secret,
        otpauth_uri=get_mfa_adapter().build_totp_url(user, secret),
        recovery_codes=codes,
    )


class DemoRefused(ImproperlyConfigured):
    """Demo accounts asked for off the local demo's embedded defaults."""


def check_demo_allowed() -> None:
    """Refuse unless this process is the local demo on its embedded defaults (or the
    test suite): the demo owner's password and TOTP secret are public, and an agency
    owner anyone can sign in as must never exist on a real deployment."""
    if settings.LOCAL_DEMO:
        return
    why = ["ENCORE_ENV=production"] if settings.PRODUCTION else settings.OFF_EMBEDDED_DEFAULTS
    raise DemoRefused(
        "seed_demo runs only on the local demo's embedded defaults: it creates accounts "
        f"whose password and TOTP secret are public. Refused here because {'; '.join(why)}."
    )


@transaction.atomic
def demo_accounts_seed() -> DemoAccounts:
    """Create or refresh the demo accounts; running it twice changes nothing. Raises
    DemoRefused off the embedded defaults."""
    check_demo_allowed()
    agency, _ = Agency.objects.get_or_create(
        slug="starlight",
        defaults={"name": "Starlight Entertainment", "verified_at": timezone.now()},
    )
    owner = _verified_user(DEMO_OWNER_EMAIL, "Starlight Owner", time_zone="Asia/Seoul", country="KR")
    Membership.objects.get_or_create(agency=agency, user=owner, defaults={"role": Role.OWNER})
    manager = _verified_user(DEMO_MANAGER_EMAIL, "Starlight Manager", time_zone="Asia/Seoul", country="KR")
    Membership.objects.get_or_create(agency=agency, user=manager, defaults={"role": Role.MANAGER})
    fan = _verified_user(DEMO_FAN_EMAIL, "Demo Fan", time_zone="Europe/Madrid", country="ES")
    return DemoAccounts(
        agency=agency,
        owner=owner,
        manager=manager,
        fan=fan,
        owner_totp=demo_totp_enable(owner),
        manager_totp=demo_totp_enable(manager),
    )


def demo_totp_codes() -> dict[str, str]:
    """The code each demo staff account's authenticator app shows now, by email: for a
    person trying the demo without an authenticator app. Raises DemoRefused off the
    embedded defaults."""
    check_demo_allowed()
    counter = int(time.time()) // 30
    authenticators = Authenticator.objects.filter(
        user__email__in=[DEMO_OWNER_EMAIL, DEMO_MANAGER_EMAIL], type=Authenticator.Type.TOTP
    ).select_related("user")
    return {
        totp.user.email: format_hotp_value(hotp_value(decrypt(totp.data["secret"]), counter))
        for totp in authenticators
    }
