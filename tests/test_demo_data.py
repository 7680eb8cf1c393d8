"""`make run`'s demo data: complete, and idempotent."""

import pytest
from django.core.management import call_command

from accounts.models import Agency, Membership, User
from accounts.verification import VerificationLevel, verification_level_of
from polls.models import Option, Poll, PollStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_creates_everything_once(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert Agency.objects.count() == 1
    assert User.objects.count() == 2
    assert Membership.objects.get().role == "owner"
    fan = User.objects.get(email="fan@encore.example")
    assert verification_level_of(fan) == VerificationLevel.EMAIL
    assert Poll.objects.count() == 4
    statuses = {poll.slug: poll.status for poll in Poll.objects.all()}
    assert list(statuses.values()).count(PollStatus.OPEN) == 3
    assert statuses["lumen-fanclub-name"] == PollStatus.CLOSED
    assert Poll.objects.get(slug="lumen-next-single").method == "ranked"
    designs = Option.objects.filter(poll__kind="design")
    assert designs.count() == 3
    assert all(option.image.name.endswith(".png") for option in designs)
    city = Option.objects.filter(poll__kind="city").first()
    assert city.latitude is not None and city.country
