"""The same account flows for app clients: allauth's headless API and X-Session-Token."""

import re
from http import HTTPStatus
from urllib.parse import unquote

import pytest
from django.core import mail

from accounts.models import User
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"
PASSWORD = "a-long-app-passphrase-2026"


def post(client, path, payload, token=None):
    headers = {"X-Session-Token": token} if token else {}
    return client.post(f"{APP}{path}", payload, content_type="application/json", headers=headers)


def confirmation_key_in_last_mail() -> str:
    match = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return unquote(match.group(1))


def test_app_signup_verify_and_call_the_api_with_the_session_token(client):
    response = post(client, "/auth/signup", {"email": "app.fan@example.com", "password": PASSWORD})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = response.json()
    pending = [flow["id"] for flow in body["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]
    token = body["meta"]["session_token"]

    response = post(client, "/auth/email/verify", {"key": confirmation_key_in_last_mail()}, token=token)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["meta"]["is_authenticated"] is True
    token = response.json()["meta"].get("session_token", token)

    me = client.get("/api/v1/me/", headers={"X-Session-Token": token})
    assert me.status_code == HTTPStatus.OK
    assert me.json()["email"] == "app.fan@example.com"
    assert me.json()["verification_level"] == "email"


def test_app_login_of_an_unverified_account_stays_pending_verification(client):
    UserFactory(email="pending@example.com", verified=False)

    response = post(client, "/auth/login", {"email": "pending@example.com", "password": TEST_PASSWORD})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    pending = [flow["id"] for flow in response.json()["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]
    token = response.json()["meta"]["session_token"]
    assert (
        client.get("/api/v1/me/", headers={"X-Session-Token": token}).status_code == HTTPStatus.UNAUTHORIZED
    )


def test_app_login_of_a_verified_account_gets_a_working_token(client):
    UserFactory(email="ok@example.com", verified=True)

    response = post(client, "/auth/login", {"email": "ok@example.com", "password": TEST_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    token = response.json()["meta"]["session_token"]
    assert client.get("/api/v1/me/", headers={"X-Session-Token": token}).json()["email"] == "ok@example.com"


def test_app_signup_with_a_disposable_domain_is_refused(client):
    response = post(client, "/auth/signup", {"email": "bot@guerrillamail.com", "password": PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    errors = response.json()["errors"]
    assert errors[0]["param"] == "email"
    assert "disposable" in errors[0]["message"]
    assert not User.objects.filter(email="bot@guerrillamail.com").exists()


def test_app_signup_with_a_taken_email_creates_no_second_account(client):
    UserFactory(email="taken@example.com", verified=True)

    response = post(client, "/auth/signup", {"email": "taken@example.com", "password": PASSWORD})

    # Same pending-verification answer as for a new address: no account enumeration.
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert mail.outbox[-1].to == ["taken@example.com"]


def test_api_without_credentials_answers_401_with_a_stable_code(client):
    response = client.get("/api/v1/me/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"


def test_api_with_a_bogus_session_token_answers_401(client):
    response = client.get("/api/v1/me/", headers={"X-Session-Token": "not-a-token"})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"
