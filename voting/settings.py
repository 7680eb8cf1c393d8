"""Encore settings, read from the environment in one place (12-factor).

Every variable the deployment may set is listed in README.md. Without any of them the
project runs as a local demo: SQLite, a local-memory cache, mail written to var/mail/.
``ENCORE_ENV=production`` turns on the production guard (voting/environment.py), which
refuses to start on a configuration that would be unsafe to serve. Off those embedded
defaults, production or not, the development key and DEBUG are refused too
(docs/decisions/fail-safe-settings.md).

Lowercase names are not settings: the service URLs, which may hold passwords, stay
off Django's debug page that way.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_email_url
from django.utils.translation import gettext_lazy as _

from voting.environment import (
    database_from_url,
    env_bool,
    env_int,
    env_json,
    env_list,
    is_test_run,
    off_embedded_defaults,
    raise_for_development_problems,
    raise_for_production_problems,
    social_providers_from_env,
    url_without_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ENCORE_VAR_DIR", BASE_DIR / "var"))

# ---------------------------------------------------------------- mode and secrets
ENCORE_ENV = os.environ.get("ENCORE_ENV", "development")
PRODUCTION = ENCORE_ENV == "production"
DEVELOPMENT_SECRET_KEY = "django-insecure-encore-development-only-never-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
# Why this process is not the local demo on its embedded defaults (empty when it is):
# a service URL is set, or it answers beyond loopback.
OFF_EMBEDDED_DEFAULTS = off_embedded_defaults(os.environ, allowed_hosts=ALLOWED_HOSTS)
# The local demo (or the test suite): only here may the development key, DEBUG and the
# demo data (seed_demo, with its public password) be used.
LOCAL_DEMO = not PRODUCTION and (not OFF_EMBEDDED_DEFAULTS or is_test_run(os.environ))
DEBUG = env_bool("DEBUG", default=LOCAL_DEMO)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute links in mails (invitations) start with this.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# ---------------------------------------------------------------- applications
INSTALLED_APPS = [
    # The admin signs in through allauth and needs a session that used MFA.
    "accounts.admin_config.EncoreAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "allauth.headless",
    "allauth.usersessions",
    "accounts",
    "polls",
    "polls.participation",
    "polls.notifications",
    # The task engine: Django's tasks framework (backport) with its database backend.
    "django_tasks",
    "django_tasks_db",
]
SOCIALACCOUNT_PROVIDERS = social_providers_from_env(os.environ)
INSTALLED_APPS += [f"allauth.socialaccount.providers.{name}" for name in SOCIALACCOUNT_PROVIDERS]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every answer, the lean path's included.
    "voting.content_security_policy.ContentSecurityPolicyMiddleware",
    # Votes with an app token and public results reads answer here, without the rest
    # of the stack (polls/lean_api.py); everything else goes on.
    "polls.lean_api.LeanPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Computed once, before anything that rate limits or logs by address.
    "accounts.middleware.ClientIPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks the user with what the session proved (MFA used, last sign-in).
    "accounts.middleware.SessionAssuranceMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a DomainError raised in an HTML view into its page (404 for not_found).
    "voting.errors.DomainErrorMiddleware",
    # Turns a Ratelimited raised in an HTML view into the friendly 429 page.
    "django_ratelimit.middleware.RatelimitMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
]

ROOT_URLCONF = "voting.urls"
WSGI_APPLICATION = "voting.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.verification",
                "polls.notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
# PostgreSQL through psycopg 3 with a connection pool in production; SQLite for the
# demo, in WAL mode with IMMEDIATE transactions so that concurrent writers queue on
# the busy timeout instead of failing with "database is locked" on lock upgrade.
database_url = os.environ.get("DATABASE_URL", "")
if database_url:
    DATABASES = {"default": database_from_url(database_url)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {
                # Parameters bound by the server, so psycopg prepares a statement it runs
                # often (the vote's, after 5 runs on a connection) and PostgreSQL stops
                # parsing and planning it each time.
                # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
                "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", default=True),
                # Django turns psycopg's automatic preparing off for the sake of poolers in
                # transaction mode (PgBouncer before 1.21); Encore connects directly.
                "prepare_threshold": env_int("DB_PREPARE_THRESHOLD", 5),
            }
        )
        if env_bool("DB_POOL", default=True):
            # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
            DATABASES["default"]["OPTIONS"]["pool"] = {
                "min_size": env_int("DB_POOL_MIN", 2),
                "max_size": env_int("DB_POOL_MAX", 20),
                "timeout": env_int("DB_POOL_TIMEOUT", 30),
            }
        else:
            # One connection per worker, kept between requests and checked before reuse
            # (sync workers: one request at a time, so a pool buys nothing).
            DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 600)
            DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not the shared in-memory database, so that tests with real
            # threads see the same WAL and busy-timeout behaviour as the demo.
            # One file per test process, so that two suites can run side by side.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }


# Read replicas (comma-separated URLs, streaming standbys of the primary): public reads
# (poll lists and pages, results, bulletin boards, checkpoints) go to them through
# voting/db_router.py; everything a voter or an agency writes or must read back stays on
# the primary. A replica may lag a few seconds; a voter's own receipt never comes from one.
# (Lower case: URLs may hold passwords, and only upper-case names become settings the
# debug page could show.)
replica_urls = env_list("DATABASE_REPLICA_URLS", default=[])
DATABASE_REPLICAS = []
for number, replica_url in enumerate(replica_urls, start=1):
    alias = f"replica_{number}"
    replica = database_from_url(replica_url)
    DATABASES[alias] = {
        **replica,
        # The primary's statement preparing, not its pool nor its target_session_attrs
        # (a standby is read-only by nature); the replica URL's own options on top.
        "OPTIONS": {
            **{
                key: value
                for key, value in DATABASES["default"].get("OPTIONS", {}).items()
                if key in ("server_side_binding", "prepare_threshold")
            },
            **replica.get("OPTIONS", {}),
        },
        # A replica's tests read the primary's test database through streaming, never
        # create their own.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_REPLICAS.append(alias)
DATABASE_ROUTERS = ["voting.db_router.ReplicaRouter"]

# ---------------------------------------------------------------- cache and sessions
# What happens when Redis is down is decided in docs/decisions/redis-outage.md:
# votes stay correct (the database decides), sessions fall back to the database,
# rate limits fail open and say so in the log.
# Without its password, which goes to OPTIONS["PASSWORD"] (hidden on the debug page);
# code asks bool(REDIS_URL).
REDIS_URL, redis_password = url_without_password(os.environ.get("REDIS_URL", ""))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "encore"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A dead Redis must cost a request half a second, not a hung worker.
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                **({"PASSWORD": redis_password} if redis_password else {}),
            },
        }
    }
elif env_bool("ENCORE_DB_CACHE", default=False):
    # A cache shared through the database, for a machine without Redis (the tests of
    # limits across processes use it there). Slower and not atomic: not for production.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "encore_cache"}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions (and so allauth's app session tokens) are read from Redis, one round
# trip, and written through to the database, which answers when Redis cannot.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# django-redis answers a failed call like a cache miss instead of raising.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "encore.cache"

# django-ratelimit counts in the shared cache so limits hold across processes.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "voting.errors.rate_limited_view"
# With the cache unreachable a limit cannot be counted; it lets the request through
# (fail open) rather than refusing every fan at once. See the decision record.
RATELIMIT_FAIL_OPEN = True
if not PRODUCTION:
    # The demo's local-memory cache is per process; production refuses it instead.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# Scopes for voting.ratelimits: (who, rate) with who in account, ip, network (/24 or
# /64). Each rule costs two cache round trips, so the vote path has two rules and
# the network rule sits where it buys more. RATE_LIMITS (JSON) overrides scopes,
# e.g. RATE_LIMITS='{"vote": [["account", "5/m"]]}'.
RATE_LIMITS = {
    "vote": [("account", "20/m"), ("network", "600/m")],
    "receipt": [("ip", "30/m"), ("network", "300/m")],
    "export": [("ip", "30/m"), ("network", "120/m")],
    "agency_write": [("account", "120/h"), ("ip", "600/h")],
    "agency_read": [("account", "600/h")],
    "account_write": [("account", "30/h"), ("ip", "120/h")],
    # A fan's download of their data (GET /api/v1/me/data/, /accounts/data/) reads every table.
    "personal_data": [("account", "30/h"), ("ip", "120/h")],
    # Every request an agency API token authenticates, before the endpoint's own scope:
    # a leaked token or a runaway dashboard is bounded per token.
    "agency_token": [("account", "120/m")],
    # Fans' proposals, supports and follows (polls/participation): as many as a person
    # clicks, far fewer than a script.
    "participate": [("account", "30/m"), ("network", "600/m")],
    # Marking notifications read and changing which ones come by mail.
    "notification_write": [("account", "300/h"), ("ip", "1200/h")],
    # One-click unsubscribe (no account: the signed link decides); mail providers post
    # these from their own addresses, so the limit is generous per network.
    "unsubscribe": [("ip", "60/m"), ("network", "600/m")],
}
RATE_LIMITS.update(env_json("RATE_LIMITS", default={}))

# Keys of the lean vote path and of the Lua rate counters (voting/ratelimits.py),
# beside the cache's own; one deployment's prefix keeps test runs apart.
LEAN_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "encore") + ":lean:"
# A stored voter card (accounts/voter_cards.py) lives this long; any change to the
# account makes it stale at once, this only bounds a card whose bump was lost.
VOTER_CARD_SECONDS = env_int("VOTER_CARD_SECONDS", 3600)
# Each worker keeps a poll's rules and options this long (seconds) before reading
# them again; the vote statement checks the poll row itself, so this bounds how long
# a worker may show a stale state, never what it accepts.
POLL_CACHE_SECONDS = env_int("POLL_CACHE_SECONDS", 1)

# Cheap bot friction on HTML forms: a form sent back faster than this is refused.
MIN_FORM_FILL_SECONDS = env_int("MIN_FORM_FILL_SECONDS", 2)

# ---------------------------------------------------------------- agency API tokens
# Days an agency API token lives when its owner names no lifetime, and the most they
# may name: a token left in a dashboard's config dies on its own
# (docs/decisions/agency-api-tokens.md).
AGENCY_TOKEN_DEFAULT_DAYS = env_int("AGENCY_TOKEN_DEFAULT_DAYS", 90)
AGENCY_TOKEN_MAX_DAYS = env_int("AGENCY_TOKEN_MAX_DAYS", 365)

# ---------------------------------------------------------------- declared country
# The country in the profile decides who may vote in country-limited polls; it may
# change at most once in this many days (accounts/services.py, docs/decisions/country-changes.md).
COUNTRY_CHANGE_MIN_DAYS = env_int("COUNTRY_CHANGE_MIN_DAYS", 30)
# Further refusals of a country change, as dotted paths of callables
# ``(*, user, country) -> None`` raising a DomainError: accounts never imports polls,
# so polls' rule ("not while your ballots stand in open country-limited polls") is named here.
COUNTRY_CHANGE_CHECKS = ["polls.eligibility.check_country_change"]

# ---------------------------------------------------------------- client addresses
# Addresses (or networks, CIDR) of reverse proxies whose X-Forwarded-For we believe.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", default=[])
# Raw client addresses on ballots are kept this long for review, then reduced to
# their network (manage.py encore_retention, daily from cron or the worker).
RAW_IP_RETENTION_DAYS = env_int("RAW_IP_RETENTION_DAYS", 30)

# ---------------------------------------------------------------- published results
# Ed25519 private key (PEM) that signs published results; see polls/signing.py.
SIGNING_KEY = os.environ.get("SIGNING_KEY", "").replace("\\n", "\n")
# Seconds after a poll closes before its results may be published: votes cast just
# before the close are still in flight (docs/decisions/publishing-after-in-flight-votes.md).
PUBLISH_GRACE_SECONDS = env_int("PUBLISH_GRACE_SECONDS", 10)

# ---------------------------------------------------------------- fraud signals
# How polls/agency/fraud_signals.py scores clusters of ballots; docs/anti-fraud-signals.md.
# A cluster is flagged at this score or above (0..1)...
FRAUD_SCORE_THRESHOLD = 0.6
# ...and only with this many distinct voters: a family on one router is not a farm.
FRAUD_MIN_CLUSTER_VOTERS = 10
# Smaller clusters than this are not listed at all (noise for reviewers).
FRAUD_LIST_MIN_VOTERS = 3
# The largest clusters of each kind listed; a page of reviewable size.
FRAUD_MAX_CLUSTERS = 50
# An account younger than this at its first ballot counts as new (farms vote fresh).
FRAUD_NEW_ACCOUNT_AGE = timedelta(hours=24)
# Accounts created within this window of each other form a sign-up burst.
FRAUD_SIGNUP_WINDOW = timedelta(minutes=60)
# Ballots per minute are measured over the busiest window of this many minutes.
FRAUD_BURST_WINDOW_MINUTES = 10
# Weight of each component in the score; they sum to 1.
FRAUD_SCORE_WEIGHTS = {"new": 0.30, "signup": 0.25, "shared": 0.20, "burst": 0.15, "one_ip": 0.10}
# Signals are recomputed at most this often per poll (they aggregate over ballots).
FRAUD_SIGNALS_CACHE_SECONDS = 60
# A country database (a MaxMind .mmdb, or a CSV of network,country; voting/geoip.py):
# with it, clusters count voters whose declared country is not their network's.
GEOIP_COUNTRY_DB = os.environ.get("GEOIP_COUNTRY_DB", "")

# ---------------------------------------------------------------- agency insight
# How polls/agency/insight.py reads its counters and flags surges; docs/insight.md.
# An account younger than this when it votes counts as new in the insight.
INSIGHT_NEW_ACCOUNT_AGE = timedelta(days=30)
# One assembled insight document serves readers this long (shared cache; at most 60).
INSIGHT_CACHE_SECONDS = env_int("INSIGHT_CACHE_SECONDS", 30)
# A country surges when it cast at least this many ballots in the last hour...
INSIGHT_SURGE_MIN_RECENT = 20
# ...the poll had at least this many ballots before that hour (a share needs a base)...
INSIGHT_SURGE_MIN_BEFORE = 20
# ...its share of the last hour is at least this many times its share before...
INSIGHT_SURGE_RATIO = 2.0
# ...and at least this much higher in absolute terms (0.05 = 5 percentage points).
INSIGHT_SURGE_MIN_RISE = 0.05
# A surge is suspicious when one network holds this share of the country's recent
# ballots, or one client fingerprint this share (a popular phone shares a fingerprint
# across a country; one /24 does not, hence the higher bar for fingerprints).
INSIGHT_SURGE_NETWORK_SHARE = 0.5
INSIGHT_SURGE_FINGERPRINT_SHARE = 0.8

# ---------------------------------------------------------------- background work
# Seconds between tally refreshes (the staleness bound of live results).
TALLY_INTERVAL = env_int("TALLY_INTERVAL", 2)
# Seconds between checkpoints of an open poll's ballots.
CHECKPOINT_INTERVAL = env_int("CHECKPOINT_INTERVAL", 600)
# The worker is reported stale on /healthz when its heartbeat is older than this.
WORKER_STALE_AFTER = env_int("WORKER_STALE_AFTER", 60)

# ---------------------------------------------------------------- task engine
# Django's tasks framework (the django-tasks backport of django.tasks) with the database
# backend: a task is a row in this database, so enqueueing inside a transaction commits
# or rolls back with the rows it is about, and no other service is needed. Tasks run in
# ``manage.py db_worker`` processes (make run starts one; production runs several).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# /healthz says "degraded" when a task has waited this long (seconds): no task worker runs.
TASKS_STALE_AFTER = env_int("TASKS_STALE_AFTER", 300)

# ---------------------------------------------------------------- notifications
# Recipients inserted per transaction of a fan-out (polls/notifications/services.py).
NOTIFICATION_CHUNK = env_int("NOTIFICATION_CHUNK", 2000)
# Seconds a fan-out waits between chunks: 0 in general; a throttle for a database
# that serves votes at the same time (and how the kill test catches a fan-out midway).
NOTIFICATION_CHUNK_PAUSE = float(os.environ.get("NOTIFICATION_CHUNK_PAUSE", "0"))
# Mails claimed and sent per step of an e-mail task.
NOTIFICATION_EMAIL_BATCH = env_int("NOTIFICATION_EMAIL_BATCH", 200)
# A fan-out or a claimed mail whose worker went silent this long is taken over
# (a killed worker's task stays "running" in the engine forever; this lease decides).
NOTIFICATION_LEASE_SECONDS = env_int("NOTIFICATION_LEASE_SECONDS", 300)
# "Closes in 24 hours": how long before the close fans with votes left are told.
NOTIFICATION_CLOSING_NOTICE = timedelta(hours=env_int("NOTIFICATION_CLOSING_NOTICE_HOURS", 24))
# Events older than this when the worker first sees them (a worker down for days, or
# the first start after an upgrade) are not announced: old news is noise.
NOTIFICATION_EVENT_MAX_AGE = timedelta(hours=env_int("NOTIFICATION_EVENT_MAX_AGE_HOURS", 24))

# ---------------------------------------------------------------- passwords
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# ---------------------------------------------------------------- allauth
# https://docs.allauth.org/en/latest/account/configuration.html
ACCOUNT_ADAPTER = "accounts.adapter.EncoreAccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.EncoreSocialAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD = "website"
ACCOUNT_FORMS = {"signup": "accounts.forms.EncoreSignupForm"}
# The base of every sign-up form, the headless API's included: one account per inbox.
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.signup_checks.EncoreSignupChecks"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Encore] "
# allauth's own rate limits stay on (its defaults), counted in the shared cache.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
}
# Its per-IP limits count an IPv6 client per /64, as ours do (accounts/client_ip.py):
# one customer holds a whole /64, so a bucket per address would be no limit at all.
# allauth 65.21's default, pinned so that an upgrade cannot widen it unnoticed.
ALLAUTH_RATE_LIMIT_IPV6_PREFIX = 64
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

# Phone verification (the "phone" level) is off unless the deployment turns it on and
# plugs in an SMS provider (accounts/sms.py). One verified phone per account.
PHONE_VERIFICATION = env_bool("PHONE_VERIFICATION", default=False)
ACCOUNT_PHONE_VERIFICATION_ENABLED = PHONE_VERIFICATION
if PHONE_VERIFICATION:
    ACCOUNT_SIGNUP_FIELDS = ["email*", "phone", "password1*", "password2*"]
SMS_BACKEND = os.environ.get("SMS_BACKEND", "accounts.sms.FileSMSBackend")
SMS_FILE_PATH = VAR_DIR / "sms"

HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_SERVE_SPECIFICATION = True
# Links in mails sent to app users still land on the server-rendered pages.
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/accounts/confirm-email/{key}/",
    "account_reset_password_from_key": "/accounts/password/reset/key/{key}/",
    "account_signup": "/accounts/signup/",
}

MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "Encore"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_QUERY_EMAIL = True

# ---------------------------------------------------------------- email
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Encore <no-reply@encore.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
email_url = os.environ.get("EMAIL_URL", "")
if email_url:
    # The password lands in EMAIL_HOST_PASSWORD, which the debug page hides.
    vars().update(dj_email_url.parse(email_url))
else:
    # A person trying Encore locally reads the verification links in these files.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# ---------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # allauth's X-Session-Token, its user marked with what the session proved.
        "accounts.authentication.XSessionTokenAuthentication",
        # Agency API tokens (Authorization: Bearer), on the agency API only; last, so a
        # person's session decides when a request carries both.
        "accounts.authentication.AgencyTokenAuthentication",
    ],
    # DRF's own, except that JSON nested too deeply is a 400 too (voting/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "voting.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "voting.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Encore API",
    "DESCRIPTION": "Fan voting with verified accounts and recountable results.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, with what input demands (a required
    # string is not blank: minLength 1), so clients and the API fuzzing see the real rules.
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name "kind" (polls, notifications).
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "polls.models.PollKind",
        "NotificationKindEnum": "polls.notifications.models.NotificationKind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# ---------------------------------------------------------------- i18n and time
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ko", _("Korean")),
    ("ja", _("Japanese")),
    ("zh-hans", _("Simplified Chinese")),
    ("es", _("Spanish")),
    ("pt-br", _("Brazilian Portuguese")),
    ("id", _("Indonesian")),
    ("th", _("Thai")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True
# A few locales' number formats corrected to CLDR (voting/formats/*/formats.py).
FORMAT_MODULE_PATH = ["voting.formats"]

# ---------------------------------------------------------------- static and media
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
if not PRODUCTION:
    # whitenoise serves from the finders in development; the folder need only exist.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------- security
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the headless browser client reads it
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if TRUSTED_PROXIES:
        # Only a trusted proxy terminates TLS for us and says so in this header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not PRODUCTION and not LOCAL_DEMO:
    raise_for_development_problems(
        reasons=OFF_EMBEDDED_DEFAULTS,
        debug=DEBUG,
        secret_key=SECRET_KEY,
        default_secret_key=DEVELOPMENT_SECRET_KEY,
    )
if PRODUCTION:
    raise_for_production_problems(
        debug=DEBUG,
        secret_key=SECRET_KEY,
        default_secret_key=DEVELOPMENT_SECRET_KEY,
        cache_backend=CACHES["default"]["BACKEND"],
        database_engine=DATABASES["default"]["ENGINE"],
        allowed_hosts=ALLOWED_HOSTS,
        signing_key=SIGNING_KEY,
        phone_verification=PHONE_VERIFICATION,
        sms_backend=SMS_BACKEND,
    )
