"""With a GeoIP database, fraud signals count per cluster the voters whose declared
country is not the country of the network they voted from."""

import importlib.util
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from accounts.models import User
from polls.agency.fraud_signals import FINGERPRINT, NETWORK, poll_signals
from tests.factories import MembershipFactory
from tests.helpers import AGENCY_API as API
from tests.helpers import FARM_FINGERPRINT, FARM_NETWORK, cast_clean_crowd, cast_farm, login_with_mfa
from voting.geoip import country_lookup

pytestmark = pytest.mark.django_db

NETWORKS_CSV = """network,country
# the farm's /24 is in Japan; a wider block around it in Korea
203.0.0.0/8,KR
203.0.113.0/24,JP
198.18.0.0/15,KR
2001:db8::/32,DE
"""


@pytest.fixture
def geoip(settings, tmp_path):
    path = tmp_path / "networks.csv"
    path.write_text(NETWORKS_CSV)
    settings.GEOIP_COUNTRY_DB = str(path)
    return path


def cluster_of(clusters, kind: str, key: str):
    return next(cluster for cluster in clusters if cluster.kind == kind and cluster.key == key)


def declare(ballots, country: str) -> None:
    User.objects.filter(pk__in=[ballot.voter_id for ballot in ballots]).update(country=country)


def test_voters_declaring_another_country_than_their_networks_are_counted_per_cluster(poll, geoip):
    farm = cast_farm(poll, size=12)
    declare(farm[:9], "KR")  # a blocked fan's favourite lie
    declare(farm[9:11], "JP")  # honest
    # farm[11] declared nothing: not counted either way

    clusters = poll_signals(poll=poll)

    assert cluster_of(clusters, NETWORK, FARM_NETWORK).country_mismatch == 9
    assert cluster_of(clusters, FINGERPRINT, FARM_FINGERPRINT).country_mismatch == 9


def test_a_crowd_declaring_its_networks_country_shows_no_mismatch(poll, geoip):
    declare(cast_clean_crowd(poll, size=12), "KR")

    clusters = poll_signals(poll=poll)

    assert clusters and all(cluster.country_mismatch == 0 for cluster in clusters)


def test_without_a_geoip_database_the_figure_is_absent(poll, settings):
    settings.GEOIP_COUNTRY_DB = ""
    declare(cast_farm(poll, size=12), "KR")

    assert all(cluster.country_mismatch is None for cluster in poll_signals(poll=poll))


def test_the_signal_does_not_change_the_score(poll, settings, geoip):
    farm = cast_farm(poll, size=12)
    declare(farm, "KR")
    with_geoip = cluster_of(poll_signals(poll=poll), NETWORK, FARM_NETWORK)
    settings.GEOIP_COUNTRY_DB = ""
    cache.clear()  # signals are cached per poll and latest ballot
    without = cluster_of(poll_signals(poll=poll), NETWORK, FARM_NETWORK)

    assert with_geoip.score == without.score


def test_reviewers_read_the_figure_in_the_api_and_on_the_page(client, agency, poll, geoip):
    declare(cast_farm(poll, size=12), "KR")
    reviewer = MembershipFactory(agency=agency, role="manager").user
    login_with_mfa(client, reviewer)

    body = client.get(f"{API}/polls/{poll.slug}/signals/").json()
    page = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/signals/")

    network = next(c for c in body["clusters"] if c["key"] == FARM_NETWORK)
    assert network["country_mismatch"] == 12
    assert page.status_code == HTTPStatus.OK
    assert "declared country is not their network" in page.content.decode()


def test_csv_lookup_takes_the_longest_matching_network(geoip):
    lookup = country_lookup()

    assert lookup.country_of("203.0.113.9") == "JP"
    assert lookup.country_of("203.0.114.9") == "KR"
    assert lookup.country_of("203.0.113.0/24") == "JP"
    assert lookup.country_of("2001:db8:1:2::/64") == "DE"
    assert lookup.country_of("192.0.2.1") == ""
    assert lookup.country_of("not an address") == ""


def test_a_malformed_csv_is_a_configuration_error(settings, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("203.0.113.0/24,Japan\n")
    settings.GEOIP_COUNTRY_DB = str(path)

    with pytest.raises(ImproperlyConfigured, match="line 1"):
        country_lookup()


def test_a_missing_file_is_a_configuration_error(settings, tmp_path):
    settings.GEOIP_COUNTRY_DB = str(tmp_path / "absent.mmdb")

    with pytest.raises(ImproperlyConfigured, match="no such file"):
        country_lookup()


@pytest.mark.skipif(importlib.util.find_spec("maxminddb") is not None, reason="maxminddb is installed")
def test_a_maxmind_database_without_its_reader_says_what_to_install(settings, tmp_path):
    path = tmp_path / "GeoLite2-Country.mmdb"
    path.write_bytes(b"\xab\xcd\xefMaxMind.com")
    settings.GEOIP_COUNTRY_DB = str(path)

    with pytest.raises(ImproperlyConfigured, match="install geoip2"):
        country_lookup()
