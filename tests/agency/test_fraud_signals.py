"""Fraud signals per poll: clusters by network and fingerprint, scored and flagged."""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from polls.agency.fraud_signals import FINGERPRINT, NETWORK, busiest_window, cluster_score, poll_signals
from polls.services import ballot_cast
from tests.factories import MembershipFactory, UserFactory, mfa_enable
from tests.helpers import AGENCY_API as API
from tests.helpers import (
    FARM_FINGERPRINT,
    FARM_NETWORK,
    cast_clean_crowd,
    cast_farm,
    fingerprint,
    login_with_mfa,
)

pytestmark = pytest.mark.django_db


def cluster_of(clusters, kind: str, key: str):
    return next(cluster for cluster in clusters if cluster.kind == kind and cluster.key == key)


@pytest.fixture
def reviewer(agency):
    manager = MembershipFactory(agency=agency, role="manager").user
    mfa_enable(manager)
    return manager


def test_a_farm_of_new_accounts_on_one_network_is_flagged(poll):
    cast_farm(poll)

    clusters = poll_signals(poll=poll)

    network = cluster_of(clusters, NETWORK, FARM_NETWORK)
    assert network.flagged
    assert (network.ballots, network.voters, network.ips) == (40, 40, 40)
    assert network.new_accounts == 40
    assert network.signup_burst == 40
    assert network.shared_fingerprint == 40
    assert network.burst_ballots == 40
    assert network.score >= 0.9
    assert network.top_ips[0].voters == 1  # forty addresses, one voter each
    farm_fingerprint = cluster_of(clusters, FINGERPRINT, FARM_FINGERPRINT)
    assert farm_fingerprint.flagged
    assert farm_fingerprint.shared_network == 40
    assert clusters[0].flagged and clusters[1].flagged  # flagged first


def test_a_clean_crowd_of_old_accounts_on_many_networks_is_not_flagged(poll):
    cast_clean_crowd(poll)

    clusters = poll_signals(poll=poll)

    assert not any(cluster.flagged for cluster in clusters)
    # Networks hold one voter each and are not listed; the four common browsers are.
    assert {cluster.kind for cluster in clusters} == {FINGERPRINT}
    assert [cluster.voters for cluster in clusters] == [10, 10, 10, 10]
    assert all(cluster.new_accounts == 0 and cluster.signup_burst == 1 for cluster in clusters)
    assert max(cluster.score for cluster in clusters) < 0.3


def test_in_a_mixed_poll_only_the_farm_is_flagged(poll):
    cast_clean_crowd(poll)
    cast_farm(poll)

    flagged = {(c.kind, c.key) for c in poll_signals(poll=poll) if c.flagged}

    assert flagged == {(NETWORK, FARM_NETWORK), (FINGERPRINT, FARM_FINGERPRINT)}


def test_an_old_household_network_sharing_a_browser_is_listed_but_not_flagged(poll):
    option_id = poll.options.first().pk
    for number in range(4):
        voter = UserFactory(verified=True, date_joined=timezone.now() - timedelta(days=400 + 30 * number))
        ballot_cast(
            poll=poll,
            voter=voter,
            choices=[option_id],
            client_ip="192.0.2.10",
            client_fingerprint=fingerprint("family tablet"),
        )

    network = cluster_of(poll_signals(poll=poll), NETWORK, "192.0.2.0/24")

    assert network.voters == 4
    assert not network.flagged
    assert network.score < 0.6  # four voters are damped to 4/10 of their weighted sum
    assert network.top_ips[0].ip == "192.0.2.10"
    assert network.top_ips[0].ballots == 4


def test_signals_are_cached_until_the_next_ballot(poll, django_assert_max_num_queries):
    cast_farm(poll, size=12)
    first = cluster_of(poll_signals(poll=poll), NETWORK, FARM_NETWORK)

    with django_assert_max_num_queries(3):  # latest id and the fresh status counts
        assert cluster_of(poll_signals(poll=poll), NETWORK, FARM_NETWORK) == first
    cast_farm(poll, size=1)
    again = cluster_of(poll_signals(poll=poll), NETWORK, FARM_NETWORK)

    assert (first.ballots, again.ballots) == (12, 13)


