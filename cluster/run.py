"""`make cluster`: Encore past one box, on this machine, with existing engines only.

HAProxy in front of two Encore web nodes (gunicorn, each with its own worker beside
it); PostgreSQL primary with a synchronous streaming standby (a commit is acknowledged
only once the standby has flushed it); one Redis shared by the nodes. Every part runs on
its own ports and data directories and is stopped by this script; the machine's own
PostgreSQL and Redis are never touched.

The run:
1. public reads (poll pages and lists) through the load balancer, to measure the share
   the replica serves while both databases are up;
2. a vote load through the load balancer; mid-run the primary is stopped immediately
   (a crash) and the standby promoted with ``pg_ctl promote``; the nodes' libpq
   multi-host ``DATABASE_URL`` (``target_session_attrs=read-write``) finds the new
   primary by itself, and until then votes get ``503`` with ``Retry-After``;
3. the count: every acknowledged receipt looked up on the new primary.

It prints acknowledged, found, duplicates, lost, seconds of 503 and the replica's share of
reads, and exits 1 if a vote was lost or doubled. CLUSTER_SECONDS (default 20) is the
length of the vote load, CLUSTER_FANS (default 12000) the accounts.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster.parts import gunicorn_start, logger, redis_start, seed, service_env, wait_http  # noqa: E402
from cluster.postgres import (  # noqa: E402
    free_port,
    primary_create,
    remove,
    standby_create,
    synchronous_standby_set,
    wait_for_replay,
)

SECONDS = int(os.environ.get("CLUSTER_SECONDS") or 20)
FANS = int(os.environ.get("CLUSTER_FANS") or 12000)


say = logger("cluster")


def haproxy_config(port: int, nodes: list[int]) -> str:
    servers = "\n".join(f"    server node{n} 127.0.0.1:{p} check inter 500" for n, p in enumerate(nodes, 1))
    return f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
frontend encore
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
{servers}
"""


