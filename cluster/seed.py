"""Seed a cluster's database: ``python -m cluster.seed poll <slug>`` makes an open poll
(live results, three options) of a verified agency; ``python -m cluster.seed fans <n>
<tokens file>`` makes n verified fans, each signed in with an app session whose token is
written to the file, and stores their voter cards as signing in does. Runs against
``DATABASE_URL`` / ``REDIS_URL`` like the service; prints JSON.
"""

# ruff: noqa: E402

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voting.settings")

import django

django.setup()

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cached_db import KEY_PREFIX, SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.utils import timezone
from django.utils.crypto import get_random_string

from accounts.models import Agency, User
from accounts.voter_cards import voter_cards_store_many
from polls.models import Option, Poll, PollKind, PollState, ResultsVisibility


def poll_seed(slug: str) -> dict:
    now = timezone.now()
    agency, _ = Agency.objects.get_or_create(
        slug="cluster", defaults={"name": "Cluster Agency", "verified_at": now}
    )
    poll, _ = Poll.objects.get_or_create(
        slug=slug,
        defaults={
            "agency": agency,
            "title": f"Cluster poll {slug}",
            "kind": PollKind.OTHER,
            "state": PollState.SCHEDULED,
            "opens_at": now - timedelta(hours=1),
            "closes_at": now + timedelta(days=1),
            "results_visibility": ResultsVisibility.LIVE,
        },
    )
    for position, label in enumerate(["North", "South", "East"]):
        Option.objects.get_or_create(poll=poll, label=label, defaults={"position": position})
    return {"slug": poll.slug, "options": list(poll.options.values_list("pk", flat=True))}


def fans_seed(count: int, tokens_path: Path) -> dict:
    joined = timezone.now() - timedelta(days=30)
    start = User.objects.filter(email__startswith="cluster-fan-").count()
    users = User.objects.bulk_create(
        [
            User(
                email=f"cluster-fan-{n:06d}@cluster.example", password=make_password(None), date_joined=joined
            )
            for n in range(start, start + count)
        ],
        batch_size=2000,
    )
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users],
        batch_size=2000,
    )
    # Sessions as django.contrib.auth.login and cached_db would write them, in bulk.
    store, cache = SessionStore(), caches[settings.SESSION_CACHE_ALIAS]
    expire = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    tokens, rows, cached = [], [], {}
    for user in users:
        key = get_random_string(32, VALID_KEY_CHARS)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        tokens.append(key)
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        cached[KEY_PREFIX + key] = data
    Session.objects.bulk_create(rows, batch_size=2000)
    cache.set_many(cached, timeout=settings.SESSION_COOKIE_AGE)
    voter_cards_store_many(list(zip(tokens, users, strict=True)))
    tokens_path.write_text("".join(f"{token}\n" for token in tokens))
    return {"fans": len(tokens), "tokens": str(tokens_path)}


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "poll":
        print(json.dumps(poll_seed(sys.argv[2])))
    elif what == "fans":
        print(json.dumps(fans_seed(int(sys.argv[2]), Path(sys.argv[3]))))
    else:
        raise SystemExit(__doc__)
