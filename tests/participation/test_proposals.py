"""Fans propose and support under the vote's identity, eligibility and limits."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from polls.participation import services
from polls.participation.models import Proposal, Support
from polls.participation.services import Client
from tests.factories import UserFactory
from tests.participation.conftest import open_call

pytestmark = pytest.mark.django_db

JAKARTA = 1642911


def test_jakarta_however_typed_is_one_proposal_supported_by_each_fan(city_call):
    fans = [UserFactory(verified=True) for _ in range(3)]
    first, created = services.proposal_create(call=city_call, fan=fans[0], city_name="Jakarta")
    second, created_again = services.proposal_create(call=city_call, fan=fans[1], city_name="jakarta ")
    third, _ = services.proposal_create(call=city_call, fan=fans[2], city_name="Djakarta")
    assert created and not created_again
    assert first.pk == second.pk == third.pk
    assert first.geoname_id == JAKARTA and first.country == "ID"
    assert first.population > 1_000_000 and first.latitude is not None
    assert Proposal.objects.filter(call=city_call).count() == 1
    assert Support.objects.filter(proposal=first).count() == 3


def test_a_city_picked_by_its_geonames_id_is_the_same_proposal_as_its_name(city_call):
    proposal, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), geoname_id=JAKARTA)
    again, created = services.proposal_create(
        call=city_call, fan=UserFactory(verified=True), city_name="JAKARTA"
    )
    assert again.pk == proposal.pk and not created


def test_an_unknown_city_is_refused_as_invalid(city_call):
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Atlantis Nowhere")
    assert refusal.value.code == "invalid"


def test_song_texts_differing_in_case_accents_and_spaces_are_one_proposal(song_call):
    one, _ = services.proposal_create(call=song_call, fan=UserFactory(verified=True), text="Café  Nights")
    two, created = services.proposal_create(
        call=song_call, fan=UserFactory(verified=True), text=" cafe nights"
    )
    assert one.pk == two.pk and not created
    assert one.label == "Café Nights"


def test_an_unverified_account_may_not_propose(city_call):
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.proposal_create(call=city_call, fan=UserFactory(), city_name="Seoul")
    assert refusal.value.code == "email_unverified"
    assert not Proposal.objects.exists()


def test_an_account_younger_than_the_call_allows_may_not_support(artist):
    call = open_call(artist, least_account_age=timedelta(days=30))
    old = UserFactory(verified=True, date_joined=timezone.now() - timedelta(days=90))
    proposal, _ = services.proposal_create(call=call, fan=old, city_name="Seoul")
    young = UserFactory(verified=True)
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.support_add(call=call, proposal=proposal, fan=young)
    assert refusal.value.code == "not_eligible" and refusal.value.reason == "account_too_new"


def test_a_call_open_to_phone_verified_fans_refuses_email_only_ones(artist):
    call = open_call(artist, least_verification="phone")
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.proposal_create(call=call, fan=UserFactory(verified=True), city_name="Seoul")
    assert refusal.value.code == "not_eligible" and refusal.value.reason == "verification_level"


def test_a_closed_call_takes_no_proposal(artist):
    call = open_call(
        artist, opens_at=timezone.now() - timedelta(days=3), closes_at=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.proposal_create(call=call, fan=UserFactory(verified=True), city_name="Seoul")
    assert refusal.value.code == "poll_closed"


def test_a_fan_supports_a_proposal_once(city_call):
    proposal, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Seoul")
    fan = UserFactory(verified=True)
    services.support_add(call=city_call, proposal=proposal, fan=fan)
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.support_add(call=city_call, proposal=proposal, fan=fan)
    assert refusal.value.code == "already_voted" and refusal.value.reason == "supported"


def test_proposing_uses_one_of_the_fans_supports_and_the_cap_holds(artist):
    call = open_call(artist, max_supports_per_fan=2)
    fan = UserFactory(verified=True)
    services.proposal_create(call=call, fan=fan, city_name="Seoul")
    services.proposal_create(call=call, fan=fan, city_name="Tokyo")
    with pytest.raises(services.ParticipationRefused) as refusal:
        services.proposal_create(call=call, fan=fan, city_name="Madrid")
    assert refusal.value.code == "already_voted" and refusal.value.reason == "cap"
    # The refused proposal was not left behind without its support.
    assert not Proposal.objects.filter(call=call, label="Madrid").exists()
    assert Support.objects.filter(call=call, voter=fan).count() == 2


def test_proposals_and_supports_keep_the_clients_network_and_fingerprint(city_call):
    fan = UserFactory(verified=True)
    proposal, _ = services.proposal_create(
        call=city_call, fan=fan, city_name="Seoul", client=Client(ip="198.51.100.7", fingerprint="f" * 64)
    )
    support = Support.objects.get(proposal=proposal)
    assert proposal.client_network == support.client_network == "198.51.100.0/24"
    assert proposal.client_fingerprint == support.client_fingerprint == "f" * 64


@pytest.mark.django_db(transaction=True)
def test_racing_supports_never_exceed_the_cap_per_fan(artist, postgresql):
    call = open_call(artist, max_supports_per_fan=2)
    proposer = UserFactory(verified=True)
    proposals = [
        services.proposal_create(call=call, fan=UserFactory(verified=True), city_name=name)[0]
        for name in ("Seoul", "Tokyo", "Madrid", "Lima", "Paris", "Berlin")
    ]
    del proposer
    fan = UserFactory(verified=True)
    barrier = threading.Barrier(len(proposals))
    outcomes: list[str] = []

    def support(proposal):
        barrier.wait()
        try:
            services.support_add(call=call, proposal=proposal, fan=fan)
            outcomes.append("ok")
        except services.ParticipationRefused as refusal:
            outcomes.append(refusal.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=support, args=(p,)) for p in proposals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 2
    assert outcomes.count("cap") == 4
    assert Support.objects.filter(call=call, voter=fan).count() == 2


@pytest.mark.django_db(transaction=True)
def test_racing_supports_of_one_proposal_by_one_fan_count_once(city_call, postgresql):
    proposal, _ = services.proposal_create(call=city_call, fan=UserFactory(verified=True), city_name="Seoul")
    fan = UserFactory(verified=True)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def support():
        barrier.wait()
        try:
            services.support_add(call=city_call, proposal=proposal, fan=fan)
            outcomes.append("ok")
        except services.ParticipationRefused as refusal:
            outcomes.append(refusal.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=support) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert Support.objects.filter(proposal=proposal, voter=fan).count() == 1
