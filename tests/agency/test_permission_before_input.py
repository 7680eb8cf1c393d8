"""Every agency endpoint asks who may act before it reads the body or the query: a
caller without the role gets 403 ``permission_denied`` or 404 ``not_found``, never a
400 that lists what a valid request would need.

The API cases are generated from polls/agency/api_urls.py: an endpoint added there is
tested here without a line of its own."""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from polls.agency import api_urls
from polls.participation.models import Artist, OpenCall, Proposal
from tests.factories import AgencyFactory, DraftPollFactory, MembershipFactory, UserFactory
from tests.helpers import login_with_mfa

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]

# Wrong in every way the agency serializers check: types, choices, blanks, a NUL byte.
INVALID_BODY = {
    "agency": "\u0000",
    "title": "",
    "kind": "nope",
    "opens_at": "tomorrow",
    "label": ["x"],
    "status": "nope",
    "role": 7,
    "email": "not an address",
    "name": "",
    "scope": "everything",
    "ballot_ids": "all",
}
INVALID_QUERY = {"agency": "\u0000", "page": "-1"}
WRITE_METHODS = ("post", "put", "patch", "delete")


def endpoints() -> list[tuple[str, URLPattern, str]]:
    found = []
    for pattern in api_urls.urlpatterns:
        view_class = pattern.callback.view_class
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view_class, method):
                found.append((pattern.name, pattern, method))
    return found


ENDPOINTS = endpoints()


@pytest.fixture
def world(db):
    agency = AgencyFactory()
    owner = MembershipFactory(agency=agency, role="owner")
    poll = DraftPollFactory(agency=agency)
    artist = Artist.objects.create(agency=agency, name="Nova", slug="nova-refusals")
    call = OpenCall.objects.create(
        artist=artist, question="Which city?", kind="other", opens_at=poll.opens_at, closes_at=poll.closes_at
    )
    proposal = Proposal.objects.create(call=call, proposer=owner.user, label="Idea", dedupe_key="text:idea")
    return {
        "agency": agency,
        "poll": poll,
        "owner_membership": owner,
        "artist": artist,
        "call": call,
        "proposal": proposal,
    }


def path_of(pattern: URLPattern, world) -> str:
    route = str(pattern.pattern)
    kwargs = {}
    for name in pattern.pattern.converters:
        if name == "slug":
            if route.startswith("polls/"):
                kwargs[name] = world["poll"].slug
            elif route.startswith("artists/"):
                kwargs[name] = world["artist"].slug
            else:
                kwargs[name] = world["agency"].slug
        elif name == "call_id":
            kwargs[name] = world["call"].pk
        elif name == "proposal_id":
            kwargs[name] = world["proposal"].pk
        elif name == "option_id":
            kwargs[name] = world["poll"].options.first().pk
        elif name == "member_id":
            kwargs[name] = world["owner_membership"].pk
        else:
            kwargs[name] = 999999
    return reverse(f"agency_api:{pattern.name}", kwargs=kwargs)


def send(client: Client, method: str, path: str):
    if method == "get":
        return client.get(path, INVALID_QUERY)
    return getattr(client, method)(path, INVALID_BODY, content_type="application/json")


def assert_refused_before_input(response, label: str) -> None:
    assert response.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND), (label, response.content)
    assert response.json()["code"] in ("permission_denied", "not_found"), label
    assert "fields" not in response.json(), label


def test_every_agency_api_endpoint_is_covered():
    assert len(ENDPOINTS) >= 20
    assert {"members", "member", "invitations", "invitation", "tokens", "token", "polls"} <= {
        name for name, _pattern, _method in ENDPOINTS
    }


@pytest.mark.parametrize(("name", "pattern", "method"), ENDPOINTS, ids=[f"{m} {n}" for n, _p, m in ENDPOINTS])
def test_a_fan_with_an_invalid_request_is_refused_not_told_what_is_missing(
    client, world, verified_fan, name, pattern, method
):
    login_with_mfa(client, verified_fan)

    assert_refused_before_input(send(client, method, path_of(pattern, world)), f"{method} {name}")


# Listing polls and artists is every staff member's (of their own agencies): a member of
# another agency may be told that a filter is malformed, or get their own (empty) list.
OWN_AGENCIES_LISTS = {("polls", "get"), ("artists", "get")}
SCOPED = [
    (name, pattern, method) for name, pattern, method in ENDPOINTS if (name, method) not in OWN_AGENCIES_LISTS
]


@pytest.mark.parametrize(("name", "pattern", "method"), SCOPED, ids=[f"{m} {n}" for n, _p, m in SCOPED])
def test_a_member_of_another_agency_with_an_invalid_request_is_refused(client, world, name, pattern, method):
    login_with_mfa(client, MembershipFactory(agency=AgencyFactory(), role="analyst").user)

    assert_refused_before_input(send(client, method, path_of(pattern, world)), f"{method} {name}")


WRITES = [(name, pattern, method) for name, pattern, method in ENDPOINTS if method in WRITE_METHODS]


@pytest.mark.parametrize(("name", "pattern", "method"), WRITES, ids=[f"{m} {n}" for n, _p, m in WRITES])
def test_an_analyst_writing_with_an_invalid_request_is_refused_with_403(client, world, name, pattern, method):
    login_with_mfa(client, MembershipFactory(agency=world["agency"], role="analyst").user)

    response = send(client, method, path_of(pattern, world))

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.FORBIDDEN, "permission_denied"), (
        name,
        response.content,
    )


def test_an_anonymous_caller_is_asked_to_sign_in_before_anything(client, world):
    response = client.post("/api/v1/agency/polls/", INVALID_BODY, content_type="application/json")

    assert response.json()["code"] == "not_authenticated"


# ------------------------------------------------------------------ the pages


def test_pages_refuse_an_analysts_invalid_forms_with_403(client, world):
    agency, poll = world["agency"], world["poll"]
    login_with_mfa(client, MembershipFactory(agency=agency, role="analyst").user)
    kwargs = {"agency_slug": agency.slug, "poll_slug": poll.slug}

    edited = client.post(reverse("agency:polls:edit", kwargs=kwargs), {"title": ""})
    added = client.post(reverse("agency:polls:option_add", kwargs=kwargs), {"label": ""})
    created = client.post(reverse("agency:polls:create", kwargs={"agency_slug": agency.slug}), {"title": ""})

    assert [edited.status_code, added.status_code, created.status_code] == [HTTPStatus.FORBIDDEN] * 3


def test_pages_refuse_an_outsiders_invalid_forms_with_404(client, world):
    agency, poll = world["agency"], world["poll"]
    client.force_login(UserFactory(verified=True))
    kwargs = {"agency_slug": agency.slug, "poll_slug": poll.slug}

    for name in ("edit", "option_add", "invalidation_create"):
        response = client.post(reverse(f"agency:polls:{name}", kwargs=kwargs), {"title": ""})
        assert response.status_code == HTTPStatus.NOT_FOUND, name
