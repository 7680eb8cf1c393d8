"""Demo accounts for `make run`: an agency, its owner and a verified fan."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Membership, Role, User

DEMO_PASSWORD = "encore-demo-2026"
DEMO_OWNER_EMAIL = "owner@encore.example"
DEMO_FAN_EMAIL = "fan@encore.example"


@dataclass(frozen=True)
class DemoAccounts:
    agency: Agency
    owner: User
    fan: User


def _verified_user(email: str, display_name: str, **extra) -> User:
    user, created = User.objects.get_or_create(email=email, defaults={"display_name": display_name, **extra})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def demo_accounts_seed() -> DemoAccounts:
    """Create or refresh the demo accounts; running it twice changes nothing."""
    agency, _ = Agency.objects.get_or_create(
        slug="starlight",
        defaults={"name": "Starlight Entertainment", "verified_at": timezone.now()},
    )
    owner = _verified_user(DEMO_OWNER_EMAIL, "Starlight Owner", time_zone="Asia/Seoul", country="KR")
    Membership.objects.get_or_create(agency=agency, user=owner, defaults={"role": Role.OWNER})
    fan = _verified_user(DEMO_FAN_EMAIL, "Demo Fan", time_zone="Europe/Madrid", country="ES")
    return DemoAccounts(agency=agency, owner=owner, fan=fan)
