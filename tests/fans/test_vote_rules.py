"""The allowance across the poll's calendar day, and who is eligible to vote."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.models import User
from polls.errors import VoteRefused
from polls.models import Ballot
from polls.services import ballot_cast
from tests.factories import PollFactory, UserFactory

pytestmark = pytest.mark.django_db

# Seoul is UTC+9 all year: its calendar day turns at 15:00 UTC.
SEOUL_MIDNIGHT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def daily_poll(**extra):
    return PollFactory(
        timezone="Asia/Seoul",
        period="daily",
        votes_per_period=1,
        opens_at=SEOUL_MIDNIGHT - timedelta(days=3),
        closes_at=SEOUL_MIDNIGHT + timedelta(days=3),
        **extra,
    )


def cast(poll, voter):
    return ballot_cast(poll=poll, voter=voter, choices=[poll.options.first().pk])


def test_daily_allowance_resets_at_midnight_in_the_polls_time_zone(verified_fan):
    poll = daily_poll()

    with time_machine.travel(SEOUL_MIDNIGHT - timedelta(minutes=1), tick=False):
        cast(poll, verified_fan)
        with pytest.raises(VoteRefused) as refusal:
            cast(poll, verified_fan)
        assert refusal.value.code == "already_voted"
    with time_machine.travel(SEOUL_MIDNIGHT + timedelta(minutes=1), tick=False):
        cast(poll, verified_fan)

    days = sorted(Ballot.objects.values_list("day", flat=True))
    assert [str(day) for day in days] == ["2026-11-20", "2026-11-21"]


def test_daily_allowance_does_not_reset_at_utc_midnight(verified_fan):
    poll = daily_poll()
    utc_midnight = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 09:00 in Seoul, same day

    with time_machine.travel(utc_midnight - timedelta(minutes=1), tick=False):
        cast(poll, verified_fan)
    with time_machine.travel(utc_midnight + timedelta(minutes=1), tick=False), pytest.raises(VoteRefused):
        cast(poll, verified_fan)

    assert Ballot.objects.count() == 1


def test_three_votes_a_day_then_refused(verified_fan):
    poll = daily_poll()
    poll.votes_per_period = 3
    poll.save()

    with time_machine.travel(SEOUL_MIDNIGHT + timedelta(hours=2), tick=False):
        for _ in range(3):
            cast(poll, verified_fan)
        with pytest.raises(VoteRefused) as refusal:
            cast(poll, verified_fan)

    assert refusal.value.code == "already_voted"
    assert sorted(Ballot.objects.values_list("slot", flat=True)) == [0, 1, 2]


OPENING = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def eligibility_poll(**rules):
    return PollFactory(opens_at=OPENING, closes_at=OPENING + timedelta(days=7), **rules)


def fan(*, verified=True, joined_days_before_opening=30, country="", level=""):
    user = UserFactory(verified=verified, country=country)
    user.date_joined = OPENING - timedelta(days=joined_days_before_opening)
    if level in ("phone", "trusted"):
        user.phone_number = "+821012345678"
        user.phone_verified_at = user.date_joined
    if level == "trusted":
        user.trusted_at = user.date_joined
    user.save()
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize(
    ("rules", "voter", "refused_with"),
    [
        ({}, {}, None),
        ({}, {"verified": False}, ("email_unverified", "")),
        ({"least_verification": "phone"}, {}, ("not_eligible", "verification_level")),
        ({"least_verification": "phone"}, {"level": "phone"}, None),
        ({"least_verification": "trusted"}, {"level": "phone"}, ("not_eligible", "verification_level")),
        ({"least_verification": "trusted"}, {"level": "trusted"}, None),
        ({"least_account_age": timedelta(days=7)}, {"joined_days_before_opening": 8}, None),
        (
            {"least_account_age": timedelta(days=7)},
            {"joined_days_before_opening": 6},
            ("not_eligible", "account_too_new"),
        ),
        ({"allowed_countries": ["KR", "JP"]}, {"country": "KR"}, None),
        ({"allowed_countries": ["KR", "JP"]}, {"country": "ES"}, ("not_eligible", "country")),
        ({"allowed_countries": ["KR"]}, {"country": ""}, ("not_eligible", "country_unknown")),
        ({"blocked_countries": ["ES"]}, {"country": "ES"}, ("not_eligible", "country")),
        ({"blocked_countries": ["ES"]}, {"country": "KR"}, None),
    ],
)
def test_eligibility_matrix(rules, voter, refused_with):
    poll = eligibility_poll(**rules)
    user = fan(**voter)

    with time_machine.travel(OPENING + timedelta(hours=1), tick=False):
        if refused_with is None:
            cast(poll, user)
            assert Ballot.objects.filter(voter=user).count() == 1
            return
        with pytest.raises(VoteRefused) as refusal:
            cast(poll, user)

    assert (refusal.value.code, refusal.value.reason) == refused_with
    assert Ballot.objects.count() == 0


def test_account_age_counts_at_opening_not_at_voting_time():
    poll = eligibility_poll(least_account_age=timedelta(days=7))
    newcomer = fan(joined_days_before_opening=1)

    # A week after opening the account is 8 days old, but it was 1 day old at opening.
    with time_machine.travel(OPENING + timedelta(days=6), tick=False), pytest.raises(VoteRefused) as refusal:
        cast(poll, newcomer)

    assert refusal.value.reason == "account_too_new"
