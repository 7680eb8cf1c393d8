"""MFA is checked as used, not as enrolled: a member with an authenticator whose session
signed in with a password alone is refused every MFA-gated action (``mfa_not_used``),
through pages, the API with a session cookie and the API with an app's X-Session-Token;
the real allauth flows (password then TOTP, or an MFA reauthentication) open the gate.
Adding members needs a recent sign-in or reauthentication."""

import time
from http import HTTPStatus

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.errors import AgencyActionRefused
from accounts.models import Invitation
from polls.agency import lifecycle
from polls.models import PollState
from tests.factories import TEST_PASSWORD, DraftPollFactory, PollFactory, mfa_enable
from tests.helpers import AGENCY_API, login_just_now, post_json, session_token

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def schedule(client: Client, poll, **headers):
    return client.post(f"{AGENCY_API}/polls/{poll.slug}/schedule/", headers=headers)


@pytest.fixture
def draft(agency):
    return DraftPollFactory(agency=agency)


# ------------------------------------------------------------------ enrolled is not used


def test_a_password_only_session_of_a_member_with_totp_cannot_schedule(client, manager, draft):
    mfa_enable(manager)
    login_just_now(client, manager)

    response = schedule(client, draft)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_not_used"
    draft.refresh_from_db()
    assert draft.state == PollState.DRAFT


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("post", "schedule"),
        ("post", "close"),
        ("post", "cancel"),
        ("post", "publish"),
        ("get", "signals"),
        ("post", "invalidations"),
    ],
)
def test_every_mfa_gated_api_action_refuses_a_session_that_did_not_use_mfa(
    client, agency, manager, method, action
):
    poll = PollFactory(agency=agency)
    mfa_enable(manager)
    login_just_now(client, manager)
    payload = {"ballot_ids": [1], "status": "quarantined", "reason": "bot_network"}

    if method == "get":
        response = client.get(f"{AGENCY_API}/polls/{poll.slug}/{action}/")
    else:
        response = post_json(client, f"{AGENCY_API}/polls/{poll.slug}/{action}/", payload)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_not_used"


def test_services_refuse_a_user_object_that_no_session_marked(agency, manager, draft):
    mfa_enable(manager)

    with pytest.raises(AgencyActionRefused) as refusal:
        lifecycle.poll_schedule(poll=draft, actor=manager)

    assert refusal.value.code == "mfa_not_used"


def test_the_poll_page_links_a_password_only_session_to_the_mfa_reauthentication(client, manager, draft):
    mfa_enable(manager)
    login_just_now(client, manager)

    page = client.get(reverse("agency:polls:detail", args=[draft.agency.slug, draft.slug]))
    refused = client.post(reverse("agency:polls:schedule", args=[draft.agency.slug, draft.slug]), follow=True)

    assert reverse("mfa_reauthenticate") in page.content.decode()
    assert "authenticator app or security key" in refused.content.decode()
    draft.refresh_from_db()
    assert draft.state == PollState.DRAFT


# ------------------------------------------------------------------ the real allauth flows


def test_signing_in_with_password_and_totp_code_lets_a_manager_schedule(client, manager, draft):
    secret = mfa_enable(manager)

    login = client.post(reverse("account_login"), {"login": manager.email, "password": TEST_PASSWORD})
    assert login.status_code == HTTPStatus.FOUND
    assert login["Location"] == reverse("mfa_authenticate")
    assert schedule(client, draft).status_code == HTTPStatus.UNAUTHORIZED  # not signed in yet
    second = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert second.status_code == HTTPStatus.FOUND

    response = schedule(client, draft)

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["state"] == "scheduled"


def test_reauthenticating_with_totp_opens_the_gate_for_a_password_only_session(client, manager, draft):
    secret = mfa_enable(manager)
    login_just_now(client, manager)
    assert schedule(client, draft).json()["code"] == "mfa_not_used"

    client.post(reverse("mfa_reauthenticate"), {"code": totp_code(secret)})

    assert schedule(client, draft).status_code == HTTPStatus.OK


def test_an_app_session_that_passed_totp_may_schedule_with_its_token(client, manager, draft):
    secret = mfa_enable(manager)
    login = client.post(
        f"{APP}/auth/login",
        {"email": manager.email, "password": TEST_PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == HTTPStatus.UNAUTHORIZED  # the second factor is pending
    token = login.json()["meta"]["session_token"]
    second = client.post(
        f"{APP}/auth/2fa/authenticate",
        {"code": totp_code(secret)},
        content_type="application/json",
        headers={"X-Session-Token": token},
    )
    assert second.status_code == HTTPStatus.OK, second.json()
    token = second.json()["meta"].get("session_token", token)

    response = schedule(Client(), draft, **{"X-Session-Token": token})

    assert response.status_code == HTTPStatus.OK, response.json()


def test_an_app_token_of_a_session_without_mfa_is_refused_with_mfa_not_used(manager, draft):
    mfa_enable(manager)
    token = session_token(manager)

    response = schedule(Client(), draft, **{"X-Session-Token": token})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_not_used"


# ------------------------------------------------------------------ member changes need a recent sign-in


def invite(client, agency, email="new.member@example.com"):
    return client.post(reverse("agency:members", args=[agency.slug]), {"email": email, "role": "analyst"})


def age_sign_in(client: Client, seconds: float) -> None:
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{**r, "at": r["at"] - seconds} for r in records]
    session.save()


def test_inviting_from_a_session_signed_in_long_ago_asks_to_reauthenticate(client, agency, owner):
    login_just_now(client, owner)
    age_sign_in(client, 3600)

    response = invite(client, agency)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_inviting_after_a_password_reauthentication_works(client, agency, owner):
    login_just_now(client, owner)
    age_sign_in(client, 3600)

    reauth = client.post(reverse("account_reauthenticate"), {"password": TEST_PASSWORD})
    response = invite(client, agency)

    assert reauth.status_code == HTTPStatus.FOUND
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("agency:members", args=[agency.slug])
    assert Invitation.objects.filter(email="new.member@example.com").exists()


def test_the_invitation_service_refuses_without_a_recent_authentication(agency, owner):
    with pytest.raises(AgencyActionRefused) as refusal:
        services.invitation_create(agency=agency, inviter=owner, email="x@example.com", role="analyst")

    assert refusal.value.code == "reauthentication_required"
    assert not Invitation.objects.exists()