def test_computing_signals_takes_a_fixed_number_of_queries(poll, django_assert_max_num_queries):
    cast_farm(poll, size=15)
    cast_clean_crowd(poll, size=20)

    with django_assert_max_num_queries(14):
        clusters = poll_signals(poll=poll)

    assert len(clusters) == 6  # the farm twice, four browsers


def test_busiest_window_counts_ten_whole_minute_buckets():
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    minutes = [
        (start + timedelta(minutes=offset), count) for offset, count in [(0, 5), (9, 5), (10, 7), (30, 1)]
    ]

    assert busiest_window(minutes, timedelta(minutes=10)) == 12  # 12:01-12:10 holds 5 + 7
    assert busiest_window(minutes, timedelta(minutes=10), inclusive=True) == 17


def test_score_is_damped_for_clusters_below_the_minimum_size():
    everything = {"new": 1.0, "signup": 1.0, "shared": 1.0, "burst": 1.0, "one_ip": 1.0}

    assert cluster_score(everything, voters=40) == 1.0
    assert cluster_score(everything, voters=5) == 0.5
    assert cluster_score(dict.fromkeys(everything, 0.0), voters=40) == 0.0


def test_reviewer_reads_the_signals_api_with_flagged_clusters_first(client, poll, reviewer):
    cast_clean_crowd(poll, size=20)
    cast_farm(poll, size=20)
    login_with_mfa(client, reviewer)

    response = client.get(f"{API}/polls/{poll.slug}/signals/")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    first = body["clusters"][0]
    assert first["flagged"] is True
    assert first["key"] in (FARM_NETWORK, FARM_FINGERPRINT)
    assert first["statuses"] == {"counted": 20, "quarantined": 0, "invalidated": 0}
    assert body["threshold"] == 0.6
    assert body["min_cluster_voters"] == 10
    assert not any(cluster["flagged"] for cluster in body["clusters"][2:])


def test_reviewer_sees_the_signals_page_with_every_number_as_text(client, agency, poll, reviewer):
    cast_farm(poll, size=12)
    login_with_mfa(client, reviewer)

    response = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/signals/")

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert FARM_NETWORK in page
    assert "Flagged" in page
    assert "<dd>12</dd>" in page


def test_signals_show_raw_addresses_so_analysts_and_reviewers_without_mfa_are_refused(
    client, agency, poll, analyst
):
    cast_farm(poll, size=12)
    no_mfa_manager = MembershipFactory(agency=agency, role="manager").user

    client.force_login(analyst)
    analyst_api = client.get(f"{API}/polls/{poll.slug}/signals/")
    analyst_page = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/signals/")
    client.force_login(no_mfa_manager)
    manager_api = client.get(f"{API}/polls/{poll.slug}/signals/")

    assert (analyst_api.status_code, analyst_api.json()["code"]) == (
        HTTPStatus.FORBIDDEN,
        "permission_denied",
    )
    assert analyst_page.status_code == HTTPStatus.FOUND
    assert FARM_NETWORK not in client.get(analyst_page["Location"]).content.decode()
    assert (manager_api.status_code, manager_api.json()["code"]) == (HTTPStatus.FORBIDDEN, "mfa_required")


def test_a_member_of_another_agency_gets_404_on_signals(client, poll):
    outsider = MembershipFactory(role="owner").user
    client.force_login(outsider)

    api = client.get(f"{API}/polls/{poll.slug}/signals/")
    page = client.get(f"/agency/{poll.agency.slug}/polls/{poll.slug}/signals/")

    assert api.status_code == HTTPStatus.NOT_FOUND
    assert api.json()["code"] == "not_found"
    assert page.status_code == HTTPStatus.NOT_FOUND


def test_signals_api_needs_a_signed_in_member(client, poll):
    response = client.get(f"{API}/polls/{poll.slug}/signals/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"
