"""Profile the vote path in one process: ``python bench/profile_vote.py [votes]``.

Seeds a poll and verified fans with app sessions in a database of its own
(``encore_profile``, Redis db 8), then casts one vote per fan through the whole
Django stack (middleware, URL routing, authentication, rate limits, SQL) under
pyinstrument, and prints the profile's top and the SQL and Redis round trips of one
vote. Not a speed figure (that is ``make bench``): where the time goes.
"""

# ruff: noqa: E402

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voting.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/encore_profile")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
os.environ.setdefault("CACHE_KEY_PREFIX", "profile")
os.environ.setdefault("DEBUG", "false")
# Off the embedded defaults the development key is refused (voting/environment.py).
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("RATE_LIMITS", '{"vote": [["account", "100000/m"], ["network", "10000000/m"]]}')

import subprocess

subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "encore_profile"], capture_output=True)  # noqa: S607

import django

django.setup()

from allauth.account.models import EmailAddress
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pyinstrument import Profiler

from accounts.models import Agency, User
from accounts.voter_cards import voter_cards_store_many
from polls.models import Option, Poll, PollKind, PollState, ResultsVisibility


def seed(votes: int) -> tuple[Poll, list[str]]:
    call_command("migrate", verbosity=0)
    now = timezone.now()
    agency, _ = Agency.objects.get_or_create(slug="profile", defaults={"name": "Profile", "verified_at": now})
    poll = Poll.objects.create(
        agency=agency,
        slug=f"profile-{int(now.timestamp())}",
        title="Profile",
        kind=PollKind.OTHER,
        state=PollState.SCHEDULED,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
        results_visibility=ResultsVisibility.LIVE,
    )
    for position, label in enumerate(["A", "B", "C"]):
        Option.objects.create(poll=poll, label=label, position=position)
    joined = now - timedelta(days=30)
    users = User.objects.bulk_create(
        [User(email=f"p{poll.pk}-{n}@profile.example", date_joined=joined) for n in range(votes)]
    )
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users]
    )
    tokens = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        tokens.append(store.session_key)
    # Signing in stores each session's voter card; the votes then take the lean path.
    voter_cards_store_many(list(zip(tokens, users, strict=True)))
    return poll, tokens


class RedisCounter:
    """Counts Redis commands sent by the cache's connection pool."""

    def __init__(self):
        from redis.connection import Connection

        self.calls = 0
        original = Connection.send_packed_command
        counter = self

        def counted(connection, command, check_health=True):
            counter.calls += 1
            return original(connection, command, check_health)

        Connection.send_packed_command = counted


def main() -> None:
    votes = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    poll, tokens = seed(votes + 1)
    option_ids = list(poll.options.values_list("pk", flat=True))
    client = Client()
    url = f"/api/v1/polls/{poll.slug}/votes/"

    def vote(index: int):
        return client.post(
            url,
            data={"choices": [option_ids[index % 3]]},
            content_type="application/json",
            HTTP_X_SESSION_TOKEN=tokens[index],
        )

    redis = RedisCounter()
    with CaptureQueriesContext(connection) as queries:
        first = vote(votes)
    assert first.status_code == 201, first.content
    print(f"one vote: {len(queries)} SQL statements, {redis.calls} Redis commands")
    for query in queries:
        print("  SQL", query["sql"][:140])

    profiler = Profiler(interval=0.0005)
    profiler.start()
    statuses = [vote(index).status_code for index in range(votes)]
    profiler.stop()
    print(f"{votes} votes: {statuses.count(201)} answered 201")
    print(profiler.output_text(unicode=True, color=False, show_all=False, timeline=False))

    results_url = f"/api/v1/polls/{poll.slug}/results/"
    client.get(results_url)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    statuses = [client.get(results_url).status_code for _ in range(votes)]
    profiler.stop()
    print(f"{votes} results reads: {statuses.count(200)} answered 200")
    print(profiler.output_text(unicode=True, color=False, show_all=False, timeline=False))


if __name__ == "__main__":
    main()
