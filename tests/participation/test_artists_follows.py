"""Artists, their pages, follows and follower counts, and the filter by artist."""

from http import HTTPStatus

import pytest

from polls.participation.models import Artist, Follow
from polls.participation.selectors import artist_follower_ids
from tests.factories import PollFactory, UserFactory
from tests.helpers import AGENCY_API, login_with_mfa, post_json

pytestmark = pytest.mark.django_db


def test_a_verified_fan_follows_and_unfollows_an_artist_through_the_api(client, artist):
    fan = UserFactory(verified=True)
    client.force_login(fan)
    assert client.post(f"/api/v1/artists/{artist.slug}/follow/").status_code == HTTPStatus.OK
    assert client.post(f"/api/v1/artists/{artist.slug}/follow/").status_code == HTTPStatus.OK
    assert Follow.objects.filter(fan=fan, artist=artist).count() == 1
    follows = client.get("/api/v1/me/follows/").json()
    assert [f["artist"]["slug"] for f in follows] == [artist.slug]
    assert client.delete(f"/api/v1/artists/{artist.slug}/follow/").status_code == HTTPStatus.OK
    assert not Follow.objects.filter(fan=fan).exists()


def test_an_unverified_fan_may_not_follow(client, artist):
    client.force_login(UserFactory())
    answer = client.post(f"/api/v1/artists/{artist.slug}/follow/")
    assert answer.status_code == HTTPStatus.FORBIDDEN
    assert answer.json()["code"] == "email_unverified"


def test_a_signed_out_visitor_is_asked_to_sign_in_to_follow(client, artist):
    answer = client.post(f"/api/v1/artists/{artist.slug}/follow/")
    assert answer.status_code == HTTPStatus.UNAUTHORIZED


def test_the_follow_button_on_the_artist_page_works_without_javascript(client, artist):
    fan = UserFactory(verified=True)
    client.force_login(fan)
    page = client.get(f"/artists/{artist.slug}/")
    assert page.status_code == HTTPStatus.OK and "csrfmiddlewaretoken" in page.content.decode()
    answer = client.post(f"/artists/{artist.slug}/follow/", {"action": "follow"})
    assert answer.status_code == HTTPStatus.FOUND
    assert Follow.objects.filter(fan=fan, artist=artist).exists()


def test_the_agency_sees_follower_counts_but_no_list_of_fans(client, artist, manager):
    fans = [UserFactory(verified=True) for _ in range(3)]
    for fan in fans:
        Follow.objects.create(fan=fan, artist=artist)
    login_with_mfa(client, manager)
    body = client.get(f"{AGENCY_API}/artists/{artist.slug}/").json()
    assert body["followers"] == 3
    assert not any(fan.email in str(body) for fan in fans)
    assert sorted(artist_follower_ids(artist)) == sorted(f.pk for f in fans)


def test_the_artist_page_lists_its_open_polls_and_the_api_filters_by_artist(client, agency, artist):
    mine = PollFactory(agency=agency, artist=artist, title="Nova tour city")
    PollFactory(agency=agency, title="Someone else's poll")
    page = client.get(f"/artists/{artist.slug}/").content.decode()
    assert "Nova tour city" in page and "Someone else" not in page
    listed = client.get("/api/v1/polls/", {"artist": artist.slug}).json()["results"]
    assert [p["slug"] for p in listed] == [mine.slug]
    assert listed[0]["artist"] == artist.slug
    home = client.get("/", {"artist": artist.slug}).content.decode()
    assert "Nova tour city" in home and "Someone else" not in home


def test_a_manager_adds_an_artist_and_sets_a_polls_artist(client, agency, manager):
    poll = PollFactory(agency=agency)
    login_with_mfa(client, manager)
    created = post_json(
        client, f"{AGENCY_API}/artists/", {"agency": agency.slug, "name": "Lumen", "slug": "lumen"}
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    answer = client.put(
        f"{AGENCY_API}/polls/{poll.slug}/artist/", {"artist": "lumen"}, content_type="application/json"
    )
    assert answer.status_code == HTTPStatus.OK, answer.content
    poll.refresh_from_db()
    assert poll.artist == Artist.objects.get(slug="lumen")


def test_an_analyst_may_not_add_an_artist(client, agency, analyst):
    login_with_mfa(client, analyst)
    answer = post_json(client, f"{AGENCY_API}/artists/", {"agency": agency.slug, "name": "Lumen"})
    assert answer.status_code == HTTPStatus.FORBIDDEN
    assert not Artist.objects.filter(name="Lumen").exists()


def test_another_agencys_artist_is_not_found(client, artist):
    outsider = UserFactory(verified=True)
    login_with_mfa(client, outsider)
    assert client.get(f"{AGENCY_API}/artists/{artist.slug}/").status_code == HTTPStatus.NOT_FOUND
