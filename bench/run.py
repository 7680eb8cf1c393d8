"""Encore's benchmark: gunicorn on PostgreSQL + Redis, driven by wrk over loopback.

``make bench`` runs this file. It seeds a database of its own, starts gunicorn, runs
each scenario with wrk for a fixed time and reports requests/s and latency, both as
figures and as ratios to a baseline (GET /healthz) measured in the same run, so that
a slower or busier machine moves every row together and the ratios stay comparable.
After the vote scenario it checks that every 201 wrk received is a ballot in the
database and that no account voted twice. See docs/benchmarks.md.

Accounts and the live poll are kept between runs (vote polls and sessions are new
each run); `dropdb -h 127.0.0.1 -U postgres encore_bench` starts over.

Environment (all optional):
  DATABASE_URL        postgres://postgres@127.0.0.1:5432/encore_bench (created if missing)
  REDIS_URL           redis://127.0.0.1:6379/9, with CACHE_KEY_PREFIX=bench
  BENCH_SECONDS       10    length of each measured scenario
  BENCH_WARMUP        3     length of the warm-up of each scenario
  BENCH_ACCOUNTS      20000 verified fan accounts, one session token each
  BENCH_LIVE_BALLOTS  5000  ballots already tallied in the live results poll
  BENCH_THREADS       2     wrk threads
  BENCH_CONNECTIONS   32    wrk connections
  BENCH_WORKERS       4     gunicorn (sync) workers
"""

# It runs fixed local tools (wrk, gunicorn, git) with arguments it builds itself.
# ruff: noqa: S603, S607

import contextlib
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
LUA = BENCH_DIR / "wrk.lua"
TOKENS = RESULTS / "tokens.txt"
RECEIPTS = RESULTS / "receipts.txt"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SECONDS = env_int("BENCH_SECONDS", 10)
WARMUP = env_int("BENCH_WARMUP", 3)
ACCOUNTS = env_int("BENCH_ACCOUNTS", 20_000)
LIVE_BALLOTS = env_int("BENCH_LIVE_BALLOTS", 5_000)
THREADS = env_int("BENCH_THREADS", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 32)
WORKERS = env_int("BENCH_WORKERS", 4)
DATABASE_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/encore_bench"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX") or "bench"
# The vote scope keeps its two rules (voting/settings.py), so their Redis round trips
# are paid on every vote, at rates no run can reach.
RATE_LIMITS = {"vote": [["account", "100000/m"], ["network", "10000000/m"]]}
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "voting.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CACHE_KEY_PREFIX": CACHE_KEY_PREFIX,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "RATE_LIMITS": json.dumps(RATE_LIMITS),
}
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- set-up


