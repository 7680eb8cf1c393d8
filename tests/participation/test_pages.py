"""The fan and agency pages of participation work as plain HTML forms."""

from http import HTTPStatus

import pytest

from polls.models import Poll
from polls.participation import services
from polls.participation.models import Proposal, ProposalState, Support
from tests.factories import UserFactory
from tests.helpers import login_with_mfa

pytestmark = pytest.mark.django_db

JAKARTA = 1642911


def test_a_fan_searches_a_city_picks_it_and_proposes_it_without_javascript(client, city_call):
    fan = UserFactory(verified=True)
    client.force_login(fan)
    found = client.get(f"/calls/{city_call.pk}/", {"city": "djakarta"})
    assert found.status_code == HTTPStatus.OK
    page = found.content.decode()
    assert f'value="{JAKARTA}"' in page and "Jakarta (ID)" in page
    stamp = found.context["form"]["shown_at"].value()
    answer = client.post(f"/calls/{city_call.pk}/propose/", {"geoname_id": JAKARTA, "shown_at": stamp})
    assert answer.status_code == HTTPStatus.FOUND
    proposal = Proposal.objects.get(call=city_call)
    assert proposal.geoname_id == JAKARTA and proposal.client_network == "127.0.0.0/24"


def test_a_fan_supports_another_proposal_from_the_call_page(client, city_call):
    proposal, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Seoul")
    fan = UserFactory(verified=True)
    client.force_login(fan)
    page = client.get(f"/calls/{city_call.pk}/")
    assert "Support Seoul" in page.content.decode()
    answer = client.post(
        f"/calls/{city_call.pk}/proposals/{proposal.pk}/support/", {"shown_at": page.context["support_stamp"]}
    )
    assert answer.status_code == HTTPStatus.FOUND
    assert Support.objects.filter(proposal=proposal, voter=fan).exists()


def test_supporting_over_the_cap_on_the_page_says_why_with_409(client, artist):
    from tests.participation.conftest import open_call

    call = open_call(artist, max_supports_per_fan=1)
    seoul, _ = services.proposal_create(call=call, fan=UserFactory(verified=True), city_name="Seoul")
    fan = UserFactory(verified=True)
    services.proposal_create(call=call, fan=fan, city_name="Tokyo")
    client.force_login(fan)
    stamp = client.get(f"/calls/{call.pk}/").context["support_stamp"]
    answer = client.post(f"/calls/{call.pk}/proposals/{seoul.pk}/support/", {"shown_at": stamp})
    assert answer.status_code == HTTPStatus.CONFLICT
    assert not Support.objects.filter(proposal=seoul, voter=fan).exists()


def test_a_signed_out_visitor_is_sent_to_sign_in_before_proposing(client, city_call):
    answer = client.post(f"/calls/{city_call.pk}/propose/", {"geoname_id": JAKARTA})
    assert answer.status_code == HTTPStatus.FOUND and "/accounts/login/" in answer["Location"]
    assert not Proposal.objects.exists()


def test_the_agency_hides_and_promotes_from_its_call_page(client, agency, city_call, manager):
    seoul, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Seoul")
    tokyo, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Tokyo")
    spam, _ = services.proposal_create(
        call=city_call, fan=UserFactory(verified=True), text=None, city_name="Lima"
    )
    login_with_mfa(client, manager)
    base = f"/agency/{agency.slug}/calls/{city_call.pk}/"
    page = client.get(base)
    assert page.status_code == HTTPStatus.OK
    assert "Fraud signals of the supports" in page.content.decode()
    client.post(base + "hide/", {"proposal": spam.pk, "reason": "spam"})
    assert Proposal.objects.get(pk=spam.pk).state == ProposalState.HIDDEN
    answer = client.post(base + "promote/", {"proposals": [seoul.pk, tokyo.pk], "title": "Tour 2027"})
    assert answer.status_code == HTTPStatus.FOUND
    poll = Poll.objects.get(title="Tour 2027")
    assert sorted(poll.options.values_list("label", flat=True)) == ["Seoul", "Tokyo"]


def test_an_analyst_sees_the_call_page_but_cannot_hide(client, agency, city_call, analyst):
    seoul, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Seoul")
    login_with_mfa(client, analyst)
    base = f"/agency/{agency.slug}/calls/{city_call.pk}/"
    assert client.get(base).status_code == HTTPStatus.OK
    answer = client.post(base + "hide/", {"proposal": seoul.pk, "reason": "spam"})
    assert answer.status_code == HTTPStatus.FORBIDDEN
    assert Proposal.objects.get(pk=seoul.pk).state == ProposalState.VISIBLE


def test_the_agency_artist_page_shows_the_follower_count(client, agency, artist, manager):
    from polls.participation.models import Follow

    for _ in range(2):
        Follow.objects.create(fan=UserFactory(verified=True), artist=artist)
    login_with_mfa(client, manager)
    page = client.get(f"/agency/{agency.slug}/artists/{artist.slug}/").content.decode()
    assert "2 followers" in page


def test_a_manager_opens_a_call_from_the_artist_page(client, agency, artist, manager):
    login_with_mfa(client, manager)
    answer = client.post(
        f"/agency/{agency.slug}/artists/{artist.slug}/calls/",
        {
            "question": "Which b-side next?",
            "kind": "single",
            "opens_at": "2026-01-01T10:00",
            "closes_at": "2027-01-01T10:00",
            "max_supports_per_fan": "2",
        },
    )
    assert answer.status_code == HTTPStatus.FOUND
    assert artist.calls.get().max_supports_per_fan == 2


def test_a_manager_sets_the_artist_in_the_poll_editor(client, agency, artist, manager):
    from tests.helpers import draft_without_options

    poll = draft_without_options(agency)
    login_with_mfa(client, manager)
    page = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/").content.decode()
    assert 'name="artist"' in page and artist.name in page
    answer = client.post(f"/agency/{agency.slug}/poll-artist/{poll.slug}/", {"artist": artist.slug})
    assert answer.status_code == HTTPStatus.FOUND
    poll.refresh_from_db()
    assert poll.artist == artist
