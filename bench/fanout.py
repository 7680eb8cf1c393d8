"""Notification fan-out at scale, through the real task worker (``make fanout``).

On its own PostgreSQL database (``FANOUT_DATABASE_URL``, default ``encore_fanout``, dropped and
made anew), 100,000 fans (``FANOUT_RECIPIENTS``) are created with bulk SQL, each with a
verified address and a ballot in a published poll. Then:

1. clean run: the results are announced and one ``manage.py db_worker`` process fans
   them out and mails them (mail backend ``dummy://``: rendering and the SMTP
   connection's calls, no network); reported: time to the last notification, time to
   the last mail, the worker's peak RSS (VmHWM), rows written;
2. kill run: a second poll is announced to the same fans, the worker is killed with
   SIGKILL once a fifth of the notifications are committed, a new worker and
   ``manage.py encore_worker`` (which re-enqueues work whose lease ran out) are
   started; checked: exactly one notification per fan, every mail sent or skipped.

Exit 1 when a fan has no notification or two. Writes bench/results/fanout-latest.{md,json}.
The seeding helpers are shared with tests/notifications/test_worker_kill.py.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/encore_fanout"


# ------------------------------------------------------------------ seeding (bulk SQL)


def _series(vendor: str) -> str:
    """Rows n = 1..%s, in one statement on either database."""
    if vendor == "postgresql":
        return "SELECT generate_series(1, %s) AS n"
    return "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) SELECT n FROM s"


def _date(vendor: str, day: date) -> str:
    return f"DATE '{day.isoformat()}'" if vendor == "postgresql" else f"'{day.isoformat()}'"


def fans_seed(*, count: int, prefix: str, verified: bool) -> None:
    """``count`` active accounts ``<prefix><n>@bench.example`` (with a verified primary
    address when ``verified``), in two INSERT ... SELECT statements."""
    from django.db import connection, transaction

    assert prefix.replace("-", "").isalnum(), prefix  # spliced into SQL below
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO accounts_user (password, is_superuser, email, canonical_email, display_name,
                country, preferred_language, time_zone, phone_number, is_staff, is_active, date_joined)
            SELECT '!', FALSE, '{prefix}' || n || '@bench.example', '{prefix}' || n || '@bench.example',
                '', '', '', 'UTC', '', FALSE, TRUE, CURRENT_TIMESTAMP
            FROM ({_series(connection.vendor)}) AS series
            """,
            [count],
        )
        if verified:
            cursor.execute(
                f"""
                INSERT INTO account_emailaddress (email, verified, "primary", user_id)
                SELECT email, TRUE, TRUE, id FROM accounts_user WHERE email LIKE '{prefix}%%@bench.example'
                """
            )


