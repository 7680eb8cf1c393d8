"""With Redis unreachable, votes stay correct and fans can still vote (limits fail open).

The decision and its reasons: docs/decisions/redis-outage.md.
"""

from http import HTTPStatus

import pytest

from polls.models import Ballot
from tests.factories import PollFactory

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


@pytest.fixture
def redis_down(settings):
    settings.CACHES = DEAD_REDIS
    # A limit that would refuse the second vote if it could be counted.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": [("account", "1/m")]}


def test_votes_stay_correct_and_limits_fail_open_when_redis_is_down(client, verified_fan, redis_down):
    poll = PollFactory(votes_per_period=2, period="daily")
    choice = {"choices": [poll.options.first().pk]}
    client.force_login(verified_fan)  # the session lives in the database too

    answers = [
        client.post(f"/api/v1/polls/{poll.slug}/votes/", choice, content_type="application/json")
        for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [HTTPStatus.CREATED, HTTPStatus.CREATED, HTTPStatus.CONFLICT]
    assert answers[2].json()["code"] == "already_voted"  # the database still enforces the allowance
    assert Ballot.objects.filter(poll=poll).count() == 2


def test_idempotent_retry_still_works_when_redis_is_down(client, verified_fan, redis_down):
    poll = PollFactory()
    client.force_login(verified_fan)
    send = {"choices": [poll.options.first().pk]}
    headers = {"Idempotency-Key": "outage-1"}

    first = client.post(
        f"/api/v1/polls/{poll.slug}/votes/", send, content_type="application/json", headers=headers
    )
    again = client.post(
        f"/api/v1/polls/{poll.slug}/votes/", send, content_type="application/json", headers=headers
    )

    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert first.json() == again.json()


def test_health_says_degraded_not_down_when_only_redis_is_down(client, redis_down):
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"] != "ok"
    assert response.json()["checks"]["database"] == "ok"


def test_pages_still_render_when_redis_is_down(client, verified_fan, redis_down):
    poll = PollFactory()
    client.force_login(verified_fan)

    assert client.get("/").status_code == HTTPStatus.OK
    assert client.get(f"/polls/{poll.slug}/").status_code == HTTPStatus.OK
