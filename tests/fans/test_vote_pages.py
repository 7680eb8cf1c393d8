"""Voting on the web, without JavaScript: forms for every method, receipt once, my votes."""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, BallotChoice, VotingMethod
from polls.receipts import receipt_hash
from tests.factories import PollFactory
from tests.helpers import option_ids
from voting.bot_friction import form_stamp

pytestmark = pytest.mark.django_db


def post_vote(client, poll, fields: dict):
    """Post the ballot form as the page would: with its signed "shown at" stamp."""
    return client.post(reverse("poll_vote", args=[poll.slug]), {"shown_at": form_stamp(), **fields})


def test_home_lists_open_polls(client):
    poll = PollFactory(title="Next tour stop")

    page = client.get("/").content.decode()

    assert "Next tour stop" in page
    assert reverse("poll_detail", args=[poll.slug]) in page


def test_single_choice_vote_shows_the_receipt_once(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)
    choice = option_ids(poll)[1]

    response = post_vote(client, poll, {"choice": choice})
    assert response.status_code == HTTPStatus.FOUND
    receipt_page = client.get(response["Location"])

    assert receipt_page.status_code == HTTPStatus.OK
    receipt = receipt_page.context["answer"]["receipt"]
    assert receipt in receipt_page.content.decode()
    assert Ballot.objects.get().receipt_hash == receipt_hash(receipt)
    assert BallotChoice.objects.get().option_id == choice
    again = client.get(response["Location"])
    assert again.status_code == HTTPStatus.FOUND
    assert receipt not in client.get(again["Location"]).content.decode()


def test_ranked_ballot_form_records_the_order(client, verified_fan):
    poll = PollFactory(method=VotingMethod.RANKED, min_choices=1, max_choices=3)
    _, b, c = option_ids(poll)
    client.force_login(verified_fan)

    post_vote(client, poll, {"rank_1": b, "rank_2": c, "rank_3": ""})

    assert list(BallotChoice.objects.order_by("rank").values_list("option_id", flat=True)) == [b, c]


def test_multiple_choice_form_records_every_pick(client, verified_fan):
    poll = PollFactory(method=VotingMethod.MULTIPLE, min_choices=1, max_choices=2)
    a, b, _ = option_ids(poll)
    client.force_login(verified_fan)

    post_vote(client, poll, {"choice": [a, b]})

    assert set(BallotChoice.objects.values_list("option_id", flat=True)) == {a, b}


def test_second_vote_on_the_web_is_refused_with_a_message_and_409(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)
    post_vote(client, poll, {"choice": option_ids(poll)[0]})

    response = post_vote(client, poll, {"choice": option_ids(poll)[1]})

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.context["refusal"].code == "already_voted"
    assert Ballot.objects.count() == 1


def test_tampered_choice_is_400_and_writes_nothing(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)

    response = post_vote(client, poll, {"choice": "999999"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Ballot.objects.count() == 0


def test_filled_honeypot_is_refused(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)

    response = post_vote(client, poll, {"choice": option_ids(poll)[0], "website": "http://spam"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Ballot.objects.count() == 0


def test_double_submit_of_one_form_gives_one_ballot(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)
    form = {"choice": option_ids(poll)[0], "idempotency_key": "form-123"}

    first = post_vote(client, poll, form)
    second = post_vote(client, poll, form)

    assert first.status_code == second.status_code == HTTPStatus.FOUND
    assert Ballot.objects.count() == 1


def test_anonymous_vote_goes_to_login(client):
    poll = PollFactory()

    response = post_vote(client, poll, {"choice": option_ids(poll)[0]})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("account_login"))
    assert Ballot.objects.count() == 0


def test_vote_form_requires_csrf(verified_fan):
    client = Client(enforce_csrf_checks=True)
    poll = PollFactory()
    client.force_login(verified_fan)

    response = post_vote(client, poll, {"choice": option_ids(poll)[0]})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Ballot.objects.count() == 0


def test_my_votes_lists_each_ballot_with_its_status_but_no_receipt(client, verified_fan):
    poll = PollFactory(title="Which single next?")
    client.force_login(verified_fan)
    post_vote(client, poll, {"choice": option_ids(poll)[0]})
    receipt = client.get(reverse("poll_voted", args=[poll.slug])).context["answer"]["receipt"]

    page = client.get(reverse("my_votes")).content.decode()

    assert "Which single next?" in page
    assert "Recorded" in page  # until the results are published
    assert receipt not in page


def test_web_votes_are_rate_limited_with_a_friendly_page(client, verified_fan, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "vote": [("ip", "1/m")]}
    poll = PollFactory(votes_per_period=3, period="daily")
    client.force_login(verified_fan)
    post_vote(client, poll, {"choice": option_ids(poll)[0]})

    response = post_vote(client, poll, {"choice": option_ids(poll)[0]})

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.content.decode()
    assert Ballot.objects.count() == 1


def test_a_form_sent_back_too_fast_is_refused(client, verified_fan, settings):
    settings.MIN_FORM_FILL_SECONDS = 30
    poll = PollFactory()
    client.force_login(verified_fan)

    response = post_vote(client, poll, {"choice": option_ids(poll)[0]})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.context["refusal"].code == "form_rejected"
    assert Ballot.objects.count() == 0


def test_a_form_without_a_valid_stamp_is_refused(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)

    response = client.post(
        reverse("poll_vote", args=[poll.slug]), {"choice": option_ids(poll)[0], "shown_at": "forged"}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Ballot.objects.count() == 0


def test_the_honeypot_is_out_of_reach_for_keyboards_and_autofill(client, verified_fan):
    poll = PollFactory()
    client.force_login(verified_fan)

    page = client.get(reverse("poll_detail", args=[poll.slug])).content.decode()

    assert 'name="website"' in page
    assert 'tabindex="-1"' in page
