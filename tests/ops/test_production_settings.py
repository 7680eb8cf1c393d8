"""Production mode refuses unsafe configurations loudly, and is clean when set right."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.helpers import ROOT
from voting.environment import production_problems

SIGNING_PEM = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
GOOD = {
    "debug": False,
    "secret_key": secrets.token_urlsafe(64),
    "default_secret_key": "django-insecure-default",
    "cache_backend": "django_redis.cache.RedisCache",
    "database_engine": "django.db.backends.postgresql",
    "allowed_hosts": ["encore.example"],
    "signing_key": SIGNING_PEM,
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_good_configuration_has_no_problems():
    assert production_problems(**GOOD) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"debug": True}, "DEBUG"),
        ({"secret_key": "django-insecure-default"}, "SECRET_KEY"),
        ({"secret_key": ""}, "SECRET_KEY"),
        ({"secret_key": "short"}, "SECRET_KEY"),
        ({"cache_backend": "django.core.cache.backends.locmem.LocMemCache"}, "REDIS_URL"),
        ({"database_engine": "django.db.backends.sqlite3"}, "DATABASE_URL"),
        ({"allowed_hosts": ["*"]}, "ALLOWED_HOSTS"),
        ({"signing_key": ""}, "SIGNING_KEY"),
        ({"phone_verification": True, "sms_backend": "accounts.sms.FileSMSBackend"}, "SMS_BACKEND"),
    ],
)
def test_each_unsafe_setting_is_named(change, words):
    problems = production_problems(**{**GOOD, **change})

    assert len(problems) == 1
    assert words in problems[0]


def test_production_without_configuration_refuses_to_start():
    result = manage("check", ENCORE_ENV="production")

    assert result.returncode != 0
    assert "refuses to start" in result.stderr
    for words in ("SECRET_KEY", "REDIS_URL", "DATABASE_URL", "ALLOWED_HOSTS"):
        assert words in result.stderr


def test_production_with_debug_on_refuses_to_start():
    result = manage(
        "check",
        ENCORE_ENV="production",
        DEBUG="true",
        SECRET_KEY=GOOD["secret_key"],
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/encore",
        ALLOWED_HOSTS="encore.example",
    )

    assert result.returncode != 0
    assert "DEBUG is on" in result.stderr


def test_production_deploy_check_is_clean_when_configured():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        ENCORE_ENV="production",
        SECRET_KEY=GOOD["secret_key"],
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/encore",
        ALLOWED_HOSTS="encore.example",
        SIGNING_KEY=SIGNING_PEM,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
