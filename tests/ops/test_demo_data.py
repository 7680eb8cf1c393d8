"""`make run`'s demo data: complete, recountable, and idempotent."""

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Agency, Membership, User
from accounts.verification import VerificationLevel, verification_level_of
from polls.models import Ballot, Option, Poll, PollStatus
from polls.recount import recount
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


def seed():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


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
    assert Membership.objects.get().role == "owner"
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
