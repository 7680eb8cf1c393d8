"""Agency API tokens: made and revoked by owners with MFA, stored hashed, shown once,
expiring, scoped, bound to one agency, rate limited, audited, documented in OpenAPI;
never a credential for pages, fans' endpoints or a person's business."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import api_tokens
from accounts.errors import AgencyActionRefused
from accounts.models import AgencyApiToken, AuditLogEntry, Membership
from polls.models import Ballot, Poll
from tests.factories import AgencyFactory, DraftPollFactory, MembershipFactory, PollFactory, mfa_enable
from tests.helpers import AGENCY_API as API
from tests.helpers import (
    agency_token,
    login_just_now,
    login_with_mfa,
    option_ids,
    patch_json,
    post_json,
    session_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def make_token(agency, owner, scope="read", **kwargs) -> str:
    if not kwargs:
        return agency_token(agency, scope=scope, owner=owner)
    _api_token, token = api_tokens.api_token_create(
        agency=agency, actor=session_user(owner, mfa=True), name=f"{scope} dashboard", scope=scope, **kwargs
    )
    return token


def bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def poll_payload(agency) -> dict:
    now = timezone.now()
    return {
        "agency": agency.slug,
        "title": "Made by a script",
        "kind": "city",
        "opens_at": (now + timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=8)).isoformat(),
    }


# ------------------------------------------------------------------ making and keeping tokens


def test_owner_makes_a_token_shown_once_and_stored_only_as_its_hash(client, agency, owner):
    login_with_mfa(client, owner)

    response = post_json(client, f"{API}/agencies/{agency.slug}/tokens/", {"name": "BI", "scope": "read"})

    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert response["Cache-Control"] == "no-store"
    token = response.json()["token"]
    assert token.startswith(response.json()["prefix"]) and len(token) > 50
    stored = AgencyApiToken.objects.get()
    assert stored.secret_hash == api_tokens.secret_hash(token)
    # The token appears in no column of any table: the database holds its hash alone.
    with connection.cursor() as cursor:
        rows = []
        for table in ("accounts_agencyapitoken", "accounts_auditlogentry"):
            cursor.execute(f"SELECT * FROM {table}")
            rows += cursor.fetchall()
    assert rows and all(token not in str(row) for row in rows)
    listed = client.get(f"{API}/agencies/{agency.slug}/tokens/").json()
    assert [row["prefix"] for row in listed] == [stored.prefix]
    assert "token" not in listed[0]
    entry = AuditLogEntry.objects.get(action="api_token.create")
    assert entry.actor == owner
    assert entry.after["scope"] == "read"


def test_token_lifetime_has_a_default_and_a_maximum(agency, owner, settings):
    settings.AGENCY_TOKEN_DEFAULT_DAYS, settings.AGENCY_TOKEN_MAX_DAYS = 30, 60
    make_token(agency, owner)
    api_token = AgencyApiToken.objects.get()
    assert api_token.expires_at - api_token.created_at == timedelta(days=30)

    with pytest.raises(AgencyActionRefused) as refusal:
        make_token(agency, owner, lifetime_days=61)
    assert refusal.value.code == "invalid"


@pytest.mark.parametrize("how", ["analyst", "manager", "owner_without_mfa_used", "owner_not_recent"])
def test_only_an_owner_with_mfa_and_a_recent_sign_in_makes_tokens(client, agency, owner, how):
    if how in ("analyst", "manager"):
        login_with_mfa(client, MembershipFactory(agency=agency, role=how).user)
    elif how == "owner_without_mfa_used":
        mfa_enable(owner)
        login_just_now(client, owner)
    else:
        login_with_mfa(client, owner)

    later = timezone.now() + timedelta(minutes=30 if how == "owner_not_recent" else 0)
    with time_machine.travel(later):
        response = post_json(client, f"{API}/agencies/{agency.slug}/tokens/", {"name": "x", "scope": "write"})

    expected = {
        "analyst": "permission_denied",
        "manager": "permission_denied",
        "owner_without_mfa_used": "mfa_not_used",
        "owner_not_recent": "reauthentication_required",
    }[how]
    assert (response.status_code, response.json()["code"]) == (HTTPStatus.FORBIDDEN, expected)
    assert not AgencyApiToken.objects.exists()


def test_owner_makes_and_revokes_tokens_on_the_tokens_page(client, agency, owner):
    login_with_mfa(client, owner)
    page = reverse("agency:tokens", args=[agency.slug])

    made = client.post(page, {"name": "Dashboard", "scope": "read", "lifetime_days": "30"})

    assert made.status_code == HTTPStatus.OK
    assert made["Cache-Control"].startswith("max-age=0")
    api_token = AgencyApiToken.objects.get()
    shown = made.content.decode()
    token = next(word for word in shown.split('"') if word.startswith(api_token.prefix + "_"))
    assert api_tokens.secret_hash(token) == api_token.secret_hash
    assert token not in client.get(page).content.decode()  # shown once

    revoked = client.post(reverse("agency:token_revoke", args=[agency.slug, api_token.pk]))

    assert revoked.status_code == HTTPStatus.FOUND
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    assert AuditLogEntry.objects.get(action="api_token.revoke").actor == owner


def test_tokens_page_is_for_owners(client, agency, manager):
    client.force_login(manager)

    assert client.get(reverse("agency:tokens", args=[agency.slug])).status_code == HTTPStatus.FORBIDDEN


# ------------------------------------------------------------------ using them


def test_read_token_reads_its_agencys_polls_and_turnout(agency, owner):
    poll = PollFactory(agency=agency)
    PollFactory()  # another agency's
    token_client = bearer(make_token(agency, owner))

    listed = token_client.get(f"{API}/polls/")
    stats = token_client.get(f"{API}/polls/{poll.slug}/stats/")

    assert listed.status_code == HTTPStatus.OK
    assert [row["slug"] for row in listed.json()["results"]] == [poll.slug]
    assert stats.status_code == HTTPStatus.OK
    assert AgencyApiToken.objects.get().last_used_at is not None


def test_read_token_cannot_write(agency, owner):
    draft = DraftPollFactory(agency=agency)
    token_client = bearer(make_token(agency, owner, scope="read"))

    answers = [
        post_json(token_client, f"{API}/polls/", poll_payload(agency)),
        patch_json(token_client, f"{API}/polls/{draft.slug}/", {"title": "Changed"}),
        post_json(token_client, f"{API}/polls/{draft.slug}/options/", {"label": "Osaka"}),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.FORBIDDEN] * 3
    assert {answer.json()["code"] for answer in answers} == {"permission_denied"}
    draft.refresh_from_db()
    assert draft.title != "Changed"


def test_write_token_creates_and_edits_drafts_and_the_audit_log_names_it(agency, owner):
    token_client = bearer(make_token(agency, owner, scope="write"))

    created = post_json(token_client, f"{API}/polls/", poll_payload(agency))
    slug = created.json()["slug"]
    option = post_json(
        token_client,
        f"{API}/polls/{slug}/options/",
        {"label": "Osaka", "country": "JP", "latitude": 34.69, "longitude": 135.5},
    )
    edited = patch_json(token_client, f"{API}/polls/{slug}/", {"title": "Edited by a script"})

    assert (created.status_code, option.status_code, edited.status_code) == (201, 201, 200)
    poll = Poll.objects.get(slug=slug)
    assert poll.created_by is None
    entry = AuditLogEntry.objects.get(action="poll.create")
    assert (entry.actor, entry.api_token) == (None, AgencyApiToken.objects.get())


def test_write_token_cannot_do_what_needs_a_person_with_mfa(agency, owner):
    draft = DraftPollFactory(agency=agency)
    open_poll = PollFactory(agency=agency)
    member = Membership.objects.get(user=owner)
    token_client = bearer(make_token(agency, owner, scope="write"))

    answers = {
        "schedule": post_json(token_client, f"{API}/polls/{draft.slug}/schedule/"),
        "close": post_json(token_client, f"{API}/polls/{open_poll.slug}/close/"),
        "publish": post_json(token_client, f"{API}/polls/{open_poll.slug}/publish/"),
        "signals": token_client.get(f"{API}/polls/{open_poll.slug}/signals/"),
        "review": post_json(
            token_client, f"{API}/polls/{open_poll.slug}/invalidations/", {"status": "quarantined"}
        ),
        "audit": token_client.get(f"{API}/agencies/{agency.slug}/audit/"),
        "members": token_client.get(f"{API}/agencies/{agency.slug}/members/"),
        "role": patch_json(
            token_client, f"{API}/agencies/{agency.slug}/members/{member.pk}/", {"role": "analyst"}
        ),
        "invite": post_json(
            token_client, f"{API}/agencies/{agency.slug}/invitations/", {"email": "a@example.com"}
        ),
        "tokens": token_client.get(f"{API}/agencies/{agency.slug}/tokens/"),
        "new token": post_json(
            token_client, f"{API}/agencies/{agency.slug}/tokens/", {"name": "x", "scope": "write"}
        ),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        answers, HTTPStatus.FORBIDDEN
    )
    assert {answer.json()["code"] for answer in answers.values()} == {"permission_denied"}
    draft.refresh_from_db()
    assert draft.state == "draft"
    assert AgencyApiToken.objects.count() == 1


def test_token_of_one_agency_gets_what_an_outsider_gets_on_another(owner, agency):
    other = AgencyFactory()
    other_poll = DraftPollFactory(agency=other)
    token_client = bearer(make_token(agency, owner, scope="write"))

    answers = [
        token_client.get(f"{API}/polls/{other_poll.slug}/"),
        token_client.get(f"{API}/polls/{other_poll.slug}/stats/"),
        patch_json(token_client, f"{API}/polls/{other_poll.slug}/", {"title": "Hijacked"}),
        post_json(token_client, f"{API}/polls/", poll_payload(other)),
        token_client.get(f"{API}/polls/?agency={other.slug}"),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.NOT_FOUND] * 5
    assert {answer.json()["code"] for answer in answers} == {"not_found"}
    other_poll.refresh_from_db()
    assert other_poll.title != "Hijacked"


@pytest.mark.parametrize(
    ("state", "code"),
    [("revoked", "token_revoked"), ("expired", "token_expired"), ("unknown", "token_invalid")],
)
def test_revoked_expired_and_unknown_tokens_are_refused_with_stable_codes(agency, owner, state, code):
    token = make_token(agency, owner, lifetime_days=1)
    api_token = AgencyApiToken.objects.get()
    if state == "revoked":
        api_tokens.api_token_revoke(agency=agency, actor=session_user(owner, mfa=True), token_id=api_token.pk)
    if state == "unknown":
        token = token[:-4] + "AAAA"

    with time_machine.travel(timezone.now() + timedelta(days=2 if state == "expired" else 0)):
        response = bearer(token).get(f"{API}/polls/")

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.UNAUTHORIZED, code)


def test_requests_with_a_token_are_rate_limited_per_token(agency, owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "agency_token": [("account", "3/m")]}
    first, second = bearer(make_token(agency, owner)), bearer(make_token(agency, owner))

    statuses = [first.get(f"{API}/polls/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert first.get(f"{API}/polls/")["Retry-After"]
    assert second.get(f"{API}/polls/").status_code == HTTPStatus.OK


def test_a_token_cannot_vote(agency, owner):
    poll = PollFactory(agency=agency)
    token_client = bearer(make_token(agency, owner, scope="write"))

    response = post_json(token_client, f"/api/v1/polls/{poll.slug}/votes/", {"choices": option_ids(poll)[:1]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"
    assert not Ballot.objects.exists()


def test_a_token_opens_no_page(agency, owner):
    token_client = bearer(make_token(agency, owner, scope="write"))

    for page in (
        reverse("agency:members", args=[agency.slug]),
        reverse("agency:tokens", args=[agency.slug]),
        reverse("agency:polls:list", kwargs={"agency_slug": agency.slug}),
    ):
        response = token_client.get(page)
        assert response.status_code == HTTPStatus.FOUND, page
        assert response["Location"].startswith(reverse("account_login"))
    assert token_client.get("/api/v1/me/").status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


def test_bearer_tokens_are_in_the_openapi_schema_of_the_agency_api_only(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()

    assert schema["components"]["securitySchemes"]["agencyToken"]["scheme"] == "bearer"
    agency_polls = schema["paths"]["/api/v1/agency/polls/"]["get"]["security"]
    vote = schema["paths"]["/api/v1/polls/{slug}/votes/"]["post"]["security"]
    assert {"agencyToken": []} in agency_polls
    assert all("agencyToken" not in requirement for requirement in vote)
