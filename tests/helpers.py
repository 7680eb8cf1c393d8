"""Plain helpers that more than one test module uses. Fixtures live in conftest.py."""

import hashlib
import io
import socket
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.db import connection
from django.test import Client
from django.utils import timezone
from PIL import Image

from polls.models import Ballot, Poll
from polls.services import ballot_cast
from tests.factories import DraftPollFactory, UserFactory, mfa_enable

# The repository: working directory and PYTHONPATH of the subprocesses tests start.
ROOT = Path(__file__).resolve().parent.parent

AGENCY_API = "/api/v1/agency"

# A passphrase the sign-up form's validators accept (factory users have TEST_PASSWORD).
FAN_PASSWORD = "a-long-fan-passphrase-2026"

# ------------------------------------------------------------------ requests


def post_json(client: Client, path: str, payload: dict | None = None):
    return client.post(path, payload or {}, content_type="application/json")


def patch_json(client: Client, path: str, payload: dict):
    return client.patch(path, payload, content_type="application/json")


# ------------------------------------------------------------------ polls


def option_ids(poll):
    return list(poll.options.values_list("pk", flat=True))


def close(poll: Poll) -> Poll:
    Poll.objects.filter(pk=poll.pk).update(closed_early_at=timezone.now())
    return Poll.objects.get(pk=poll.pk)


def draft_without_options(agency, **kwargs) -> Poll:
    poll = DraftPollFactory(agency=agency, **kwargs)
    poll.options.all().delete()
    return poll


def png_bytes(size=(8, 8), image_format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buffer, format=image_format)
    return buffer.getvalue()


# ------------------------------------------------------------------ a vote farm and a clean crowd

FARM_NETWORK = "203.0.113.0/24"
FARM_FINGERPRINT = hashlib.sha256(b"headless bot 1.0").hexdigest()


def fingerprint(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def cast_farm(poll: Poll, size: int = 40, option: str = "Seoul") -> list[Ballot]:
    """Accounts created minutes before voting, all from one /24 with one fingerprint."""
    option_id = poll.options.get(label=option).pk
    now = timezone.now()
    ballots = []
    for number in range(size):
        voter = UserFactory(verified=True, date_joined=now - timedelta(minutes=30 - number % 30))
        ballot_cast(
            poll=poll,
            voter=voter,
            choices=[option_id],
            client_ip=f"203.0.113.{number + 1}",
            client_fingerprint=FARM_FINGERPRINT,
        )
        ballots.append(Ballot.objects.get(poll=poll, voter=voter))
    return ballots


def cast_clean_crowd(poll: Poll, size: int = 40, option: str = "Tokyo") -> list[Ballot]:
    """Accounts weeks old, each on its own network, with a handful of common browsers."""
    option_id = poll.options.get(label=option).pk
    now = timezone.now()
    ballots = []
    for number in range(size):
        voter = UserFactory(verified=True, date_joined=now - timedelta(days=20 + number, hours=number))
        ballot_cast(
            poll=poll,
            voter=voter,
            choices=[option_id],
            client_ip=f"198.18.{number}.7",
            client_fingerprint=fingerprint(f"common browser {number % 4}"),
        )
        ballots.append(Ballot.objects.get(poll=poll, voter=voter))
    return ballots


# ------------------------------------------------------------------ real server processes


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


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # TimeoutError: workers booting
            time.sleep(0.2)
    raise AssertionError(f"server at {url} did not start")


def session_token(user, *, mfa: bool = False) -> str:
    """An app's X-Session-Token for the user (with ``mfa``: of a session that passed MFA)."""
    client = Client()
    if mfa:
        login_with_mfa(client, user)
    else:
        client.force_login(user)
    return client.cookies["sessionid"].value


# ------------------------------------------------------------------ what a session proved


def record_sign_in(session, user, *, mfa: bool) -> None:
    """Write into ``session`` what allauth records when the user signs in with a
    password (and, with ``mfa``, their TOTP code) now: accounts/assurance.py reads it."""
    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator

    request = SimpleNamespace(session=session)
    record_authentication(request, user, "password", email=user.email)
    if mfa:
        totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        record_authentication(request, user, "mfa", id=totp.pk, type=totp.type)


def _with_totp(user) -> None:
    from allauth.mfa.models import Authenticator

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        mfa_enable(user)


def login_with_mfa(client: Client, user) -> Client:
    """Sign the client in as the user would with their password and TOTP code (the
    authenticator is made when missing); see test_mfa_sessions.py for the real flow."""
    _with_totp(user)
    client.force_login(user)
    session = client.session
    record_sign_in(session, user, mfa=True)
    session.save()
    return client


def login_just_now(client: Client, user) -> Client:
    """Sign the client in as the user would with their password, now (a recent
    authentication, no second factor)."""
    client.force_login(user)
    session = client.session
    record_sign_in(session, user, mfa=False)
    session.save()
    return client


def session_user(user, *, mfa: bool = False):
    """The user as a request from a session that signed in now (with MFA when ``mfa``)
    hands it to services, for tests that call services directly."""
    from django.contrib.sessions.backends.base import SessionBase

    from accounts.assurance import assurance_attach

    if mfa:
        _with_totp(user)
    session = SessionBase()
    record_sign_in(session, user, mfa=mfa)
    return assurance_attach(user, session)


# ------------------------------------------------------------------ agency API tokens


def agency_token(agency, *, scope: str = "read", owner=None) -> str:
    """The text of a new agency API token (send it as ``Authorization: Bearer``), made
    by ``owner`` or by a new owner of the agency."""
    from accounts.api_tokens import api_token_create
    from tests.factories import MembershipFactory

    if owner is None:
        owner = MembershipFactory(agency=agency, role="owner").user
    _api_token, token = api_token_create(
        agency=agency, actor=session_user(owner, mfa=True), name=f"{scope} token", scope=scope
    )
    return token
