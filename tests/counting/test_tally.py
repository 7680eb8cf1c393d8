"""Live tallies: exact under concurrency, cheap to read at any size, kept by the worker."""

import random
import threading
from datetime import date, timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from polls.checkpoints import checkpoint_create
from polls.models import (
    Ballot,
    BallotChoice,
    Checkpoint,
    InsightOptionHour,
    InsightTurnout,
    OptionTally,
    PollTally,
)
from polls.receipts import receipt_hash, receipt_new
from polls.services import ballot_cast
from polls.tally import tally_refresh
from polls.worker import worker_age_seconds, worker_step
from tests.factories import PollFactory, UserFactory


def bulk_ballots(poll, total: int, voters: int = 100) -> dict[int, int]:
    """Insert ``total`` counted ballots straight into the tables (fast), spread over
    voters, days and slots so that every unique constraint holds. Returns the
    expected votes per option."""
    users = [UserFactory() for _ in range(voters)]
    options = list(poll.options.values_list("pk", flat=True))
    rng = random.Random(7)
    expected = dict.fromkeys(options, 0)
    per_voter = total // voters
    ballots = []
    picks = []
    for user in users:
        for index in range(per_voter):
            day = date(2026, 1, 1) + timedelta(days=index // 20)
            ballots.append(
                Ballot(
                    poll=poll,
                    voter=user,
                    period=day,
                    slot=index % 20,
                    day=day,
                    receipt_hash=receipt_hash(receipt_new()),
                )
            )
            picks.append(rng.choice(options))
    created = Ballot.objects.bulk_create(ballots, batch_size=5000)
    BallotChoice.objects.bulk_create(
        [
            BallotChoice(poll=poll, ballot=ballot, option_id=option)
            for ballot, option in zip(created, picks, strict=True)
        ],
        batch_size=5000,
    )
    for option in picks:
        expected[option] += 1
    return expected


@pytest.mark.django_db
def test_reading_results_costs_the_same_few_queries_at_100000_ballots(client):
    small = PollFactory(results_visibility="live", period="daily", votes_per_period=20)
    bulk_ballots(small, 10, voters=10)
    tally_refresh(poll=small)
    big = PollFactory(results_visibility="live", period="daily", votes_per_period=20)
    expected = bulk_ballots(big, 100_000)
    tally_refresh(poll=big)

    with CaptureQueriesContext(connection) as small_queries:
        client.get(f"/api/v1/polls/{small.slug}/results/")
    with CaptureQueriesContext(connection) as big_queries:
        response = client.get(f"/api/v1/polls/{big.slug}/results/")

    assert response.status_code == HTTPStatus.OK
    data = response.json()
    assert data["ballots"] == 100_000
    assert {row["id"]: row["votes"] for row in data["options"]} == expected
    assert len(big_queries) == len(small_queries) <= 6
    # Served from the counters: no query reads the ballots table.
    assert not [q["sql"] for q in big_queries.captured_queries if "polls_ballot" in q["sql"]]
    page_queries = CaptureQueriesContext(connection)
    with page_queries:
        assert client.get(f"/polls/{big.slug}/results/").status_code == HTTPStatus.OK
    assert not [q["sql"] for q in page_queries.captured_queries if '"polls_ballot"' in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_votes_racing_the_refresher_are_each_counted_exactly_once(settings):
    settings.RATE_LIMITS = {}
    poll = PollFactory(results_visibility="live")
    seoul = poll.options.get(label="Seoul").pk
    voters = [UserFactory(verified=True) for _ in range(30)]
    stop = threading.Event()

    def refresher():
        try:
            # As fast as a refresher could ever run, yet leaving SQLite's single writer
            # lock free now and then (a tight loop starves voters past the busy timeout).
            while not stop.wait(0.01):
                tally_refresh(poll=poll)
        finally:
            connection.close()

    def voter(user):
        try:
            ballot_cast(poll=poll, voter=user, choices=[seoul])
        finally:
            connection.close()

    background = [threading.Thread(target=refresher) for _ in range(2)]
    for thread in background:
        thread.start()
    casts = [threading.Thread(target=voter, args=(user,)) for user in voters]
    for thread in casts:
        thread.start()
    for thread in casts:
        thread.join(timeout=120)
    stop.set()
    for thread in background:
        thread.join(timeout=120)
    tally_refresh(poll=poll)

    assert Ballot.objects.filter(poll=poll).count() == 30
    assert PollTally.objects.get(poll=poll).ballots == 30
    assert OptionTally.objects.get(poll=poll, option_id=seoul).votes == 30
    assert not Ballot.objects.filter(poll=poll, tallied=False).exists()
    # The agency insight's counters are folded in the same transactions: exact too.
    assert InsightTurnout.objects.filter(poll=poll).aggregate(n=Sum("ballots"))["n"] == 30
    assert InsightOptionHour.objects.filter(poll=poll, option_id=seoul).aggregate(n=Sum("votes"))["n"] == 30


@pytest.mark.django_db
def test_worker_step_tallies_makes_due_checkpoints_and_beats(settings):
    settings.CHECKPOINT_INTERVAL = 600
    poll = PollFactory(results_visibility="live")
    ballot_cast(poll=poll, voter=UserFactory(verified=True), choices=[poll.options.first().pk])

    first = worker_step()
    second = worker_step()

    assert first == {"folded": 1, "checkpoints": 1}
    assert second == {"folded": 0, "checkpoints": 0}  # next checkpoint not due yet
    assert PollTally.objects.get(poll=poll).ballots == 1
    assert Checkpoint.objects.get(poll=poll).count == 1
    assert worker_age_seconds() < 5


@pytest.mark.django_db
def test_worker_command_once_for_cron(capsys):
    poll = PollFactory()
    ballot_cast(poll=poll, voter=UserFactory(verified=True), choices=[poll.options.first().pk])

    call_command("encore_worker", "--once")

    assert "1 ballots tallied, 1 checkpoints" in capsys.readouterr().out


@pytest.mark.django_db
def test_checkpoints_chain_counts_and_skip_when_nothing_is_new():
    poll = PollFactory()
    for _ in range(3):
        ballot_cast(poll=poll, voter=UserFactory(verified=True), choices=[poll.options.first().pk])
    first = checkpoint_create(poll=poll)
    nothing_new = checkpoint_create(poll=poll)
    ballot_cast(poll=poll, voter=UserFactory(verified=True), choices=[poll.options.first().pk])
    second = checkpoint_create(poll=poll)

    assert (first.seq, first.count) == (1, 3)
    assert nothing_new is None
    assert (second.seq, second.count) == (2, 4)
    assert second.digest != first.digest


@pytest.mark.django_db
def test_health_shows_a_stalled_worker(client, settings):
    from django.core.cache import cache
    from django.utils import timezone

    from polls.worker import HEARTBEAT_KEY

    cache.set(HEARTBEAT_KEY, timezone.now().timestamp() - settings.WORKER_STALE_AFTER - 5)

    health = client.get("/healthz").json()

    assert health["worker"]["status"] == "stale"
    assert health["status"] == "degraded"  # voting is unaffected
