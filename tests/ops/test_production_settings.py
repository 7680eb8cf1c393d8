"""Production mode refuses unsafe configurations loudly, and is clean when set right.
Off the embedded defaults, production or not, the development key and DEBUG are
refused, and no setting the debug page shows holds a service password."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.helpers import ROOT
from voting.environment import production_problems, url_without_password

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


# Left out of the subprocesses' environment: the test's own configuration and pytest's
# PYTEST_VERSION (which exempts the suite from the development guard).
NOT_INHERITED = {
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "TRUSTED_PROXIES",
    "ENCORE_ENV",
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_VERSION",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
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


# ------------------------------------------------------------------ off the embedded defaults


@pytest.mark.parametrize(
    "off_defaults",
    [
        {"DATABASE_URL": "sqlite:///{tmp}/encore.sqlite3"},
        {"REDIS_URL": "redis://127.0.0.1:6379/0"},
        {"EMAIL_URL": "smtp://mail.example.com:25"},
        {"ALLOWED_HOSTS": "encore.example"},
        {"ALLOWED_HOSTS": "localhost,*"},
        {"TRUSTED_PROXIES": "10.0.0.1"},
    ],
    ids=["database", "redis", "email", "public-host", "any-host", "behind-proxy"],
)
def test_the_development_key_is_refused_off_the_embedded_defaults(tmp_path, off_defaults):
    env = {name: value.format(tmp=tmp_path) for name, value in off_defaults.items()}

    result = manage("check", ENCORE_VAR_DIR=str(tmp_path), **env)

    assert result.returncode != 0
    assert "not on its embedded defaults" in result.stderr
    assert "SECRET_KEY is the development key" in result.stderr


def test_debug_is_refused_off_the_embedded_defaults(tmp_path):
    result = manage(
        "check",
        ENCORE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/encore.sqlite3",
        SECRET_KEY=GOOD["secret_key"],
        DEBUG="true",
    )

    assert result.returncode != 0
    assert "DEBUG is on" in result.stderr
    assert "SECRET_KEY" not in result.stderr


def test_off_the_embedded_defaults_a_random_key_starts_with_debug_off(tmp_path):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print('DEBUG', settings.DEBUG)",
        ENCORE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/encore.sqlite3",
        SECRET_KEY=GOOD["secret_key"],
    )

    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_the_local_demo_starts_on_its_embedded_defaults_with_the_development_key(tmp_path):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print('DEBUG', settings.DEBUG)",
        ENCORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert "DEBUG True" in result.stdout


def test_a_test_run_is_exempt_from_the_development_guard(tmp_path):
    result = manage(
        "check",
        ENCORE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/encore.sqlite3",
        PYTEST_VERSION="9",
    )

    assert result.returncode == 0, result.stderr


def test_the_bench_server_environment_starts(tmp_path):
    from bench.run import SERVER_ENV

    result = manage("check", ENCORE_VAR_DIR=str(tmp_path), **SERVER_ENV)

    assert result.returncode == 0, result.stderr


def test_no_setting_the_debug_page_shows_holds_a_service_password(tmp_path):
    result = manage(
        "shell",
        "-c",
        "from django.views.debug import SafeExceptionReporterFilter as F; print(F().get_safe_settings())",
        ENCORE_VAR_DIR=str(tmp_path),
        SECRET_KEY=GOOD["secret_key"],
        DATABASE_URL="postgres://encore:pw-database-1@db.example:5432/encore",
        REDIS_URL="redis://cache:pw-redis-2@cache.example:6379/0",
        EMAIL_URL="smtp://mailer:pw-mail-3@smtp.example.com:587",
    )

    assert result.returncode == 0, result.stderr
    assert "pw-" not in result.stdout
    assert "redis://cache@cache.example:6379/0" in result.stdout  # the address, without its password


def test_the_redis_password_moves_from_the_url_to_the_cache_options():
    assert url_without_password("redis://:s3cret@cache:6379/0") == ("redis://cache:6379/0", "s3cret")
    assert url_without_password("rediss://user:p%40ss@[::1]:6380/1") == ("rediss://user@[::1]:6380/1", "p@ss")
    assert url_without_password("redis://127.0.0.1:6379/0") == ("redis://127.0.0.1:6379/0", "")
    assert url_without_password("") == ("", "")
