"""Launch-hour races, for real: many threads, each with its own database connection,
casting through the full HTTP stack at the same moment."""

import threading
from collections import Counter
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from polls.models import Ballot, BallotChoice
from tests.factories import PollFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_rate_limits_here(settings):
    # These tests prove the database constraint, not the rate limits.
    settings.RATE_LIMITS = {}


def race(n_threads: int, user, poll, choices, headers=None) -> list:
    """Cast from ``n_threads`` clients of one account released together."""
    clients = []
    for _ in range(n_threads):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(n_threads)
    responses = [None] * n_threads

    def cast(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            responses[index] = clients[index].post(
                f"/api/v1/polls/{poll.slug}/votes/",
                {"choices": choices},
                content_type="application/json",
                headers=headers or {},
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=cast, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(response is not None for response in responses)
    return responses


def outcome(responses) -> Counter:
    return Counter(
        (r.status_code, r.json().get("code"))
        if r.status_code != HTTPStatus.CREATED
        else (r.status_code, None)
        for r in responses
    )


def test_fifty_simultaneous_votes_on_a_once_poll_make_exactly_one_ballot():
    user = UserFactory(verified=True)
    poll = PollFactory()
    choice = [poll.options.first().pk]

    responses = race(50, user, poll, choice)

    assert outcome(responses) == {
        (HTTPStatus.CREATED, None): 1,
        (HTTPStatus.CONFLICT, "already_voted"): 49,
    }
    assert Ballot.objects.filter(poll=poll, voter=user).count() == 1
    assert BallotChoice.objects.filter(poll=poll).count() == 1


def test_fifty_simultaneous_votes_on_a_three_a_day_poll_make_exactly_three():
    user = UserFactory(verified=True)
    poll = PollFactory(votes_per_period=3, period="daily")
    choice = [poll.options.first().pk]

    responses = race(50, user, poll, choice)

    assert outcome(responses) == {
        (HTTPStatus.CREATED, None): 3,
        (HTTPStatus.CONFLICT, "already_voted"): 47,
    }
    ballots = Ballot.objects.filter(poll=poll, voter=user)
    assert sorted(ballots.values_list("slot", flat=True)) == [0, 1, 2]
    # Every acknowledged receipt is a ballot in the database, exactly once.
    acknowledged = {r.json()["receipt"] for r in responses if r.status_code == HTTPStatus.CREATED}
    from polls.receipts import receipt_hash

    assert {receipt_hash(code) for code in acknowledged} == set(
        ballots.values_list("receipt_hash", flat=True)
    )


def test_twenty_retries_with_one_idempotency_key_make_one_ballot_and_one_answer():
    user = UserFactory(verified=True)
    poll = PollFactory()
    choice = [poll.options.first().pk]

    responses = race(20, user, poll, choice, headers={"Idempotency-Key": "launch-retry-1"})

    assert {r.status_code for r in responses} == {HTTPStatus.CREATED}
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert Ballot.objects.filter(poll=poll, voter=user).count() == 1


def test_a_crowd_of_different_fans_all_get_their_ballot():
    poll = PollFactory()
    choice = [poll.options.first().pk]
    clients = []
    for _ in range(20):
        client = Client()
        client.force_login(UserFactory(verified=True))
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses = []

    def cast(client):
        try:
            barrier.wait(timeout=60)
            response = client.post(
                f"/api/v1/polls/{poll.slug}/votes/", {"choices": choice}, content_type="application/json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=cast, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [HTTPStatus.CREATED] * 20
    assert Ballot.objects.filter(poll=poll).count() == 20
