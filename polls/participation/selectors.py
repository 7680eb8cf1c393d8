"""Reads of participation, shared by pages, the API and other apps (notifications)."""

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from polls.models import Poll, PollStatus
from polls.participation.models import (
    Artist,
    Follow,
    HiddenReason,
    OpenCall,
    Proposal,
    ProposalState,
    Support,
)
from polls.selectors import polls_with_status


def artist_by_slug(*, slug: str) -> Artist | None:
    return Artist.objects.select_related("agency").filter(slug=slug).first()


def artist_follower_ids(artist: Artist) -> Iterator[int]:
    """Ids of the artist's followers, streamed in id order (for the notification
    fan-out: any number of followers, constant memory)."""
    return (
        Follow.objects.filter(artist=artist)
        .order_by("fan_id")
        .values_list("fan_id", flat=True)
        .iterator(2000)
    )


def follower_count(*, artist: Artist) -> int:
    return Follow.objects.filter(artist=artist).count()


def follower_counts(*, artists) -> dict[int, int]:
    rows = Follow.objects.filter(artist__in=artists).values("artist_id").annotate(n=Count("id")).order_by()
    return {row["artist_id"]: row["n"] for row in rows}


def is_following(*, fan, artist: Artist) -> bool:
    return fan.is_authenticated and Follow.objects.filter(fan=fan, artist=artist).exists()


def follows_of(*, fan) -> QuerySet[Follow]:
    return Follow.objects.filter(fan=fan).select_related("artist").order_by("-created_at", "-id")


def artist_poll_sections(*, artist: Artist, moment: datetime | None = None) -> dict[str, list[Poll]]:
    now = moment or timezone.now()

    def of(status: str, order: str) -> list[Poll]:
        return list(polls_with_status(status=status, moment=now).filter(artist=artist).order_by(order)[:24])

    return {
        "open": of(PollStatus.OPEN, "closes_at"),
        "upcoming": of(PollStatus.SCHEDULED, "opens_at"),
        "published": of(PollStatus.PUBLISHED, "-published_at"),
    }


def artist_calls(*, artist: Artist, moment: datetime | None = None) -> list[OpenCall]:
    """The artist's calls open now or opening later, soonest closing first."""
    now = moment or timezone.now()
    return list(artist.calls.filter(closes_at__gt=now).order_by("closes_at"))


def call_by_id(*, call_id: int) -> OpenCall | None:
    return OpenCall.objects.select_related("artist", "artist__agency").filter(pk=call_id).first()


def public_proposals(*, call: OpenCall) -> QuerySet[Proposal]:
    """Visible proposals with their supports, most supported first."""
    return (
        call.proposals.filter(state=ProposalState.VISIBLE)
        .annotate(support_count=Count("supports"))
        .order_by("-support_count", "created_at", "id")
    )


def all_proposals(*, call: OpenCall) -> QuerySet[Proposal]:
    """Every proposal (for the agency), with its supports and promotion."""
    return (
        call.proposals.annotate(support_count=Count("supports"))
        .select_related("promotion", "promotion__poll")
        .order_by("state", "-support_count", "created_at", "id")
    )


def hidden_counts(*, call: OpenCall) -> dict[str, int]:
    """Hidden proposals by reason, as invalidated ballots are counted on results."""
    rows = (
        call.proposals.filter(state=ProposalState.HIDDEN)
        .values("hidden_reason")
        .annotate(n=Count("id"))
        .order_by("hidden_reason")
    )
    return {row["hidden_reason"]: row["n"] for row in rows}


def hidden_counts_labelled(*, call: OpenCall) -> list[tuple[str, int]]:
    labels = dict(HiddenReason.choices)
    return [(str(labels.get(reason, reason)), n) for reason, n in hidden_counts(call=call).items()]


def supported_ids(*, call: OpenCall, fan) -> set[int]:
    if not fan.is_authenticated:
        return set()
    return set(Support.objects.filter(call=call, voter=fan).values_list("proposal_id", flat=True))


def supports_left(*, call: OpenCall, fan) -> int:
    if not fan.is_authenticated:
        return call.max_supports_per_fan
    used = Support.objects.filter(call=call, voter=fan).count()
    return max(0, call.max_supports_per_fan - used)


def merged_count(*, call: OpenCall) -> int:
    return call.proposals.filter(Q(state=ProposalState.MERGED)).count()
