from polls.notifications.selectors import unread_count


def unread_notifications(request) -> dict:
    """The header's unread count, read only when a template shows it (lazy)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": lambda: unread_count(user=user)}
