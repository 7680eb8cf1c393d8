"""`make chaos`: votes across crashes, counted against the database afterwards.

On this machine, with parts of its own (the machine's PostgreSQL and Redis are never
touched): a PostgreSQL primary (cluster/postgres.py), a redis-server, one Encore gunicorn
with sync workers. Fans vote from a threaded load generator (cluster/voters.py): every
vote carries an ``Idempotency-Key``, and a fan that gets no answer, a connection error,
a ``5xx`` or a ``503`` sends the same request again with the same key (short backoff,
bounded attempts) until it gets ``201`` or a final ``4xx``. While they vote:

1. one gunicorn worker is killed with ``SIGKILL`` (the master starts another);
2. PostgreSQL is stopped immediately (``pg_ctl stop -m immediate``: a crash, no
   shutdown checkpoint) and started again;
3. Redis is killed and a new, empty one started on the same port (it keeps nothing on
   disk: sessions fall back to the database, voter cards are gone so votes take the
   full path, rate-limit counters start again).

Then the count: every acknowledged receipt must be in the database exactly once and every
(fan, key) must have converged to one ballot and one stored answer. It prints
acknowledged, found, duplicates, lost and retries, and exits 1 if a vote was lost or
doubled. CHAOS_SECONDS (default 45) is the length of the vote load, CHAOS_FANS (default
6000) the accounts, CHAOS_WORKERS (3) gunicorn's workers, CHAOS_THREADS (8) the fans
voting at once. About 2 minutes in all.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstats import children_of  # noqa: E402
from cluster.parts import gunicorn_start, logger, redis_start, seed, service_env, wait_http  # noqa: E402
from cluster.postgres import free_port, primary_create, remove  # noqa: E402
from cluster.voters import VoteLoad, ballots_check  # noqa: E402

SECONDS = int(os.environ.get("CHAOS_SECONDS") or 45)
FANS = int(os.environ.get("CHAOS_FANS") or 6000)
WORKERS = int(os.environ.get("CHAOS_WORKERS") or 3)
THREADS = int(os.environ.get("CHAOS_THREADS") or 8)


say = logger("chaos")


def main() -> int:
    for tool in ("psql", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing")
    root = Path(tempfile.mkdtemp(prefix="encore-chaos-"))
    root.chmod(0o755)  # the database server runs as postgres and must reach its directory
    primary = redis = gunicorn = None
    try:
        primary = primary_create(root / "pg")
        primary.sql("CREATE DATABASE encore")
        redis_port = free_port()
        redis = redis_start(redis_port)
        say(f"PostgreSQL :{primary.port} ({root / 'pg'}), Redis :{redis_port}")
        env = service_env(
            f"postgres://postgres@127.0.0.1:{primary.port}/encore?connect_timeout=2",
            redis_port,
            prefix="chaos",
        )
        poll, tokens = seed(env, root, slug="chaos-tour", fans=FANS)
        say(f"seeded poll {poll['slug']} and {len(tokens):,} signed-in fans")

        port = free_port()
        gunicorn = gunicorn_start(port, workers=WORKERS, env=env, log=root / "gunicorn.log")
        wait_http(f"http://127.0.0.1:{port}/healthz")
        say(f"gunicorn :{port}, {WORKERS} sync workers {children_of(gunicorn.pid)}")

        load = VoteLoad("127.0.0.1", port, poll["slug"], poll["options"][0], tokens, threads=THREADS)
        load.start()
        say(f"{THREADS} fans voting at once for {SECONDS} s, each with an Idempotency-Key")

        def at(fraction: float) -> None:
            time.sleep(max(0.0, load.started + SECONDS * fraction - time.monotonic()))

        at(0.15)
        victim = children_of(gunicorn.pid)[0]
        os.kill(victim, signal.SIGKILL)
        say(f"kill -9 gunicorn worker {victim} ({len(load.votes):,} fans so far)")

        at(0.35)
        primary.stop("immediate")
        say("PostgreSQL stopped immediately (a crash)")
        time.sleep(3)
        primary.start()
        say("PostgreSQL started again (crash recovery done)")

        at(0.65)
        redis.kill()
        redis.wait()
        say("Redis killed")
        time.sleep(2)
        redis = redis_start(redis_port)
        say("a new, empty Redis on the same port")

        at(1.0)
        load.stop()
        load.join(timeout=120)
        say(
            f"load over: {len(load.votes):,} fans in {load.seconds:.1f} s; workers now {children_of(gunicorn.pid)}"
        )

        from polls.receipts import receipt_hash

        slug = poll["slug"]
        stored = primary.sql(
            "SELECT b.receipt_hash FROM polls_ballot b JOIN polls_poll p ON p.id = b.poll_id"
            f" WHERE p.slug = '{slug}'",
            "encore",
        ).split()
        answers_text = primary.sql(
            "SELECT a.key || ' ' || (a.body ->> 'receipt') FROM polls_idempotentanswer a"
            f" JOIN polls_poll p ON p.id = a.poll_id WHERE p.slug = '{slug}'",
            "encore",
        )
        answers = [tuple(line.split(" ", 1)) for line in answers_text.splitlines() if line]
        over_allowance = int(
            primary.sql(
                "SELECT count(*) FROM (SELECT voter_id FROM polls_ballot GROUP BY poll_id, voter_id, period"
                " HAVING count(*) > 1) AS doubled",
                "encore",
            )
        )
        counted = ballots_check(
            load.acknowledged,
            receipt_hash=receipt_hash,
            stored_hashes=stored,
            stored_answers=answers,
            over_allowance=over_allowance,
        )
        summary = load.summary()
        report = {**counted, "retries": summary["retries"], **summary, "vote_seconds": SECONDS}
        print("CHAOS " + json.dumps(report))
        print(
            f"acknowledged {counted['acknowledged']:,}, found {counted['found']:,}, "
            f"duplicates {counted['duplicates']}, lost {counted['lost']}, retries {summary['retries']:,} "
            f"(after {summary['retried_after']}); final answers {summary['final_answers']}; "
            f"ballots in the database {counted['ballots_in_database']:,}"
        )
        return 0 if counted["lost"] == 0 and counted["duplicates"] == 0 else 1
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)  # its own session: master and workers
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        if redis is not None and redis.poll() is None:
            redis.terminate()
            redis.wait(timeout=10)
        remove(root, *([primary] if primary is not None else []))


if __name__ == "__main__":
    sys.exit(main())
