"""Reading configuration from the environment, and the production guard.

Kept free of Django imports so settings.py can use it before Django is set up, and
so the guard can be tested as a plain function.
"""

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

# Caches that every web process shares; rate limits and sessions need one of them.
SHARED_CACHE_BACKENDS = {
    "django_redis.cache.RedisCache",
    "django.core.cache.backends.redis.RedisCache",
}

SOCIAL_PROVIDER_NAMES = ("google", "apple", "kakao", "naver", "line")

# The embedded defaults are SQLite, a local-memory cache, mail written to files and
# ALLOWED_HOSTS naming this machine only: `make run`. Any of these variables takes a
# process off them (docs/decisions/fail-safe-settings.md).
SERVICE_URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL")
# Host names that reach this machine only.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def env_bool(name: str, *, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    environ = environ if environ is not None else _os_environ()
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def env_int(name: str, default: int, *, environ: Mapping[str, str] | None = None) -> int:
    environ = environ if environ is not None else _os_environ()
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from exc


def env_list(name: str, *, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    environ = environ if environ is not None else _os_environ()
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_json(name: str, *, default, environ: Mapping[str, str] | None = None):
    import json

    environ = environ if environ is not None else _os_environ()
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from exc


def database_from_url(url: str) -> dict:
    """A DATABASES entry from a URL, including libpq's multi-host form
    ``postgres://user@host1:5432,host2:5432/db?target_session_attrs=read-write``, which
    dj-database-url cannot parse: libpq then tries the hosts in turn and keeps the one
    that accepts writes, so a promoted standby takes over without a configuration change.
    Query parameters become connection options."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    import dj_database_url

    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "," not in hosts:
        return dj_database_url.parse(url, conn_max_age=0)
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    host_list, port_list = [], []
    for item in hosts.split(","):
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        host_list.append(host or item)
        port_list.append(port or "5432")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(user),
        "PASSWORD": unquote(password),
        "HOST": ",".join(host_list),
        "PORT": ",".join(port_list),
        "CONN_MAX_AGE": 0,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def social_providers_from_env(environ: Mapping[str, str]) -> dict[str, dict]:
    """Turn on each social provider whose client id and secret are configured.

    ``SOCIAL_GOOGLE_CLIENT_ID`` and ``SOCIAL_GOOGLE_SECRET`` switch Google on, and so
    on for APPLE, KAKAO, NAVER and LINE. Apple also needs ``SOCIAL_APPLE_KEY`` (team
    id) and ``SOCIAL_APPLE_CERTIFICATE_KEY`` (the private key, PEM).
    """
    providers: dict[str, dict] = {}
    for name in SOCIAL_PROVIDER_NAMES:
        prefix = f"SOCIAL_{name.upper()}_"
        client_id = environ.get(prefix + "CLIENT_ID", "")
        secret = environ.get(prefix + "SECRET", "")
        if not (client_id and secret):
            continue
        app = {"client_id": client_id, "secret": secret, "key": environ.get(prefix + "KEY", "")}
        if name == "apple":
            app["settings"] = {"certificate_key": environ.get(prefix + "CERTIFICATE_KEY", "")}
        providers[name] = {"APPS": [app], "EMAIL_AUTHENTICATION": False}
    return providers


def production_problems(
    *,
    debug: bool,
    secret_key: str,
    default_secret_key: str,
    cache_backend: str,
    database_engine: str,
    allowed_hosts: list[str],
    signing_key: str = "",
    phone_verification: bool = False,
    sms_backend: str = "",
) -> list[str]:
    """Every reason this configuration must not serve the public, in plain words."""
    problems = []
    if debug:
        problems.append("DEBUG is on; set DEBUG=false.")
    if is_development_key(secret_key, default_secret_key):
        problems.append("SECRET_KEY is missing or the development default; set a random one.")
    elif len(secret_key) < 50 or len(set(secret_key)) < 5:
        problems.append("SECRET_KEY is too short or too plain; use 50+ random characters.")
    if cache_backend not in SHARED_CACHE_BACKENDS:
        problems.append(
            f"The cache ({cache_backend}) is not shared between processes, so rate limits "
            "and sessions would not hold; set REDIS_URL."
        )
    if database_engine != "django.db.backends.postgresql":
        problems.append("The database is not PostgreSQL; set DATABASE_URL=postgres://...")
    if not allowed_hosts or "*" in allowed_hosts:
        problems.append("ALLOWED_HOSTS is empty or '*'; list the host names served.")
    if phone_verification and sms_backend.startswith("accounts.sms."):
        problems.append("PHONE_VERIFICATION is on but SMS_BACKEND is not a real provider; set SMS_BACKEND.")
    if "PRIVATE KEY" not in signing_key:
        problems.append("SIGNING_KEY (Ed25519 private key, PEM) is missing; published results need it.")
    return problems


def off_embedded_defaults(environ: Mapping[str, str], *, allowed_hosts: list[str]) -> list[str]:
    """Why this process is not the local demo on its embedded defaults, in plain words;
    empty when it is.

    Where a server listens is decided after settings (``runserver 0.0.0.0:8000``,
    ``gunicorn --bind``), so settings read it from what must be configured to answer
    anyone else: a host name beyond loopback in ALLOWED_HOSTS (Django refuses other
    Host headers) or a trusted reverse proxy in front.
    """
    reasons = [f"{name} is set" for name in SERVICE_URL_VARIABLES if environ.get(name, "").strip()]
    beyond_loopback = [host for host in allowed_hosts if host not in LOOPBACK_HOSTS]
    if beyond_loopback:
        reasons.append(f"ALLOWED_HOSTS names {', '.join(beyond_loopback)}")
    if environ.get("TRUSTED_PROXIES", "").strip():
        reasons.append("TRUSTED_PROXIES is set")
    return reasons


def is_development_key(secret_key: str, default_secret_key: str) -> bool:
    return not secret_key or secret_key == default_secret_key or secret_key.startswith("django-insecure")


def development_problems(*, debug: bool, secret_key: str, default_secret_key: str) -> list[str]:
    """What a process off its embedded defaults must not run with, even outside
    ENCORE_ENV=production: the development key from the repository, or DEBUG."""
    problems = []
    if debug:
        problems.append("DEBUG is on; set DEBUG=false (its error pages show settings and code).")
    if is_development_key(secret_key, default_secret_key):
        problems.append(
            "SECRET_KEY is the development key from the repository; set a random one (50+ characters)."
        )
    return problems


def raise_for_development_problems(*, reasons: list[str], **configuration) -> None:
    problems = development_problems(**configuration)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise ImproperlyConfigured(
            f"Encore is not on its embedded defaults ({'; '.join(reasons)}), so it refuses "
            f"to start with:\n{lines}\nFor the local demo unset those variables; to serve the "
            "public set ENCORE_ENV=production as README.md shows."
        )


def is_test_run(environ: Mapping[str, str]) -> bool:
    """pytest (8.2 and later) sets PYTEST_VERSION for its run, and the servers and
    commands a test starts inherit it. The suite runs on PostgreSQL and Redis (CI) with
    the development key, so a test run is exempt from the guard above, and nothing else
    is. ENCORE_ENV=production is never exempt."""
    return bool(environ.get("PYTEST_VERSION"))


def url_without_password(url: str) -> tuple[str, str]:
    """The URL without its password, and the password: settings keep the password under
    a name Django's debug page hides (``...PASSWORD``), never inside a URL it shows."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, ""
    userinfo, _at, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password)


def raise_for_production_problems(**configuration) -> None:
    problems = production_problems(**configuration)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise ImproperlyConfigured(
            f"ENCORE_ENV=production refuses to start with this configuration:\n{lines}"
        )


def _os_environ() -> Mapping[str, str]:
    import os

    return os.environ
