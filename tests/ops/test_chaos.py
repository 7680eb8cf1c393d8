"""No vote lost or doubled when a gunicorn worker dies mid-load (the short `make chaos`).

A real gunicorn with sync workers serves the test database. Fans vote from threads
(cluster/voters.py), each with an ``Idempotency-Key``, retrying the same request with the
same key on a connection error, a timeout or a ``5xx``; a few seconds in, one worker is
killed with ``SIGKILL`` (requests it was serving lose their answer, some after their
commit). Afterwards every acknowledged receipt is in the database exactly once, every
acknowledged key's stored answer is its receipt, and no fan has two ballots.
`make chaos` (cluster/chaos.py) does the same for longer, and also crashes PostgreSQL and
replaces Redis.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest
from django.db.models import Count

from bench.procstats import children_of
from cluster.voters import VoteLoad, ballots_check
from polls.models import Ballot, IdempotentAnswer
from polls.receipts import receipt_hash
from tests.factories import PollFactory
from tests.helpers import ROOT, database_url, free_port, wait_until_up

pytestmark = pytest.mark.django_db(transaction=True)

FANS = 300
VOTE_SECONDS = 8
KILL_AFTER = 2


def gunicorn_start(stack: ExitStack, env: dict, workers: int = 3) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: master and workers stop together
    )

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    stack.callback(stop)
    wait_until_up(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 15
    while len(children_of(process.pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    return process, port


def test_no_vote_lost_or_doubled_when_a_worker_is_killed_mid_load(shared_cache_env, tmp_path):
    from cluster.seed import fans_seed  # verified fans signed in with app tokens, in bulk

    poll = PollFactory()
    option = poll.options.first().pk
    fans_seed(FANS, tmp_path / "tokens.txt")
    tokens = (tmp_path / "tokens.txt").read_text().split()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}},
        **shared_cache_env,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "RATE_LIMITS": '{"vote": [["account", "100000/m"], ["network", "10000000/m"]]}',
        "DB_POOL_TIMEOUT": "3",
    }

    with ExitStack() as stack:
        server, port = gunicorn_start(stack, env)
        load = VoteLoad("127.0.0.1", port, poll.slug, option, tokens, threads=6).start()
        time.sleep(KILL_AFTER)
        before = len(load.votes)
        victim = children_of(server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(VOTE_SECONDS - KILL_AFTER)
        load.stop()
        load.join(timeout=60)
        respawned = children_of(server.pid)

    summary = load.summary()
    counted = ballots_check(
        load.acknowledged,
        receipt_hash=receipt_hash,
        stored_hashes=list(Ballot.objects.filter(poll=poll).values_list("receipt_hash", flat=True)),
        stored_answers=[
            (answer.key, answer.body["receipt"]) for answer in IdempotentAnswer.objects.filter(poll=poll)
        ],
        over_allowance=Ballot.objects.filter(poll=poll)
        .values("voter_id", "period")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
    )
    print(f"chaos (worker killed -9): {counted} {summary}")

    assert before > 0, "the load had not started when the worker was killed"
    assert victim not in respawned
    assert summary["final_answers"] == {"201": len(load.votes)}, summary
    assert counted["acknowledged"] > before
    assert counted["found"] == counted["acknowledged"]
    assert counted["lost"] == 0
    assert counted["duplicates"] == 0
    assert counted["ballots_in_database"] == counted["acknowledged"]
