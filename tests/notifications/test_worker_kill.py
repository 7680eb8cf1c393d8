"""A task worker killed with SIGKILL in the middle of a fan-out, then started again,
leaves exactly one notification per fan: the real ``manage.py db_worker`` processes on
the real database, 20,000 fans."""

import os
import signal

import pytest

from bench.fanout import (
    ballots_seed,
    fan_out_done,
    fans_seed,
    mail_done,
    mail_states,
    notifications_per_fan,
    published_poll,
    stop,
    task_worker,
    wait_for,
)
from polls.notifications.events import notifications_step
from polls.notifications.models import Notification, NotificationKind
from polls.notifications.services import poll_announce
from tests.helpers import database_url

pytestmark = pytest.mark.django_db(transaction=True)

AUDIENCE = 20_000
CHUNK = 1_000
LEASE_SECONDS = 3


def test_worker_killed_mid_fan_out_and_started_again_leaves_one_notification_per_fan(settings):
    settings.NOTIFICATION_LEASE_SECONDS = LEASE_SECONDS
    fans_seed(count=AUDIENCE, prefix="kill-", verified=False)
    poll = published_poll(slug="kill-test")
    assert ballots_seed(poll=poll, prefix="kill-") == AUDIENCE
    kind, key = NotificationKind.RESULTS_PUBLISHED, f"poll:{poll.pk}"
    poll_announce(poll=poll, kind=kind)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "NOTIFICATION_CHUNK": str(CHUNK),
        # A pause between chunks, so the kill lands midway however fast the box is.
        "NOTIFICATION_CHUNK_PAUSE": "0.2",
        "NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
        "DEBUG": "false",
    }

    first = task_worker(env)
    try:
        wait_for(lambda: notifications_per_fan(kind, key)[0] >= CHUNK, timeout=120, every=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    at_kill = notifications_per_fan(kind, key)[0]
    assert CHUNK <= at_kill < AUDIENCE
    assert at_kill % CHUNK == 0  # whole chunks only: each commits with the cursor

    second = task_worker(env)
    try:
        # The killed task stays "running" in the engine; once its lease runs out the
        # sweeper (encore_worker's step) hands the fan-out to the new worker.
        wait_for(lambda: notifications_step()["fan_outs"], timeout=60, every=0.5)
        wait_for(lambda: fan_out_done(kind, key), timeout=300, every=0.2)
        wait_for(lambda: mail_done(kind, key) or (notifications_step() and False), timeout=120, every=0.5)
    finally:
        stop(second)

    assert notifications_per_fan(kind, key) == (AUDIENCE, AUDIENCE)
    told = set(Notification.objects.filter(kind=kind, object_key=key).values_list("user_id", flat=True))
    assert told == set(poll.ballots.values_list("voter_id", flat=True))
    # Nobody here has a verified address: every mail is decided (skipped), none left pending.
    assert mail_states(kind, key) == {"skipped": AUDIENCE}
