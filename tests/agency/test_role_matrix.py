"""Who may call what, for every agency page and agency API endpoint the URL
configuration serves.

The endpoints are not listed here by hand: they are read from Django's URL resolver
(every route under ``/agency/`` and ``/api/v1/agency/``, with every HTTP method its view
accepts). ``RULES`` says, for each (URL name, method), who may call it; each identity's
expected answer is computed from the rule, and each (endpoint, method, identity) is a
test of its own (``test_role_matrix[agency_api:schedule-POST-analyst]``). A route
without a rule, or a rule without a route, fails ``test_rules_cover_exactly_the_url_configuration``
and every cell of that route: a new endpoint cannot ship without saying who may call it.

Outcomes:

- ``login``: pages send anonymous visitors to the sign-in page (302);
- ``unauthenticated``: the API answers anonymous callers 401 (or 403 ``not_authenticated``);
- ``hidden``: 404, for anyone outside the agency (nobody learns it or its polls exist);
- ``denied``: 403 for a member below the role, or without MFA used in this session. A
  page that acts by POST may answer the refusal the way it answers any refusal
  (back to the page with the refusal as an error message, the Post/Redirect/Get way):
  that counts as ``denied`` when the message shown is the refusal of a rule about who
  may act (a 403-class ``DomainError`` raised while answering);
- ``allowed``: anything else but 405. Requests carry an empty body, so an allowed
  caller may well get a 400 (fields missing) or a 409 (wrong state for the action):
  both prove the caller got past the permission check.
"""

import enum
import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import services as account_services
from accounts.models import AgencyApiToken, Role
from polls.models import InvalidationRequest
from polls.participation.models import Artist, OpenCall, Proposal
from tests.factories import DraftPollFactory, MembershipFactory, UserFactory, mfa_enable
from tests.helpers import agency_token, login_just_now, login_with_mfa, session_user
from voting import errors as voting_errors

pytestmark = pytest.mark.django_db

PAGE_PREFIX = "agency/"
API_PREFIX = "api/v1/agency/"
# Methods a view without a declared method list is tried with (HEAD and OPTIONS follow GET).
DEFAULT_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


# ------------------------------------------------------------------ the URL configuration


@dataclass(frozen=True)
class Endpoint:
    name: str  # "agency:polls:detail", "agency_api:schedule"
    route: str  # "api/v1/agency/polls/<slug:slug>/schedule/"
    method: str
    api: bool

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method}"


