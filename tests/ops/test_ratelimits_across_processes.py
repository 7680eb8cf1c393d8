"""Rate limits hold across server processes: two real servers, one shared cache.

Two ``runserver`` processes serve the same database; requests alternate between
them. The shared cache is Redis when one answers (as in CI and production), else a
database-backed cache, so the test proves the mechanism on any machine.
"""

import json
import urllib.error
import urllib.request

import pytest

from polls.models import Ballot
from tests.factories import PollFactory, UserFactory
from tests.helpers import session_token

pytestmark = pytest.mark.django_db(transaction=True)


def vote(url: str, poll, token: str, forwarded_for: str | None = None) -> int:
    headers = {"Content-Type": "application/json", "X-Session-Token": token}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    body = json.dumps({"choices": [poll.options.first().pk]}).encode()
    request = urllib.request.Request(f"{url}/api/v1/polls/{poll.slug}/votes/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 429:
            assert int(error.headers["Retry-After"]) >= 1
            assert json.loads(error.read())["code"] == "rate_limited"
        return error.code


def many_votes_poll():
    # Up to 20 ballots a day per account, so only the rate limits can refuse.
    return PollFactory(period="daily", votes_per_period=20)


def test_per_account_limit_holds_across_two_processes(two_servers):
    a, b = two_servers({"vote": [["account", "3/h"]]})
    poll, fan = many_votes_poll(), UserFactory(verified=True)
    token = session_token(fan)

    statuses = [vote(url, poll, token) for url in (a, b, a, b, a, b)]

    assert statuses == [201, 201, 201, 429, 429, 429]
    assert Ballot.objects.filter(poll=poll).count() == 3


def test_per_ip_limit_holds_across_two_processes_and_accounts(two_servers):
    a, b = two_servers({"vote": [["ip", "4/h"]]})
    poll = many_votes_poll()
    tokens = [session_token(UserFactory(verified=True)) for _ in range(6)]

    statuses = [vote(url, poll, token) for url, token in zip((a, b) * 3, tokens, strict=True)]

    assert statuses == [201, 201, 201, 201, 429, 429]


def test_per_network_limit_holds_across_processes_addresses_and_accounts(two_servers):
    # Behind our trusted proxy (127.0.0.1) the clients are six addresses of one /24.
    a, b = two_servers({"vote": [["network", "4/h"]]}, {"TRUSTED_PROXIES": "127.0.0.1"})
    poll = many_votes_poll()
    tokens = [session_token(UserFactory(verified=True)) for _ in range(6)]
    addresses = [f"198.51.100.{n}" for n in range(10, 16)]

    statuses = [
        vote(url, poll, token, forwarded_for=ip)
        for url, token, ip in zip((a, b) * 3, tokens, addresses, strict=True)
    ]
    other_network = vote(a, poll, session_token(UserFactory(verified=True)), forwarded_for="203.0.113.9")

    assert statuses == [201, 201, 201, 201, 429, 429]
    assert other_network == 201
    assert set(Ballot.objects.filter(poll=poll).values_list("client_network", flat=True)) == {
        "198.51.100.0/24",
        "203.0.113.0/24",
    }
