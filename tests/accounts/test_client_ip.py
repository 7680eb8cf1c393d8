"""The client address comes from the socket unless a trusted proxy relayed the request."""

import pytest
from django.test import RequestFactory

from accounts.client_ip import client_ip_from, network_of
from accounts.middleware import ClientIPMiddleware

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48")


def test_spoofed_forwarded_for_from_an_untrusted_client_is_ignored():
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}

    assert client_ip_from(meta, PROXIES) == "203.0.113.9"


def test_forwarded_for_through_a_trusted_proxy_names_the_client():
    meta = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}

    assert client_ip_from(meta, PROXIES) == "198.51.100.7"


def test_a_client_cannot_prepend_its_own_choice_through_a_trusted_proxy():
    # The client sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the real peer.
    meta = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"}

    assert client_ip_from(meta, PROXIES) == "198.51.100.7"


def test_chains_of_trusted_proxies_are_walked_right_to_left():
    meta = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7, 10.9.9.9"}

    assert client_ip_from(meta, PROXIES) == "198.51.100.7"


def test_garbage_in_the_chain_stops_at_the_last_trusted_hop():
    meta = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "198.51.100.7, not-an-ip"}

    assert client_ip_from(meta, PROXIES) == "10.1.2.3"


def test_ipv6_clients_and_ipv4_mapped_addresses():
    assert client_ip_from({"REMOTE_ADDR": "2001:db8::1"}, ()) == "2001:db8::1"
    assert client_ip_from({"REMOTE_ADDR": "::ffff:192.0.2.5"}, ()) == "192.0.2.5"
    meta = {"REMOTE_ADDR": "2001:db8:ffff::1", "HTTP_X_FORWARDED_FOR": "[2001:db8:1::5]:443"}
    assert client_ip_from(meta, PROXIES) == "2001:db8:1::5"


@pytest.mark.parametrize(
    ("ip", "network"),
    [("203.0.113.9", "203.0.113.0/24"), ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")],
)
def test_network_of_groups_by_24_and_64(ip, network):
    assert network_of(ip) == network


def test_middleware_sets_client_ip_from_settings(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")

    ClientIPMiddleware(lambda r: None)(request)

    assert request.client_ip == "198.51.100.1"