def _view_methods(callback) -> tuple[str, ...]:
    """The methods a view accepts: a DRF view's handlers, or the list a function view's
    ``require_http_methods`` (``require_GET``, ``require_POST``) closes over."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return tuple(method for method in API_METHODS if hasattr(view_class, method.lower()))
    function = callback
    while function is not None:
        closure = inspect.getclosurevars(function).nonlocals
        if "request_method_list" in closure:
            return tuple(method for method in API_METHODS if method in closure["request_method_list"])
        function = getattr(function, "__wrapped__", None)
    return DEFAULT_METHODS


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}", entry.callback


def agency_endpoints() -> list[Endpoint]:
    endpoints = []
    for route, name, callback in _walk(get_resolver().url_patterns):
        api = route.startswith(API_PREFIX)
        if not (api or route.startswith(PAGE_PREFIX)):
            continue
        endpoints.extend(Endpoint(name, route, method, api) for method in _view_methods(callback))
    return endpoints


ENDPOINTS = agency_endpoints()


# ------------------------------------------------------------------ rules


class Scope(enum.Enum):
    AGENCY = "the agency the URL names"  # outsiders get 404
    ANY_AGENCY = "an agency of the caller's"  # nothing in the URL names an agency
    SIGNED_IN = "any signed-in account"
    INVITEE = "the invited account only"


@dataclass(frozen=True)
class Rule:
    least: Role | None = None
    mfa: bool = False  # a session that used a second factor
    recent: bool = False  # a session that proved a credential lately (identities sign in now)
    scope: Scope = Scope.AGENCY
    # The agency API token scopes that may call it (agency API only; pages never take a
    # token). Everything else refuses a token: docs/decisions/agency-api-tokens.md.
    tokens: frozenset[str] = frozenset()

    def __str__(self) -> str:
        parts = [str(self.least.label) if self.least else self.scope.value]
        parts += ["MFA used"] * self.mfa + ["recent sign-in"] * self.recent
        return " + ".join(parts)


ANALYST = Rule(Role.ANALYST)
MANAGER = Rule(Role.MANAGER)
MANAGER_MFA = Rule(Role.MANAGER, mfa=True)
OWNER = Rule(Role.OWNER)
OWNER_RECENT = Rule(Role.OWNER, recent=True)
OWNER_MFA_RECENT = Rule(Role.OWNER, mfa=True, recent=True)
SIGNED_IN = Rule(scope=Scope.SIGNED_IN)
READ_TOKENS = frozenset({"read", "write"})
WRITE_TOKENS = frozenset({"write"})

RULES: dict[tuple[str, str], Rule] = {
    # Pages: /agency/...
    ("agency:home", "GET"): SIGNED_IN,  # lists the caller's own memberships (none for a fan)
    ("agency:invitation_accept", "GET"): SIGNED_IN,
    ("agency:invitation_accept", "POST"): Rule(scope=Scope.INVITEE),
    ("agency:members", "GET"): ANALYST,
    ("agency:members", "POST"): OWNER_RECENT,
    ("agency:member_role", "POST"): OWNER_MFA_RECENT,
    ("agency:member_remove", "POST"): OWNER_MFA_RECENT,
    ("agency:invitation_revoke", "POST"): OWNER_MFA_RECENT,
    ("agency:tokens", "GET"): OWNER,
    ("agency:tokens", "POST"): OWNER_MFA_RECENT,
    ("agency:token_revoke", "POST"): OWNER_MFA_RECENT,
    ("agency:audit_log", "GET"): ANALYST,
    ("agency:audit_log", "POST"): ANALYST,  # no declared methods: POST renders the same page
    ("agency:polls:list", "GET"): ANALYST,
    ("agency:polls:create", "GET"): MANAGER,
    ("agency:polls:create", "POST"): MANAGER,
    ("agency:polls:detail", "GET"): ANALYST,
    ("agency:polls:edit", "POST"): MANAGER,
    ("agency:polls:option_add", "POST"): MANAGER,
    ("agency:polls:option_remove", "POST"): MANAGER,
    ("agency:polls:option_translations", "POST"): MANAGER,
    ("agency:polls:insight", "GET"): ANALYST,
    ("agency:polls:insight_csv", "GET"): ANALYST,
    ("agency:artists", "GET"): ANALYST,
    ("agency:artist_create", "POST"): MANAGER,
    ("agency:artist", "GET"): ANALYST,
    ("agency:artist_update", "POST"): MANAGER,
    ("agency:artist_poll", "POST"): MANAGER,
    ("agency:call_create", "POST"): MANAGER,
    ("agency:poll_artist_choose", "POST"): MANAGER,
    ("agency:call", "GET"): ANALYST,
    ("agency:call_hide", "POST"): MANAGER_MFA,
    ("agency:call_merge", "POST"): MANAGER_MFA,
    ("agency:call_promote", "POST"): MANAGER,
    ("agency:polls:schedule", "POST"): MANAGER_MFA,
    ("agency:polls:close", "POST"): MANAGER_MFA,
    ("agency:polls:cancel", "POST"): MANAGER_MFA,
    ("agency:polls:publish", "POST"): MANAGER_MFA,
    ("agency:polls:signals", "GET"): MANAGER_MFA,
    ("agency:polls:invalidation_create", "POST"): MANAGER_MFA,
    ("agency:polls:invalidation_approve", "POST"): MANAGER_MFA,
    ("agency:polls:invalidation_reject", "POST"): MANAGER_MFA,
    # API: /api/v1/agency/...
    # The polls of the caller's agencies: agency staff only (a fan is refused).
    ("agency_api:polls", "GET"): Rule(Role.ANALYST, scope=Scope.ANY_AGENCY, tokens=READ_TOKENS),
    ("agency_api:polls", "POST"): Rule(Role.MANAGER, scope=Scope.ANY_AGENCY, tokens=WRITE_TOKENS),
    ("agency_api:poll", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:poll", "PATCH"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:options", "POST"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:option", "PATCH"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:option", "DELETE"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:schedule", "POST"): MANAGER_MFA,
    ("agency_api:close", "POST"): MANAGER_MFA,
    ("agency_api:cancel", "POST"): MANAGER_MFA,
    ("agency_api:publish", "POST"): MANAGER_MFA,
    ("agency_api:stats", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:insight", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:signals", "GET"): MANAGER_MFA,
    ("agency_api:invalidations", "GET"): MANAGER_MFA,
    ("agency_api:invalidations", "POST"): MANAGER_MFA,
    ("agency_api:invalidation_approve", "POST"): MANAGER_MFA,
    ("agency_api:invalidation_reject", "POST"): MANAGER_MFA,
    ("agency_api:audit", "GET"): ANALYST,
    ("agency_api:poll_artist", "PUT"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:artists", "GET"): Rule(Role.ANALYST, scope=Scope.ANY_AGENCY, tokens=READ_TOKENS),
    ("agency_api:artists", "POST"): Rule(Role.MANAGER, scope=Scope.ANY_AGENCY, tokens=WRITE_TOKENS),
    ("agency_api:artist", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:artist", "PATCH"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:artist_calls", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:artist_calls", "POST"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:call", "GET"): Rule(Role.ANALYST, tokens=READ_TOKENS),
    ("agency_api:proposal_hide", "POST"): MANAGER_MFA,
    ("agency_api:proposals_merge", "POST"): MANAGER_MFA,
    # Promotion makes a draft poll, which a write token may make too.
    ("agency_api:proposals_promote", "POST"): Rule(Role.MANAGER, tokens=WRITE_TOKENS),
    ("agency_api:call_signals", "GET"): MANAGER_MFA,
    ("agency_api:members", "GET"): ANALYST,
    ("agency_api:member", "PATCH"): OWNER_MFA_RECENT,
    ("agency_api:member", "DELETE"): OWNER_MFA_RECENT,
    ("agency_api:invitations", "GET"): ANALYST,
    ("agency_api:invitations", "POST"): OWNER_RECENT,
    ("agency_api:invitation", "DELETE"): OWNER_MFA_RECENT,
    ("agency_api:tokens", "GET"): OWNER,
    ("agency_api:tokens", "POST"): OWNER_MFA_RECENT,
    ("agency_api:token", "DELETE"): OWNER_MFA_RECENT,
}


# ------------------------------------------------------------------ identities


class Outcome(enum.StrEnum):
    LOGIN = "login"
    UNAUTHENTICATED = "unauthenticated"
    HIDDEN = "hidden"
    DENIED = "denied"
    ALLOWED = "allowed"
    METHOD_NOT_ALLOWED = "method_not_allowed"


@dataclass(frozen=True)
class Identity:
    """Who calls. ``sign_in(client, world)`` signs the client in and returns the headers
    to send with each request (an API token identity returns its Authorization header
    and leaves the client anonymous)."""

    name: str
    sign_in: Callable[[Client, "World"], dict] | None = None
    role: Role | None = None  # in the agency the URLs name
    role_elsewhere: Role | None = None  # in another agency
    mfa_used: bool = False
    token_scope: str | None = None  # an agency API token of the target agency, with this scope


def _session(user_of: Callable[["World"], object], *, mfa: bool):
    def sign_in(client: Client, world: "World") -> dict:
        user = user_of(world)
        (login_with_mfa if mfa else login_just_now)(client, user)
        return {}

    return sign_in


# Signed-in identities sign in just now (a recent authentication); the staff with TOTP.
# Token identities send an agency API token of the target agency and no session.
IDENTITIES = [
    Identity("anonymous"),
    Identity("fan", _session(lambda w: w.fan, mfa=False)),
    Identity(
        "other_agency_owner",
        _session(lambda w: w.outsider, mfa=True),
        role_elsewhere=Role.OWNER,
        mfa_used=True,
    ),
    Identity("analyst", _session(lambda w: w.analyst, mfa=True), role=Role.ANALYST, mfa_used=True),
    Identity("manager", _session(lambda w: w.manager, mfa=True), role=Role.MANAGER, mfa_used=True),
    Identity("owner", _session(lambda w: w.owner, mfa=True), role=Role.OWNER, mfa_used=True),
    Identity("owner_without_mfa", _session(lambda w: w.owner_without_mfa, mfa=False), role=Role.OWNER),
    Identity(
        "read_only_token", lambda client, w: {"Authorization": f"Bearer {w.read_token}"}, token_scope="read"
    ),
    Identity(
        "read_write_token",
        lambda client, w: {"Authorization": f"Bearer {w.write_token}"},
        token_scope="write",
    ),
]

RANK = {Role.ANALYST: 0, Role.MANAGER: 1, Role.OWNER: 2}


def _at_least(role: Role | None, least: Role) -> bool:
    return role is not None and RANK[role] >= RANK[least]


def expected(identity: Identity, rule: Rule, endpoint: Endpoint) -> Outcome:
    if identity.sign_in is None or (identity.token_scope and not endpoint.api):
        # A token opens the API only: on a page its caller is anonymous.
        return Outcome.UNAUTHENTICATED if endpoint.api else Outcome.LOGIN
    if identity.token_scope:
        return Outcome.ALLOWED if identity.token_scope in rule.tokens else Outcome.DENIED
    if rule.scope == Scope.SIGNED_IN:
        return Outcome.ALLOWED
    if rule.scope == Scope.INVITEE:
        return Outcome.DENIED  # the invitation in the world is for an address nobody here has
    if rule.scope == Scope.ANY_AGENCY:
        role = max((r for r in (identity.role, identity.role_elsewhere) if r), key=RANK.get, default=None)
    else:
        role = identity.role
        if role is None:
            return Outcome.HIDDEN
    if not _at_least(role, rule.least) or (rule.mfa and not identity.mfa_used):
        return Outcome.DENIED
    return Outcome.ALLOWED


# ------------------------------------------------------------------ the world the URLs point into


@dataclass
class World:
    agency: object
    owner: object
    manager: object
    analyst: object
    owner_without_mfa: object
    outsider: object
    fan: object
    poll: object
    option: object
    invalidation: object
    invitation_token: str
    artist: object
    call: object
    proposal: object
    invitation_id: int
    member_id: int
    api_token_id: int
    read_token: str
    write_token: str

    def kwargs_for(self, endpoint: Endpoint) -> dict:
        """Values for the route's parameters, all naming things of the target agency."""
        agency_slug_routes = (
            "<slug:slug>/members/",
            "<slug:slug>/audit/",
            "<slug:slug>/tokens/",
            "<slug:slug>/invitations/",
            "agencies/<slug:slug>/",
        )
        if any(part in endpoint.route for part in agency_slug_routes):
            slug = self.agency.slug
        elif "artists/<slug:slug>/" in endpoint.route:
            slug = self.artist.slug
        else:
            slug = self.poll.slug
        values = {
            "agency_slug": self.agency.slug,
            "poll_slug": self.poll.slug,
            "artist_slug": self.artist.slug,
            "call_id": self.call.pk,
            "proposal_id": self.proposal.pk,
            "slug": slug,
            "option_id": self.option.pk,
            "request_id": self.invalidation.pk,
            "token": self.invitation_token,
            "invitation_id": self.invitation_id,
            "member_id": self.member_id,
            "token_id": self.api_token_id,
        }
        names = [part.split(">")[0].split(":")[-1] for part in endpoint.route.split("<")[1:]]
        missing = [name for name in names if name not in values]
        assert not missing, f"{endpoint.route}: no value for {missing}: add one to World.kwargs_for"
        return {name: values[name] for name in names}

    def path_for(self, endpoint: Endpoint) -> str:
        return reverse(endpoint.name, kwargs=self.kwargs_for(endpoint))


