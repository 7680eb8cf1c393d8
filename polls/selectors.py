"""Reads of the polls app, shared by the HTML pages and the API."""

from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from polls.models import Ballot, BallotChoice, Poll, PollState, PollStatus


def public_polls() -> QuerySet[Poll]:
    """Polls the public may see: everything but drafts."""
    return Poll.objects.exclude(state=PollState.DRAFT).select_related("agency")


def poll_for_public(*, slug: str) -> Poll | None:
    return public_polls().prefetch_related("options").filter(slug=slug).first()


def polls_with_status(*, status: str, moment: datetime | None = None) -> QuerySet[Poll]:
    """Public polls whose derived status is ``status`` at ``moment``, as a query."""
    now = moment or timezone.now()
    polls = public_polls()
    if status in (PollStatus.PUBLISHED, PollStatus.CANCELLED):
        return polls.filter(state=status)
    scheduled = polls.filter(state=PollState.SCHEDULED)
    if status == PollStatus.SCHEDULED:
        return scheduled.filter(opens_at__gt=now)
    not_closed_early = scheduled.filter(closed_early_at__isnull=True) | scheduled.filter(
        closed_early_at__gt=now
    )
    if status == PollStatus.OPEN:
        return not_closed_early.filter(opens_at__lte=now, closes_at__gt=now)
    if status == PollStatus.CLOSED:
        return scheduled.filter(opens_at__lte=now).exclude(pk__in=not_closed_early.filter(closes_at__gt=now))
    return polls.none()


def home_sections(*, moment: datetime | None = None) -> dict[str, list[Poll]]:
    now = moment or timezone.now()
    open_polls = list(polls_with_status(status=PollStatus.OPEN, moment=now).order_by("closes_at")[:24])
    soon = now + timedelta(hours=48)
    return {
        "closing_soon": [poll for poll in open_polls if poll.effective_closes_at <= soon],
        "open": [poll for poll in open_polls if poll.effective_closes_at > soon],
        "upcoming": list(polls_with_status(status=PollStatus.SCHEDULED, moment=now).order_by("opens_at")[:6]),
        "published": list(
            polls_with_status(status=PollStatus.PUBLISHED, moment=now).order_by("-published_at")[:6]
        ),
    }


def ballots_of_voter(*, voter, poll: Poll | None = None) -> QuerySet[Ballot]:
    """The voter's own ballots with their choices, newest first."""
    ballots = Ballot.objects.filter(voter=voter).select_related("poll").order_by("-cast_at", "-id")
    if poll is not None:
        ballots = ballots.filter(poll=poll)
    return ballots.prefetch_related(
        Prefetch("choices", queryset=BallotChoice.objects.select_related("option").order_by("rank", "id"))
    )


def votes_left(*, poll: Poll, voter, moment: datetime | None = None) -> int:
    """How many more ballots the voter may cast in the current period."""
    now = moment or timezone.now()
    used = Ballot.objects.filter(poll=poll, voter=voter, period=poll.period_of(now)).count()
    return max(0, poll.votes_per_period - used)