def database_ensure() -> None:
    """Create the database named in DATABASE_URL when it does not exist yet."""
    import psycopg

    url = urllib.parse.urlsplit(DATABASE_URL)
    name = url.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            say(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def django_setup() -> None:
    os.environ.pop("ENCORE_ENV", None)
    os.environ.update(SERVER_ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class Seeded:
    vote_slug: str
    warm_slug: str
    live_slug: str
    option_ids: list[int]
    warm_option_ids: list[int]
    tokens: list[str]
    emails: list[str]
    live_ballots: int


def seed(run_id: str) -> Seeded:
    """Agency, polls, accounts and their sessions; accounts and the live poll are kept
    between runs, the vote polls and the sessions are new each run."""
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
    vote = poll_new(f"bench-vote-{run_id}", **daily)
    warm = poll_new(f"bench-warm-{run_id}", **daily)

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

    live = Poll.objects.filter(slug="bench-live").first()
    if live is None:
        live = poll_new("bench-live", results_visibility=ResultsVisibility.LIVE)
        Poll.objects.filter(pk=live.pk).update(closes_at=now + timedelta(days=3650))
        live.refresh_from_db()
        live_ballots_insert(live, users[:LIVE_BALLOTS])
    from polls.tally import tally_refresh

    folded = tally_refresh(poll=live)
    live_ballots = live.ballots.count()
    say(f"live poll {live.slug}: {live_ballots:,} ballots ({folded:,} tallied now)")

    tokens = sessions_create(users)
    return Seeded(
        vote_slug=vote.slug,
        warm_slug=warm.slug,
        live_slug=live.slug,
        option_ids=list(vote.options.values_list("pk", flat=True)),
        warm_option_ids=list(warm.options.values_list("pk", flat=True)),
        tokens=tokens,
        emails=[user.email for user in users],
        live_ballots=live_ballots,
    )


def live_ballots_insert(poll, voters) -> None:
    """Ballots as ballot_cast writes them, in bulk, cast over the last hour."""
    from django.utils import timezone

    from accounts.client_ip import network_of
    from polls.models import Ballot, BallotChoice
    from polls.receipts import receipt_hash, receipt_new

    option_ids = list(poll.options.values_list("pk", flat=True))
    weights = [5, 3, 2]
    rng = random.Random(7)  # noqa: S311 - reproducible seed data, not a secret
    now = timezone.now()
    ballots, picks = [], []
    for index, voter in enumerate(voters):
        moment = now - timedelta(seconds=rng.randrange(3600))
        ip = f"100.{index % 64}.{index // 64 % 256}.{10 + index % 200}"
        ballots.append(
            Ballot(
                poll=poll,
                voter=voter,
                period=poll.period_of(moment),
                slot=0,
                day=poll.local_day(moment),
                cast_at=moment,
                receipt_hash=receipt_hash(receipt_new()),
                client_ip=ip,
                client_network=network_of(ip),
                client_fingerprint=f"{index:064x}",
            )
        )
        picks.append(rng.choices(option_ids, weights)[0])
    created = Ballot.objects.bulk_create(ballots, batch_size=2000)
    BallotChoice.objects.bulk_create(
        [
            BallotChoice(poll=poll, ballot=ballot, option_id=pick, rank=1)
            for ballot, pick in zip(created, picks, strict=True)
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

    loaded = SessionStore(session_key=tokens[0]).load()
    if loaded.get(SESSION_KEY) != str(users[0].pk):
        raise SystemExit(f"session {tokens[0][:6]}... does not load back: {loaded!r}")
    say(f"{len(tokens):,} sessions (tokens in {TOKENS.relative_to(ROOT)})")
    return tokens


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


def request_costs(seeded: Seeded) -> dict[str, tuple[int, int]]:
    """SQL queries and Redis round trips of one request of each scenario, counted
    in this process through Django's test client (the second of two requests, so
    that one-off lookups at start-up are not counted)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    voters = iter(reversed(seeded.tokens))  # the warm-up starts at the other end
    cases = {
        "baseline": lambda: client.get("/healthz"),
        "read": lambda: client.get(f"/api/v1/polls/{seeded.vote_slug}/"),
        "results": lambda: client.get(f"/api/v1/polls/{seeded.live_slug}/results/"),
        "vote": lambda: client.post(
            f"/api/v1/polls/{seeded.warm_slug}/votes/",
            {"choices": [seeded.warm_option_ids[0]]},
            content_type="application/json",
            headers={"X-Session-Token": next(voters), "User-Agent": "encore-bench"},
        ),
    }
    costs = {}
    for name, call in cases.items():
        call()
        with CaptureQueriesContext(connection) as queries, RoundTrips() as trips:
            response = call()
        expected = 201 if name == "vote" else 200
        if response.status_code != expected:
            raise SystemExit(
                f"{name}: in-process request answered {response.status_code}: {response.content!r}"
            )
        costs[name] = (len(queries), trips.count)
    return costs


# ---------------------------------------------------------------- server


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


def gunicorn_start(port: int, log) -> subprocess.Popen:
    env = {**os.environ, **SERVER_ENV}
    env.pop("ENCORE_ENV", None)
    command = [sys.executable, "-m", "gunicorn", "voting.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"]
    say(" ".join(command[1:]))
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def gunicorn_wait(process: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            if http_get(f"{base}/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{log_path.read_text()[-3000:]}")


def gunicorn_stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # the master stops its workers gracefully
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: master and workers only
        process.wait(timeout=10)
    say("gunicorn stopped")


# ---------------------------------------------------------------- wrk


@dataclass
class Run:
    name: str
    what: str
    figures: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.figures["requests"] / (self.figures["duration_us"] / 1e6)

    @property
    def statuses(self) -> dict[int, int]:
        return {int(code): count for code, count in self.figures["statuses"].items()}

    @property
    def non_2xx(self) -> int:
        return sum(count for code, count in self.statuses.items() if not 200 <= code < 300)

    @property
    def socket_errors(self) -> int:
        errors = self.figures["errors"]
        return errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]


def wrk(url: str, seconds: int, script_args: list[str], *, label: str, receipts: Path | None = None) -> dict:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        *script_args,
    ]
    env = {**os.environ, "BENCH_RECEIPTS": str(receipts) if receipts else ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False)
    (RESULTS / f"wrk-{label}.txt").write_text(" ".join(command) + "\n\n" + done.stdout + done.stderr)
    match = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(match.group(1))


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


def vote_check(run: Run, seeded: Seeded) -> tuple[bool, str]:
    """Every 201 wrk received is a ballot of the poll (its receipt is there), no
    account has two, no 5xx. wrk stops at its deadline without waiting for the
    answers to requests it has sent; gunicorn still serves those, so the ballots are
    the 201s plus at most the votes in flight at that moment."""
    from polls.models import Ballot
    from polls.receipts import receipt_hash

    ballots = Ballot.objects.filter(poll__slug=seeded.vote_slug)
    stored = settle_count(ballots.count)
    voters = ballots.values("voter").distinct().count()
    acknowledged = run.statuses.get(201, 0)
    codes = RECEIPTS.read_text().split() if RECEIPTS.exists() else []
    hashes = [receipt_hash(code) for code in codes]
    found = sum(
        ballots.filter(receipt_hash__in=hashes[start : start + 2000]).count()
        for start in range(0, len(hashes), 2000)
    )
    in_flight = max(0, run.figures["sent"] - run.figures["requests"])
    server_errors = sum(count for code, count in run.statuses.items() if code >= 500)
    ok = (
        len(codes) == acknowledged
        and found == acknowledged
        and voters == stored
        and server_errors == 0
        and acknowledged <= stored <= acknowledged + in_flight
    )
    line = f"201 answers counted by wrk: {acknowledged:,}; ballots in the database: {stored:,}"
    if stored == acknowledged:
        line += " (equal)"
    elif stored == acknowledged + in_flight:
        line += (
            f" = the 201s + the {in_flight:,} votes sent but not yet answered when wrk stopped"
            " (wrk drops those answers; the server committed them)"
        )
    else:
        line += f" ({stored - acknowledged:,} more, with {in_flight:,} votes unanswered when wrk stopped)"
    line += (
        f"; receipts of the 201s found in the database: {found:,}/{len(codes):,}"
        f"; distinct voters: {voters:,}; 5xx: {server_errors}"
    )
    if run.figures["sent"] > len(seeded.tokens):
        line += f"; tokens ran out ({run.figures['sent']:,} votes for {len(seeded.tokens):,} accounts: 409s expected)"
    return ok, ("PASS: " if ok else "FAIL: ") + line


# ---------------------------------------------------------------- report


def machine_facts(started: datetime, load_before: tuple[float, float, float], seeded: Seeded) -> list[str]:
    from django.core.cache import cache
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    redis_info = cache.client.get_client().info("server")
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    import gunicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = " ".join(f"{value:.2f}" for value in load_before)
    busy = []
    if load_before[0] > 0.5:
        busy = [
            f"- **the machine was busy before the run** (load average {load_before[0]:.2f} over the last "
            "minute, other processes share these cores): the figures are low, the ratios hold better"
        ]
    return [
        *busy,
        f"- date: {started:%Y-%m-%d %H:%M} UTC; commit {commit or '?'}{' with uncommitted changes' if dirty else ''}",
        f"- machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}){f', {cpu}' if cpu else ''}; "
        f"{platform.system()} {platform.release()}; load average before the run {load}",
        f"- Python {platform.python_version()}, PostgreSQL {postgres}, Redis {redis_info.get('redis_version')}, "
        f"gunicorn {gunicorn.__version__} ({WORKERS} sync workers), "
        f"wrk {wrk_version[1] if len(wrk_version) > 1 else '?'} (-t{THREADS} -c{CONNECTIONS} -d{SECONDS}s), "
        "all on this machine over loopback",
        f"- data: {len(seeded.tokens):,} verified accounts with a session each; live poll with "
        f"{seeded.live_ballots:,} tallied ballots; rate limits {json.dumps(RATE_LIMITS)}",
    ]


def report(runs: list[Run], costs: dict, check: str, facts: list[str]) -> str:
    baseline = runs[0].rps
    lines = [
        f"# Encore benchmark, {SECONDS} s per scenario",
        "",
        "| scenario | request | requests/s | p50 | p99 | non-2xx | socket errors | ratio to baseline "
        "| SQL queries / Redis round trips per request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        latency = run.figures["latency_us"]
        queries, trips = costs.get(run.name.split(" ")[0], ("?", "?"))
        lines.append(
            f"| {run.name} | {run.what} | {run.rps:,.0f} | {latency['p50'] / 1000:.1f} ms "
            f"| {latency['p99'] / 1000:.1f} ms | {run.non_2xx:,} | {run.socket_errors:,} "
            f"| {run.rps / baseline:.2f} | {queries} / {trips} |"
        )
    lines += ["", f"**Vote correctness:** {check}", "", *facts, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does it)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%d%H%M%S")
    load_before = os.getloadavg()

    database_ensure()
    django_setup()
    from django.core.management import call_command

    say(f"migrating {DATABASE_URL.rsplit('/', 1)[-1]}")
    call_command("migrate", interactive=False, verbosity=0)
    seeded = seed(run_id)
    costs = request_costs(seeded)
    say(f"per-request costs (SQL queries, Redis round trips): {costs}")
    facts = machine_facts(started, load_before, seeded)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = RESULTS / "gunicorn.log"
    with log_path.open("w") as log:
        server = gunicorn_start(port, log)
        try:
            gunicorn_wait(server, base, log_path)
            status, body = http_get(f"{base}/api/v1/me/", headers={"X-Session-Token": seeded.tokens[0]})
            if status != 200 or json.loads(body).get("email") != seeded.emails[0]:
                raise SystemExit(f"token check failed: /api/v1/me/ answered {status} {body[:300]!r}")
            say(f"token check: /api/v1/me/ answers 200 for {seeded.emails[0]}")

            vote_args = ["vote", str(TOKENS), str(THREADS)]
            scenarios = [
                ("baseline", "`GET /healthz`", "/healthz", ["get"]),
                ("read", "`GET /api/v1/polls/<slug>/`", f"/api/v1/polls/{seeded.vote_slug}/", ["get"]),
                (
                    "results",
                    "`GET /api/v1/polls/<live>/results/`",
                    f"/api/v1/polls/{seeded.live_slug}/results/",
                    ["get"],
                ),
                (
                    "vote",
                    "`POST /api/v1/polls/<slug>/votes/`",
                    f"/api/v1/polls/{seeded.vote_slug}/votes/",
                    [*vote_args, ",".join(map(str, seeded.option_ids))],
                ),
            ]
            if WARMUP > 0:
                say(f"warming up ({WARMUP} s per scenario; votes go to {seeded.warm_slug})")
                for name, _what, path, args in scenarios:
                    if name == "vote":
                        path = f"/api/v1/polls/{seeded.warm_slug}/votes/"
                        args = [*vote_args, ",".join(map(str, seeded.warm_option_ids))]
                    wrk(base + path, WARMUP, args, label=f"warmup-{name}")

            runs, check = [], "not run"
            for name, what, path, args in [
                *scenarios,
                ("baseline (end)", "`GET /healthz`", "/healthz", ["get"]),
            ]:
                label = name.split(" ")[0] if name != "baseline (end)" else "baseline-end"
                receipts = RECEIPTS if name == "vote" else None
                if receipts:
                    receipts.unlink(missing_ok=True)
                figures = wrk(base + path, SECONDS, args, label=label, receipts=receipts)
                run = Run(name, what, figures)
                runs.append(run)
                say(
                    f"{name}: {run.rps:,.0f} req/s, p50 {figures['latency_us']['p50'] / 1000:.1f} ms, "
                    f"p99 {figures['latency_us']['p99'] / 1000:.1f} ms, statuses {run.statuses}"
                )
                if name == "vote":
                    _ok, check = vote_check(run, seeded)
                    say(check)
        finally:
            gunicorn_stop(server)

    text = report(runs, costs, check, facts)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "seconds": SECONDS,
                "runs": [{"name": r.name, "rps": r.rps, **r.figures} for r in runs],
                "costs": costs,
                "check": check,
            },
            indent=2,
        )
    )
    print(text)
    say(f"written to {(RESULTS / 'latest.md').relative_to(ROOT)}")
    return 0 if check.startswith("PASS") else 1


if __name__ == "__main__":
    sys.exit(main())
