"""Fans' data rights: download everything Encore holds about me; delete my account
(ballots stay, pseudonymous: no count, result or bulletin-board byte changes)."""

import json
import threading
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.db import connection
from django.test import Client

from accounts.data_rights import account_delete
from accounts.models import AuditLogEntry, Membership, User
from polls.models import Ballot, IdempotentAnswer
from polls.receipts import receipt_hash
from polls.recount import recount
from polls.services import ballot_cast
from polls.tally import live_results, tally_refresh
from tests.factories import TEST_PASSWORD, MembershipFactory, PollFactory, UserFactory, mfa_enable
from tests.helpers import AGENCY_API, close, login_with_mfa, option_ids, post_json
from voting.errors import DomainError

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"
FINGERPRINT = "f" * 64


def app_login(user) -> str:
    """Sign in as an app does (allauth headless): a real session, recorded with its IP."""
    response = Client().post(
        f"{APP}/auth/login",
        {"email": user.email, "password": TEST_PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="198.51.100.23",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()["meta"]["session_token"]


def cast(poll, voter, option=0, ip="203.0.113.9", key=None) -> str:
    answer = ballot_cast(
        poll=poll,
        voter=voter,
        choices=[option_ids(poll)[option]],
        client_ip=ip,
        client_fingerprint=FINGERPRINT,
        idempotency_key=key,
    )
    return answer.body["receipt"]


def delete_account(client, token, password=TEST_PASSWORD):
    return client.delete(
        "/api/v1/me/",
        {"password": password},
        content_type="application/json",
        headers={"X-Session-Token": token},
    )


@pytest.fixture
def fan(db):
    fan = UserFactory(
        verified=True, email="mina@example.com", display_name="Mina", phone_number="+821012345678"
    )
    SocialAccount.objects.create(user=fan, provider="google", uid="g-123", extra_data={"name": "Mina"})
    return fan


# ------------------------------------------------------------------ download


def test_fan_downloads_everything_encore_holds_but_never_a_receipt_code(client, fan):
    poll = PollFactory(title="Next tour stop")
    receipt = cast(poll, fan, option=1)
    token = app_login(fan)
    mfa_enable(fan)  # after signing in: with it, the sign-in would wait for a code

    response = client.get("/api/v1/me/data/", headers={"X-Session-Token": token})

    assert response.status_code == HTTPStatus.OK
    data = response.json()
    assert data["account"]["email"] == "mina@example.com"
    assert data["account"]["display_name"] == "Mina"
    assert data["preferences"]["time_zone"] == "UTC"
    assert data["email_addresses"] == [{"email": "mina@example.com", "verified": True, "primary": True}]
    assert [session["ip"] for session in data["sessions"]] == ["198.51.100.23"]
    assert [authenticator["type"] for authenticator in data["mfa"]] == ["totp"]
    assert [social["uid"] for social in data["social_accounts"]] == ["g-123"]
    [ballot] = data["ballots"]
    assert ballot["poll"] == poll.slug
    assert ballot["status"] == "counted"
    assert [choice["label"] for choice in ballot["choices"]] == ["Tokyo"]
    assert ballot["receipt_hash"] == receipt_hash(receipt)
    assert ballot["client_ip"] == "203.0.113.9"
    # The code itself is nowhere: Encore keeps only its hash.
    assert receipt not in response.content.decode()
    assert receipt.replace("-", "") not in response.content.decode()


def test_data_page_shows_the_data_and_offers_the_json_download(client, fan):
    poll = PollFactory(title="Next tour stop")
    cast(poll, fan)
    client.force_login(fan)

    page = client.get("/accounts/data/")
    download = client.get("/accounts/data/download/")

    assert page.status_code == HTTPStatus.OK
    assert "mina@example.com" in page.content.decode()
    assert "Next tour stop" in page.content.decode()
    assert download.status_code == HTTPStatus.OK
    assert download["Content-Disposition"].startswith("attachment")
    assert json.loads(download.content)["ballots"][0]["poll"] == poll.slug


def test_data_needs_a_signed_in_fan(client):
    response = client.get("/api/v1/me/data/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"


def test_data_download_is_rate_limited(client, fan, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "personal_data": [("account", "2/h")]}
    token = app_login(fan)

    answers = [client.get("/api/v1/me/data/", headers={"X-Session-Token": token}) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [HTTPStatus.OK, HTTPStatus.OK]
    assert answers[2].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert answers[2].json()["code"] == "rate_limited"
    assert "Retry-After" in answers[2]


# ------------------------------------------------------------------ deletion


def test_wrong_password_deletes_nothing_and_answers_403_invalid_password(client, fan):
    poll = PollFactory()
    cast(poll, fan)
    token = app_login(fan)

    response = delete_account(client, token, password="not-my-password")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "invalid_password"
    fan.refresh_from_db()
    assert (fan.email, fan.is_active, fan.deleted_at) == ("mina@example.com", True, None)
    assert EmailAddress.objects.filter(user=fan).exists()
    assert Ballot.objects.get(voter=fan).client_ip == "203.0.113.9"
    assert client.get("/api/v1/me/", headers={"X-Session-Token": token}).status_code == HTTPStatus.OK


def test_deletion_without_a_password_field_is_a_400(client, fan):
    token = app_login(fan)

    response = client.delete(
        "/api/v1/me/", {}, content_type="application/json", headers={"X-Session-Token": token}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert User.objects.get(pk=fan.pk).deleted_at is None


def test_deletion_removes_personal_data_and_keeps_ballots_pseudonymous(client, fan):
    poll = PollFactory()
    cast(poll, fan, key="retry-key")
    token = app_login(fan)
    mfa_enable(fan)

    response = delete_account(client, token)

    assert response.status_code == HTTPStatus.NO_CONTENT
    tombstone = User.objects.get(pk=fan.pk)
    assert tombstone.email == f"deleted-{fan.pk}@deleted.invalid"
    assert (tombstone.display_name, tombstone.phone_number, str(tombstone.country)) == ("", "", "")
    assert tombstone.is_active is False
    assert tombstone.has_usable_password() is False
    assert tombstone.deleted_at is not None
    assert str(tombstone) == "deleted account"
    assert not EmailAddress.objects.filter(user=fan).exists()
    assert not Authenticator.objects.filter(user=fan).exists()
    assert not SocialAccount.objects.filter(user=fan).exists()
    assert not UserSession.objects.filter(user=fan).exists()
    assert not IdempotentAnswer.objects.filter(voter=fan).exists()
    ballot = Ballot.objects.get(voter=fan)
    assert (ballot.client_ip, ballot.client_fingerprint) == (None, "")
    assert ballot.status == "counted"
    # Every session is over: the app's token no longer works, the password neither.
    assert (
        client.get("/api/v1/me/", headers={"X-Session-Token": token}).status_code == HTTPStatus.UNAUTHORIZED
    )
    login = Client().post(
        f"{APP}/auth/login",
        {"email": "mina@example.com", "password": TEST_PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == HTTPStatus.BAD_REQUEST
    # The address is free again: the person may come back with a new account.
    UserFactory(email="mina@example.com")


def test_deletion_changes_no_count_no_published_result_and_no_board_byte(client, fan, manager):
    published, still_open = PollFactory(agency=manager.memberships.get().agency), PollFactory()
    crowd = [UserFactory(verified=True) for _ in range(3)]
    for number, voter in enumerate([fan, *crowd]):
        cast(published, voter, option=number % 3)
        cast(still_open, voter, option=number % 2)
    tally_refresh(poll=still_open)
    close(published)
    manager_client = login_with_mfa(Client(), manager)
    assert (
        post_json(manager_client, f"{AGENCY_API}/polls/{published.slug}/publish/").status_code
        == HTTPStatus.OK
    )
    board = client.get(f"/api/v1/polls/{published.slug}/bulletin/")
    results = client.get(f"/api/v1/polls/{published.slug}/results/").json()
    live = live_results(poll=still_open)

    assert delete_account(client, app_login(fan)).status_code == HTTPStatus.NO_CONTENT

    board_after = client.get(f"/api/v1/polls/{published.slug}/bulletin/")
    assert board_after.content == board.content
    assert board_after["X-Content-SHA256"] == board["X-Content-SHA256"] == results["digest"]
    assert client.get(f"/api/v1/polls/{published.slug}/results/").json() == results
    assert recount(board_after.content, results=results, out=lambda line: None)
    tally_refresh(poll=still_open)
    assert {key: value for key, value in live_results(poll=still_open).items() if key != "updated_at"} == {
        key: value for key, value in live.items() if key != "updated_at"
    }
    assert Ballot.objects.filter(voter=fan).count() == 2


def test_audit_entries_keep_a_tombstone_actor_shown_as_deleted_account(client, agency, owner):
    staff = MembershipFactory(agency=agency, role="manager", user=UserFactory(verified=True)).user
    AuditLogEntry.objects.create(
        agency=agency, actor=staff, action="member.join", after={"email": staff.email}, ip_address="192.0.2.7"
    )
    staff_email = staff.email

    assert delete_account(client, app_login(staff)).status_code == HTTPStatus.NO_CONTENT

    entry = AuditLogEntry.objects.get(action="member.join")
    assert entry.actor_id == staff.pk
    assert entry.ip_address is None
    assert staff_email not in json.dumps(entry.after)
    assert not Membership.objects.filter(user_id=staff.pk).exists()
    client.force_login(owner)
    [row] = client.get(f"{AGENCY_API}/agencies/{agency.slug}/audit/").json()["results"]
    assert row["actor"] == "deleted account"
    assert "deleted account" in client.get(f"/agency/{agency.slug}/audit/").content.decode()


def test_the_last_owner_of_an_agency_cannot_delete_the_account(client, owner):
    response = delete_account(client, app_login(owner))

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "last_owner"
    assert User.objects.get(pk=owner.pk).deleted_at is None


def test_deletion_is_rate_limited(client, fan, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "account_write": [("account", "2/h")]}
    token = app_login(fan)

    codes = [delete_account(client, token, password="wrong").status_code for _ in range(3)]

    assert codes == [HTTPStatus.FORBIDDEN, HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS]
    assert User.objects.get(pk=fan.pk).deleted_at is None


def test_delete_page_asks_for_the_password_again_and_needs_the_csrf_token(fan):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(fan)
    form = browser.get("/accounts/delete/")
    assert form.status_code == HTTPStatus.OK
    csrf = form.cookies["csrftoken"].value

    forged = browser.post("/accounts/delete/", {"password": TEST_PASSWORD})
    wrong = browser.post("/accounts/delete/", {"password": "nope", "csrfmiddlewaretoken": csrf})
    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert wrong.status_code == HTTPStatus.FORBIDDEN
    assert User.objects.get(pk=fan.pk).deleted_at is None

    done = browser.post("/accounts/delete/", {"password": TEST_PASSWORD, "csrfmiddlewaretoken": csrf})

    assert done.status_code == HTTPStatus.FOUND
    assert User.objects.get(pk=fan.pk).deleted_at is not None
    assert browser.get("/accounts/data/").status_code == HTTPStatus.FOUND  # signed out: to the login page


@pytest.mark.django_db(transaction=True)
def test_two_owners_deleting_at_once_leave_the_agency_one_owner(agency):
    owners = [MembershipFactory(agency=agency, role="owner").user for _ in range(2)]
    barrier = threading.Barrier(len(owners))
    outcomes = []

    def delete(owner):
        try:
            barrier.wait()
            account_delete(user=User.objects.get(pk=owner.pk), password=TEST_PASSWORD)
            outcomes.append("deleted")
        except DomainError as refusal:
            outcomes.append(refusal.code.value)
        finally:
            connection.close()

    threads = [threading.Thread(target=delete, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["deleted", "last_owner"]
    assert Membership.objects.filter(agency=agency, role="owner").count() == 1
