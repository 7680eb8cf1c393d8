"""Encore's benchmark: gunicorn on PostgreSQL + Redis, driven by wrk over loopback.

``make bench`` runs this file (``python -m bench.run``; ``python bench/run.py`` works
too). In one invocation it seeds a database of its own, starts two gunicorn servers
and measures these scenarios back to back, each for BENCH_SECONDS after a warm-up of
BENCH_WARMUP seconds:

  vote_spread       POST /api/v1/polls/<slug>/votes/, votes spread over the 3 options
  vote_hot          the same, every vote on one option
  results_reads     GET /api/v1/polls/<live>/results/ while votes flow into that poll
                    (two wrk processes at once; the reads are the scenario's figures)
  baseline_insert   bare Django, no middleware: INSERT one row (bench/baselines.py)
  baseline_counter  bare Django: votes = votes + 1 on one row
  baseline_json     bare Django: a small JSON document
  stack_json        the same JSON view behind Encore's whole middleware stack (extra)

Encore runs as production serves it (DEBUG off, synchronous_commit on, PostgreSQL and
Redis, the vote's real rate-limit rules paid on every vote at rates no run reaches);
the baselines run on a second gunicorn with the same command and worker count but
bench/bare_settings.py. After each vote scenario the ballots in the database must be
the acknowledged votes (the receipts of the 201s) plus at most the votes still in
flight when wrk stopped; the exit status is 1 when an acknowledged vote is missing,
a voter holds more ballots than allowed, a receipt is there twice, or there are more
ballots than the 201s and the votes in flight explain. Results go to
bench/results/latest.json and latest.md; see docs/benchmarks.md.

Accounts are kept between runs; polls and sessions are new each run.
`dropdb -h 127.0.0.1 -U postgres encore_bench` starts over.

Environment (all optional):
  DATABASE_URL         postgres://postgres@127.0.0.1:5432/encore_bench (created if missing)
  REDIS_URL            redis://127.0.0.1:6379/9, with CACHE_KEY_PREFIX=bench
  BENCH_SECONDS        10    length of each measured scenario
  BENCH_WARMUP         3     length of the warm-up before each scenario (0: none)
  BENCH_ACCOUNTS       20000 verified fan accounts, one session token each
  BENCH_LIVE_BALLOTS   5000  ballots already tallied in the live results poll
  BENCH_THREADS        2     wrk threads
  BENCH_CONNECTIONS    32    wrk connections
  BENCH_READ_VOTERS    8     wrk connections voting during results_reads (1 thread)
  BENCH_WORKERS        4     gunicorn (sync) workers, for both servers
"""

# It runs fixed local tools (wrk, gunicorn, git) with arguments it builds itself.
# ruff: noqa: S603, S607

import contextlib
import http.client
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if __package__ in (None, ""):
    # Run as a file (python bench/run.py): import from the project root, as with -m,
    # not from bench/, whose settings.py and urls.py must not be top-level modules.
    sys.path[0] = str(ROOT)

from bench.procstats import Sampler  # noqa: E402

RESULTS = BENCH_DIR / "results"
LUA = BENCH_DIR / "wrk.lua"
TOKENS = RESULTS / "tokens.txt"
LIVE_TOKENS = RESULTS / "tokens-live.txt"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SECONDS = env_int("BENCH_SECONDS", 10)
WARMUP = env_int("BENCH_WARMUP", 3)
ACCOUNTS = env_int("BENCH_ACCOUNTS", 20_000)
LIVE_BALLOTS = env_int("BENCH_LIVE_BALLOTS", 5_000)
THREADS = env_int("BENCH_THREADS", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 32)
READ_VOTERS = env_int("BENCH_READ_VOTERS", 8)
WORKERS = env_int("BENCH_WORKERS", 4)
DATABASE_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/encore_bench"
DATABASE_NAME = urllib.parse.urlsplit(DATABASE_URL).path.lstrip("/")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX") or "bench"
# The vote scope keeps its two rules (voting/settings.py), so their Redis round trips
# are paid on every vote, at rates no run can reach.
RATE_LIMITS = {"vote": [["account", "100000/m"], ["network", "10000000/m"]]}
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    # Off the embedded defaults (DATABASE_URL, REDIS_URL): Encore refuses the
    # development key there, so the bench brings a random one of its own.
    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CACHE_KEY_PREFIX": CACHE_KEY_PREFIX,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "RATE_LIMITS": json.dumps(RATE_LIMITS),
}
BARE_ENV = {**SERVER_ENV, "DJANGO_SETTINGS_MODULE": "bench.bare_settings"}
VOTE_SCENARIOS = ("vote_spread", "vote_hot", "results_reads")
SCENARIO_ORDER = (
    "baseline_json",
    "stack_json",
    "baseline_counter",
    "baseline_insert",
    "vote_spread",
    "vote_hot",
    "results_reads",
)
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- set-up


def database_ensure() -> None:
    """Create the database named in DATABASE_URL when it does not exist yet."""
    import psycopg

    url = urllib.parse.urlsplit(DATABASE_URL)
    admin_url = urllib.parse.urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if exists is None:
            say(f"creating database {DATABASE_NAME}")
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def django_setup() -> None:
    os.environ.pop("ENCORE_ENV", None)
    os.environ.update(SERVER_ENV)
    import django

    django.setup()


