"""The pieces every cluster script starts, on loopback ports of its own and stopped by
PID: Redis, Encore's gunicorn, the environment a node runs with, the seeding of a poll
and its fans, and waiting for a server to answer. PostgreSQL is cluster/postgres.py."""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The vote's limits kept (both counted on every vote) at rates no run reaches.
UNREACHABLE_VOTE_LIMITS = {"vote": [["account", "100000/m"], ["network", "10000000/m"]]}


def logger(name: str) -> Callable[[str], None]:
    """A ``say(message)`` that stamps each line with the seconds since it was made."""
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{name} {time.monotonic() - started:6.1f}s] {message}", flush=True)

    return say


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def redis_start(port: int) -> subprocess.Popen:
    """A redis-server that keeps nothing on disk, once it answers PING."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
        if answer.strip() == b"PONG":
            return process
        time.sleep(0.05)
    raise SystemExit(f"redis-server on :{port} did not start")


def service_env(database_url: str, redis_port: int, *, prefix: str, rate_limits: dict | None = None) -> dict:
    """The environment an Encore node runs with: off the embedded defaults, so with a
    random secret key and DEBUG off, as production."""
    return {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "ENCORE_ENV"}},
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_KEY_PREFIX": prefix,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "RATE_LIMITS": json.dumps(rate_limits or UNREACHABLE_VOTE_LIMITS),
        "DB_POOL_TIMEOUT": "3",
    }


def seed(env: dict, root: Path, *, slug: str, fans: int) -> tuple[dict, list[str]]:
    """Migrate, then an open poll and ``fans`` signed-in fans (cluster/seed.py); the
    poll (slug, option ids) and the fans' app tokens."""

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    run("manage.py", "migrate", "--noinput")
    poll = json.loads(run("-m", "cluster.seed", "poll", slug))
    tokens = root / "tokens.txt"
    run("-m", "cluster.seed", "fans", str(fans), str(tokens))
    return poll, tokens.read_text().split()


def gunicorn_start(port: int, *, workers: int, env: dict, log: Path) -> subprocess.Popen:
    """Encore's gunicorn in a session of its own (stop it with os.killpg). gunicorn 27
    opens one control socket per user by default; several servers would share it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "voting.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
