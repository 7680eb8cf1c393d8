"""API fuzzing: schemathesis sends generated requests, valid and not, to every operation
of the OpenAPI schema the service publishes at /api/schema/, through the real WSGI
stack and PostgreSQL.

Whatever arrives, the answer must not be a 5xx, its status must be one the schema
documents for the operation, and its body must match the schema of that status.

Requests carry app session tokens (``X-Session-Token``): a verified fan's for the fan
side, an agency manager's with MFA for ``/api/v1/agency/``; one in ten carries none. Path parameters and some
body fields are half the time what the generator made up and half the time real
objects (an open poll the fan voted in, a draft, a published poll, a receipt, an
option, a pending invalidation, the agency, ballots, the fan's password), so refusals
and successes are both reached. The counts land in the
last lines of the run (tests/api/conftest.py).
"""

import random
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from polls.agency.publishing import poll_publish
from polls.agency.review import invalidation_request
from polls.models import BallotStatus, Poll, VotingMethod
from polls.participation.models import Artist, OpenCall
from polls.participation.services import proposal_create
from polls.services import ballot_cast
from tests.factories import (
    TEST_PASSWORD,
    AgencyFactory,
    DraftPollFactory,
    MembershipFactory,
    PollFactory,
    UserFactory,
)
from tests.helpers import close, option_ids, session_token, session_user

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Per operation: the size of the random search; schemathesis adds the schema's examples
# and its boundary values (coverage phase). About a minute for the whole schema.
MAX_EXAMPLES = 12
# A safety net for slow machines: an operation stops sending requests after this long
# (today the slowest, creating a poll, takes about 15 s on two busy cores).
OPERATION_BUDGET_SECONDS = 15
GENEROUS = [("account", "100000/m"), ("ip", "100000/m")]


# The schema as the service serves it, read through the WSGI stack once, at collection
# (it needs no database). One test per operation: schemathesis' lazy loader
# (from_fixture) expects pytest internals that pytest 9 no longer has.
WSGI_APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGI_APP)


@dataclass
class World:
    fan_token: str
    manager_token: str
    # Real values of path parameters: (pattern of the path template, name) -> values;
    # the first pattern found in the path wins.
    path_values: list[tuple[str, str, list]] = field(default_factory=list)
    # Real values of body fields, by name, in any operation.
    body_values: dict[str, list] = field(default_factory=dict)

    def values_for(self, path: str, name: str) -> list:
        for pattern, parameter, values in self.path_values:
            if parameter == name and re.search(pattern, path):
                return values
        return []


