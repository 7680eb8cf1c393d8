"""The lean path (polls/lean_api.py): votes with an app token and public results reads
answer without the full stack, and nothing about them changes but their cost.

Votes: one SQL statement and one Redis round trip once the session's voter card is
stored; the same codes and bodies as the full path; a card goes stale the moment its
account changes; a late vote is refused whatever a worker's cache believes, also
across two server processes. Results: exact bytes with an ETag (304 on a match) and a
public max-age while visible, 403 and never publicly cacheable while hidden.
"""

import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from polls import selectors
from polls.models import Ballot, Poll, PollState
from polls.tally import tally_refresh
from tests.factories import PollFactory, UserFactory
from tests.helpers import option_ids, session_token

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="the lean vote path needs Redis")


def app_vote(client: Client, poll: Poll, token: str, choices: list, **headers):
    return client.post(
        f"/api/v1/polls/{poll.slug}/votes/",
        {"choices": choices},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=token,
        **headers,
    )


@pytest.fixture
def fan_token(verified_fan):
    # Signing in stores the session's voter card, as an app's login does.
    return session_token(verified_fan)


@pytest.fixture
def per_worker_poll_cache(settings):
    settings.POLL_CACHE_SECONDS = 60
    selectors.process_caches_clear()
    yield
    selectors.process_caches_clear()


# ------------------------------------------------------------------ votes


@needs_redis
def test_a_vote_with_a_stored_card_costs_one_sql_statement(client, verified_fan, fan_token):
    poll = PollFactory()
    choice = option_ids(poll)[:1]

    with CaptureQueriesContext(connection) as queries:
        response = app_vote(client, poll, fan_token, choice)

    statements = [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]  # the test's
    assert response.status_code == HTTPStatus.CREATED
    # The vote; before it, the poll and its options, which no worker cache holds in tests.
    assert len(statements) == 3
    assert statements[-1].startswith("WITH open_poll AS")
    assert statements[-1].count("INSERT INTO") == 2  # the ballot and its choice, in one statement
    assert Ballot.objects.get(voter=verified_fan).receipt_hash


@needs_redis
def test_the_lean_path_answers_a_second_vote_with_the_full_paths_code(client, verified_fan, fan_token):
    poll = PollFactory()
    app_vote(client, poll, fan_token, option_ids(poll)[:1])

    again = app_vote(client, poll, fan_token, option_ids(poll)[:1])

    assert again.status_code == HTTPStatus.CONFLICT
    assert again.json()["code"] == "already_voted"
    assert Ballot.objects.filter(voter=verified_fan).count() == 1


@needs_redis
def test_a_choice_of_another_poll_is_refused_and_nothing_written(client, verified_fan, fan_token):
    poll, other = PollFactory(), PollFactory()

    response = app_vote(client, poll, fan_token, option_ids(other)[:1])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_choice"
    assert not Ballot.objects.exists()


@needs_redis
def test_a_card_is_stale_once_its_account_loses_its_verified_address(
    client, verified_fan, fan_token, django_capture_on_commit_callbacks
):
    poll = PollFactory()
    address = EmailAddress.objects.filter(user=verified_fan).first()
    address.verified = False
    with django_capture_on_commit_callbacks(execute=True):  # the change commits
        address.save()

    response = app_vote(client, poll, fan_token, option_ids(poll)[:1])

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "email_unverified"
    assert not Ballot.objects.exists()


@needs_redis
def test_a_signed_out_session_cannot_vote_with_its_card(client, verified_fan):
    poll = PollFactory()
    browser = Client()
    browser.force_login(verified_fan)
    token = browser.cookies["sessionid"].value
    browser.logout()

    response = app_vote(client, poll, token, option_ids(poll)[:1])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert not Ballot.objects.exists()


@needs_redis
def test_the_vote_limit_answers_429_with_retry_after_on_the_lean_path(settings, client, verified_fan):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": [("account", "2/m")]}
    token = session_token(verified_fan)
    polls = [PollFactory() for _ in range(3)]

    answers = [app_vote(client, poll, token, option_ids(poll)[:1]) for poll in polls]

    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert Ballot.objects.count() == 2


