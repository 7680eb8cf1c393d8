"""Reads of the polls app, shared by the HTML pages and the API."""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from polls.errors import PollRuleError
from polls.models import Ballot, BallotChoice, Checkpoint, Poll, PollState, PollStatus, ResultsVisibility
from polls.receipts import receipt_hash
from polls.tally import live_results
from voting.errors import Code


def public_polls() -> QuerySet[Poll]:
    """Polls the public may see: everything but drafts."""
    return Poll.objects.exclude(state=PollState.DRAFT).select_related("agency", "artist")


def poll_for_public(*, slug: str) -> Poll | None:
    return public_polls().prefetch_related("options").filter(slug=slug).first()


# Each process keeps the public polls it served for POLL_CACHE_SECONDS: a launch-hour
# crowd voting in one poll then costs no query for it. Rules and options are frozen
# once a poll is scheduled; only its state moves (close early, cancel, publish), and
# the vote statement checks that on the poll's row, so a stale copy can never accept a
# late vote. Saves in this process drop their copy at once (polls/apps.py).
_polls_by_slug: dict[str, tuple[float, Poll]] = {}


def poll_for_public_cached(*, slug: str) -> Poll | None:
    now = time.monotonic()
    cached = _polls_by_slug.get(slug)
    if cached is not None and cached[0] > now:
        return cached[1]
    poll = poll_for_public(slug=slug)
    if poll is not None:
        _polls_by_slug[slug] = (now + settings.POLL_CACHE_SECONDS, poll)
    return poll


def process_caches_clear() -> None:
    """Forget every poll and results document this process keeps."""
    _polls_by_slug.clear()
    _documents.clear()


def poll_cache_forget(*, slug: str | None = None) -> None:
    if slug is None:
        _polls_by_slug.clear()
    else:
        _polls_by_slug.pop(slug, None)


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


def home_sections(*, moment: datetime | None = None, artist_slug: str = "") -> dict[str, list[Poll]]:
    """The home page's polls; with ``artist_slug``, only that artist's."""
    now = moment or timezone.now()

    def with_status(status: str) -> QuerySet[Poll]:
        polls = polls_with_status(status=status, moment=now)
        return polls.filter(artist__slug=artist_slug) if artist_slug else polls

    open_polls = list(with_status(PollStatus.OPEN).order_by("closes_at")[:24])
    soon = now + timedelta(hours=48)
    return {
        "closing_soon": [poll for poll in open_polls if poll.effective_closes_at <= soon],
        "open": [poll for poll in open_polls if poll.effective_closes_at > soon],
        "upcoming": list(with_status(PollStatus.SCHEDULED).order_by("opens_at")[:6]),
        "published": list(with_status(PollStatus.PUBLISHED).order_by("-published_at")[:6]),
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


# Lazy: the lean path translates it only when it answers a refusal.
RESULTS_HIDDEN_DETAIL = gettext_lazy("The results of this poll are not public yet.")


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
        raise PollRuleError(Code.RESULTS_HIDDEN, RESULTS_HIDDEN_DETAIL)
    # The counters change at most every TALLY_INTERVAL, so one cached copy serves every
    # reader in between. Visibility is checked above, on every request, never cached.
    key = f"polls:live-results:{poll.pk}"
    results = cache.get(key)
    if results is None:
        results = live_results(poll=poll)
        cache.set(key, results, timeout=live_results_seconds())
    return results


def live_results_seconds() -> int:
    """How long one copy of live results serves readers: half the tally interval in
    the shared cache plus as long again in a worker's memory keeps a reader within one
    tally interval of the counters."""
    return max(1, settings.TALLY_INTERVAL // 2)


@dataclass(frozen=True)
class ResultsDocument:
    """The results as the API serves them: exact bytes, their ETag, and how long any
    HTTP cache may keep them."""

    body: bytes
    etag: str
    max_age: int


_documents: dict[int, tuple[float, ResultsDocument]] = {}


def results_document(*, poll: Poll) -> ResultsDocument:
    """``results_of`` as JSON bytes, built once per interval per process. Visibility is
    checked on every call (``results_hidden`` raised as by ``results_of``)."""
    final = poll.state == PollState.PUBLISHED
    if not final and not results_visible(poll=poll):
        raise PollRuleError(Code.RESULTS_HIDDEN, RESULTS_HIDDEN_DETAIL)
    now = time.monotonic()
    cached = _documents.get(poll.pk)
    if cached is not None and cached[0] > now and (cached[1].max_age > settings.TALLY_INTERVAL) == final:
        return cached[1]
    body = json.dumps(results_of(poll=poll), separators=(",", ":"), ensure_ascii=False).encode()
    max_age = 3600 if final else settings.TALLY_INTERVAL
    document = ResultsDocument(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"', max_age=max_age)
    kept = max_age if final else min(live_results_seconds(), settings.POLL_CACHE_SECONDS)
    _documents[poll.pk] = (now + kept, document)
    return document


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