@pytest.fixture
def in_test_transaction():
    """Requests go through the WSGI handler inside the test's transaction: keep the
    handler from closing that connection at each request, as Django's test client
    does."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def world(db, settings, in_test_transaction) -> World:
    # Fuzzing is not a flood: limits would answer 429 (documented) and hide the rest.
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, GENEROUS)
    agency = AgencyFactory(invalidation_approval_threshold=1)
    # Staff whose sessions used MFA, as the MFA-gated actions require.
    manager = session_user(MembershipFactory(agency=agency, role="manager").user, mfa=True)
    owner = session_user(MembershipFactory(agency=agency, role="owner").user, mfa=True)
    fan = UserFactory(verified=True)

    open_poll = PollFactory(agency=agency, results_visibility="live")
    receipt = ballot_cast(poll=open_poll, voter=fan, choices=option_ids(open_poll)[:1]).body["receipt"]
    for number in range(3):
        ballot_cast(
            poll=open_poll,
            voter=UserFactory(verified=True),
            choices=option_ids(open_poll)[1:2],
            client_ip=f"203.0.113.{number + 1}",
            client_fingerprint="b" * 64,
        )
    pending = invalidation_request(
        poll=open_poll,
        actor=owner,
        status=BallotStatus.INVALIDATED,
        reason="bot_network",
        ballot_ids=list(open_poll.ballots.exclude(voter=fan).values_list("pk", flat=True)),
    )
    draft = DraftPollFactory(agency=agency)
    published = PollFactory(agency=agency, method=VotingMethod.RANKED, max_choices=2)
    published_receipt = ballot_cast(poll=published, voter=fan, choices=option_ids(published)[:2]).body[
        "receipt"
    ]
    poll_publish(poll=close(published), actor=manager)

    artist = Artist.objects.create(agency=agency, name="Nova", slug="nova")
    Poll.objects.filter(pk=open_poll.pk).update(artist=artist)
    call = OpenCall.objects.create(
        artist=artist,
        question="Which b-side next?",
        kind="other",
        opens_at=open_poll.opens_at,
        closes_at=open_poll.closes_at,
    )
    proposal, _created = proposal_create(call=call, fan=UserFactory(verified=True), text="Midnight")

    polls = [open_poll.slug, draft.slug, published.slug]
    return World(
        fan_token=session_token(fan),
        manager_token=session_token(manager, mfa=True),
        path_values=[
            ("^/api/v1/agency/agencies/", "slug", [agency.slug]),
            ("/artists/", "slug", [artist.slug]),
            ("/options/", "slug", [draft.slug]),
            ("/invalidations/", "slug", [open_poll.slug]),
            ("/votes/", "slug", [open_poll.slug]),
            ("^/api/v1/", "slug", polls),
            ("", "option_id", option_ids(draft)),
            ("", "request_id", [pending.pk]),
            ("", "receipt", [receipt, published_receipt]),
            ("", "call_id", [call.pk]),
            ("", "proposal_id", [proposal.pk]),
        ],
        body_values={
            "agency": [agency.slug],
            "ballot_ids": [list(open_poll.ballots.values_list("pk", flat=True)[:2])],
            "choices": [option_ids(open_poll)[:1]],
            "timezone": ["Asia/Seoul"],
            "proposals": [[proposal.pk]],
            "keep": [proposal.pk],
            "artist": [artist.slug],
            # The fan's own: the deletion goes through once, and the token is dead after.
            "password": [TEST_PASSWORD],
        },
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema_and_never_with_a_5xx(case, world, fuzz_stats):
    path = case.operation.path
    operation = f"{case.operation.method.upper()} {path}"
    started = fuzz_stats["started"].setdefault(operation, time.monotonic())
    if time.monotonic() - started > OPERATION_BUDGET_SECONDS:
        fuzz_stats["over_budget"].add(operation)
        return
    # Seeded by the generated values, so that a failing case replays the same way.
    chooser = random.Random(repr((case.path_parameters, case.query, case.headers, case.body)))
    for name in list(case.path_parameters or {}):
        real = world.values_for(path, name)
        if real and chooser.random() < 0.5:
            case.path_parameters[name] = chooser.choice(real)
    if isinstance(case.body, dict):
        for name in [name for name in case.body if name in world.body_values]:
            if chooser.random() < 0.5:
                case.body[name] = chooser.choice(world.body_values[name])
        if {"opens_at", "closes_at"} <= set(case.body) and chooser.random() < 0.5:
            opens = timezone.now() + timedelta(days=1)
            case.body.update(opens_at=opens.isoformat(), closes_at=(opens + timedelta(days=7)).isoformat())
    if operation == "DELETE /api/v1/me/" and chooser.random() < 0.5:
        # OpenAPI 3.0 gives DELETE no request body, so none is generated: send the one
        # the endpoint reads (docs and accounts/api.py) now and then.
        case.body = {"password": chooser.choice([TEST_PASSWORD, "not the password"])}
        case.media_type = "application/json"
    token = world.manager_token if path.startswith("/api/v1/agency/") else world.fan_token
    # Now and then nobody is signed in: every refusal of that kind must be documented too.
    headers = {"X-Session-Token": token} if chooser.random() < 0.9 else {}

    response = case.call(app=WSGI_APP, headers=headers)

    fuzz_stats["operations"].add(operation)
    fuzz_stats["cases"] += 1
    fuzz_stats["statuses"][f"{response.status_code // 100}xx"] += 1
    if response.status_code < 300:
        fuzz_stats["succeeded"].add(operation)
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException:  # schemathesis raises an exception group
        fuzz_stats["failures"] += 1
        raise
