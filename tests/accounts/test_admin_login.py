"""Operators sign in to /admin/ through allauth (its rate limits, its MFA stage), never
through Django's own admin login form, and use the admin only from a session that
passed MFA."""

import time
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory, mfa_enable
from tests.helpers import login_just_now, login_with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return UserFactory(verified=True, is_staff=True, is_superuser=True)


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_the_admin_login_page_sends_visitors_to_allauths_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == HTTPStatus.FOUND
    assert urlsplit(response["Location"]).path == reverse("account_login")
    assert "next=%2Fadmin%2F" in response["Location"]


def test_the_admin_login_form_does_not_take_a_password(client, operator):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": operator.email, "password": TEST_PASSWORD}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert urlsplit(response["Location"]).path == reverse("account_login")
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


def test_an_operator_signs_in_with_password_and_totp_through_allauth(client, operator):
    secret = mfa_enable(operator)
    sign_in = client.get("/admin/", follow=True).redirect_chain[-1][0]
    assert urlsplit(sign_in).path == reverse("account_login")

    password = client.post(sign_in, {"login": operator.email, "password": TEST_PASSWORD})
    assert password["Location"] == reverse("mfa_authenticate")
    assert client.get("/admin/").status_code == HTTPStatus.FOUND  # not in yet
    second = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})

    assert second["Location"] == "/admin/"
    assert client.get("/admin/").status_code == HTTPStatus.OK


def test_an_operator_whose_session_did_not_use_mfa_is_sent_to_confirm_it(client, operator):
    mfa_enable(operator)
    login_just_now(client, operator)

    page = client.get("/admin/accounts/user/")
    login = client.get(page["Location"])

    assert page.status_code == HTTPStatus.FOUND
    assert urlsplit(page["Location"]).path == "/admin/login/"
    assert login.status_code == HTTPStatus.FOUND
    assert urlsplit(login["Location"]).path == reverse("mfa_reauthenticate")
    assert "next=%2Fadmin%2Faccounts%2Fuser%2F" in login["Location"]


def test_an_operator_without_mfa_is_sent_to_turn_it_on(client, operator):
    login_just_now(client, operator)

    login = client.get("/admin/login/?next=/admin/")

    assert client.get("/admin/").status_code == HTTPStatus.FOUND
    assert login["Location"] == reverse("mfa_index")


def test_confirming_the_second_factor_opens_the_admin(client, operator):
    secret = mfa_enable(operator)
    login_just_now(client, operator)

    confirm = client.post(f"{reverse('mfa_reauthenticate')}?next=/admin/", {"code": totp_code(secret)})

    assert confirm["Location"] == "/admin/"
    assert client.get("/admin/").status_code == HTTPStatus.OK


def test_a_signed_in_fan_is_refused_the_admin(client):
    login_with_mfa(client, UserFactory(verified=True))

    assert client.get("/admin/login/").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


def test_admin_sign_in_keeps_allauths_failed_login_limit(client, operator, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "2/m/ip"}
    sign_in = client.get("/admin/login/?next=/admin/")["Location"]

    answers = [client.post(sign_in, {"login": operator.email, "password": "wrong-guess"}) for _ in range(3)]

    assert "Too many failed login attempts" not in answers[0].content.decode()
    assert "Too many failed login attempts" in answers[-1].content.decode()