@needs_redis
def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(client, verified_fan, fan_token):
    poll = PollFactory()

    first = app_vote(client, poll, fan_token, option_ids(poll)[:1], HTTP_IDEMPOTENCY_KEY="k-1")
    retry = app_vote(client, poll, fan_token, option_ids(poll)[:1], HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, retry.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    assert retry.json() == first.json()
    assert Ballot.objects.count() == 1


def test_a_vote_after_an_early_close_is_refused_even_with_a_stale_poll_cache(
    per_worker_poll_cache, client, verified_fan
):
    token = session_token(verified_fan)
    poll = PollFactory()
    second_fan = UserFactory(verified=True)
    assert app_vote(client, poll, token, option_ids(poll)[:1]).status_code == HTTPStatus.CREATED
    cached = selectors.poll_for_public_cached(slug=poll.slug)
    # Closed in another process: this worker's copy still says open.
    Poll.objects.filter(pk=poll.pk).update(closed_early_at=timezone.now())
    assert selectors.poll_for_public_cached(slug=poll.slug) is cached
    assert cached.closed_early_at is None

    late = app_vote(client, poll, session_token(second_fan), option_ids(poll)[:1])

    assert late.status_code == HTTPStatus.CONFLICT
    assert late.json()["code"] == "poll_closed"
    assert not Ballot.objects.filter(voter=second_fan).exists()


def test_a_vote_after_closes_at_is_refused_even_with_a_stale_poll_cache(per_worker_poll_cache, client):
    poll = PollFactory()
    selectors.poll_for_public_cached(slug=poll.slug)
    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    fan = UserFactory(verified=True)

    late = app_vote(client, poll, session_token(fan), option_ids(poll)[:1])

    assert late.status_code == HTTPStatus.CONFLICT
    assert late.json()["code"] == "poll_closed"
    assert not Ballot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_early_close_refuses_votes_on_every_worker_within_a_second(two_servers):
    urls = two_servers(
        {"vote": [["account", "1000/m"], ["network", "100000/m"]]}, {"POLL_CACHE_SECONDS": "1"}
    )
    poll = PollFactory()
    fans = [UserFactory(verified=True) for _ in range(6)]
    tokens = [session_token(fan) for fan in fans]

    def vote(url: str, token: str) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{url}/api/v1/polls/{poll.slug}/votes/",
            data=json.dumps({"choices": option_ids(poll)[:1]}).encode(),
            headers={"Content-Type": "application/json", "X-Session-Token": token},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, ""
        except urllib.error.HTTPError as refusal:
            return refusal.code, json.loads(refusal.read())["code"]

    # Both workers hold the open poll in their caches.
    assert [vote(url, token) for url, token in zip(urls, tokens[:2], strict=True)] == [(201, "")] * 2
    Poll.objects.filter(pk=poll.pk).update(closed_early_at=timezone.now())
    time.sleep(1.0)

    late = [vote(url, token) for url, token in zip(urls * 2, tokens[2:], strict=True)]

    assert late == [(409, "poll_closed")] * 4
    assert Ballot.objects.filter(poll=poll).count() == 2


# ------------------------------------------------------------------ results


def results(client: Client, poll: Poll, **headers):
    return client.get(f"/api/v1/polls/{poll.slug}/results/", **headers)


def test_visible_results_carry_an_etag_and_a_public_max_age_and_answer_304_on_a_match(client):
    poll = PollFactory(results_visibility="live")

    first = results(client, poll)
    again = results(client, poll, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == HTTPStatus.OK
    assert first["Cache-Control"] == f"public, max-age={settings.TALLY_INTERVAL}"
    assert first["ETag"].startswith('"')
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.content == b""


def test_new_counts_change_the_etag(client, verified_fan):
    from polls.services import ballot_cast

    poll = PollFactory(results_visibility="live")
    before = results(client, poll)
    ballot_cast(poll=poll, voter=verified_fan, choices=option_ids(poll)[:1])
    tally_refresh(poll=poll)
    from django.core.cache import cache

    cache.clear()

    after = results(client, poll, HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == HTTPStatus.OK
    assert after["ETag"] != before["ETag"]
    assert after.json()["ballots"] == 1


@pytest.mark.parametrize(
    "hidden",
    [
        {"results_visibility": "on_publish"},
        {"results_visibility": "after_close"},
        {"results_visibility": "live", "state": PollState.CANCELLED},
    ],
    ids=["on_publish while open", "after_close while open", "cancelled"],
)
def test_embargoed_results_are_403_and_never_publicly_cacheable(per_worker_poll_cache, client, hidden):
    poll = PollFactory(**hidden)

    for attempt in range(2):  # the second one from the worker's cached poll
        response = results(client, poll)
        assert response.status_code == HTTPStatus.FORBIDDEN, attempt
        assert response.json()["code"] == "results_hidden"
        assert response["Cache-Control"] == "no-store"
        assert "ETag" not in response
