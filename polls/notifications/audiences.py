"""Who hears of an announcement: each audience is a query of users, walked by the
fan-out in user-id order, chunk by chunk, so its size never has to fit in memory.

Followers are not in this branch: ``poll_follower_ids`` is the one place to wire them
(see its docstring). Everything else (voters, votes left, suggestion proposers) works.
"""

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from polls.models import Ballot, Poll
from polls.notifications.models import Announcement, NotificationKind


def recipients() -> QuerySet[User]:
    """Accounts that may be told anything: active and not deleted."""
    return User.objects.filter(is_active=True, deleted_at__isnull=True)


def poll_voter_ids(poll: Poll) -> QuerySet:
    """Ids of the accounts that cast a ballot in ``poll`` (as a subquery)."""
    return Ballot.objects.filter(poll=poll).values("voter_id")


def poll_follower_ids(poll: Poll) -> QuerySet | None:
    """Ids of the fans who follow the poll's artist (as a subquery), or None.

    WIRING (once polls.participation lands): return
    ``artist_follower_ids(poll.artist)`` when ``poll.artist_id`` is set, a query of
    ``Follow.user_id`` values; every audience below then includes followers.
    """
    return None


def _users_in(*subqueries: QuerySet | None) -> QuerySet[User]:
    present = [subquery for subquery in subqueries if subquery is not None]
    if not present:
        return recipients().none()
    condition = Q()
    for subquery in present:
        condition |= Q(pk__in=subquery)
    return recipients().filter(condition)


def audience_for_poll_opened(poll: Poll) -> QuerySet[User]:
    """The artist's followers (nobody until followers are wired)."""
    return _users_in(poll_follower_ids(poll))


def audience_for_poll_closing(poll: Poll, *, moment: datetime | None = None) -> QuerySet[User]:
    """Followers and voters who may still cast a ballot in the current period at
    ``moment`` (the allowance's own rule: ``votes_per_period`` per period)."""
    now = moment or timezone.now()
    spent = (
        Ballot.objects.filter(poll=poll, period=poll.period_of(now))
        .values("voter_id")
        .annotate(used=Count("id"))
        .filter(used__gte=poll.votes_per_period)
        .values("voter_id")
    )
    return _users_in(poll_voter_ids(poll), poll_follower_ids(poll)).exclude(pk__in=spent)


def audience_for_results_published(poll: Poll) -> QuerySet[User]:
    """Voters and followers."""
    return _users_in(poll_voter_ids(poll), poll_follower_ids(poll))


def audience_for_suggestion_promoted(user_ids: list[int]) -> QuerySet[User]:
    """The proposers named by the announcement (a handful: a proposal and the
    duplicates merged into it)."""
    return recipients().filter(pk__in=user_ids)


def audience_of(announcement: Announcement) -> QuerySet[User]:
    params = announcement.params
    if announcement.kind == NotificationKind.SUGGESTION_PROMOTED:
        return audience_for_suggestion_promoted(params.get("user_ids", []))
    poll = Poll.objects.filter(pk=params.get("poll_id")).first()
    if poll is None:
        return recipients().none()
    if announcement.kind == NotificationKind.POLL_OPENED:
        return audience_for_poll_opened(poll)
    if announcement.kind == NotificationKind.POLL_CLOSING:
        return audience_for_poll_closing(poll)
    return audience_for_results_published(poll)
