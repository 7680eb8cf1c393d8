"""Events found by the clock, outside any request: the worker (polls/worker.py) asks
each pass which polls opened, close within a day or were published, and announces each
once (the announcement's unique key decides between passes and between machines)."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from polls.models import Poll, PollState, PollStatus
from polls.notifications.models import Announcement, NotificationKind
from polls.notifications.services import poll_announce, stalled_work_recover
from polls.selectors import polls_with_status


def _not_yet_announced(polls: list[Poll], kind: str) -> list[Poll]:
    keys = {f"poll:{poll.pk}": poll for poll in polls}
    done = set(
        Announcement.objects.filter(kind=kind, object_key__in=keys).values_list("object_key", flat=True)
    )
    return [poll for key, poll in keys.items() if key not in done]


def poll_events_due(*, moment: datetime | None = None) -> list[tuple[Poll, str]]:
    """(poll, kind) pairs due now and not announced yet."""
    now = moment or timezone.now()
    oldest = now - settings.NOTIFICATION_EVENT_MAX_AGE
    open_polls = list(polls_with_status(status=PollStatus.OPEN, moment=now))
    opened = [poll for poll in open_polls if poll.opens_at >= oldest]
    closing = [
        poll for poll in open_polls if poll.effective_closes_at - settings.NOTIFICATION_CLOSING_NOTICE <= now
    ]
    published = list(Poll.objects.filter(state=PollState.PUBLISHED, published_at__gte=oldest))
    due = []
    for kind, polls in (
        (NotificationKind.POLL_OPENED, opened),
        (NotificationKind.POLL_CLOSING, closing),
        (NotificationKind.RESULTS_PUBLISHED, published),
    ):
        due += [(poll, kind) for poll in _not_yet_announced(polls, kind)]
    return due


def notifications_step(*, moment: datetime | None = None) -> dict[str, int]:
    """One pass: announce the poll events that are due, re-enqueue stalled work."""
    announced = sum(1 for poll, kind in poll_events_due(moment=moment) if poll_announce(poll=poll, kind=kind))
    return {"announced": announced, **stalled_work_recover()}
