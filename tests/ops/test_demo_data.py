"""`make run`'s demo data: complete, recountable, and idempotent."""

import io
import os
import re
import subprocess
import sys
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.demo import DEMO_PASSWORD, DemoRefused, demo_accounts_seed
from accounts.models import Agency, Membership, User
from accounts.verification import VerificationLevel, verification_level_of
from polls.models import Ballot, Option, Poll, PollStatus
from polls.recount import recount
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_totp(output: str, email: str) -> tuple[str, str]:
    """The TOTP secret and otpauth:// URI `seed_demo` printed under the account."""
    block = output.split(email, 1)[1]
    secret = re.search(r"TOTP secret:\s+([A-Z2-7]+)", block).group(1)
    uri = re.search(r"otpauth URI:\s+(otpauth://\S+)", block).group(1)
    return secret, uri


def fresh_totp_window() -> None:
    """Near the end of a 30-second window, wait for the next (allauth accepts the
    current window only, and a code is checked a moment after it is computed)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30)


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now."""
    fresh_totp_window()
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_seed_demo_twice_creates_everything_once(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    seed()
    counts = (User.objects.count(), Ballot.objects.count(), Poll.objects.count(), Option.objects.count())
    seed()

    assert (
        User.objects.count(),
        Ballot.objects.count(),
        Poll.objects.count(),
        Option.objects.count(),
    ) == counts
    assert Agency.objects.count() == 1
    roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles == {"owner@encore.example": "owner", "manager@encore.example": "manager"}
    fan = User.objects.get(email="fan@encore.example")
    assert verification_level_of(fan) == VerificationLevel.EMAIL
    assert fan.check_password("encore-demo-2026")
    statuses = {poll.slug: poll.status for poll in Poll.objects.all()}
    assert list(statuses.values()).count(PollStatus.OPEN) == 3
    assert statuses["lumen-fanclub-name"] == PollStatus.CLOSED
    assert statuses["lumen-encore-song"] == PollStatus.PUBLISHED
    assert Poll.objects.get(slug="lumen-next-single").method == "ranked"
    assert {p.results_visibility for p in Poll.objects.filter(slug__in=statuses, state="scheduled")} >= {
        "live",
        "on_publish",
    }
    designs = Option.objects.filter(poll__kind="design")
    assert designs.count() == 3
    assert all(option.image.name.endswith(".png") for option in designs)
    city = Option.objects.filter(poll__kind="city").first()
    assert city.latitude is not None and city.country


def test_demo_published_poll_has_hundreds_of_ballots_some_invalidated_and_recounts(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()
    poll = Poll.objects.get(slug="lumen-encore-song")
    snapshot = poll.snapshot

    lines: list[str] = []
    ok = recount(snapshot.board_json.encode(), results=snapshot.results, out=lines.append)

    assert ok, "\n".join(lines)
    assert snapshot.results["turnout"]["ballots_cast"] >= 300
    assert snapshot.results["invalidated"] == {"bot_network": 30, "duplicate_person": 4}
    assert snapshot.results["checkpoints"] == 2


def test_seed_demo_gives_owner_and_second_manager_a_real_totp_authenticator_and_prints_it(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    output = seed()

    for email in ("owner@encore.example", "manager@encore.example"):
        secret, uri = printed_totp(output, email)
        user = User.objects.get(email=email)
        totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        assert totp.wrap().validate_code(totp_code(secret))
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()
        assert urlsplit(uri).path == f"/{email.replace('@', '%40')}"
        assert parse_qs(urlsplit(uri).query) == {"secret": [secret], "issuer": ["Encore"]}
    assert "manager@encore.example" in output and DEMO_PASSWORD in output


def test_demo_totp_secret_stays_the_same_on_every_run(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    first = printed_totp(seed(), "owner@encore.example")
    second = printed_totp(seed(), "owner@encore.example")

    assert first == second
    assert Authenticator.objects.filter(type=Authenticator.Type.TOTP).count() == 2


def test_code_from_the_printed_secret_signs_the_demo_owner_in_through_allauth_mfa(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    secret, _uri = printed_totp(seed(), "owner@encore.example")
    client = Client()

    login = client.post(
        reverse("account_login"), {"login": "owner@encore.example", "password": DEMO_PASSWORD}
    )
    assert login.status_code == HTTPStatus.FOUND
    assert login["Location"] == reverse("mfa_authenticate")
    second = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert second.status_code == HTTPStatus.FOUND

    # An MFA-gated action, the one a person trying the demo first meets: closing an open poll.
    response = client.post("/api/v1/agency/polls/lumen-tour-merch-design/close/")

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["status"] == "closed"


def test_demo_totp_prints_the_codes_the_demo_staff_authenticators_accept_now(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()
    fresh_totp_window()
    out = io.StringIO()

    call_command("demo_totp", stdout=out)

    codes = dict(re.findall(r"^(\S+@encore\.example): (\d{6})$", out.getvalue(), re.MULTILINE))
    assert set(codes) == {"owner@encore.example", "manager@encore.example"}
    for email, code in codes.items():
        totp = Authenticator.objects.get(user__email=email, type=Authenticator.Type.TOTP)
        assert totp.wrap().validate_code(code)


def test_demo_totp_refuses_in_production(settings):
    settings.PRODUCTION = True
    settings.LOCAL_DEMO = False

    with pytest.raises(CommandError, match="runs only on the local demo"):
        call_command("demo_totp", stdout=io.StringIO())


def test_demo_accounts_refuse_to_be_seeded_in_production_even_without_the_command(settings):
    settings.PRODUCTION = True
    settings.LOCAL_DEMO = False

    with pytest.raises(DemoRefused, match="ENCORE_ENV=production"):
        demo_accounts_seed()

    assert not User.objects.exists()
    assert not Authenticator.objects.exists()


def test_seed_demo_refuses_in_production(settings):
    settings.PRODUCTION = True
    settings.LOCAL_DEMO = False

    with pytest.raises(CommandError, match="ENCORE_ENV=production"):
        seed()

    assert not User.objects.exists()


def test_seed_demo_refuses_off_the_embedded_defaults(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PYTEST_VERSION"}}
    database = tmp_path / "elsewhere.sqlite3"

    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env={
            **env,
            "ENCORE_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "a-random-enough-key-for-this-test-only-" + "x1y2z3" * 5,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "seed_demo runs only on the local demo" in result.stderr
    assert "DATABASE_URL is set" in result.stderr
