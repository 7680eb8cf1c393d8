import json
import os
import subprocess
import sys
import uuid
from contextlib import ExitStack

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import translation

from polls.selectors import process_caches_clear
from tests.factories import AgencyFactory, MembershipFactory, PollFactory, UserFactory
from tests.helpers import ROOT, database_url, free_port, redis_answers, wait_until_up
from tests.showcase import REPORTS


def pytest_terminal_summary(terminalreporter):
    """The figures the browser sweeps measured (axe, page weights, screenshots), shown
    without -s so that CI's log carries them."""
    for title, text in REPORTS.items():
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)


@pytest.fixture(autouse=True)
def _fast_passwords_and_clean_cache(settings):
    # Hashing passwords slowly is a production feature, not something the tests prove.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests post forms at machine speed; tests of the minimum fill time set it back.
    settings.MIN_FORM_FILL_SECONDS = 0
    # Tests change polls behind the ORM's back (queryset updates, time travel) and read
    # them back at once; the tests of the per-worker cache turn it on themselves.
    settings.POLL_CACHE_SECONDS = 0
    # Tests publish the moment they close a poll; the grace period's tests set it back.
    settings.PUBLISH_GRACE_SECONDS = 0
    process_caches_clear()
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A request leaves its language active in the thread (LocaleMiddleware activates one
    # and never resets it, and neither does the account's language): code a later test
    # calls directly would otherwise speak the last Accept-Language sent.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def postgresql():
    """For tests of what PostgreSQL itself does (row locks under real concurrency, its
    SQL): they run on PostgreSQL, as CI does; the embedded SQLite default cannot show it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks, bulk SQL): run with DATABASE_URL as CI does")


@pytest.fixture
def media_in_tmp(settings, tmp_path):
    # Uploaded design images go to a directory of this test's own, not the media root.
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def verified_fan(db):
    return UserFactory(verified=True)


@pytest.fixture
def agency(db):
    return AgencyFactory()


@pytest.fixture
def owner(agency):
    return MembershipFactory(agency=agency, role="owner").user


@pytest.fixture
def manager(agency):
    return MembershipFactory(agency=agency, role="manager").user


@pytest.fixture
def analyst(agency):
    return MembershipFactory(agency=agency, role="analyst").user


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def poll(agency):
    return PollFactory(agency=agency)


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