@pytest.fixture
def world(db) -> World:
    owner = MembershipFactory(role=Role.OWNER).user
    agency = owner.memberships.get().agency
    members = {
        role: MembershipFactory(agency=agency, role=role).user for role in (Role.MANAGER, Role.ANALYST)
    }
    owner_without_mfa = MembershipFactory(agency=agency, role=Role.OWNER).user
    mfa_enable(owner_without_mfa)  # enrolled, but its session signs in with a password only
    outsider = MembershipFactory(role=Role.OWNER).user
    poll = DraftPollFactory(agency=agency)
    invalidation = InvalidationRequest.objects.create(
        poll=poll,
        status="invalidated",
        reason="bot_network",
        ballot_ids=[],
        size=0,
        requested_by=members[Role.MANAGER],
    )
    invitation, token = account_services.invitation_create(
        agency=agency, inviter=session_user(owner), email="invitee@example.com", role=Role.ANALYST
    )
    artist = Artist.objects.create(agency=agency, name="Nova", slug="nova-matrix")
    call = OpenCall.objects.create(
        artist=artist, question="Which city?", kind="other", opens_at=poll.opens_at, closes_at=poll.closes_at
    )
    proposal = Proposal.objects.create(
        call=call, proposer=members[Role.MANAGER], label="Idea", dedupe_key="text:idea"
    )
    read_token = agency_token(agency, scope="read", owner=owner)
    write_token = agency_token(agency, scope="write", owner=owner)
    return World(
        agency=agency,
        owner=owner,
        manager=members[Role.MANAGER],
        analyst=members[Role.ANALYST],
        owner_without_mfa=owner_without_mfa,
        outsider=outsider,
        fan=UserFactory(verified=True),
        poll=poll,
        option=poll.options.first(),
        invalidation=invalidation,
        invitation_token=token,
        artist=artist,
        call=call,
        proposal=proposal,
        invitation_id=invitation.pk,
        member_id=agency.memberships.get(user=members[Role.ANALYST]).pk,
        api_token_id=AgencyApiToken.objects.filter(agency=agency).earliest("pk").pk,
        read_token=read_token,
        write_token=write_token,
    )


