"""Settings of the benchmark's Encore server: voting.settings as production reads it
from the environment bench/run.py sets, plus the baseline URLs (bench/urls.py).

Loaded only by bench/run.py and the gunicorn it starts, never by the product.
"""

import copy

from voting.settings import *  # noqa: F403
from voting.settings import DATABASES as ENCORE_DATABASES

ROOT_URLCONF = "bench.urls"

# Every commit waits for its WAL flush, as in production, whatever the server's
# default: set on the connections of this process only, the server is not touched.
DATABASES = copy.deepcopy(ENCORE_DATABASES)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=on"