def ballots_seed(*, poll, prefix: str) -> int:
    """One ballot in ``poll`` for each account of ``prefix`` (tallied, so no worker
    folds them), in one statement. Returns how many."""
    from django.db import connection, transaction

    vendor = connection.vendor
    period = _date(vendor, poll.period_of(poll.opens_at))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO polls_ballot (poll_id, voter_id, period, slot, day, cast_at, receipt_hash,
                status, status_reason, client_ip, client_network, client_fingerprint, tallied, checkpoint)
            SELECT {int(poll.pk)}, id, {period}, 0, {period}, CURRENT_TIMESTAMP, 'bench-{int(poll.pk)}-' || id,
                'counted', '', NULL, '', '', TRUE, NULL
            FROM accounts_user WHERE email LIKE '{prefix}%%@bench.example'
            """
        )
        seeded = cursor.rowcount
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            # What autovacuum does soon after a bulk load; without it the planner
            # believes the freshly filled tables are empty.
            cursor.execute("ANALYZE accounts_user, account_emailaddress, polls_ballot")
    return seeded


def published_poll(*, slug: str):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Agency
    from polls.models import Poll, PollState

    agency, _ = Agency.objects.get_or_create(slug="fanout-bench", defaults={"name": "Fan-out bench"})
    now = timezone.now()
    return Poll.objects.create(
        agency=agency,
        slug=slug,
        kind="other",
        title=f"Fan-out bench {slug}",
        opens_at=now - timedelta(days=2),
        closes_at=now - timedelta(hours=1),
        state=PollState.PUBLISHED,
        published_at=now,
    )


# ------------------------------------------------------------------ processes


def task_worker(env: dict) -> subprocess.Popen:
    """The task engine's worker, as production runs it."""
    command = ["manage.py", "db_worker", "--queue-name", "*", "--no-reload", "--no-startup-delay"]
    return subprocess.Popen(
        [sys.executable, *command, "--interval", "0.1", "-v", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def encore_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "encore_worker", "--interval", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def peak_rss_kb(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition, *, timeout: float, every: float = 0.05, watch: subprocess.Popen | None = None):
    """Poll ``condition`` until it returns something true; the peak RSS of ``watch``
    is sampled meanwhile. Returns (value, peak RSS in kB)."""
    deadline = time.monotonic() + timeout
    peak = 0
    while time.monotonic() < deadline:
        if watch is not None:
            peak = max(peak, peak_rss_kb(watch.pid))
        value = condition()
        if value:
            return value, peak
        time.sleep(every)
    raise TimeoutError(f"gave up after {timeout} s")


def fan_out_done(kind: str, object_key: str):
    from polls.notifications.models import Announcement

    return Announcement.objects.filter(kind=kind, object_key=object_key, fanned_out_at__isnull=False).exists()


def mail_done(kind: str, object_key: str) -> bool:
    from polls.notifications.models import Notification

    return not Notification.objects.filter(
        kind=kind, object_key=object_key, email_state__in=["pending", "sending"]
    ).exists()


def notifications_per_fan(kind: str, object_key: str) -> tuple[int, int]:
    """(rows, distinct fans) of one announcement."""
    from django.db.models import Count

    from polls.notifications.models import Notification

    rows = Notification.objects.filter(kind=kind, object_key=object_key)
    counted = rows.aggregate(rows=Count("id"), fans=Count("user", distinct=True))
    return counted["rows"], counted["fans"]


def mail_states(kind: str, object_key: str) -> dict[str, int]:
    from django.db.models import Count

    from polls.notifications.models import Notification

    rows = Notification.objects.filter(kind=kind, object_key=object_key)
    return dict(rows.values_list("email_state").annotate(n=Count("id")).order_by())


def _at_least(kind: str, object_key: str, rows: int) -> int:
    committed = notifications_per_fan(kind, object_key)[0]
    return committed if committed >= rows else 0


# ------------------------------------------------------------------ the bench


def _database_recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _environment(url: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_URL": "dummy://",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "NOTIFICATION_LEASE_SECONDS": os.environ.get("NOTIFICATION_LEASE_SECONDS", "10"),
        "DJANGO_SETTINGS_MODULE": "voting.settings",
    }
    env.pop("REDIS_URL", None)
    return env


def main() -> int:
    count = int(os.environ.get("FANOUT_RECIPIENTS", "100000"))
    url = os.environ.get("FANOUT_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = _environment(url)
    os.environ.update(env)
    print(f"fan-out bench: {count:,} fans on {urlsplit(url).path.lstrip('/')}", flush=True)
    _database_recreate(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from polls.notifications.models import NotificationKind
    from polls.notifications.services import poll_announce

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    fans_seed(count=count, prefix="fanout-", verified=True)
    clean_poll, killed_poll = published_poll(slug="fanout-clean"), published_poll(slug="fanout-killed")
    for poll in (clean_poll, killed_poll):
        ballots_seed(poll=poll, prefix="fanout-")
    print(
        f"seeded {count:,} fans and {2 * count:,} ballots in {time.monotonic() - started:.1f} s", flush=True
    )
    kind = NotificationKind.RESULTS_PUBLISHED
    report: dict = {"recipients": count, "chunk": None, "email_batch": None}

    # 1. Clean run.
    from django.conf import settings

    report["chunk"], report["email_batch"] = settings.NOTIFICATION_CHUNK, settings.NOTIFICATION_EMAIL_BATCH
    key = f"poll:{clean_poll.pk}"
    poll_announce(poll=clean_poll, kind=kind)
    worker = task_worker(env)
    started = time.monotonic()
    try:
        _, peak_fan_out = wait_for(lambda: fan_out_done(kind, key), timeout=1800, watch=worker)
        fan_out_seconds = time.monotonic() - started
        # FANOUT_MAIL_WAIT bounds how long the mail is watched (all of it by default).
        try:
            _, peak_mail = wait_for(
                lambda: mail_done(kind, key),
                timeout=float(os.environ.get("FANOUT_MAIL_WAIT", "3600")),
                every=0.2,
                watch=worker,
            )
        except TimeoutError:
            peak_mail = peak_rss_kb(worker.pid)
        mail_seconds = time.monotonic() - started
        mailed = mail_states(kind, key).get("sent", 0)
        peak = max(peak_fan_out, peak_mail, peak_rss_kb(worker.pid))
    finally:
        stop(worker)
    rows, distinct = notifications_per_fan(kind, key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('notifications_notification')")
        table_bytes = cursor.fetchone()[0]
    from django_tasks_db.models import DBTaskResult

    tasks = DBTaskResult.objects.count()
    load = os.getloadavg()[0]
    report["clean"] = {
        "fan_out_seconds": round(fan_out_seconds, 2),
        "notifications_per_second": round(rows / fan_out_seconds),
        "mails_sent": mailed,
        "fan_out_and_mail_seconds": round(mail_seconds, 2),
        "mails_per_second": round(mailed / max(mail_seconds - fan_out_seconds, 0.001)),
        "worker_peak_rss_mb": round(peak / 1024, 1),
        "notification_rows": rows,
        "distinct_fans": distinct,
        "task_rows": tasks,
        "notification_table_mb": round(table_bytes / 2**20, 1),
        "load_average_1min_at_end": round(load, 1),
    }
    print(json.dumps(report["clean"], indent=2), flush=True)

    # 2. Killed mid fan-out, started again.
    key = f"poll:{killed_poll.pk}"
    poll_announce(poll=killed_poll, kind=kind)
    worker = task_worker(env)
    try:
        at_kill, _ = wait_for(lambda: _at_least(kind, key, count // 5), timeout=600, every=0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        stop(worker)
    committed = notifications_per_fan(kind, key)[0]
    killed_at = time.monotonic()
    worker, sweeper = task_worker(env), encore_worker(env)
    try:
        wait_for(lambda: fan_out_done(kind, key), timeout=1800, every=0.2)
        resumed_seconds = time.monotonic() - killed_at
        # The mail of the killed run is the clean run's again; FANOUT_KILL_MAIL_WAIT
        # seconds (0: none) of it are watched, and its states reported as they are
        # (tests/notifications/test_worker_kill.py sees every mail decided).
        mail_wait = float(os.environ.get("FANOUT_KILL_MAIL_WAIT", "0"))
        if mail_wait:
            wait_for(lambda: mail_done(kind, key), timeout=mail_wait, every=0.2)
    finally:
        stop(worker)
        stop(sweeper)
    rows, distinct = notifications_per_fan(kind, key)
    states = mail_states(kind, key)
    report["killed"] = {
        "rows_seen_before_kill": at_kill,
        "rows_committed_at_kill": committed,
        "seconds_from_kill_to_complete": round(resumed_seconds, 1),
        "lease_seconds": settings.NOTIFICATION_LEASE_SECONDS,
        "notification_rows": rows,
        "distinct_fans": distinct,
        "mail_states": states,
    }
    print(json.dumps(report["killed"], indent=2), flush=True)
    ok = (
        report["clean"]["notification_rows"] == count == report["clean"]["distinct_fans"]
        and rows == count == distinct
    )
    report["exactly_one_per_fan"] = ok
    _write(report)
    print("exactly one notification per fan: " + ("yes" if ok else "NO"), flush=True)
    return 0 if ok else 1


def _write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fanout-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    clean, killed = report["clean"], report["killed"]
    (RESULTS / "fanout-latest.md").write_text(
        f"""# Notification fan-out, {report["recipients"]:,} fans ({time.strftime("%Y-%m-%d")})

`make fanout` (bench/fanout.py): PostgreSQL, one `db_worker` process, chunks of
{report["chunk"]:,} notifications, mail in batches of {report["email_batch"]} to the dummy backend.

| clean run | |
|---|---|
| fan-out (all notifications committed) | {clean["fan_out_seconds"]} s ({clean["notifications_per_second"]:,}/s) |
| mail: {clean["mails_sent"]:,} sent {clean["fan_out_and_mail_seconds"]} s after the start | {clean["mails_per_second"]:,}/s (mail in one worker, after the fan-out) |
| worker peak RSS | {clean["worker_peak_rss_mb"]} MB |
| notification rows / distinct fans | {clean["notification_rows"]:,} / {clean["distinct_fans"]:,} |
| task rows | {clean["task_rows"]:,} |
| notification table with indexes | {clean["notification_table_mb"]} MB |
| machine load (1 min) at the end, 2 cores | {clean["load_average_1min_at_end"]} |

| killed with SIGKILL mid fan-out, started again | |
|---|---|
| rows committed when killed | {killed["rows_committed_at_kill"]:,} |
| kill to complete (lease {killed["lease_seconds"]} s) | {killed["seconds_from_kill_to_complete"]} s |
| notification rows / distinct fans | {killed["notification_rows"]:,} / {killed["distinct_fans"]:,} |
| mail states | {killed["mail_states"]} |
| exactly one per fan | {"yes" if report["exactly_one_per_fan"] else "NO"} |
"""
    )


if __name__ == "__main__":
    sys.exit(main())
