"""Settings of the bare server of the baselines (bench/baselines.py): Django with no
middleware and no applications, on the same database configuration as Encore
(DATABASE_URL and its connection pool, read by voting.settings).

Loaded only by the second gunicorn that bench/run.py starts.
"""

from bench.settings import DATABASES, SECRET_KEY

__all__ = ["DATABASES", "SECRET_KEY"]

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.baselines"
WSGI_APPLICATION = "voting.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