# ------------------------------------------------------------------ asking and classifying


@pytest.fixture
def refusals(monkeypatch) -> list:
    """Every DomainError raised while answering (to tell a refusal shown as a message)."""
    raised = []
    original = voting_errors.DomainError.__init__

    def recording(self, code, detail="", **extra):
        original(self, code, detail, **extra)
        raised.append(self)

    monkeypatch.setattr(voting_errors.DomainError, "__init__", recording)
    return raised


def classify(endpoint: Endpoint, response, refusals: list) -> Outcome:
    status = response.status_code
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        return Outcome.METHOD_NOT_ALLOWED
    if endpoint.api:
        body = response.json() if response.get("Content-Type", "").startswith("application/json") else None
        code = body.get("code") if isinstance(body, dict) else None
        if status == HTTPStatus.UNAUTHORIZED or code == "not_authenticated":
            return Outcome.UNAUTHENTICATED
        return {HTTPStatus.FORBIDDEN: Outcome.DENIED, HTTPStatus.NOT_FOUND: Outcome.HIDDEN}.get(
            status, Outcome.ALLOWED
        )
    if status == HTTPStatus.FOUND and response["Location"].startswith(settings.LOGIN_URL):
        return Outcome.LOGIN
    if status == HTTPStatus.NOT_FOUND:
        return Outcome.HIDDEN
    if status == HTTPStatus.FORBIDDEN:
        return Outcome.DENIED
    shown = {str(message) for message in get_messages(response.wsgi_request)}
    who_may_act = {refusal.detail for refusal in refusals if refusal.http_status == HTTPStatus.FORBIDDEN}
    if shown & who_may_act:
        return Outcome.DENIED
    return Outcome.ALLOWED


