"""Who hears of an announcement.

An audience is a few *id sources* (a table with a user-id column: a poll's ballots, an
artist's follows, a list of proposers) and a final check on the accounts themselves.
The fan-out walks the sources in user-id order, ``size`` ids after its cursor at a
time, each source through an index that starts with its filter and then the user id
(a ballot's unique (poll, voter, ...), say): a chunk costs the same at the start and
at the end of a poll of millions, whatever the planner's statistics say, and the
audience never has to fit in memory.

Followers of a poll's artist come from ``poll_follower_ids`` (polls.participation's
follows, on their (artist, fan) unique index).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import User
from polls.models import Ballot, Poll
from polls.notifications.models import Announcement, NotificationKind
from polls.participation.models import Follow


def recipients() -> QuerySet[User]:
    """Accounts that may be told anything: active and not deleted."""
    return User.objects.filter(is_active=True, deleted_at__isnull=True)


@dataclass(frozen=True)
class IdSource:
    """Rows of ``queryset`` name a user in ``column`` (several rows may name one)."""

    queryset: QuerySet
    column: str

    def ids_after(self, cursor: int, size: int) -> list[int]:
        rows = self.queryset.filter(**{f"{self.column}__gt": cursor}).order_by(self.column)
        return list(rows.values_list(self.column, flat=True).distinct()[:size])


@dataclass(frozen=True)
class Audience:
    sources: list[IdSource]
    # Narrows the accounts of one chunk: (accounts, the chunk's candidate ids) -> accounts.
    keep: Callable[[QuerySet[User], list[int]], QuerySet[User]] = field(default=lambda users, _ids: users)

    def chunk_after(self, cursor: int, size: int) -> tuple[int | None, list[int]]:
        """The next ``size`` candidate ids after ``cursor`` over all sources: the new
        cursor (None when nothing is left) and the recipients among them."""
        candidates = sorted({i for source in self.sources for i in source.ids_after(cursor, size)})[:size]
        if not candidates:
            return None, []
        users = self.keep(recipients().filter(pk__in=candidates), candidates)
        return candidates[-1], sorted(users.values_list("pk", flat=True))


def poll_voter_ids(poll: Poll) -> IdSource:
    """Accounts that cast a ballot in ``poll`` (walked on the ballot's unique
    (poll, voter, period, slot) index)."""
    return IdSource(Ballot.objects.filter(poll=poll), "voter_id")


def poll_follower_ids(poll: Poll) -> IdSource | None:
    """Fans who follow the poll's artist (on the (artist, fan) unique index), or None
    for a poll without an artist."""
    if poll.artist_id is None:
        return None
    return IdSource(Follow.objects.filter(artist_id=poll.artist_id), "fan_id")


def _of(*sources: IdSource | None) -> list[IdSource]:
    return [source for source in sources if source is not None]


def audience_for_poll_opened(poll: Poll) -> Audience:
    """The followers of the poll's artist (nobody for a poll without an artist)."""
    return Audience(_of(poll_follower_ids(poll)))


def audience_for_poll_closing(poll: Poll, *, moment: datetime | None = None) -> Audience:
    """Followers and voters who may still cast a ballot in the current period at
    ``moment`` (the allowance's own rule: ``votes_per_period`` per period)."""

    def with_votes_left(users: QuerySet[User], candidates: list[int]) -> QuerySet[User]:
        now = moment or timezone.now()
        spent = (
            Ballot.objects.filter(poll=poll, period=poll.period_of(now), voter_id__in=candidates)
            .values("voter_id")
            .annotate(used=Count("id"))
            .filter(used__gte=poll.votes_per_period)
            .values("voter_id")
        )
        return users.exclude(pk__in=spent)

    return Audience(_of(poll_voter_ids(poll), poll_follower_ids(poll)), keep=with_votes_left)


def audience_for_results_published(poll: Poll) -> Audience:
    """Voters and followers."""
    return Audience(_of(poll_voter_ids(poll), poll_follower_ids(poll)))


def audience_for_suggestion_promoted(user_ids: list[int]) -> Audience:
    """The proposers named by the announcement (a proposal and the duplicates merged into it)."""
    return Audience([IdSource(User.objects.filter(pk__in=user_ids), "id")])


def audience_of(announcement: Announcement) -> Audience:
    params = announcement.params
    if announcement.kind == NotificationKind.SUGGESTION_PROMOTED:
        return audience_for_suggestion_promoted(params.get("user_ids", []))
    poll = Poll.objects.filter(pk=params.get("poll_id")).first()
    if poll is None:
        return Audience([])
    if announcement.kind == NotificationKind.POLL_OPENED:
        return audience_for_poll_opened(poll)
    if announcement.kind == NotificationKind.POLL_CLOSING:
        return audience_for_poll_closing(poll)
    return audience_for_results_published(poll)
