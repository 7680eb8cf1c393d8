"""Reads of the notifications, shared by the inbox page and the API."""

from django.db.models import QuerySet
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from polls.notifications.models import Notification, NotificationKind, NotificationPreference


def inbox_of(*, user) -> QuerySet[Notification]:
    """The fan's notifications, newest first, with what renders them."""
    return (
        Notification.objects.filter(user=user).select_related("announcement").order_by("-created_at", "-id")
    )


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def email_preferences_of(*, user) -> dict[str, bool]:
    """Every kind with whether it comes by mail (it does unless the fan said no)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))
    return {kind: chosen.get(kind, True) for kind in NotificationKind.values}


def oldest_waiting_task_seconds() -> float | None:
    """How long the oldest task ready to run has waited (None: none waits). Read on
    the engine's own partial index of ready tasks."""
    oldest = (
        DBTaskResult.objects.ready().order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    )
    return None if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
