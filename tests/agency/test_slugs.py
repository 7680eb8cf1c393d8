"""Poll addresses (slugs) are unique across agencies, yet creating or renaming a poll
tells an agency nothing about another agency's polls: a slug made from the title has the
same shape whether or not someone holds the title's address, and an explicit slug that
cannot be had is refused with the same words whatever the reason."""

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from polls.models import Poll
from tests.factories import AgencyFactory, DraftPollFactory
from tests.helpers import AGENCY_API, patch_json, post_json

pytestmark = pytest.mark.django_db


def create(client, agency, **fields):
    now = timezone.now()
    payload = {
        "agency": agency.slug,
        "kind": "other",
        "opens_at": (now + timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=8)).isoformat(),
        **fields,
    }
    return post_json(client, f"{AGENCY_API}/polls/", payload)


@pytest.fixture
def rival_draft(db):
    """Another agency's unannounced poll."""
    return DraftPollFactory(agency=AgencyFactory(), slug="lumen-world-tour", title="Lumen world tour")


def test_a_slug_from_the_title_looks_the_same_whether_or_not_another_agency_holds_the_title(
    manager_client, agency, rival_draft
):
    held = create(manager_client, agency, title="Lumen world tour")
    free = create(manager_client, agency, title="Lumen fan meeting")

    assert held.status_code == free.status_code == HTTPStatus.CREATED
    assert re.fullmatch(r"lumen-world-tour-[0-9a-f]{6}", held.json()["slug"])
    assert re.fullmatch(r"lumen-fan-meeting-[0-9a-f]{6}", free.json()["slug"])


def test_two_polls_with_one_title_get_two_slugs(manager_client, agency):
    first = create(manager_client, agency, title="Next single")
    second = create(manager_client, agency, title="Next single")

    assert first.json()["slug"] != second.json()["slug"]
    assert Poll.objects.filter(slug__startswith="next-single-").count() == 2


@pytest.mark.parametrize("slug", ["lumen-world-tour", "own-poll", "public-poll", "new"])
def test_an_unavailable_explicit_slug_is_refused_with_the_same_words_whoever_holds_it(
    manager_client, agency, rival_draft, slug
):
    DraftPollFactory(agency=agency, slug="own-poll")
    DraftPollFactory(agency=AgencyFactory(), slug="public-poll", state="scheduled")
    reserved = create(manager_client, agency, title="Tour", slug="new")

    response = create(manager_client, agency, title="Tour", slug=slug)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == reserved.json()["fields"]
    assert "taken" not in str(response.json()).lower()
    assert Poll.objects.filter(agency=agency).count() == 1


def test_renaming_to_another_agencys_slug_is_refused_like_a_reserved_word(
    manager_client, agency, rival_draft
):
    poll = DraftPollFactory(agency=agency, slug="mine")

    rival = patch_json(manager_client, f"{AGENCY_API}/polls/{poll.slug}/", {"slug": "lumen-world-tour"})
    reserved = patch_json(manager_client, f"{AGENCY_API}/polls/{poll.slug}/", {"slug": "new"})

    assert rival.status_code == reserved.status_code == HTTPStatus.BAD_REQUEST
    assert rival.json()["fields"] == reserved.json()["fields"]
    poll.refresh_from_db()
    assert poll.slug == "mine"
