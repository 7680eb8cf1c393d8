"""Casting votes through /api/v1/: answers, receipts and every refusal code."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from polls.models import Ballot, BallotChoice, IdempotentAnswer, PollState, VotingMethod
from polls.receipts import receipt_hash
from tests.factories import PollFactory, UserFactory
from tests.helpers import option_ids

pytestmark = pytest.mark.django_db


def vote(client, poll, choices, user=None, **headers):
    if user is not None:
        client.force_login(user)
    return client.post(
        f"/api/v1/polls/{poll.slug}/votes/",
        {"choices": choices},
        content_type="application/json",
        headers=headers,
    )


def assert_refused(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert Ballot.objects.count() == 0
    assert BallotChoice.objects.count() == 0
    assert IdempotentAnswer.objects.count() == 0


def test_vote_answers_201_with_a_receipt_whose_hash_alone_is_stored(client, verified_fan):
    poll = PollFactory()
    first = option_ids(poll)[0]

    response = vote(client, poll, [first], user=verified_fan)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert set(body) == {"receipt", "poll", "choices", "cast_at"}
    assert body["poll"] == poll.slug
    assert body["choices"] == [first]
    ballot = Ballot.objects.get()
    assert ballot.receipt_hash == receipt_hash(body["receipt"])
    assert body["receipt"] not in str(list(Ballot.objects.values()))
    assert ballot.client_ip == "127.0.0.1"
    assert ballot.client_network == "127.0.0.0/24"


def test_ranked_ballot_keeps_the_voters_order(client, verified_fan):
    poll = PollFactory(method=VotingMethod.RANKED, min_choices=1, max_choices=3)
    a, b, c = option_ids(poll)

    response = vote(client, poll, [c, a, b], user=verified_fan)

    assert response.status_code == HTTPStatus.CREATED
    ranks = list(BallotChoice.objects.order_by("rank").values_list("option_id", "rank"))
    assert ranks == [(c, 1), (a, 2), (b, 3)]


def test_multiple_choice_within_bounds_is_accepted(client, verified_fan):
    poll = PollFactory(method=VotingMethod.MULTIPLE, min_choices=2, max_choices=2)
    a, b, _ = option_ids(poll)

    assert vote(client, poll, [a, b], user=verified_fan).status_code == HTTPStatus.CREATED


@pytest.mark.parametrize(
    "bad_choices",
    [[], [999999], "not-a-list", [1.5], ["x"], None],
)
def test_bad_choices_are_400_invalid_choice(client, verified_fan, bad_choices):
    poll = PollFactory()

    assert_refused(
        vote(client, poll, bad_choices, user=verified_fan), HTTPStatus.BAD_REQUEST, "invalid_choice"
    )


def test_two_picks_on_a_pick_one_poll_are_refused(client, verified_fan):
    poll = PollFactory()
    a, b, _ = option_ids(poll)

    assert_refused(vote(client, poll, [a, b], user=verified_fan), HTTPStatus.BAD_REQUEST, "invalid_choice")


def test_the_same_option_twice_is_refused(client, verified_fan):
    poll = PollFactory(method=VotingMethod.RANKED, min_choices=1, max_choices=3)
    a, _, _ = option_ids(poll)

    assert_refused(vote(client, poll, [a, a], user=verified_fan), HTTPStatus.BAD_REQUEST, "invalid_choice")


def test_an_option_of_another_poll_is_refused(client, verified_fan):
    poll, other = PollFactory(), PollFactory()

    response = vote(client, poll, [option_ids(other)[0]], user=verified_fan)

    assert_refused(response, HTTPStatus.BAD_REQUEST, "invalid_choice")


def test_malformed_json_is_400_and_never_500(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)

    response = client.post(f"/api/v1/polls/{poll.slug}/votes/", "{not json", content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "parse_error"
    assert Ballot.objects.count() == 0


def test_anonymous_vote_is_401_not_authenticated(client):
    poll = PollFactory()

    assert_refused(vote(client, poll, option_ids(poll)[:1]), HTTPStatus.UNAUTHORIZED, "not_authenticated")


def test_unverified_email_is_403_email_unverified(client):
    poll = PollFactory()
    unverified = UserFactory(verified=False)

    response = vote(client, poll, option_ids(poll)[:1], user=unverified)

    assert_refused(response, HTTPStatus.FORBIDDEN, "email_unverified")


def test_ineligible_voter_is_403_not_eligible_with_the_reason(client, verified_fan):
    poll = PollFactory(least_verification="trusted")

    response = vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    assert_refused(response, HTTPStatus.FORBIDDEN, "not_eligible")
    assert response.json()["reason"] == "verification_level"


def test_session_post_without_csrf_token_is_403_permission_denied(verified_fan):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    poll = PollFactory()

    response = vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    assert_refused(response, HTTPStatus.FORBIDDEN, "permission_denied")


def test_unknown_poll_is_404_not_found(client, verified_fan):
    client.force_login(verified_fan)

    response = client.post("/api/v1/polls/nope/votes/", {"choices": [1]}, content_type="application/json")

    assert_refused(response, HTTPStatus.NOT_FOUND, "not_found")


def test_draft_poll_is_404_not_found(client, verified_fan):
    poll = PollFactory(state=PollState.DRAFT)

    assert_refused(
        vote(client, poll, option_ids(poll)[:1], user=verified_fan), HTTPStatus.NOT_FOUND, "not_found"
    )
    assert client.get(f"/api/v1/polls/{poll.slug}/").status_code == HTTPStatus.NOT_FOUND


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "not_found"


def test_poll_before_opening_is_409_poll_not_open(client, verified_fan):
    poll = PollFactory(opens_at=timezone.now() + timedelta(hours=1))

    response = vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    assert_refused(response, HTTPStatus.CONFLICT, "poll_not_open")


@pytest.mark.parametrize("how", ["time", "early", "cancelled", "published"])
def test_closed_poll_is_409_poll_closed(client, verified_fan, how):
    now = timezone.now()
    poll = {
        "time": lambda: PollFactory(opens_at=now - timedelta(days=2), closes_at=now - timedelta(seconds=1)),
        "early": lambda: PollFactory(closed_early_at=now - timedelta(seconds=1)),
        "cancelled": lambda: PollFactory(state=PollState.CANCELLED, cancelled_at=now),
        "published": lambda: PollFactory(
            state=PollState.PUBLISHED, published_at=now, closes_at=now - timedelta(minutes=1)
        ),
    }[how]()

    response = vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    assert_refused(response, HTTPStatus.CONFLICT, "poll_closed")


def test_second_ballot_on_a_once_poll_is_409_already_voted(client, verified_fan):
    poll = PollFactory()
    vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    response = vote(client, poll, option_ids(poll)[1:2])

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "already_voted"
    assert Ballot.objects.count() == 1
    assert BallotChoice.objects.count() == 1


def test_vote_over_the_rate_limit_is_429_with_retry_after(client, verified_fan, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": [("account", "2/m")]}
    poll = PollFactory(votes_per_period=5, period="daily")
    client.force_login(verified_fan)

    statuses = [vote(client, poll, option_ids(poll)[:1]).status_code for _ in range(2)]
    limited = vote(client, poll, option_ids(poll)[:1])

    assert statuses == [HTTPStatus.CREATED] * 2
    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert Ballot.objects.count() == 2


def test_idempotent_retry_returns_the_first_answer(client, verified_fan):
    poll = PollFactory()
    choice = option_ids(poll)[:1]

    first = vote(client, poll, choice, user=verified_fan, **{"Idempotency-Key": "k-1"})
    retry = vote(client, poll, choice, **{"Idempotency-Key": "k-1"})

    assert first.status_code == retry.status_code == HTTPStatus.CREATED
    assert first.json() == retry.json()
    assert Ballot.objects.count() == 1


def test_idempotency_key_reused_for_other_choices_is_refused(client, verified_fan):
    poll = PollFactory()
    a, b, _ = option_ids(poll)
    vote(client, poll, [a], user=verified_fan, **{"Idempotency-Key": "k-2"})

    response = vote(client, poll, [b], **{"Idempotency-Key": "k-2"})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "idempotency_key_reused"
    assert Ballot.objects.count() == 1


def test_poll_detail_shows_rules_options_and_my_ballots(client, verified_fan):
    poll = PollFactory(votes_per_period=3, period="daily")
    vote(client, poll, option_ids(poll)[:1], user=verified_fan)

    data = client.get(f"/api/v1/polls/{poll.slug}/").json()

    for field in (
        "slug", "kind", "method", "title", "description", "status", "opens_at", "closes_at", "timezone",
        "results_visibility", "min_choices", "max_choices", "votes_per_period", "period", "options",
    ):  # fmt: skip
        assert field in data
    assert data["status"] == "open"
    assert [option["label"] for option in data["options"]] == ["Seoul", "Tokyo", "Madrid"]
    assert data["your_votes_left"] == 2
    assert data["your_ballots"][0]["status"] == "recorded"  # until the results are published
    assert data["your_ballots"][0]["choices"] == option_ids(poll)[:1]


def test_poll_list_filters_by_status_kind_and_agency(client):
    now = timezone.now()
    open_city = PollFactory(kind="city")
    PollFactory(kind="single")
    upcoming = PollFactory(kind="city", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2))
    PollFactory(state=PollState.DRAFT)

    def slugs(query):
        return {poll["slug"] for poll in client.get(f"/api/v1/polls/?{query}").json()["results"]}

    assert slugs("status=open&kind=city") == {open_city.slug}
    assert slugs("status=scheduled") == {upcoming.slug}
    assert slugs(f"agency={open_city.agency.slug}") == {open_city.slug}
    assert len(slugs("")) == 3


def test_poll_list_with_an_unknown_status_is_400(client):
    response = client.get("/api/v1/polls/?status=whatever")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "status" in response.json()["fields"]
