"""Reads of the notifications, shared by the inbox page and the API."""

from django.db.models import QuerySet

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
