"""Background steps outside any request: tally refresh and checkpoints.

Each step is idempotent and safe on several machines at once (row locks and unique
constraints decide, see polls/tally.py and polls/checkpoints.py), so production may
run ``manage.py encore_worker`` on every box, or the one-shot ``--once`` from cron.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.utils import timezone

from polls.checkpoints import checkpoint_create, polls_due_for_checkpoint
from polls.models import Poll
from polls.notifications.events import notifications_step
from polls.retention import retention_apply
from polls.tally import polls_with_untallied_ballots, tally_refresh

logger = logging.getLogger("encore.worker")
HEARTBEAT_KEY = "encore:worker:heartbeat"


def worker_step() -> dict:
    """One pass: refresh tallies with a backlog, make the checkpoints that are due,
    announce the notification events that are due (the fan-out and mail run in the
    task workers), and (at most hourly, whichever worker gets there first) apply data
    retention."""
    folded = 0
    for poll in Poll.objects.filter(pk__in=polls_with_untallied_ballots()):
        folded += tally_refresh(poll=poll)
    checkpoints = sum(1 for poll in polls_due_for_checkpoint() if checkpoint_create(poll=poll))
    try:
        notified = notifications_step()
    except Exception:
        # Notifications must never hold up tallies, checkpoints and retention.
        logger.exception("notification step failed; retrying next pass")
        notified = {}
    if any(notified.values()):
        logger.info(
            "worker: %(announced)s events announced, %(fan_outs)s fan-outs and %(mails)s mail tasks taken over",
            notified,
        )
    if _claim_hourly_slot("retention"):
        retention_apply()
    heartbeat()
    return {"folded": folded, "checkpoints": checkpoints}


def _claim_hourly_slot(name: str) -> bool:
    try:
        return bool(cache.add(f"encore:worker:{name}", 1, timeout=3600))
    except Exception:  # noqa: BLE001 - without a cache, retention waits for cron
        return False


def heartbeat() -> None:
    try:
        cache.set(HEARTBEAT_KEY, timezone.now().timestamp(), timeout=None)
    except Exception:
        logger.warning("worker heartbeat could not be written", exc_info=True)


def worker_age_seconds() -> float | None:
    """Seconds since the worker last finished a step, None if it never did."""
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001
        return None
    return None if beat is None else max(0.0, timezone.now().timestamp() - float(beat))


def worker_loop(*, interval: float | None = None, stop_after: int | None = None) -> None:
    interval = interval or settings.TALLY_INTERVAL
    steps = 0
    while stop_after is None or steps < stop_after:
        started = time.monotonic()
        try:
            done = worker_step()
            if done["folded"] or done["checkpoints"]:
                logger.info("worker: %(folded)s ballots tallied, %(checkpoints)s checkpoints", done)
        except Exception:
            logger.exception("worker step failed; retrying next interval")
        finally:
            close_old_connections()
        steps += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
