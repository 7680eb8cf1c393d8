"""Bad input never gives a 5xx: every JSON write endpoint of /api/v1/ is sent nested,
huge, non-UTF-8 and wrongly typed bodies, by a browser session and by an app token
(whose votes first meet the lean path, polls/lean_api.py)."""

import json
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.api_tokens import secret_hash
from accounts.models import AgencyApiToken
from accounts.services import invitation_create
from polls.models import InvalidationRequest
from polls.participation.models import Artist, OpenCall, Proposal
from tests.factories import MembershipFactory, PollFactory
from tests.helpers import agency_token, login_with_mfa, session_token, session_user

pytestmark = pytest.mark.django_db

NESTING = 5000  # far past Python's recursion limit (1000)

BODIES = {
    "unclosed arrays": b"[" * NESTING,
    "nested arrays": b"[" * NESTING + b"]" * NESTING,
    "nested choices": b'{"choices": ' + b"[" * NESTING + b"]" * NESTING + b"}",
    "nested objects": b'{"a": ' * NESTING + b"1" + b"}" * NESTING,
    "huge string": b'{"label": "' + b"x" * 3_000_000 + b'", "title": "' + b"y" * 100_000 + b'"}',
    "huge list": json.dumps(
        {"choices": list(range(200_000)), "ballot_ids": list(range(1, 200_001))}
    ).encode(),
    "huge number": b'{"choices": [1' + b"0" * 5000 + b"]}",
    "not UTF-8": b'{"label": "\xff\xfe\xfd", "choices": [1]}',
    "truncated": b'{"choices": [1,',
    "NaN": b'{"latitude": NaN, "longitude": Infinity, "choices": [NaN]}',
    "top-level list": b"[1, 2, 3]",
    "top-level string": b'"choices"',
    "null": b"null",
    "empty": b"",
    "wrong types": json.dumps(
        {
            "choices": {"1": 2},
            "label": [1],
            "title": {"x": 1},
            "kind": 7,
            "opens_at": [],
            "closes_at": {"at": 1},
            "agency": None,
            "slug": ["a"],
            "position": "first",
            "latitude": [1],
            "ballot_ids": "all",
            "cluster": "network",
            "status": [],
            "reason": {},
            "note": 5,
            "allowed_countries": "KR",
            "least_account_age_days": "old",
        }
    ).encode(),
}
WRITE_METHODS = ("post", "put", "patch", "delete")


def api_write_routes() -> list[tuple[str, str]]:
    """(route, method) for every view under /api/v1/ that takes a write method."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    routes = []
    for route, callback in walk(get_resolver().url_patterns, "/"):
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if not route.startswith("/api/v1/") or view_class is None:
            continue
        routes += [(route, method) for method in WRITE_METHODS if hasattr(view_class, method)]
    return routes


@pytest.fixture
def member(agency, settings):
    # Limits are proven elsewhere; here they would only hide what comes after them.
    settings.RATE_LIMITS = {scope: [("account", "100000/m")] for scope in settings.RATE_LIMITS}
    return MembershipFactory(agency=agency, role="owner").user


@pytest.fixture
def path_values(agency, member) -> dict[str, str]:
    poll = PollFactory(agency=agency)
    request = InvalidationRequest.objects.create(
        poll=poll, status="invalidated", reason="bot_network", ballot_ids=[], size=0, requested_by=member
    )
    invitation, _token = invitation_create(
        agency=agency, inviter=session_user(member), email="bad.input@example.com", role="analyst"
    )
    artist = Artist.objects.create(agency=agency, name="Nova", slug="nova")
    call = OpenCall.objects.create(
        artist=artist,
        question="Which city?",
        kind="other",
        opens_at=poll.opens_at,
        closes_at=poll.closes_at,
    )
    proposal = Proposal.objects.create(call=call, proposer=member, label="Idea", dedupe_key="text:idea")
    return {
        "slug": poll.slug,
        "option_id": str(poll.options.first().pk),
        "request_id": str(request.pk),
        "receipt": "ABCDE",
        "member_id": str(MembershipFactory(agency=agency, role="analyst").pk),
        "invitation_id": str(invitation.pk),
        "token_id": str(
            AgencyApiToken.objects.get(secret_hash=secret_hash(agency_token(agency, owner=member))).pk
        ),
        # Routes under /agencies/ name the agency, not a poll.
        "agency_slug": agency.slug,
        "call_id": str(call.pk),
        "proposal_id": str(proposal.pk),
    }


def concrete(route: str, values: dict[str, str]) -> str:
    if "/agencies/<slug:slug>/" in route:
        values = {**values, "slug": values["agency_slug"]}
    for name, value in values.items():
        for converter in ("slug", "int", "str"):
            route = route.replace(f"<{converter}:{name}>", value)
    assert "<" not in route, route
    return route


def test_every_json_write_endpoint_is_enumerated():
    routes = {route for route, _method in api_write_routes()}

    assert "/api/v1/polls/<slug:slug>/votes/" in routes
    assert "/api/v1/agency/polls/" in routes
    assert "/api/v1/agency/polls/<slug:slug>/invalidations/" in routes


@pytest.mark.parametrize("auth", ["session", "token"])
def test_bad_bodies_to_every_json_write_endpoint_never_give_a_5xx(auth, member, path_values):
    client = Client(raise_request_exception=False)
    headers = {}
    if auth == "session":
        login_with_mfa(client, member)
    else:
        headers = {"X-Session-Token": session_token(member, mfa=True)}
    failures = []

    for route, method in api_write_routes():
        path = concrete(route, path_values)
        for name, body in BODIES.items():
            send = getattr(client, method)
            response = send(path, body, content_type="application/json", headers=headers)
            if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
                failures.append(f"{method.upper()} {path} {name}: {response.status_code}")

    assert failures == []


@pytest.mark.parametrize("auth", ["session", "token"])
def test_a_deeply_nested_vote_is_400_parse_error(auth, client, verified_fan):
    poll = PollFactory()
    headers = {"X-Session-Token": session_token(verified_fan)} if auth == "token" else {}
    if auth == "session":
        client.force_login(verified_fan)

    response = client.post(
        f"/api/v1/polls/{poll.slug}/votes/",
        b"[" * NESTING,
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "parse_error"
    assert not poll.ballots.exists()