@dataclass
class PollRef:
    slug: str
    option_ids: list[int]

    @property
    def votes_path(self) -> str:
        return f"/api/v1/polls/{self.slug}/votes/"


@dataclass
class Seeded:
    polls: dict[str, PollRef]
    tokens: list[str]
    emails: list[str]
    live_ballots: int


def seed(run_id: str) -> Seeded:
    """Agency, polls, accounts and their sessions. Accounts are kept between runs; the
    polls (one per vote scenario, one per warm-up, the live one, one for the
    in-process request costs) and the sessions are new each run."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Agency, User
    from polls.models import Option, Poll, PollKind, PollState, ResultsVisibility, VotingMethod

    now = timezone.now()
    agency, _ = Agency.objects.get_or_create(
        slug="bench-agency", defaults={"name": "Bench Agency", "verified_at": now}
    )

    def poll_new(slug: str, **fields) -> Poll:
        poll = Poll.objects.create(
            agency=agency,
            slug=slug,
            kind=PollKind.OTHER,
            method=VotingMethod.SINGLE,
            title=f"Benchmark poll {slug}",
            timezone="UTC",
            state=PollState.SCHEDULED,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=7),
            **fields,
        )
        for position, label in enumerate(["Seoul", "Tokyo", "Madrid"]):
            Option.objects.create(poll=poll, label=label, position=position)
        return poll

    daily = {"period": "daily", "votes_per_period": 1, "results_visibility": ResultsVisibility.LIVE}
    polls = {}
    for name in ("spread", "hot", "warm-spread", "warm-hot", "warm-live", "costs"):
        poll = poll_new(f"bench-{name}-{run_id}", **daily)
        polls[name] = PollRef(poll.slug, list(poll.options.order_by("position").values_list("pk", flat=True)))

    # Verified fans without a usable password, as polls/demo.py's demo_voters makes them.
    unusable = make_password(None)
    joined = now - timedelta(days=30)
    emails = [f"bench-fan-{n:06d}@bench.example" for n in range(ACCOUNTS)]
    User.objects.bulk_create(
        [User(email=email, password=unusable, date_joined=joined) for email in emails],
        ignore_conflicts=True,
        batch_size=2000,
    )
    users = list(User.objects.filter(email__startswith="bench-fan-").order_by("email")[:ACCOUNTS])
    from allauth.account.models import EmailAddress

    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users],
        ignore_conflicts=True,
        batch_size=2000,
    )
    say(f"{len(users):,} verified accounts")

    # New each run: votes flow into it during results_reads, from the accounts that
    # have no ballot in it yet (tokens-live.txt).
    live = poll_new(f"bench-live-{run_id}", results_visibility=ResultsVisibility.LIVE)
    Poll.objects.filter(pk=live.pk).update(closes_at=now + timedelta(days=3650))
    live.refresh_from_db()
    live_ballots_insert(live, users[:LIVE_BALLOTS])
    from polls.tally import tally_refresh

    folded = tally_refresh(poll=live)
    live_ballots = live.ballots.count()
    polls["live"] = PollRef(live.slug, list(live.options.order_by("position").values_list("pk", flat=True)))
    say(f"live poll {live.slug}: {live_ballots:,} ballots ({folded:,} tallied now)")

    tokens = sessions_create(users)
    LIVE_TOKENS.write_text("".join(f"{token}\n" for token in tokens[LIVE_BALLOTS:]))
    return Seeded(
        polls=polls,
        tokens=tokens,
        emails=[user.email for user in users],
        live_ballots=live_ballots,
    )


def live_ballots_insert(poll, voters) -> None:
    """Ballots as ballot_cast writes them, in bulk, cast over the last hour."""
    from django.utils import timezone

    from polls.ballots import ballot_build, ballot_choices_build
    from polls.models import Ballot, BallotChoice
    from polls.receipts import receipt_new

    option_ids = list(poll.options.values_list("pk", flat=True))
    weights = [5, 3, 2]
    rng = random.Random(7)  # noqa: S311 - reproducible seed data, not a secret
    now = timezone.now()
    ballots, picks = [], []
    for index, voter in enumerate(voters):
        moment = now - timedelta(seconds=rng.randrange(3600))
        ip = f"100.{index % 64}.{index // 64 % 256}.{10 + index % 200}"
        ballots.append(
            ballot_build(
                poll=poll,
                voter=voter,
                moment=moment,
                receipt=receipt_new(),
                client_ip=ip,
                client_fingerprint=f"{index:064x}",
            )
        )
        picks.append(rng.choices(option_ids, weights)[0])
    created = Ballot.objects.bulk_create(ballots, batch_size=2000)
    BallotChoice.objects.bulk_create(
        [
            choice
            for ballot, pick in zip(created, picks, strict=True)
            for choice in ballot_choices_build(poll=poll, ballot=ballot, option_ids=[pick])
        ],
        batch_size=2000,
    )


def sessions_create(users) -> list[str]:
    """One signed-in session per account, its key being the app's X-Session-Token.

    Written as django.contrib.auth.login and cached_db's SessionStore would write
    them (the same session data, encoded by the SessionStore, in the database and in
    the cache), but in bulk: 20,000 SessionStore.create() calls would take longer
    than the benchmark. The sessions of the previous run are deleted first.
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX, SessionStore
    from django.contrib.sessions.models import Session
    from django.core.cache import caches
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    cache = caches[settings.SESSION_CACHE_ALIAS]
    if TOKENS.exists():
        old = TOKENS.read_text().split()
        for start in range(0, len(old), 5000):
            chunk = old[start : start + 5000]
            Session.objects.filter(session_key__in=chunk).delete()
            cache.delete_many([KEY_PREFIX + key for key in chunk])

    store = SessionStore()
    age = settings.SESSION_COOKIE_AGE
    expire = timezone.now() + timedelta(seconds=age)
    backend = "django.contrib.auth.backends.ModelBackend"
    tokens, rows, cached = [], [], {}
    for user in users:
        key = get_random_string(32, VALID_KEY_CHARS)
        data = {
            SESSION_KEY: user._meta.pk.value_to_string(user),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        tokens.append(key)
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        cached[KEY_PREFIX + key] = data
    Session.objects.bulk_create(rows, batch_size=2000)
    items = list(cached.items())
    for start in range(0, len(items), 5000):
        cache.set_many(dict(items[start : start + 5000]), timeout=age)
    TOKENS.write_text("".join(f"{token}\n" for token in tokens))
    # Signing in stores each session's voter card (accounts/signals.py); so does this.
    from accounts.voter_cards import voter_cards_store_many

    voter_cards_store_many(list(zip(tokens, users, strict=True)))

    loaded = SessionStore(session_key=tokens[0]).load()
    if loaded.get(SESSION_KEY) != str(users[0].pk):
        raise SystemExit(f"session {tokens[0][:6]}... does not load back: {loaded!r}")
    say(f"{len(tokens):,} sessions (tokens in {TOKENS.relative_to(ROOT)})")
    return tokens


def baseline_tables() -> None:
    from bench.baselines import tables_ensure

    tables_ensure()


def database_facts() -> dict:
    """Server version and the commit settings the servers' connections get."""
    from django.db import connection

    facts = {}
    with connection.cursor() as cursor:
        for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"):
            cursor.execute(f"SHOW {name}")
            facts[name] = cursor.fetchone()[0]
    if facts["synchronous_commit"] != "on" or facts["fsync"] != "on":
        raise SystemExit(f"PostgreSQL commits are not durable here ({facts}): the figures would flatter")
    return facts


# ---------------------------------------------------------------- per-request costs


class RoundTrips:
    """Counts Redis round trips (one per packed send: a pipeline is one)."""

    def __init__(self):
        self.count = 0

    def __enter__(self):
        from redis.connection import AbstractConnection

        self._cls = AbstractConnection
        self._original = AbstractConnection.send_packed_command
        counter = self

        def counting(conn, *args, **kwargs):
            counter.count += 1
            return counter._original(conn, *args, **kwargs)

        AbstractConnection.send_packed_command = counting
        return self

    def __exit__(self, *exc):
        self._cls.send_packed_command = self._original


def request_costs(seeded: Seeded) -> dict[str, dict[str, int]]:
    """SQL statements and Redis round trips of one request of each scenario, counted
    in this process (the second of two requests, so that one-off lookups at start-up
    are not counted). Encore's requests go through Django's test client and so through
    the whole middleware stack; the baselines call their views directly, as the bare
    server (no middleware) does."""
    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext

    from bench import baselines

    client = Client(HTTP_HOST="127.0.0.1")
    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    costs_poll = seeded.polls["costs"]
    live = seeded.polls["live"]
    voters = iter(reversed(seeded.tokens))  # the vote scenarios start at the other end

    def vote(option: int):
        return client.post(
            costs_poll.votes_path,
            {"choices": [option]},
            content_type="application/json",
            headers={"X-Session-Token": next(voters), "User-Agent": "encore-bench"},
        )

    cases = {
        "vote_spread": (201, lambda: vote(costs_poll.option_ids[1])),
        "vote_hot": (201, lambda: vote(costs_poll.option_ids[0])),
        "results_reads": (200, lambda: client.get(f"/api/v1/polls/{live.slug}/results/")),
        "baseline_insert": (201, lambda: baselines.row_insert(factory.post("/insert/"))),
        "baseline_counter": (200, lambda: baselines.counter_increment(factory.post("/counter/"))),
        "baseline_json": (200, lambda: baselines.small_json(factory.get("/json/"))),
        "stack_json": (200, lambda: client.get("/bench/json/")),
    }
    costs = {}
    for name, (expected, call) in cases.items():
        call()
        with CaptureQueriesContext(connection) as queries, RoundTrips() as trips:
            response = call()
        if response.status_code != expected:
            raise SystemExit(
                f"{name}: in-process request answered {response.status_code}: {response.content[:300]!r}"
            )
        costs[name] = {"sql": len(queries), "redis": trips.count}
    return costs


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, *, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    """GET over loopback; (status, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    """One gunicorn: the same command for Encore and for the bare baselines, only the
    settings module differs."""

    name: str
    env: dict
    probe: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return RESULTS / f"gunicorn-{self.name}.log"

    def start(self) -> None:
        env = {**os.environ, **self.env}
        env.pop("ENCORE_ENV", None)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "voting.wsgi",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{self.port}",
            # gunicorn 27 listens on ~/.gunicorn/gunicorn.ctl by default: two servers
            # (ours, or anyone's on this machine) would take that one path from each other.
            "--no-control-socket",
        ]
        say(f"{self.name}: {' '.join(command[1:])} ({self.env['DJANGO_SETTINGS_MODULE']})")
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"gunicorn {self.name} exited ({self.process.returncode}):\n"
                    f"{self.log_path.read_text()[-3000:]}"
                )
            with contextlib.suppress(OSError):
                if http_get(self.base + self.probe, timeout=2)[0] == 200:
                    return
            time.sleep(0.3)
        raise SystemExit(f"gunicorn {self.name} did not answer {self.probe} within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # the master stops its workers gracefully
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: master and workers only
            self.process.wait(timeout=10)
        say(f"gunicorn {self.name} stopped")


# ---------------------------------------------------------------- wrk


@dataclass
class Load:
    """One wrk process."""

    path: str
    args: list[str]
    threads: int = THREADS
    connections: int = CONNECTIONS
    receipts: Path | None = None


def wrk_run(server: Server, loads: list[Load], seconds: int, *, label: str) -> list[dict]:
    """Run the loads at the same time, one wrk process each; their figures in order."""
    running = []
    try:
        for index, load in enumerate(loads):
            command = [
                "wrk",
                f"-t{load.threads}",
                f"-c{load.connections}",
                f"-d{seconds}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                server.base + load.path,
                "--",
                *load.args,
            ]
            if load.receipts is not None:
                load.receipts.unlink(missing_ok=True)
            env = {**os.environ, "BENCH_RECEIPTS": str(load.receipts or "")}
            out = RESULTS / f"wrk-{label}{f'-{index + 1}' if len(loads) > 1 else ''}.txt"
            handle = out.open("w")
            handle.write(" ".join(command) + "\n\n")
            handle.flush()
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, text=True)
            running.append((process, handle, out))
        figures = []
        for process, handle, out in running:
            try:
                process.wait(timeout=seconds + 60)
            finally:
                handle.close()
            text = out.read_text()
            found = [line for line in text.splitlines() if line.startswith("BENCH_JSON ")]
            if process.returncode != 0 or not found:
                raise SystemExit(f"wrk failed ({process.returncode}), see {out}:\n{text[-2000:]}")
            figures.append(json.loads(found[-1].removeprefix("BENCH_JSON ")))
        return figures
    finally:
        for process, handle, _out in running:
            if process.poll() is None:
                process.kill()
                process.wait()
            handle.close()


# ---------------------------------------------------------------- correctness


def settle_count(query, *, quiet_for: float = 1.0, limit: float = 15.0) -> int:
    """The count once it has stopped changing: gunicorn may still be answering
    requests wrk had sent before it stopped."""
    deadline = time.monotonic() + limit
    last, since = query(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = query()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            break
    return last


def ballots_check(poll_slug: str, figures: dict, receipts: Path, *, before: int) -> dict:
    """Compare what wrk was told with what the database holds for one vote load.

    acked: 201 answers. found: their receipts whose hash is a ballot of the poll.
    lost: acked - found. duplicates: voters holding more ballots in one period than
    the poll allows, receipt hashes present twice, receipts acknowledged twice.
    unexplained: new ballots beyond the 201s plus the votes in flight (sent, not
    answered, when wrk stopped: gunicorn still serves and commits those).
    """
    from django.db.models import Count

    from polls.models import Ballot, Poll
    from polls.receipts import receipt_hash

    poll = Poll.objects.get(slug=poll_slug)
    ballots = Ballot.objects.filter(poll=poll)
    stored = settle_count(ballots.count) - before
    statuses = {int(code): count for code, count in figures["statuses"].items()}
    acked = statuses.get(201, 0)
    codes = receipts.read_text().split() if receipts.exists() else []
    hashes = sorted({hashed for code in codes if (hashed := receipt_hash(code))})
    found = sum(
        ballots.filter(receipt_hash__in=hashes[start : start + 2000]).count()
        for start in range(0, len(hashes), 2000)
    )
    over_allowance = (
        ballots.values("voter", "period").annotate(n=Count("id")).filter(n__gt=poll.votes_per_period).count()
    )
    hash_twice = ballots.values("receipt_hash").annotate(n=Count("id")).filter(n__gt=1).count()
    acked_twice = len(codes) - len(set(codes))
    in_flight = max(0, figures["sent"] - figures["requests"])
    return {
        "acked": acked,
        "found": found,
        "lost": max(0, acked - found),
        "duplicates": over_allowance + hash_twice + acked_twice,
        "ballots": stored,
        "in_flight": in_flight,
        "unexplained": max(0, stored - acked - in_flight),
        "voters_over_allowance": over_allowance,
        "receipt_hashes_twice": hash_twice,
        "receipts_acked_twice": acked_twice,
        "server_errors": sum(count for code, count in statuses.items() if code >= 500),
        "tokens_reused": figures["sent"] > figures.get("tokens", figures["sent"]),
    }


def check_line(name: str, check: dict) -> str:
    ok = check["lost"] == 0 and check["duplicates"] == 0 and check["unexplained"] == 0
    line = (
        f"{'PASS' if ok else 'FAIL'} {name}: {check['acked']:,} votes acknowledged (201), "
        f"{check['found']:,} of their receipts in the database, {check['lost']:,} lost, "
        f"{check['duplicates']:,} duplicates; {check['ballots']:,} new ballots = the 201s"
    )
    extra = check["ballots"] - check["acked"]
    if extra > 0:
        line += f" + {extra:,} of the {check['in_flight']:,} votes in flight when wrk stopped"
    if check["unexplained"]:
        line += f"; {check['unexplained']:,} ballots neither acknowledged nor in flight"
    if check["server_errors"]:
        line += f"; {check['server_errors']:,} 5xx"
    if check["tokens_reused"]:
        line += "; more votes than accounts: tokens were reused (their 409s are expected)"
    return line


# ---------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    name: str
    what: str
    server: Server
    loads: list[Load]
    warmup: list[Load]
    votes_poll: str | None = None  # the poll the vote load (the last one) goes to
    votes: bool = False  # requests_per_s are votes: report acked_votes_per_s


def scenarios_build(seeded: Seeded, encore: Server, bare: Server) -> list[Scenario]:
    polls = seeded.polls

    def vote_args(tokens: Path, threads: int, options: list[int]) -> list[str]:
        return ["vote", str(tokens), str(threads), ",".join(map(str, options))]

    def votes(poll: str, options: list[int], *, tokens=TOKENS, threads=THREADS, connections=CONNECTIONS):
        return Load(
            polls[poll].votes_path,
            vote_args(tokens, threads, options),
            threads=threads,
            connections=connections,
            receipts=RESULTS / f"receipts-{poll}.txt",
        )

    spread, hot = polls["spread"].option_ids, polls["hot"].option_ids[:1]
    results = f"/api/v1/polls/{polls['live'].slug}/results/"
    live_votes = {"tokens": LIVE_TOKENS, "threads": 1, "connections": READ_VOTERS}
    return [
        Scenario(
            "vote_spread",
            "`POST /api/v1/polls/<slug>/votes/`, choices spread over 3 options",
            encore,
            [votes("spread", spread)],
            [votes("warm-spread", polls["warm-spread"].option_ids)],
            votes_poll="spread",
            votes=True,
        ),
        Scenario(
            "vote_hot",
            "`POST /api/v1/polls/<slug>/votes/`, every vote on one option",
            encore,
            [votes("hot", hot)],
            [votes("warm-hot", polls["warm-hot"].option_ids[:1])],
            votes_poll="hot",
            votes=True,
        ),
        Scenario(
            "results_reads",
            f"`GET /api/v1/polls/<live>/results/` while {READ_VOTERS} connections vote in that poll",
            encore,
            [Load(results, ["get"]), votes("live", polls["live"].option_ids, **live_votes)],
            [Load(results, ["get"]), votes("warm-live", polls["warm-live"].option_ids, **live_votes)],
            votes_poll="live",
        ),
        Scenario(
            "baseline_insert",
            "bare Django, no middleware: `INSERT` one row",
            bare,
            [Load("/insert/", ["post"])],
            [Load("/insert/", ["post"])],
        ),
        Scenario(
            "baseline_counter",
            "bare Django, no middleware: `votes = votes + 1` on one row",
            bare,
            [Load("/counter/", ["post"])],
            [Load("/counter/", ["post"])],
        ),
        Scenario(
            "baseline_json",
            "bare Django, no middleware: a small JSON document",
            bare,
            [Load("/json/", ["get"])],
            [Load("/json/", ["get"])],
        ),
        Scenario(
            "stack_json",
            "the same JSON view behind Encore's whole middleware stack (`/bench/json/`)",
            encore,
            [Load("/bench/json/", ["get"])],
            [Load("/bench/json/", ["get"])],
        ),
    ]


class TallyRefresher:
    """The worker's tally refresh of the live poll, every TALLY_INTERVAL, as production
    runs it beside the web servers while votes flow (results_reads only)."""

    def __init__(self, slug: str):
        self.slug = slug
        self.passes = self.folded = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tally-refresher", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        from django.conf import settings
        from django.db import connection

        from polls.models import Poll
        from polls.tally import tally_refresh

        try:
            poll = Poll.objects.get(slug=self.slug)
            while not self._stop.wait(settings.TALLY_INTERVAL):
                self.folded += tally_refresh(poll=poll)
                self.passes += 1
        finally:
            connection.close()


def figures_summary(figures: dict, *, votes: bool, peak_rss_mb: float | None = None) -> dict:
    """The S shape of latest.json from one wrk run's figures (then more fields)."""
    seconds = figures["duration_us"] / 1e6
    statuses = {int(code): count for code, count in figures["statuses"].items()}
    latency = figures["latency_us"]
    summary = {"requests_per_s": round(figures["requests"] / seconds, 1)}
    if votes:
        summary["acked_votes_per_s"] = round(statuses.get(201, 0) / seconds, 1)
    errors = figures["errors"]
    summary.update(
        p50_ms=round(latency["p50"] / 1000, 1),
        p90_ms=round(latency["p90"] / 1000, 1),
        p99_ms=round(latency["p99"] / 1000, 1),
        errors={str(code): count for code, count in sorted(statuses.items()) if not 200 <= code < 300},
    )
    if peak_rss_mb is not None:
        summary["peak_rss_mb"] = peak_rss_mb
    summary.update(
        requests=figures["requests"],
        duration_s=round(seconds, 2),
        statuses={str(code): count for code, count in sorted(statuses.items())},
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout") if errors[k]},
        mean_ms=round(latency["mean"] / 1000, 1),
        max_ms=round(latency["max"] / 1000, 1),
    )
    return summary


def scenario_run(scenario: Scenario, costs: dict, seeded: Seeded) -> tuple[dict, dict | None]:
    """Warm up, measure, check the ballots; (S, correctness of its votes or None)."""
    if WARMUP > 0:
        wrk_run(scenario.server, scenario.warmup, WARMUP, label=f"warmup-{scenario.name}")
        time.sleep(0.5)
    before = 0
    if scenario.votes_poll:
        from polls.models import Ballot

        before = Ballot.objects.filter(poll__slug=seeded.polls[scenario.votes_poll].slug).count()
    sampler = Sampler([scenario.server.process.pid], DATABASE_NAME).start()
    refresher = TallyRefresher(seeded.polls["live"].slug) if scenario.name == "results_reads" else None
    with refresher or contextlib.nullcontext():
        figures = wrk_run(scenario.server, scenario.loads, SECONDS, label=scenario.name)
    machine = sampler.stop()
    summary = figures_summary(figures[0], votes=scenario.votes, peak_rss_mb=machine.pop("peak_rss_mb"))
    answered = sum(f["requests"] for f in figures)
    summary.update(
        what=scenario.what,
        server=scenario.server.name,
        wrk=[
            {"path": load.path, "threads": load.threads, "connections": load.connections}
            for load in scenario.loads
        ],
        sql_per_request=costs[scenario.name]["sql"],
        redis_round_trips_per_request=costs[scenario.name]["redis"],
        cpu_ms_per_request={
            name: round(1000 * cpu / max(1, answered), 2) for name, cpu in machine["cpu_seconds"].items()
        },
        **machine,
    )
    summary["server_cpu_ms_per_request"] = round(server_cpu_ms(summary), 2)
    check = None
    if scenario.votes_poll:
        vote_figures = figures[-1]
        vote_figures["tokens"] = len(seeded.tokens) - (LIVE_BALLOTS if scenario.votes_poll == "live" else 0)
        check = ballots_check(
            seeded.polls[scenario.votes_poll].slug, vote_figures, scenario.loads[-1].receipts, before=before
        )
        summary["correctness"] = check
        if len(figures) > 1:
            summary["concurrent_votes"] = {
                **figures_summary(vote_figures, votes=True),
                "connections": scenario.loads[-1].connections,
            }
        if refresher:
            summary["tally_refresher"] = {"passes": refresher.passes, "folded": refresher.folded}
    say(
        f"{scenario.name}: {summary['requests_per_s']:,.0f} req/s, p50 {summary['p50_ms']} ms, "
        f"p99 {summary['p99_ms']} ms, statuses {summary['statuses']}, peak RSS/worker "
        f"{summary['peak_rss_mb']} MB, others took {machine['others_pct']} % of the machine"
    )
    if "concurrent_votes" in summary:
        concurrent = summary["concurrent_votes"]
        say(
            f"  votes meanwhile: {concurrent['acked_votes_per_s']:,.0f} acked/s, statuses {concurrent['statuses']}"
        )
    if check:
        say("  " + check_line(scenario.name, check))
    time.sleep(0.5)
    return summary, check


# ---------------------------------------------------------------- report


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def machine_facts(started: datetime, load_before: tuple, database: dict) -> dict:
    from django.core.cache import cache

    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    import gunicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()
    return {
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git("rev-parse", "--short", "HEAD") or "?",
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": database["server_version"],
        "postgres_settings": {k: v for k, v in database.items() if k != "server_version"},
        "redis": cache.client.get_client().info("server").get("redis_version"),
        "gunicorn": f"{gunicorn.__version__}, {WORKERS} sync workers per server",
        "wrk": f"{wrk_version[1] if len(wrk_version) > 1 else '?'}, -t{THREADS} -c{CONNECTIONS}",
        "load_average_before": [round(value, 2) for value in load_before],
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


SERVER_SIDE = ("gunicorn", "postgres", "redis")


def server_cpu_ms(row: dict) -> float:
    """CPU time the server side (gunicorn, PostgreSQL, Redis) spent per request."""
    return sum(row["cpu_ms_per_request"][name] for name in SERVER_SIDE)


def reads_cpu_estimate(scenarios: dict) -> float | None:
    """Server CPU per results read: results_reads' CPU less its votes, each costed at
    vote_spread's CPU per vote (the same workers serve both loads)."""
    reads = scenarios["results_reads"]
    votes = reads.get("concurrent_votes", {}).get("requests", 0)
    total = server_cpu_ms(reads) * (reads["requests"] + votes)
    estimate = (total - votes * server_cpu_ms(scenarios["vote_spread"])) / max(1, reads["requests"])
    return round(estimate, 2) if estimate > 0 else None


def ratios_of(scenarios: dict) -> tuple[dict, dict]:
    """Throughput ratios (the three of the report, then one more), and the same ratios
    from server CPU per request, which other processes on the machine disturb much less
    (a request that costs half the CPU counts as twice the throughput)."""
    spread, hot = scenarios["vote_spread"], scenarios["vote_hot"]
    insert, counter, plain = (scenarios[f"baseline_{name}"] for name in ("insert", "counter", "json"))
    reads_cpu = reads_cpu_estimate(scenarios)
    throughput = {
        "spread_vs_insert": ratio(spread["acked_votes_per_s"], insert["requests_per_s"]),
        "hot_vs_spread": ratio(hot["acked_votes_per_s"], spread["acked_votes_per_s"]),
        "reads_vs_json": ratio(scenarios["results_reads"]["requests_per_s"], plain["requests_per_s"]),
        "spread_vs_counter": ratio(spread["acked_votes_per_s"], counter["requests_per_s"]),
    }
    by_cpu = {
        "spread_vs_insert": ratio(server_cpu_ms(insert), server_cpu_ms(spread)),
        "hot_vs_spread": ratio(server_cpu_ms(spread), server_cpu_ms(hot)),
        "reads_vs_json": ratio(server_cpu_ms(plain), reads_cpu) if reads_cpu else None,
        "spread_vs_counter": ratio(server_cpu_ms(counter), server_cpu_ms(spread)),
    }
    return throughput, by_cpu


def report_markdown(result: dict) -> str:
    machine, run = result["machine"], result["run"]
    rows = {**result["scenarios"], **result["extra_scenarios"]}
    lines = [
        f"# Encore benchmark, {run['seconds']} s per scenario",
        "",
        f"{machine['date']}, commit {machine['git_commit']}{' (uncommitted changes)' if machine['git_dirty'] else ''}; "
        f"load average {' '.join(map(str, machine['load_average_before']))} before, "
        f"{' '.join(map(str, machine['load_average_after']))} after; whole run {run['duration_s']:.0f} s.",
        "",
    ]
    busiest = max(row["others_pct"] for row in rows.values())
    if machine["load_average_before"][0] > 0.5 or busiest > 10:
        lines += [
            f"**The machine was shared**: other processes took up to {busiest:.0f} % of its CPU during a "
            "scenario (column *others*). Throughput is low and noisy; CPU per request holds better.",
            "",
        ]
    lines += [
        "| scenario | request | req/s | acked votes/s | p50 | p90 | p99 | errors | peak RSS / worker "
        "| SQL / Redis per request | CPU ms per request: gunicorn / postgres / redis | others |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        errors = ", ".join(f"{code}: {count:,}" for code, count in row["errors"].items())
        if row["socket_errors"]:
            errors += (", " if errors else "") + ", ".join(
                f"{k}: {v:,}" for k, v in row["socket_errors"].items()
            )
        cpu = row["cpu_ms_per_request"]
        acked = f"{row['acked_votes_per_s']:,.0f}" if "acked_votes_per_s" in row else ""
        if "concurrent_votes" in row:
            acked = f"({row['concurrent_votes']['acked_votes_per_s']:,.0f} meanwhile)"
        lines.append(
            f"| {name} | {row['what']} | {row['requests_per_s']:,.0f} | {acked} | {row['p50_ms']} ms "
            f"| {row['p90_ms']} ms | {row['p99_ms']} ms | {errors or '0'} | {row['peak_rss_mb']} MB "
            f"| {row['sql_per_request']} / {row['redis_round_trips_per_request']} "
            f"| {cpu['gunicorn']} / {cpu['postgres']} / {cpu['redis']} | {row['others_pct']:.0f} % |"
        )
    ratios, by_cpu = result["ratios"], result["ratios_by_server_cpu"]
    meanings = {
        "spread_vs_insert": "acked votes/s over bare INSERTs/s",
        "hot_vs_spread": "one option against three (1.0: no hot row)",
        "reads_vs_json": "results reads/s, votes flowing, over bare JSON/s",
        "spread_vs_counter": "acked votes/s over bare `votes + 1`/s",
    }
    lines += [
        "",
        "| ratio | throughput | server CPU per request | meaning |",
        "|---|---:|---:|---|",
        *(f"| {name} | {ratios[name]} | {by_cpu[name]} | {meaning} |" for name, meaning in meanings.items()),
        "",
        "Server CPU per request is gunicorn + PostgreSQL + Redis CPU time per answered request (for "
        "results_reads, its votes are taken out at vote_spread's cost); its ratios are the inverse ones, "
        "comparable to the throughput ratios, and move much less when other processes share the cores.",
        "",
    ]
    correctness = result["correctness"]
    lines += [
        f"**Vote correctness: {'PASS' if correctness['passed'] else 'FAIL'}** — "
        f"acked {correctness['acked']:,}, found {correctness['found']:,}, lost {correctness['lost']:,}, "
        f"duplicates {correctness['duplicates']:,}, unexplained {correctness['unexplained']:,}",
        "",
        *(f"- {line}" for line in correctness["lines"]),
        "",
        f"- machine: {machine['cpu_count']} cores ({machine['cpu_model'] or '?'}), {machine['kernel']}",
        f"- Python {machine['python']}, PostgreSQL {machine['postgres']} "
        f"(synchronous_commit {machine['postgres_settings']['synchronous_commit']}, "
        f"fsync {machine['postgres_settings']['fsync']}), Redis {machine['redis']}, "
        f"gunicorn {machine['gunicorn']}, wrk {machine['wrk']}; all over loopback",
        f"- data: {run['accounts']:,} verified accounts with a session each; live poll with "
        f"{run['live_ballots']:,} tallied ballots before the run; rate limits {json.dumps(RATE_LIMITS)}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does it)")
    if ACCOUNTS - LIVE_BALLOTS < 1000:
        raise SystemExit("BENCH_ACCOUNTS must exceed BENCH_LIVE_BALLOTS by 1,000 at least")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for stale in [*RESULTS.glob("wrk-*.txt"), *RESULTS.glob("receipts*.txt"), *RESULTS.glob("gunicorn*.log")]:
        stale.unlink()
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%d%H%M%S")
    load_before = os.getloadavg()

    database_ensure()
    django_setup()
    from django.core.management import call_command

    say(f"migrating {DATABASE_NAME}")
    call_command("migrate", interactive=False, verbosity=0)
    database = database_facts()
    baseline_tables()
    seeded = seed(run_id)
    costs = request_costs(seeded)
    say(
        "per-request costs (SQL statements / Redis round trips): "
        + ", ".join(f"{name} {cost['sql']}/{cost['redis']}" for name, cost in costs.items())
    )
    facts = machine_facts(started, load_before, database)

    encore = Server("encore", SERVER_ENV, "/healthz")
    bare = Server("bare", BARE_ENV, "/json/")
    summaries, checks = {}, {}
    try:
        for server in (encore, bare):
            server.start()
        for server in (encore, bare):
            server.wait_ready()
        status, body = http_get(f"{encore.base}/api/v1/me/", headers={"X-Session-Token": seeded.tokens[0]})
        if status != 200 or json.loads(body).get("email") != seeded.emails[0]:
            raise SystemExit(f"token check failed: /api/v1/me/ answered {status} {body[:300]!r}")
        say(f"token check: /api/v1/me/ answers 200 for {seeded.emails[0]}")
        if WARMUP > 0:
            # Each worker imports the URLconf and most of the app on its first request.
            wrk_run(encore, [Load("/healthz", ["get"], connections=8)], WARMUP, label="warmup-server")

        scenarios = {scenario.name: scenario for scenario in scenarios_build(seeded, encore, bare)}
        for name in SCENARIO_ORDER:
            summaries[name], check = scenario_run(scenarios[name], costs, seeded)
            if check is not None:
                checks[name] = check
    finally:
        for server in (encore, bare):
            server.stop()

    totals = {
        key: sum(check[key] for check in checks.values()) for key in ("acked", "found", "lost", "duplicates")
    }
    totals["unexplained"] = sum(check["unexplained"] for check in checks.values())
    passed = totals["lost"] == 0 and totals["duplicates"] == 0 and totals["unexplained"] == 0
    facts["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    summaries["results_reads"]["server_cpu_ms_per_read_estimate"] = reads_cpu_estimate(summaries)
    ratios, ratios_by_cpu = ratios_of(summaries)
    result = {
        "scenarios": {
            name: summaries[name]
            for name in (*VOTE_SCENARIOS, "baseline_insert", "baseline_counter", "baseline_json")
        },
        "extra_scenarios": {"stack_json": summaries["stack_json"]},
        "ratios": ratios,
        "ratios_by_server_cpu": ratios_by_cpu,
        "correctness": {
            **totals,
            "passed": passed,
            "per_scenario": checks,
            "lines": [check_line(name, check) for name, check in checks.items()],
        },
        "machine": facts,
        "run": {
            "seconds": SECONDS,
            "warmup_seconds": WARMUP,
            "order": list(SCENARIO_ORDER),
            "accounts": len(seeded.tokens),
            "live_ballots": seeded.live_ballots,
            "polls": {name: poll.slug for name, poll in seeded.polls.items()},
            "duration_s": round(time.monotonic() - STARTED, 1),
        },
    }
    text = report_markdown(result)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    say(f"written to {(RESULTS / 'latest.md').relative_to(ROOT)} and latest.json")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
