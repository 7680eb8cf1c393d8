"""Followers of an artist hear of its polls, and fans whose suggestions are promoted
are told, once each, through the task engine."""

from datetime import timedelta

import pytest
from django.utils import timezone

from polls.agency.calls import proposals_merge, proposals_promote
from polls.models import PollState
from polls.notifications.events import notifications_step
from polls.notifications.models import Notification, NotificationKind
from polls.participation.services import follow_add, proposal_create
from tests.factories import PollFactory, UserFactory
from tests.helpers import session_user
from tests.notifications.conftest import fans, vote
from tests.participation.conftest import artist, open_call  # noqa: F401 - artist is a fixture

pytestmark = pytest.mark.django_db


def test_an_opening_poll_of_a_followed_artist_reaches_each_follower_once(run_task_worker, artist):  # noqa: F811
    followers = fans(4)
    for fan in followers:
        follow_add(fan=fan, artist=artist)
    bystander = UserFactory(verified=True)
    poll = PollFactory(agency=artist.agency, artist=artist, opens_at=timezone.now() - timedelta(minutes=1))
    PollFactory(agency=artist.agency, opens_at=timezone.now() - timedelta(minutes=1))  # no artist

    notifications_step()
    notifications_step()
    run_task_worker()

    opened = Notification.objects.filter(kind=NotificationKind.POLL_OPENED)
    assert sorted(opened.values_list("user_id", flat=True)) == sorted(fan.pk for fan in followers)
    assert set(opened.values_list("object_key", flat=True)) == {f"poll:{poll.pk}"}
    assert not Notification.objects.filter(user=bystander).exists()


def test_published_results_reach_voters_and_followers_without_doubles(run_task_worker, artist):  # noqa: F811
    poll = PollFactory(
        agency=artist.agency, artist=artist, state=PollState.PUBLISHED, published_at=timezone.now()
    )
    voters = fans(2)
    followers = fans(2)
    for voter in voters:
        vote(poll, voter)
    for fan in [*followers, voters[0]]:  # a voter who also follows is told once
        follow_add(fan=fan, artist=artist)

    notifications_step()
    run_task_worker()

    told = list(
        Notification.objects.filter(kind=NotificationKind.RESULTS_PUBLISHED).values_list("user_id", flat=True)
    )
    assert sorted(told) == sorted(fan.pk for fan in [*voters, *followers])


def test_promoting_suggestions_tells_their_proposers_and_those_of_merged_duplicates(
    run_task_worker,
    artist,  # noqa: F811
    manager,
):
    call = open_call(artist, kind="single", question="Which b-side next?")
    first_fan, second_fan, duplicate_fan, supporter = fans(4)
    kept, _created = proposal_create(call=call, fan=first_fan, text="Midnight Drive")
    duplicate, _created = proposal_create(call=call, fan=duplicate_fan, text="Midnight Drive (live)")
    other, _created = proposal_create(call=call, fan=second_fan, text="Paper Moon")
    proposal_create(call=call, fan=supporter, text="paper moon")  # supports, does not propose
    staff = session_user(manager, mfa=True)
    proposals_merge(call=call, keep_id=kept.pk, merge_ids=[duplicate.pk], actor=staff)

    poll = proposals_promote(call=call, proposal_ids=[kept.pk, other.pk], actor=staff)
    run_task_worker()

    promoted = Notification.objects.filter(kind=NotificationKind.SUGGESTION_PROMOTED)
    assert sorted(promoted.values_list("user_id", "object_key")) == sorted(
        [
            (first_fan.pk, f"proposal:{kept.pk}"),
            (duplicate_fan.pk, f"proposal:{kept.pk}"),
            (second_fan.pk, f"proposal:{other.pk}"),
        ]
    )
    assert not promoted.filter(user=supporter).exists()
    assert poll.state == PollState.DRAFT
