"""Account features switched on by configuration: MFA, social providers, admin, and
allauth counting the same client address as Encore does."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import login_with_mfa
from voting.bot_friction import form_stamp
from voting.environment import social_providers_from_env

pytestmark = pytest.mark.django_db


def test_mfa_offers_authenticator_apps_security_keys_and_recovery_codes(client):
    client.force_login(UserFactory(verified=True))

    page = client.get(reverse("mfa_index"))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert reverse("mfa_activate_totp") in html
    assert reverse("mfa_list_webauthn") in html or reverse("mfa_add_webauthn") in html
    assert reverse("mfa_view_recovery_codes") in html or "recovery" in html.lower()


def test_social_providers_are_on_only_when_configured():
    environ = {
        "SOCIAL_GOOGLE_CLIENT_ID": "g-id",
        "SOCIAL_GOOGLE_SECRET": "g-secret",
        "SOCIAL_KAKAO_CLIENT_ID": "k-id",  # no secret: stays off
        "SOCIAL_APPLE_CLIENT_ID": "a-id",
        "SOCIAL_APPLE_SECRET": "key-id",
        "SOCIAL_APPLE_KEY": "team",
        "SOCIAL_APPLE_CERTIFICATE_KEY": "-----BEGIN PRIVATE KEY-----",
    }

    providers = social_providers_from_env(environ)

    assert set(providers) == {"google", "apple"}
    assert providers["google"]["APPS"][0]["client_id"] == "g-id"
    assert providers["apple"]["APPS"][0]["settings"]["certificate_key"].startswith("-----BEGIN")
    assert social_providers_from_env({}) == {}


def test_operators_manage_users_and_agencies_in_the_admin(client):
    operator = UserFactory(verified=True, is_staff=True, is_superuser=True)
    UserFactory(verified=False, email="pending@example.com")
    login_with_mfa(client, operator)  # the admin needs a session that used MFA

    users = client.get("/admin/accounts/user/")

    assert users.status_code == HTTPStatus.OK
    assert "Not verified" in users.content.decode()  # unverified accounts are marked
    assert client.get("/admin/accounts/agency/").status_code == HTTPStatus.OK
    assert client.get("/admin/accounts/auditlogentry/add/").status_code == HTTPStatus.FORBIDDEN


def sign_up(client, email, **headers):
    data = {"email": email, "password1": "long-passphrase-2026", "password2": "long-passphrase-2026"}
    return client.post(reverse("account_signup"), {**data, "shown_at": form_stamp()}, **headers)


def test_allauth_limits_count_the_client_behind_our_proxy_not_the_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}

    first_client = [
        sign_up(client, f"a{n}@example.com", HTTP_X_FORWARDED_FOR="198.51.100.1") for n in range(3)
    ]
    client.logout()
    second_client = sign_up(client, "b0@example.com", HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert [r.status_code for r in first_client] == [
        HTTPStatus.FOUND,
        HTTPStatus.FOUND,
        HTTPStatus.TOO_MANY_REQUESTS,
    ]
    assert second_client.status_code == HTTPStatus.FOUND


def test_a_spoofed_forwarded_for_does_not_escape_allauths_limits(client, settings):
    settings.TRUSTED_PROXIES = []  # the socket peer is the client
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}

    statuses = [
        sign_up(client, f"s{n}@example.com", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]

    assert statuses == [HTTPStatus.FOUND, HTTPStatus.FOUND, HTTPStatus.TOO_MANY_REQUESTS]
