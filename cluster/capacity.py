"""`make capacity`: what one PostgreSQL and one Redis core sustain of Encore's vote, the
inputs of docs/scaling.md's capacity model.

On PostgreSQL instances of its own (cluster/postgres.py) with Encore's schema migrated:
pgbench runs the exact vote statement (polls/ballots.py: the open check with its key-share
lock, the ballot and its choice in one statement, autocommit) from CAPACITY_CLIENTS
clients for CAPACITY_SECONDS, first with no standby, then with a synchronous standby
(each commit waits for the standby's flush). On a Redis of its own, redis-benchmark runs
the lean vote's gate (one EVALSHA: card, session check, two rate counters) and a plain
GET. It prints the figures and the commands, which anyone can rerun.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster.parts import redis_start  # noqa: E402
from cluster.postgres import (  # noqa: E402
    free_port,
    primary_create,
    remove,
    standby_create,
    synchronous_standby_set,
)

SECONDS = int(os.environ.get("CAPACITY_SECONDS") or 15)
CLIENTS = int(os.environ.get("CAPACITY_CLIENTS") or 8)
VOTERS = 20000

# The vote statement of polls/ballots.py with pgbench variables for its parameters; a
# voter, period and slot drawn at random so that the allowance index rarely refuses.
VOTE_SCRIPT = """\\set voter random(1, {voters})
\\set day random(0, 36500)
\\set slot random(0, 9)
\\set option random(1, 3)
WITH open_poll AS (
    SELECT id FROM polls_poll
    WHERE id = 1 AND state = 'scheduled' AND opens_at <= now() AND closes_at > now()
      AND (closed_early_at IS NULL OR closed_early_at > now())
    FOR KEY SHARE
), new_ballot AS (
    INSERT INTO polls_ballot (poll_id, voter_id, period, slot, day, cast_at, receipt_hash, status,
        status_reason, client_ip, client_network, client_fingerprint, tallied, checkpoint)
    SELECT 1, :voter::bigint, date '2026-01-01' + :day::integer, :slot::smallint,
        date '2026-01-01' + :day::integer, now(),
        md5(random()::text || clock_timestamp()::text), 'counted', '', '203.0.113.7'::inet,
        '203.0.113.0/24', md5(:voter::bigint::text), false, NULL
    FROM open_poll RETURNING id
)
INSERT INTO polls_ballotchoice (poll_id, ballot_id, option_id, rank)
SELECT 1, new_ballot.id, :option::integer, 1 FROM new_ballot;
"""

GATE_SCRIPT_KEYS = 2


def say(message: str) -> None:
    print(f"[capacity] {message}", flush=True)


def pgbench(instance, script: Path) -> dict:
    command = [
        "pgbench",
        "-h",
        "127.0.0.1",
        "-p",
        str(instance.port),
        "-U",
        "postgres",
        "-n",
        "-M",
        "prepared",
        "-c",
        str(CLIENTS),
        "-j",
        "2",
        "-T",
        str(SECONDS),
        "-f",
        str(script),
        "encore",
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed: {done.stderr[-2000:]}")
    output = done.stdout
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", output)
    return {
        "tps": round(tps),
        "latency_ms": latency,
        "failed": int(failed.group(1)) if failed else 0,
        "command": " ".join(command),
    }


def redis_benchmarks(port: int) -> dict:
    from accounts.voter_cards import GATE_LUA

    load = subprocess.run(
        ["redis-cli", "-p", str(port), "SCRIPT", "LOAD", GATE_LUA], check=True, capture_output=True, text=True
    )
    sha = load.stdout.strip()
    card = json.dumps(
        {"user_id": 1, "level": "email", "country": "", "joined": "2026-01-01T00:00:00+00:00", "version": 0}
    )
    subprocess.run(["redis-cli", "-p", str(port), "SET", "card", card], check=True, capture_output=True)
    subprocess.run(["redis-cli", "-p", str(port), "SET", "session", "x"], check=True, capture_output=True)
    figures = {}
    runs = {
        "gate_evalsha": [
            "EVALSHA",
            sha,
            str(GATE_SCRIPT_KEYS),
            "card",
            "session",
            "vcv:",
            "rl:vote:account:u@ID@",
            "1000000000",
            "60",
            "rl:vote:network:__rand_int__",
            "1000000000",
            "60",
        ],
        "get": ["GET", "card"],
    }
    for name, command in runs.items():
        full = [
            "redis-benchmark",
            "-p",
            str(port),
            "-q",
            "-n",
            "200000",
            "-c",
            "32",
            "-r",
            "100000",
            *command,
        ]
        output = subprocess.run(full, check=True, capture_output=True, text=True).stdout
        match = re.search(r"([\d.]+) requests per second", output.replace(",", ""))
        figures[name] = {"per_s": round(float(match.group(1))), "command": " ".join(full[:9]) + " ..."}
    return figures


def main() -> int:
    for tool in ("pgbench", "redis-benchmark", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing")
    root = Path(tempfile.mkdtemp(prefix="encore-capacity-"))
    root.chmod(0o755)
    primary = standby = None
    redis = None
    try:
        primary = primary_create(root / "pg")
        primary.sql("CREATE DATABASE encore")
        env = {
            **os.environ,
            "DATABASE_URL": primary.url("encore"),
            "SECRET_KEY": secrets.token_urlsafe(64),
            "DEBUG": "false",
        }
        env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [sys.executable, "-m", "cluster.seed", "poll", "capacity"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        primary.sql(
            "INSERT INTO accounts_user (password, is_superuser, email, display_name, is_staff, is_active,"
            " date_joined, country, preferred_language, time_zone, phone_number, canonical_email)"
            f" SELECT '!', false, 'v' || n || '@capacity.example', '', false, true, now(), '', '', 'UTC', '',"
            f" 'v' || n || '@capacity.example' FROM generate_series(1, {VOTERS}) AS n",
            "encore",
        )
        first = primary.sql("SELECT min(id) FROM accounts_user", "encore")
        poll_id = primary.sql("SELECT id FROM polls_poll WHERE slug = 'capacity'", "encore")
        options = primary.sql(f"SELECT min(id) FROM polls_option WHERE poll_id = {poll_id}", "encore")
        script = root / "vote.sql"
        script.write_text(
            VOTE_SCRIPT.format(voters=VOTERS)
            .replace(f"random(1, {VOTERS})", f"random({first}, {int(first) + VOTERS - 1})")
            .replace("WHERE id = 1 AND", f"WHERE id = {poll_id} AND")
            .replace("SELECT 1, :voter", f"SELECT {poll_id}, :voter")
            .replace(
                "SELECT 1, new_ballot.id, :option",
                f"SELECT {poll_id}, new_ballot.id, {options} + :option - 1",
            )
        )
        shutil.copy(script, ROOT / "bench" / "results" / "pgbench-vote.sql")
        say(f"pgbench, {CLIENTS} clients, {SECONDS} s, no standby")
        alone = pgbench(primary, script)
        standby = standby_create(root / "pg", primary)
        synchronous_standby_set(primary, standby)
        say("pgbench again with a synchronous standby")
        synchronous = pgbench(primary, script)
        ballots = primary.sql("SELECT count(*) FROM polls_ballot", "encore")
        redis_port = free_port()
        redis = redis_start(redis_port)
        say("redis-benchmark")
        redis_figures = redis_benchmarks(redis_port)
        report = {
            "postgres_vote_statement_tps": {"alone": alone, "synchronous_standby": synchronous},
            "ballots_written": int(ballots),
            "redis": redis_figures,
            "load_average": os.getloadavg(),
        }
        (ROOT / "bench" / "results" / "capacity.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return 0
    finally:
        if redis is not None:
            redis.terminate()
        remove(root, *(instance for instance in (primary, standby) if instance is not None))


if __name__ == "__main__":
    sys.exit(main())
