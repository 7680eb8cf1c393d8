"""Reads of the polls app, shared by the HTML pages and the API."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from polls.errors import PollRuleError
from polls.models import Ballot, BallotChoice, Checkpoint, Poll, PollState, PollStatus, ResultsVisibility
from polls.receipts import receipt_hash
from polls.tally import live_results
from voting.errors import Code


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


# ------------------------------------------------------------------ results


def results_visible(*, poll: Poll, moment: datetime | None = None) -> bool:
    """Whether per-option counts may be shown to anyone (agency staff included)."""
    status = poll.status_at(moment or timezone.now())
    if status == PollStatus.PUBLISHED:
        return True
    if poll.results_visibility == ResultsVisibility.LIVE:
        return status in (PollStatus.OPEN, PollStatus.CLOSED)
    if poll.results_visibility == ResultsVisibility.AFTER_CLOSE:
        return status == PollStatus.CLOSED
    return False


def results_of(*, poll: Poll) -> dict:
    """Published results if any, else live ones; raises ``results_hidden`` when the
    poll's visibility rule says no. Every reader of counts goes through here."""
    if poll.state == PollState.PUBLISHED and hasattr(poll, "snapshot"):
        return poll.snapshot.results
    if not results_visible(poll=poll):
        raise PollRuleError(Code.RESULTS_HIDDEN, _("The results of this poll are not public yet."))
    # The counters change at most every TALLY_INTERVAL, so one cached copy serves every
    # reader in between. Visibility is checked above, on every request, never cached.
    key = f"polls:live-results:{poll.pk}"
    results = cache.get(key)
    if results is None:
        results = live_results(poll=poll)
        cache.set(key, results, timeout=settings.TALLY_INTERVAL)
    return results


def checkpoints_of(*, poll: Poll) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.filter(poll=poll).order_by("seq")


def ballot_for_receipt(*, code: str) -> Ballot | None:
    hashed = receipt_hash(code)
    if hashed is None:
        return None
    return (
        Ballot.objects.select_related("poll")
        .prefetch_related(Prefetch("choices", queryset=BallotChoice.objects.order_by("rank", "id")))
        .filter(receipt_hash=hashed)
        .first()
    )
