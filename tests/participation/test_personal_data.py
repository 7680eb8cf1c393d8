"""A fan's follows, proposals and supports are in their download; deleting the account
drops the follows and the client details, and keeps the counted supports."""

import pytest

from accounts.data_rights import account_delete, personal_data_export
from polls.participation import services
from polls.participation.models import Follow, Support
from polls.participation.services import Client
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_download_holds_follows_proposals_and_supports(artist, city_call):
    fan = UserFactory(verified=True)
    services.follow_add(fan=fan, artist=artist)
    services.proposal_create(call=city_call, fan=fan, city_name="Seoul", client=Client(ip="198.51.100.9"))
    data = personal_data_export(user=fan)
    assert data["follows"][0]["artist"] == artist.slug
    assert data["proposals"][0]["label"] == "Seoul"
    assert data["supports"][0]["client_ip"] == "198.51.100.9"


def test_deleting_the_account_keeps_supports_counted_without_their_address(artist, city_call):
    fan = UserFactory(verified=True)
    services.follow_add(fan=fan, artist=artist)
    proposal, _ = services.proposal_create(
        call=city_call, fan=fan, city_name="Seoul", client=Client(ip="198.51.100.9", fingerprint="f" * 64)
    )
    account_delete(user=fan, password=TEST_PASSWORD)
    assert not Follow.objects.filter(artist=artist).exists()
    support = Support.objects.get(proposal=proposal)
    assert support.client_ip is None and support.client_fingerprint == ""
    assert support.client_network == "198.51.100.0/24"
