"""Rate limits hold across server processes: two real servers, one shared cache.

Two ``runserver`` processes serve the same database; requests alternate between
them. The shared cache is Redis when one answers (as in CI and production), else a
database-backed cache, so the test proves the mechanism on any machine.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from polls.models import Ballot
from tests.factories import PollFactory, UserFactory
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    host_port = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def shared_cache_env() -> dict:
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    if redis_answers(redis_url):
        return {"REDIS_URL": redis_url, "CACHE_KEY_PREFIX": f"xproc-{uuid.uuid4().hex[:8]}"}
    call_command("createcachetable", "encore_cache")
    return {"ENCORE_DB_CACHE": "true"}


@pytest.fixture
def two_servers(shared_cache_env):
    def start(rate_limits: dict, extra_env: dict | None = None) -> list[str]:
        urls = []
        for _ in range(2):
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}},
                **shared_cache_env,
                "DATABASE_URL": database_url(),
                "RATE_LIMITS": json.dumps(rate_limits),
                "MIN_FORM_FILL_SECONDS": "0",
                "DEBUG": "false",
                **(extra_env or {}),
            }
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "runserver",
                    f"127.0.0.1:{port}",
                    "--noreload",
                    "--skip-checks",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(process.wait, timeout=10)
            stack.callback(process.terminate)
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_until_up(url)
        return urls

    with ExitStack() as stack:
        yield start


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"server at {url} did not start")


def session_token(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


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
