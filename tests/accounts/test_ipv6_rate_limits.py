"""allauth's sign-up and login limits count an IPv6 client per /64, not per address:
one /64 is 2^64 addresses, so a per-address bucket is no limit at all."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory
from tests.helpers import FAN_PASSWORD as PASSWORD
from voting.bot_friction import form_stamp

pytestmark = pytest.mark.django_db

# Two addresses in one /64, and one in the next /64.
SAME_NETWORK = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"]
OTHER_NETWORK = "2001:db8:1:3::1"
WRONG_PASSWORD = "not-the-password"


def sign_up(client, email: str, remote_addr: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD, "shown_at": form_stamp()},
        REMOTE_ADDR=remote_addr,
    )


def failed_login(client, remote_addr: str, password: str = WRONG_PASSWORD):
    return client.post(
        reverse("account_login"),
        {"login": "fan@example.com", "password": password},
        REMOTE_ADDR=remote_addr,
    )


def test_two_signups_from_one_ipv6_64_share_one_bucket(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "1/m/ip"}

    first = sign_up(client, "first@example.com", SAME_NETWORK[0])
    client.logout()
    second = sign_up(client, "second@example.com", SAME_NETWORK[1])
    client.logout()
    elsewhere = sign_up(client, "third@example.com", OTHER_NETWORK)

    assert first.status_code == HTTPStatus.FOUND
    assert second.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.FOUND


def test_login_failures_from_one_ipv6_64_share_one_bucket(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "1/m/ip"}
    UserFactory(email="fan@example.com", verified=True)

    failed_login(client, SAME_NETWORK[0])
    # The right password from a neighbour in the /64 is refused: the bucket is spent.
    neighbour = failed_login(client, SAME_NETWORK[1], password=TEST_PASSWORD)
    elsewhere = failed_login(client, OTHER_NETWORK, password=TEST_PASSWORD)

    assert not neighbour.context["user"].is_authenticated
    assert "too many failed login attempts" in str(neighbour.context["form"].errors).lower()
    assert elsewhere.status_code == HTTPStatus.FOUND


def test_login_attempts_from_one_ipv6_64_share_one_bucket(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "1/m/ip"}

    first = failed_login(client, SAME_NETWORK[0])
    second = failed_login(client, SAME_NETWORK[1])
    elsewhere = failed_login(client, OTHER_NETWORK)

    assert first.status_code == HTTPStatus.OK
    assert second.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert elsewhere.status_code == HTTPStatus.OK


def test_ipv4_clients_keep_a_bucket_per_address(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "1/m/ip"}

    first = sign_up(client, "v4a@example.com", "198.51.100.1")
    client.logout()
    neighbour = sign_up(client, "v4b@example.com", "198.51.100.2")

    assert first.status_code == neighbour.status_code == HTTPStatus.FOUND
