from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Agency, Membership, Role, User
from polls.models import Option, Poll, PollKind, PollState, VotingMethod

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"fan{n}@example.com")
    display_name = factory.Faker("name")
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        """Pass verified=True for an account whose email address is verified."""
        if create and extracted:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")
    verified_at = factory.Faker("past_datetime", tzinfo=__import__("datetime").UTC)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory, verified=True)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.OWNER


class PollFactory(DjangoModelFactory):
    """An open single-choice poll by default (scheduled, opened an hour ago)."""

    class Meta:
        model = Poll
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    slug = factory.Sequence(lambda n: f"poll-{n}")
    kind = PollKind.OTHER
    method = VotingMethod.SINGLE
    title = factory.Sequence(lambda n: f"Poll {n}")
    timezone = "UTC"
    state = PollState.SCHEDULED
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @factory.post_generation
    def option_labels(poll, create, extracted, **kwargs):
        """``option_labels=["A", "B"]`` adds those options; three are made otherwise."""
        if not create:
            return
        for position, label in enumerate(extracted or ["Seoul", "Tokyo", "Madrid"]):
            Option.objects.create(poll=poll, label=label, position=position)


class DraftPollFactory(PollFactory):
    """A draft poll opening tomorrow, for the agency side (options still editable)."""

    state = PollState.DRAFT
    opens_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=8))


def mfa_enable(user: User) -> str:
    """Give the user a TOTP authenticator, as allauth.mfa does when they set one up;
    returns its secret. Having it is not using it: see tests.helpers.login_with_mfa."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret
