"""Notifications reach their audience once, through the task engine, and by mail only
as each fan chose."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from polls.models import PollState
from polls.notifications.events import notifications_step
from polls.notifications.models import Announcement, EmailState, Notification, NotificationKind
from polls.notifications.services import (
    email_preferences_set,
    poll_announce,
    suggestion_promoted_announce,
    unsubscribe_token,
)
from tests.factories import PollFactory, UserFactory
from tests.helpers import AGENCY_API, login_with_mfa, post_json
from tests.notifications.conftest import fans, vote

pytestmark = pytest.mark.django_db


def published_poll(**kwargs):
    return PollFactory(state=PollState.PUBLISHED, published_at=timezone.now(), **kwargs)


def test_results_published_reach_every_voter_once_through_the_task_worker(run_task_worker, settings):
    settings.NOTIFICATION_CHUNK = 2  # three chunks for five voters
    poll = published_poll()
    voters = fans(5)
    for voter in voters:
        vote(poll, voter)
    bystander = UserFactory(verified=True)

    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    assert Notification.objects.count() == 0  # only enqueued
    run_task_worker()

    told = set(Notification.objects.values_list("user_id", flat=True))
    assert told == {voter.pk for voter in voters}
    assert bystander.pk not in told
    assert sorted(message.to[0] for message in mail.outbox) == sorted(voter.email for voter in voters)
    assert set(Notification.objects.values_list("email_state", flat=True)) == {EmailState.SENT}
    announcement = Announcement.objects.get()
    assert announcement.fanned_out_at is not None and announcement.recipients == 5


def test_a_retried_fan_out_and_a_second_announcement_create_no_second_notification(run_task_worker):
    poll = published_poll()
    for voter in fans(3):
        vote(poll, voter)
    assert poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED) is not None
    assert poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED) is None
    run_task_worker()
    # A crashed worker's chunk run again from the start: the unique key keeps one row each.
    Announcement.objects.update(cursor=0, fanned_out_at=None, lease_owner="", lease_until=timezone.now())
    from polls.notifications.tasks import announcement_fan_out

    announcement_fan_out.enqueue(Announcement.objects.get().pk)
    run_task_worker()

    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3
    first = Notification.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            user=first.user, announcement=first.announcement, kind=first.kind, object_key=first.object_key
        )


def test_mail_carries_one_click_unsubscribe_headers_and_a_stable_message_id(run_task_worker, settings):
    settings.SITE_URL = "https://encore.example"
    poll = published_poll(slug="tour-2027")
    fan = UserFactory(verified=True)
    vote(poll, fan)
    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    run_task_worker()

    [message] = mail.outbox
    token = unsubscribe_token(user_id=fan.pk, kind=NotificationKind.RESULTS_PUBLISHED)
    link = f"https://encore.example/notifications/unsubscribe/{token}/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        message.extra_headers["Message-ID"] == f"<results_published.poll-{poll.pk}.{fan.pk}@encore.example>"
    )
    assert link in message.body
    assert "https://encore.example/polls/tour-2027/results/" in message.body


def test_a_kind_turned_off_is_not_mailed_but_still_in_the_inbox(run_task_worker):
    poll = published_poll()
    quiet, keen = fans(2)
    for fan in (quiet, keen):
        vote(poll, fan)
    email_preferences_set(user=quiet, email_kinds={NotificationKind.RESULTS_PUBLISHED: False})
    # Another kind stays on for the quiet fan.
    suggestion_promoted_announce(
        suggestion_key="proposal:1", suggestion="Jakarta", poll=poll, proposer_ids=[quiet.pk]
    )
    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    run_task_worker()

    assert Notification.objects.filter(user=quiet).count() == 2
    mailed = [(message.to[0], message.extra_headers["Message-ID"].split(".")[0]) for message in mail.outbox]
    assert sorted(mailed) == sorted(
        [(keen.email, "<results_published"), (quiet.email, "<suggestion_promoted")]
    )
    assert (
        Notification.objects.get(user=quiet, kind=NotificationKind.RESULTS_PUBLISHED).email_state
        == EmailState.SKIPPED
    )


def test_an_unverified_address_gets_no_mail(run_task_worker):
    poll = published_poll()
    fan = UserFactory()  # never verified
    vote(poll, fan)
    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    run_task_worker()
    assert Notification.objects.filter(user=fan).exists()
    assert mail.outbox == []


def test_poll_closing_goes_only_to_fans_with_votes_left(run_task_worker):
    poll = PollFactory(votes_per_period=2, closes_at=timezone.now() + timedelta(hours=3))
    spent, one_left, none_yet = fans(3)
    vote(poll, spent, slot=0)
    vote(poll, spent, slot=1)
    vote(poll, one_left, slot=0)

    notifications_step()
    run_task_worker()

    closing = Notification.objects.filter(kind=NotificationKind.POLL_CLOSING)
    assert set(closing.values_list("user_id", flat=True)) == {one_left.pk}
    assert none_yet.pk not in closing.values_list("user_id", flat=True)  # not a voter nor (yet) a follower


def test_the_worker_announces_each_poll_event_once():
    closing = PollFactory(closes_at=timezone.now() + timedelta(hours=5))
    far = PollFactory(closes_at=timezone.now() + timedelta(days=5))
    published = published_poll()

    notifications_step()
    notifications_step()

    assert sorted(Announcement.objects.values_list("kind", "object_key")) == sorted(
        [
            (NotificationKind.POLL_OPENED, f"poll:{closing.pk}"),
            (NotificationKind.POLL_OPENED, f"poll:{far.pk}"),
            (NotificationKind.POLL_CLOSING, f"poll:{closing.pk}"),
            (NotificationKind.RESULTS_PUBLISHED, f"poll:{published.pk}"),
        ]
    )
    assert DBTaskResult.objects.filter(task_path__endswith="announcement_fan_out").count() == 4


def test_publishing_in_a_request_only_enqueues_the_fan_out(client, agency, manager, run_task_worker):
    poll = PollFactory(agency=agency, opens_at=timezone.now() - timedelta(days=2))
    voters = fans(3)
    for voter in voters:
        vote(poll, voter)
    from polls.models import Poll

    Poll.objects.filter(pk=poll.pk).update(closed_early_at=timezone.now() - timedelta(minutes=5))
    from tests.factories import mfa_enable

    mfa_enable(manager)
    login_with_mfa(client, manager)

    answer = post_json(client, f"{AGENCY_API}/polls/{poll.slug}/publish/")

    assert answer.status_code == HTTPStatus.OK, answer.content
    assert Notification.objects.count() == 0
    assert Announcement.objects.filter(kind=NotificationKind.RESULTS_PUBLISHED).count() == 1
    assert (
        DBTaskResult.objects.filter(status="READY", task_path__endswith="announcement_fan_out").count() == 1
    )
    run_task_worker()
    assert set(Notification.objects.values_list("user_id", flat=True)) == {voter.pk for voter in voters}


def test_a_fan_out_left_by_a_dead_worker_is_taken_over_after_its_lease(run_task_worker, settings):
    settings.NOTIFICATION_CHUNK = 2
    poll = published_poll()
    for voter in fans(5):
        vote(poll, voter)
    announcement = poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    from polls.notifications.services import fan_out_chunk, fan_out_claim

    # A worker claims, commits one chunk, then dies: its task row says "running" forever.
    assert fan_out_claim(announcement_id=announcement.pk, owner="dead-worker")
    assert fan_out_chunk(announcement_id=announcement.pk, owner="dead-worker") == 2
    DBTaskResult.objects.filter(task_path__endswith="announcement_fan_out").delete()
    assert notifications_step()["fan_outs"] == 0  # its lease still runs

    Announcement.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert notifications_step()["fan_outs"] == 1
    run_task_worker()

    assert Notification.objects.count() == 5
    assert len(mail.outbox) == 5


def test_mail_claimed_by_a_dead_worker_is_sent_after_its_lease_and_once(run_task_worker):
    poll = published_poll()
    fan = UserFactory(verified=True)
    vote(poll, fan)
    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    from polls.notifications.services import email_claim, fan_out_run

    fan_out_run(announcement_id=Announcement.objects.get().pk)
    DBTaskResult.objects.all().delete()  # the mail task is lost with its worker...
    assert email_claim(
        kind=NotificationKind.RESULTS_PUBLISHED,
        object_key=f"poll:{poll.pk}",
        after_user_id=0,
        upto_user_id=None,
    )
    run_task_worker()
    assert mail.outbox == []  # ...which had claimed the mail: nobody else sends it yet

    Notification.objects.update(email_lease_until=timezone.now() - timedelta(seconds=1))
    assert notifications_step()["mails"] == 1
    run_task_worker()
    notifications_step()
    run_task_worker()
    assert len(mail.outbox) == 1


def test_health_shows_tasks_nobody_runs(client, settings):
    poll = published_poll()
    poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
    assert client.get("/healthz").json()["tasks"]["status"] == "ok"

    DBTaskResult.objects.update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.TASKS_STALE_AFTER + 5)
    )
    health = client.get("/healthz").json()

    assert health["tasks"]["status"] == "stale"
    assert health["status"] == "degraded"
