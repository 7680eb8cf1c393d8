"""The inbox (page and API) in the fan's language and time zone, mail choices, and the
one-click unsubscribe that works signed out."""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from polls.models import PollState
from polls.notifications.models import Notification, NotificationKind, NotificationPreference
from polls.notifications.services import poll_announce, unsubscribe_token
from tests.factories import PollFactory, UserFactory
from tests.helpers import patch_json, post_json, session_token
from tests.notifications.conftest import vote

pytestmark = pytest.mark.django_db

CLOSES = datetime(2030, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def told_fan(run_task_worker):
    """A Spanish-speaking fan in Mexico City told that a poll closes at 15:00 UTC."""
    fan = UserFactory(verified=True, preferred_language="es", time_zone="America/Mexico_City")
    poll = PollFactory(title="Gira 2031", opens_at=CLOSES - timedelta(days=3), closes_at=CLOSES)
    vote(poll, fan)
    poll.votes_per_period = 2
    poll.save()
    poll_announce(poll=poll, kind=NotificationKind.POLL_CLOSING)
    run_task_worker()
    return fan


def test_inbox_page_shows_the_notice_in_the_fans_language_and_time_zone(client, told_fan):
    client.force_login(told_fan)
    page = client.get("/my/notifications/")
    assert page.status_code == HTTPStatus.OK
    text = page.content.decode()
    assert "Gira 2031" in text
    # 15:00 UTC is 09:00 in Mexico City; the month in Spanish (Django's own catalogue).
    assert "27 de noviembre de 2030 a las 09:00" in text
    assert "1 unread" in text or 'class="badge"' in text


def test_api_lists_in_the_fans_language_whatever_the_request_says(told_fan):
    client = Client(HTTP_X_SESSION_TOKEN=session_token(told_fan), HTTP_ACCEPT_LANGUAGE="ko")
    answer = client.get("/api/v1/me/notifications/")
    assert answer.status_code == HTTPStatus.OK
    body = answer.json()
    assert body["count"] == 1
    [item] = body["results"]
    assert item["kind"] == "poll_closing"
    assert item["language"] == "es"
    assert "27 de noviembre de 2030 a las 09:00" in item["body"]
    assert item["read_at"] is None
    assert item["url"].startswith("/polls/")


def test_mark_read_by_api_and_by_page(client, told_fan):
    api = Client(HTTP_X_SESSION_TOKEN=session_token(told_fan))
    notification = Notification.objects.get(user=told_fan)
    someone_elses = Notification.objects.create(
        user=UserFactory(),
        announcement=notification.announcement,
        kind=notification.kind,
        object_key="poll:other",
    )

    refused = post_json(api, "/api/v1/me/notifications/read/", {})
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["code"] == "invalid"
    answer = post_json(api, "/api/v1/me/notifications/read/", {"ids": [notification.pk, someone_elses.pk]})
    assert answer.status_code == HTTPStatus.OK
    assert answer.json() == {"marked": 1, "unread": 0}
    someone_elses.refresh_from_db()
    assert someone_elses.read_at is None

    Notification.objects.filter(pk=notification.pk).update(read_at=None)
    client.force_login(told_fan)
    assert client.post("/my/notifications/").status_code == HTTPStatus.FOUND
    assert not Notification.objects.filter(user=told_fan, read_at__isnull=True).exists()


def test_preferences_page_and_api_turn_a_kind_of_mail_off(client, verified_fan):
    client.force_login(verified_fan)
    assert client.get("/my/notifications/preferences/").status_code == HTTPStatus.OK
    choices = {kind: "on" for kind in NotificationKind.values if kind != NotificationKind.POLL_OPENED}
    assert client.post("/my/notifications/preferences/", choices).status_code == HTTPStatus.FOUND
    assert NotificationPreference.objects.get(user=verified_fan, kind="poll_opened").email is False

    answer = patch_json(client, "/api/v1/me/notifications/preferences/", {"email": {"poll_opened": True}})
    assert answer.status_code == HTTPStatus.OK
    assert answer.json()["email"]["poll_opened"] is True
    bad = patch_json(client, "/api/v1/me/notifications/preferences/", {"email": {"spam": True}})
    assert bad.status_code == HTTPStatus.BAD_REQUEST


def test_unsubscribe_link_works_signed_out_and_stops_that_kind_of_mail(run_task_worker):
    fan = UserFactory(verified=True)
    first = PollFactory(state=PollState.PUBLISHED, published_at=timezone.now())
    vote(first, fan)
    poll_announce(poll=first, kind=NotificationKind.RESULTS_PUBLISHED)
    run_task_worker()
    [message] = mail.outbox
    link = message.extra_headers["List-Unsubscribe"].strip("<>")
    path = link.split("://", 1)[1].split("/", 1)[1]
    signed_out = Client(enforce_csrf_checks=True)

    confirm = signed_out.get(f"/{path}")
    assert confirm.status_code == HTTPStatus.OK
    assert b"<form" in confirm.content
    assert not NotificationPreference.objects.filter(user=fan).exists()  # a GET changes nothing

    # RFC 8058: the mail client's POST, no cookie, no CSRF token.
    done = signed_out.post(f"/{path}", {"List-Unsubscribe": "One-Click"})
    assert done.status_code == HTTPStatus.OK
    assert NotificationPreference.objects.get(user=fan, kind="results_published").email is False

    second = PollFactory(state=PollState.PUBLISHED, published_at=timezone.now())
    vote(second, fan)
    poll_announce(poll=second, kind=NotificationKind.RESULTS_PUBLISHED)
    run_task_worker()
    assert len(mail.outbox) == 1  # no second mail of that kind
    assert Notification.objects.filter(user=fan).count() == 2  # still in the inbox


def test_a_forged_unsubscribe_link_is_refused():
    fan = UserFactory(verified=True)
    token = unsubscribe_token(user_id=fan.pk, kind="poll_opened")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    answer = Client(enforce_csrf_checks=True).post(f"/notifications/unsubscribe/{forged}/")
    assert answer.status_code == HTTPStatus.NOT_FOUND
    assert not NotificationPreference.objects.exists()


def test_inbox_needs_a_signed_in_fan(client):
    assert client.get("/my/notifications/").status_code == HTTPStatus.FOUND
    assert client.get("/api/v1/me/notifications/").status_code in (
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.FORBIDDEN,
    )
