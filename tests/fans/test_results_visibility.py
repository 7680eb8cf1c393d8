"""Embargoed counts do not leak: not through the API, pages, exports, titles or caches."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from polls.models import Poll
from polls.services import ballot_cast
from polls.tally import tally_refresh
from tests.factories import MembershipFactory, PollFactory, UserFactory

pytestmark = pytest.mark.django_db


def with_votes(poll: Poll, n: int = 7) -> Poll:
    seoul = poll.options.get(label="Seoul").pk
    for _ in range(n):
        ballot_cast(poll=poll, voter=UserFactory(verified=True), choices=[seoul])
    tally_refresh(poll=poll)
    return poll


def contains_key(data, key: str) -> bool:
    if isinstance(data, dict):
        return key in data or any(contains_key(value, key) for value in data.values())
    if isinstance(data, list):
        return any(contains_key(item, key) for item in data)
    return False


def leaked_count_markers(html: str) -> list[str]:
    return [marker for marker in ('class="bars"', "bar-value", "leads with", " wins, ") if marker in html]


@pytest.mark.parametrize("visibility", ["on_publish", "after_close"])
def test_open_embargoed_poll_shows_no_counts_anywhere(client, visibility):
    poll = with_votes(PollFactory(results_visibility=visibility))
    slug = poll.slug

    results = client.get(f"/api/v1/polls/{slug}/results/")
    detail = client.get(f"/api/v1/polls/{slug}/").json()
    listing = client.get("/api/v1/polls/").json()
    page = client.get(f"/polls/{slug}/results/")
    poll_page = client.get(f"/polls/{slug}/").content.decode()
    home = client.get("/").content.decode()
    bulletin = client.get(f"/api/v1/polls/{slug}/bulletin/")

    assert results.status_code == HTTPStatus.FORBIDDEN
    assert results.json()["code"] == "results_hidden"
    assert not contains_key(results.json(), "votes")
    assert not contains_key(detail, "votes")
    assert not contains_key(listing, "votes")
    assert page.status_code == HTTPStatus.FORBIDDEN
    assert leaked_count_markers(page.content.decode()) == []
    assert leaked_count_markers(poll_page) == []
    assert leaked_count_markers(home) == []
    assert bulletin.status_code == HTTPStatus.FORBIDDEN
    assert not contains_key(bulletin.json(), "ballots")


def test_agency_staff_see_turnout_but_not_counts_before_close(client, agency):
    poll = with_votes(PollFactory(agency=agency, results_visibility="on_publish"))
    analyst = MembershipFactory(agency=agency, role="analyst").user
    client.force_login(analyst)

    results = client.get(f"/api/v1/polls/{poll.slug}/results/")
    stats = client.get(f"/api/v1/agency/polls/{poll.slug}/stats/")

    assert results.status_code == HTTPStatus.FORBIDDEN
    assert stats.status_code == HTTPStatus.OK
    assert not contains_key(stats.json(), "votes")
    assert 7 in stats.json().values() or contains_key(stats.json(), "ballots")


def test_live_poll_shows_counts_while_open(client):
    poll = with_votes(PollFactory(results_visibility="live"))

    results = client.get(f"/api/v1/polls/{poll.slug}/results/").json()
    page = client.get(f"/polls/{poll.slug}/results/").content.decode()

    assert results["status"] == "live"
    assert {row["label"]: row["votes"] for row in results["options"]}["Seoul"] == 7
    assert 'class="bars"' in page
    assert "Seoul leads with 7 votes." in page


def test_after_close_poll_reveals_counts_at_close_and_not_a_moment_before(client):
    poll = with_votes(PollFactory(results_visibility="after_close"))
    assert client.get(f"/api/v1/polls/{poll.slug}/results/").status_code == HTTPStatus.FORBIDDEN

    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))

    # No cached "hidden" answer outlives the embargo, and no cached count preceded it.
    opened = client.get(f"/api/v1/polls/{poll.slug}/results/")
    assert opened.status_code == HTTPStatus.OK
    assert opened.json()["ballots"] == 7


def test_cancelled_poll_stops_showing_counts_even_with_results_in_the_cache(client):
    poll = with_votes(PollFactory(results_visibility="live"))
    assert client.get(f"/api/v1/polls/{poll.slug}/results/").status_code == HTTPStatus.OK  # now cached

    Poll.objects.filter(pk=poll.pk).update(state="cancelled", cancelled_at=timezone.now())

    hidden = client.get(f"/api/v1/polls/{poll.slug}/results/")
    assert hidden.status_code == HTTPStatus.FORBIDDEN
    assert not contains_key(hidden.json(), "votes")
    assert leaked_count_markers(client.get(f"/polls/{poll.slug}/results/").content.decode()) == []


def test_draft_poll_results_do_not_exist(client):
    poll = PollFactory(state="draft")

    assert client.get(f"/api/v1/polls/{poll.slug}/results/").status_code == HTTPStatus.NOT_FOUND
    assert client.get(f"/polls/{poll.slug}/results/").status_code == HTTPStatus.NOT_FOUND