def replica_share(primary, standby, duration: float, lb: str, slug: str) -> float:
    """Share of read transactions the standby served during ``duration`` seconds of
    public reads (poll page and list) through the load balancer."""

    def commits(instance) -> int:
        return int(instance.sql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'encore'"))

    before = commits(primary), commits(standby)
    deadline = time.monotonic() + duration

    failures: list[str] = []

    def reader() -> None:
        while time.monotonic() < deadline:
            for path in (f"/api/v1/polls/{slug}/", "/api/v1/polls/"):
                try:
                    urllib.request.urlopen(lb + path, timeout=5).read()  # noqa: S310 - loopback
                except urllib.error.HTTPError as error:
                    failures.append(f"{path}: {error.code} {error.read()[:200]!r}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(1.5)  # pg_stat_database is updated at most every 500 ms per backend
    if failures:
        say(f"{len(failures)} public reads failed, e.g. {failures[0]}")
    on_primary, on_standby = commits(primary) - before[0], commits(standby) - before[1]
    return on_standby / max(1, on_primary + on_standby)


def main() -> int:
    for tool in ("haproxy", "wrk", "psql"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (make cluster installs it with apt as root)")
    root = Path(tempfile.mkdtemp(prefix="encore-cluster-"))
    root.chmod(0o755)  # the database servers run as postgres and must reach their directories
    processes: list[subprocess.Popen] = []
    primary = standby = None
    try:
        primary = primary_create(root / "pg")
        primary.sql("CREATE DATABASE encore")
        standby = standby_create(root / "pg", primary)
        synchronous_standby_set(primary, standby)
        say(f"PostgreSQL primary :{primary.port}, synchronous standby :{standby.port}")
        redis_port = free_port()
        processes.append(redis_start(redis_port))
        say(f"Redis :{redis_port}")
        env = service_env(
            f"postgres://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/encore"
            "?target_session_attrs=read-write&connect_timeout=2",
            redis_port,
            prefix="cluster",
        )
        env["DATABASE_REPLICA_URLS"] = standby.url("encore")
        poll, _tokens = seed(env, root, slug="cluster-tour", fans=FANS)
        tokens = root / "tokens.txt"  # one a line, for wrk
        say(f"seeded poll {poll['slug']} and {FANS:,} signed-in fans")

        nodes = [free_port(), free_port()]
        for number, port in enumerate(nodes, 1):
            processes.append(gunicorn_start(port, workers=3, env=env, log=root / f"node{number}.log"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "encore_worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=(root / f"node{number}.log").open("a"),
                    stderr=subprocess.STDOUT,
                )
            )
        for port in nodes:
            wait_http(f"http://127.0.0.1:{port}/healthz")
        lb_port = free_port()
        config = root / "haproxy.cfg"
        config.write_text(haproxy_config(lb_port, nodes))
        processes.append(
            subprocess.Popen(
                ["haproxy", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        lb = f"http://127.0.0.1:{lb_port}"
        wait_http(lb + "/healthz")
        say(
            f"HAProxy :{lb_port} -> web nodes :{nodes[0]}, :{nodes[1]} (3 gunicorn workers and a worker each)"
        )

        wait_for_replay(primary, standby)
        share = replica_share(primary, standby, 5, lb, poll["slug"])
        say(f"public reads for 5 s: the replica served {share:.0%} of the read transactions")

        receipts = root / "receipts.txt"
        wrk = subprocess.Popen(
            [
                "wrk",
                "-t2",
                "-c16",
                f"-d{SECONDS}s",
                "--timeout",
                "10s",
                "-s",
                str(ROOT / "cluster" / "votes.lua"),
                f"{lb}/api/v1/polls/{poll['slug']}/votes/",
                "--",
                str(tokens),
                "2",
                str(poll["options"][0]),
            ],
            env={**os.environ, "CLUSTER_RECEIPTS": str(receipts)},
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(SECONDS * 0.35)
        say("stopping the primary immediately (a crash)")
        primary.stop("immediate")
        time.sleep(1.0)
        standby.promote()
        say("standby promoted with pg_ctl promote")
        output, _ = wrk.communicate(timeout=SECONDS + 60)
        summary = json.loads(
            next(line for line in output.splitlines() if line.startswith("CLUSTER_JSON ")).split(" ", 1)[1]
        )

        from polls.receipts import receipt_hash

        acked = [line for line in receipts.read_text().split() if line]
        hashes = {receipt_hash(receipt) for receipt in acked}
        stored = standby.sql("SELECT receipt_hash FROM polls_ballot", "encore").split()
        found = len(hashes & set(stored))
        over_allowance = int(
            standby.sql(
                "SELECT count(*) FROM (SELECT voter_id FROM polls_ballot GROUP BY poll_id, voter_id, period"
                " HAVING count(*) > 1) AS doubled",
                "encore",
            )
        )
        duplicates = over_allowance + (len(stored) - len(set(stored))) + (len(acked) - len(hashes))
        lost = len(hashes) - found
        report = {
            "acknowledged": len(acked),
            "found_on_new_primary": found,
            "duplicates": duplicates,
            "lost": lost,
            "seconds_of_503": summary["seconds_503"],
            "statuses": summary["statuses"],
            "socket_errors": summary["socket_errors"],
            "replica_share_of_reads": round(share, 3),
            "vote_seconds": SECONDS,
        }
        print("CLUSTER " + json.dumps(report))
        print(
            f"acknowledged {len(acked):,}, found on the new primary {found:,}, duplicates {duplicates}, "
            f"lost {lost}; {summary['seconds_503']} s of 503 during the failover; "
            f"answers {summary['statuses']}; the replica served {share:.0%} of public reads while both were up"
        )
        return 0 if lost == 0 and duplicates == 0 else 1
    finally:
        for process in reversed(processes):
            try:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM) if process.args[1:3] == [
                        "-m",
                        "gunicorn",
                    ] else process.terminate()
                    process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                process.kill()
        remove(root, *(instance for instance in (primary, standby) if instance is not None))


if __name__ == "__main__":
    sys.exit(main())
