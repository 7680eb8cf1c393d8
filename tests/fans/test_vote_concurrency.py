"""Launch-hour races, for real: many threads, each with its own database connection,
casting through the full HTTP stack at the same moment."""

import json
import threading
import time
from collections import Counter
from http import HTTPStatus

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from polls.agency.lifecycle import poll_close
from polls.agency.publishing import poll_publish
from polls.errors import VoteRefused
from polls.models import Ballot, BallotChoice, Poll, PollState, ResultSnapshot
from polls.receipts import receipt_hash
from polls.services import ballot_cast
from tests.factories import MembershipFactory, PollFactory, UserFactory
from tests.helpers import session_user

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


# ------------------------------------------------------------------ votes racing close and publish

# Each ballot row waits this long inside the vote's statement, after the statement has
# checked that the poll is open and before it commits: a vote stalled by a slow disk or
# a busy machine, made long enough that close and publish happen inside the window.
STALL_SECONDS = 0.5


@pytest.fixture
def stalled_vote_statements(postgresql):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION encore_test_stall() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_sleep({STALL_SECONDS}); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER encore_test_stall BEFORE INSERT ON polls_ballot"
            " FOR EACH ROW EXECUTE FUNCTION encore_test_stall()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS encore_test_stall ON polls_ballot")
        cursor.execute("DROP FUNCTION IF EXISTS encore_test_stall()")


def votes_in_their_statements(*, at_least: int, timeout: float = 30) -> None:
    """Wait until that many vote statements are running (stalled in their insert)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'WITH open_poll%%'"
            )
            if cursor.fetchone()[0] >= at_least:
                return
            time.sleep(0.01)
    raise AssertionError("the votes did not reach their statements")


def votes_waiting_for_a_lock(*, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'WITH open_poll%%'"
            )
            if cursor.fetchone()[0] >= at_least:
                return
            time.sleep(0.01)
    raise AssertionError("no vote waited for the poll's row")


def test_every_acknowledged_vote_is_on_the_board_when_close_and_publish_race_the_votes(
    settings, stalled_vote_statements
):
    # The worst case: no grace period, publish the moment the poll is closed.
    settings.PUBLISH_GRACE_SECONDS = 0
    poll = PollFactory()
    publisher = session_user(MembershipFactory(agency=poll.agency, role="manager").user, mfa=True)
    choice = [poll.options.first().pk]
    clients = []
    for _ in range(12):
        client = Client()
        client.force_login(UserFactory(verified=True))
        clients.append(client)
    barrier = threading.Barrier(len(clients) + 1)
    answers = []

    def vote(client: Client) -> None:
        try:
            barrier.wait(timeout=60)
            answers.append(
                client.post(
                    f"/api/v1/polls/{poll.slug}/votes/", {"choices": choice}, content_type="application/json"
                )
            )
        finally:
            connection.close()

    def close_and_publish() -> None:
        try:
            barrier.wait(timeout=60)
            votes_in_their_statements(at_least=len(clients) // 2)
            poll_publish(poll=poll_close(poll=poll, actor=publisher), actor=publisher)
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(client,)) for client in clients]
    threads.append(threading.Thread(target=close_and_publish))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    board = json.loads(ResultSnapshot.objects.get(poll=poll).board_json)
    on_board = {ballot["receipt_hash"] for ballot in board["ballots"]}
    acknowledged = {receipt_hash(a.json()["receipt"]) for a in answers if a.status_code == HTTPStatus.CREATED}
    refused = Counter(a.json()["code"] for a in answers if a.status_code != HTTPStatus.CREATED)
    assert len(answers) == len(clients)
    assert acknowledged, f"no vote got in before the close: the race was not run {refused}"
    assert acknowledged <= on_board
    assert set(Ballot.objects.filter(poll=poll).values_list("receipt_hash", flat=True)) == on_board
    assert set(refused) <= {"poll_closed"}


def test_a_vote_that_meets_publishing_holding_the_poll_row_waits_and_is_refused(postgresql):
    poll = PollFactory()
    fan = UserFactory(verified=True)
    holding, release = threading.Event(), threading.Event()
    outcome: list = []

    def publish_holding_the_row() -> None:
        # What publishing does to the poll's row, held open until the vote is waiting.
        try:
            with transaction.atomic():
                Poll.objects.select_for_update().get(pk=poll.pk)
                Poll.objects.filter(pk=poll.pk).update(
                    state=PollState.PUBLISHED, closed_early_at=timezone.now(), published_at=timezone.now()
                )
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def vote() -> None:
        try:
            holding.wait(timeout=30)
            try:
                outcome.append(ballot_cast(poll=poll, voter=fan, choices=[poll.options.first().pk]))
            except VoteRefused as refusal:
                outcome.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_holding_the_row), threading.Thread(target=vote)]
    for thread in threads:
        thread.start()
    holding.wait(timeout=30)
    votes_waiting_for_a_lock(at_least=1)
    release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert outcome == ["poll_closed"]
    assert not Ballot.objects.filter(poll=poll).exists()