def ask(client: Client, endpoint: Endpoint, path: str, headers: dict):
    method = getattr(client, endpoint.method.lower())
    if endpoint.api:
        return method(
            path, {} if endpoint.method != "GET" else None, content_type="application/json", headers=headers
        )
    return method(path, headers=headers)


CELLS = [(endpoint, identity) for endpoint in ENDPOINTS for identity in IDENTITIES]


@pytest.mark.parametrize(("endpoint", "identity"), CELLS, ids=[f"{e.id}-{i.name}" for e, i in CELLS])
def test_role_matrix(client, world, refusals, endpoint, identity):
    rule = RULES.get((endpoint.name, endpoint.method))
    assert rule is not None, (
        f"no rule for {endpoint.method} {endpoint.name} (/{endpoint.route}): add one to RULES"
    )
    headers = identity.sign_in(client, world) if identity.sign_in else {}
    path = world.path_for(endpoint)
    refusals.clear()

    response = ask(client, endpoint, path, headers)

    want = expected(identity, rule, endpoint)
    got = classify(endpoint, response, refusals)
    body = response.content[:300].decode(errors="replace")
    assert got == want, (
        f"{endpoint.method} {path} as {identity.name} (rule: {rule}): {response.status_code} {body}"
    )


def test_rules_cover_exactly_the_url_configuration():
    served = {(endpoint.name, endpoint.method) for endpoint in ENDPOINTS}
    ruled = set(RULES)

    assert served - ruled == set(), "endpoints without a rule"
    assert ruled - served == set(), "rules for endpoints the URL configuration does not serve"


def test_matrix_counts_every_endpoint_for_every_identity(capsys):
    kinds = Counter("api" if endpoint.api else "page" for endpoint in ENDPOINTS)
    routes = {endpoint.name for endpoint in ENDPOINTS}
    with capsys.disabled():
        print(
            f"\nrole matrix: {len(routes)} routes, {len(ENDPOINTS)} endpoints (route and method: "
            f"{kinds['page']} pages, {kinds['api']} API) x {len(IDENTITIES)} identities = {len(CELLS)} cells"
        )
    assert len(CELLS) == len(ENDPOINTS) * len(IDENTITIES) > 0
