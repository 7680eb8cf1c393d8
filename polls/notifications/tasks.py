"""The notification tasks, run by the task engine's workers (``manage.py db_worker``),
never inside a request. Each is safe to run twice or to be cut short: the work it does
is claimed with a lease and written under unique keys (services.py)."""

from django_tasks import task

from polls.notifications import services


# Before mail: every fan's inbox first, then the mail backlog (which the fan-out's own
# chunks keep adding to), so one busy worker never leaves an inbox waiting on mail.
@task(priority=10)
def announcement_fan_out(announcement_id: int) -> int:
    """Insert one notification per recipient, chunk by chunk, each chunk enqueueing its mail."""
    return services.fan_out_run(announcement_id=announcement_id)


@task()
def notifications_email(kind: str, object_key: str, after_user_id: int, upto_user_id: int | None) -> int:
    """Mail one announcement's notifications of recipients in (after_user_id, upto_user_id]."""
    return services.email_run(
        kind=kind, object_key=object_key, after_user_id=after_user_id, upto_user_id=upto_user_id
    )
