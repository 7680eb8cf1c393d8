"""Public reads come from a real streaming replica; what a voter wrote and reads back
never does.

The test makes a PostgreSQL primary and a hot standby of its own with pg_basebackup
(cluster/postgres.py), on ports of their own, migrates Encore onto the primary and
serves it with ``DATABASE_REPLICA_URLS`` naming the standby. Pausing the standby's replay
then shows which reads went where: a poll created after the pause is unknown to the
public pages, while a fan's vote, its receipt and "my ballots" answer at once. With the
standby synchronous, every vote answered 201 survives the primary's crash.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cluster.postgres import primary_create, remove, standby_create, synchronous_standby_set, wait_for_replay
from polls.receipts import receipt_hash
from tests.helpers import ROOT, free_port, redis_answers, wait_until_up

needs_postgres_binaries = pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) or shutil.which("psql") is None,
    reason="needs PostgreSQL's server binaries (Debian's postgresql package)",
)


@pytest.fixture(scope="module")
def replicated_service():
    root = Path(tempfile.mkdtemp(prefix="encore-replica-test-"))
    primary = primary_create(root)
    standby = None
    server = None
    try:
        primary.sql("CREATE DATABASE encore")
        standby = standby_create(root, primary)
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}},
            "DATABASE_URL": primary.url("encore"),
            "DATABASE_REPLICA_URLS": standby.url("encore"),
            "DEBUG": "false",
            "POLL_CACHE_SECONDS": "0",
        }
        redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
        if redis_answers(redis_url):
            env.update(REDIS_URL=redis_url, CACHE_KEY_PREFIX=f"replica-test-{os.getpid()}")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        seed = subprocess.run(
            [sys.executable, "-m", "cluster.seed", "poll", "before-pause"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        tokens = root / "tokens.txt"
        subprocess.run(
            [sys.executable, "-m", "cluster.seed", "fans", "1", str(tokens)], cwd=ROOT, env=env, check=True
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url)
        wait_for_replay(primary, standby)
        yield {
            "url": url,
            "env": env,
            "primary": primary,
            "standby": standby,
            "poll": json.loads(seed.stdout),
            "token": tokens.read_text().split()[0],
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        remove(root, *(instance for instance in (primary, standby) if instance is not None))


def call(service, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Session-Token"] = token
    request = urllib.request.Request(
        service["url"] + path,
        data=json.dumps(body).encode() if body else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refusal:
        return refusal.code, json.loads(refusal.read() or b"{}")


def seed_poll(service, slug: str) -> dict:
    seeded = subprocess.run(
        [sys.executable, "-m", "cluster.seed", "poll", slug],
        cwd=ROOT,
        env=service["env"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(seeded.stdout)


@needs_postgres_binaries
def test_public_reads_come_from_the_replica_and_a_voters_own_reads_from_the_primary(replicated_service):
    service = replicated_service
    primary, standby = service["primary"], service["standby"]
    slug, option = service["poll"]["slug"], service["poll"]["options"][0]
    assert call(service, "GET", f"/api/v1/polls/{slug}/")[0] == 200
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        seed_poll(service, "after-pause")
        assert primary.sql("SELECT count(*) FROM polls_poll WHERE slug = 'after-pause'", "encore") == "1"

        # The public list and page come from the paused replica: the new poll is not there yet.
        assert call(service, "GET", "/api/v1/polls/after-pause/")[0] == 404
        listed = call(service, "GET", "/api/v1/polls/")[1]
        assert "after-pause" not in {poll["slug"] for poll in listed["results"]}

        # A vote, its receipt and the voter's own ballots are the primary's, at once.
        status, answer = call(
            service, "POST", f"/api/v1/polls/{slug}/votes/", {"choices": [option]}, service["token"]
        )
        assert status == 201
        assert call(service, "GET", f"/api/v1/receipts/{answer['receipt']}/")[0] == 200
        mine = call(service, "GET", f"/api/v1/polls/{slug}/", token=service["token"])[1]
        assert len(mine["your_ballots"]) == 1
        assert standby.sql("SELECT count(*) FROM polls_ballot", "encore") == "0"
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")

    wait_for_replay(primary, standby)
    assert call(service, "GET", "/api/v1/polls/after-pause/")[0] == 200
    assert standby.sql("SELECT count(*) FROM polls_ballot", "encore") == "1"


@needs_postgres_binaries
def test_votes_answered_201_survive_the_loss_of_the_primary(replicated_service, tmp_path):
    """With the standby synchronous, a vote answered 201 is on the standby when the answer
    leaves: the primary crashes, the standby is promoted, every acknowledged ballot is
    there. (This test ends the module's primary, so it runs last.)"""
    service = replicated_service
    primary, standby = service["primary"], service["standby"]
    synchronous_standby_set(primary, standby)
    option = seed_poll(service, "synchronous")["options"][0]
    tokens_file = tmp_path / "tokens.txt"
    subprocess.run(
        [sys.executable, "-m", "cluster.seed", "fans", "20", str(tokens_file)],
        cwd=ROOT,
        env=service["env"],
        check=True,
        capture_output=True,
    )
    receipts = []
    for token in tokens_file.read_text().split():
        status, answer = call(
            service, "POST", "/api/v1/polls/synchronous/votes/", {"choices": [option]}, token
        )
        assert status == 201
        receipts.append(answer["receipt"])

    primary.stop("immediate")  # a crash: no shutdown checkpoint
    standby.promote()

    hashes = ", ".join(f"'{receipt_hash(receipt)}'" for receipt in receipts)
    found = standby.sql(f"SELECT count(*) FROM polls_ballot WHERE receipt_hash IN ({hashes})", "encore")
    assert int(found) == len(receipts) == 20
