"""`make soak`: a bounded soak of mixed fan traffic, watching latency and memory.

Parts of its own, as `make chaos` (the machine's PostgreSQL and Redis are never
touched): a PostgreSQL primary, a redis-server, one Encore gunicorn with sync workers
(SOAK_WORKERS, default 3). wrk drives mixed fan traffic (cluster/soak.lua): votes by
app tokens in a poll that allows 20 a day (a fan's later votes are refused with
``409``, a path fans take too), poll reads (API and HTML page), live results reads and
receipt look-ups.

The load runs in back-to-back windows of a minute (shorter when SOAK_SECONDS is under
two minutes); for each window it records the 99th percentile latency and each gunicorn
worker's peak RSS (the kernel's high-water mark reset at the window's start, and VmRSS
sampled five times a second: bench/procstats.py). It compares the first window with the
last and exits 1 when a worker's peak RSS grew by more than SOAK_RSS_GROWTH (default
1.2, i.e. 20 %), when a worker died, or when a request got a 5xx or no answer.
SOAK_SECONDS defaults to 600 (ten minutes). The figures are printed and written to
var/soak/latest.json.
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

from bench.procstats import Sampler, children_of  # noqa: E402
from cluster.parts import gunicorn_start, logger, redis_start, seed, service_env, wait_http  # noqa: E402
from cluster.postgres import free_port, primary_create, remove  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS") or 600)
WORKERS = int(os.environ.get("SOAK_WORKERS") or 3)
FANS = int(os.environ.get("SOAK_FANS") or 4000)
GROWTH = float(os.environ.get("SOAK_RSS_GROWTH") or 1.2)
WINDOW = max(10, min(60, SECONDS // 2))


say = logger("soak")


def window_run(base: str, tokens: Path, slug: str, option: int, seconds: int, master: int) -> dict:
    sampler = Sampler(masters=[master], database="encore").start()
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "cluster" / "soak.lua"),
            base,
            "--",
            str(tokens),
            "2",
            slug,
            str(option),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    machine = sampler.stop()
    figures = json.loads(next(line for line in output.splitlines() if line.startswith("SOAK_JSON "))[10:])
    figures["rss_mb"] = {str(pid): round(kb / 1024, 1) for pid, kb in sorted(sampler.peaks_kb.items())}
    figures["machine_busy_pct"] = machine["machine_busy_pct"]
    figures["others_pct"] = machine["others_pct"]  # the cores other processes took
    figures["requests_per_second"] = round(figures["requests"] / figures["seconds"])
    return figures


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (make soak installs it with apt as root)")
    root = Path(tempfile.mkdtemp(prefix="encore-soak-"))
    root.chmod(0o755)
    primary = redis = gunicorn = None
    try:
        primary = primary_create(root / "pg")
        primary.sql("CREATE DATABASE encore")
        redis_port = free_port()
        redis = redis_start(redis_port)
        env = service_env(
            f"postgres://postgres@127.0.0.1:{primary.port}/encore?connect_timeout=2",
            redis_port,
            prefix="soak",
            rate_limits={
                "vote": [["account", "100000/m"], ["network", "10000000/m"]],
                "receipt": [["ip", "10000000/m"], ["network", "10000000/m"]],
            },
        )
        poll, tokens = seed(env, root, slug="chaos-tour", fans=FANS)
        primary.sql(
            f"UPDATE polls_poll SET period = 'daily', votes_per_period = 20 WHERE slug = '{poll['slug']}'",
            "encore",
        )
        say(
            f"PostgreSQL :{primary.port}, Redis :{redis_port}; poll {poll['slug']} (20 votes a day), {len(tokens):,} fans"
        )
        port = free_port()
        gunicorn = gunicorn_start(port, workers=WORKERS, env=env, log=root / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        first_workers = sorted(children_of(gunicorn.pid))
        say(
            f"gunicorn :{port}, {WORKERS} sync workers {first_workers}; {SECONDS} s of mixed traffic in {WINDOW} s windows"
        )

        windows = []
        deadline = time.monotonic() + SECONDS
        while (left := round(deadline - time.monotonic())) >= WINDOW / 2:
            figures = window_run(
                base, root / "tokens.txt", poll["slug"], poll["options"][0], min(WINDOW, left), gunicorn.pid
            )
            windows.append(figures)
            say(
                f"window {len(windows)}: {figures['requests_per_second']} req/s, p50 {figures['p50_ms']} ms, "
                f"p99 {figures['p99_ms']} ms, peak RSS per worker {figures['rss_mb']} MB, answers {figures['statuses']}"
            )
        start, end = windows[0], windows[-1]
        growth = {
            pid: round(end["rss_mb"][pid] / start["rss_mb"][pid], 3)
            for pid in start["rss_mb"]
            if pid in end["rss_mb"] and start["rss_mb"][pid]
        }
        last_workers = sorted(children_of(gunicorn.pid))
        failures = sum(
            count
            for figures in windows
            for status, count in figures["statuses"].items()
            if status.startswith("5")
        ) + sum(figures["socket_errors"] for figures in windows)
        problems = []
        if any(ratio > GROWTH for ratio in growth.values()):
            problems.append(f"a worker's peak RSS grew more than {GROWTH}x")
        if last_workers != first_workers:
            problems.append(f"workers changed: {first_workers} -> {last_workers}")
        if failures:
            problems.append(f"{failures} requests got a 5xx or no answer")
        report = {
            "seconds": SECONDS,
            "window_seconds": WINDOW,
            "workers": WORKERS,
            "start": start,
            "end": end,
            "rss_growth": growth,
            "windows": windows,
            "problems": problems,
        }
        out = ROOT / "var" / "soak"
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
        print(
            "SOAK "
            + json.dumps({k: report[k] for k in ("seconds", "start", "end", "rss_growth", "problems")})
        )
        print(
            f"start (first {WINDOW} s): p99 {start['p99_ms']} ms, peak RSS per worker {start['rss_mb']} MB; "
            f"end (last {end['seconds']:.0f} s): p99 {end['p99_ms']} ms, peak RSS per worker {end['rss_mb']} MB; "
            f"growth {growth}; {'; '.join(problems) or 'no problem'}"
        )
        return 1 if problems else 0
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
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
