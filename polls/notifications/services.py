"""Writes of the notifications: announcing an event, fanning it out, mailing it,
marking read, choosing what comes by mail, unsubscribing.

Nothing here runs inside a request except ``announcement_create`` (one row and one
task row, in the caller's transaction), marking read and preferences. The fan-out and
the mail run in task workers (polls/notifications/tasks.py).
"""

import logging
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from polls.models import Poll
from polls.notifications.audiences import audience_of
from polls.notifications.models import (
    Announcement,
    EmailState,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from polls.notifications.rendering import notification_render
from voting.errors import Code, DomainError

logger = logging.getLogger("encore.notifications")

UNSUBSCRIBE_SALT = "encore.notifications.unsubscribe"


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)


# ------------------------------------------------------------------ announcing


def announcement_create(*, kind: str, object_key: str, params: dict[str, Any]) -> Announcement | None:
    """Announce an event once: the announcement row and its fan-out task are written
    in the caller's transaction (the task engine keeps tasks in this database), so both
    commit or neither does. Returns None when the event was already announced."""
    from polls.notifications.tasks import announcement_fan_out

    with transaction.atomic():
        announcement, created = Announcement.objects.get_or_create(
            kind=kind,
            object_key=object_key,
            defaults={"params": params, "lease_until": timezone.now() + _lease()},
        )
        if not created:
            return None
        announcement_fan_out.enqueue(announcement.pk)
    return announcement


def poll_params(poll: Poll) -> dict[str, Any]:
    return {
        "poll_id": poll.pk,
        "slug": poll.slug,
        "title": poll.title,
        "closes_at": poll.effective_closes_at.isoformat(),
        "published_at": poll.published_at.isoformat() if poll.published_at else None,
    }


def poll_announce(*, poll: Poll, kind: str) -> Announcement | None:
    """Announce a poll event (opened, closing, results published) to its audience."""
    return announcement_create(kind=kind, object_key=f"poll:{poll.pk}", params=poll_params(poll))


def suggestion_promoted_announce(
    *, suggestion_key: str, suggestion: str, poll: Poll, proposer_ids: Iterable[int], path: str = ""
) -> Announcement | None:
    """Tell the proposers that their suggestion became an option of ``poll``.

    ``suggestion_key`` names the proposal for good (e.g. ``"proposal:42"``), so a
    promotion retried or repeated tells nobody twice. ``path`` is where the
    notification links (the call's page, say: the new poll is still a draft). Call it
    inside the promotion's transaction: it only writes the announcement and enqueues
    its fan-out.
    """
    params = {
        **poll_params(poll),
        "suggestion": suggestion,
        "path": path,
        "user_ids": sorted(set(proposer_ids)),
    }
    return announcement_create(
        kind=NotificationKind.SUGGESTION_PROMOTED, object_key=suggestion_key, params=params
    )


# ------------------------------------------------------------------ fan-out


def fan_out_claim(*, announcement_id: int, owner: str) -> bool:
    """Take the announcement's fan-out lease: it is free (never taken, or handed back
    by the sweeper) or its holder went silent past its lease."""
    now = timezone.now()
    return bool(
        Announcement.objects.filter(pk=announcement_id, fanned_out_at__isnull=True)
        .filter(Q(lease_owner="") | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + _lease())
    )


def fan_out_chunk(*, announcement_id: int, owner: str) -> int | None:
    """Insert the next chunk of notifications and enqueue their mail, in one
    transaction with the cursor's move. Returns the chunk's recipients (at least 1
    while candidates remain), 0 when the fan-out is complete, None when this owner
    lost the lease."""
    from polls.notifications.tasks import notifications_email

    now = timezone.now()
    with transaction.atomic():
        announcement = Announcement.objects.select_for_update().get(pk=announcement_id)
        if announcement.fanned_out_at is not None or announcement.lease_owner != owner:
            return None
        cursor, user_ids = audience_of(announcement).chunk_after(
            announcement.cursor, settings.NOTIFICATION_CHUNK
        )
        if cursor is None:
            announcement.fanned_out_at = now
            announcement.lease_owner = ""
            announcement.save(update_fields=["fanned_out_at", "lease_owner"])
            return 0
        if user_ids:
            # The mail task should claim these within a lease; if its task is lost, the
            # sweeper sees the time pass and enqueues another.
            _notifications_insert(announcement=announcement, user_ids=user_ids, now=now)
            notifications_email.enqueue(
                announcement.kind, announcement.object_key, announcement.cursor, cursor
            )
        announcement.cursor = cursor
        announcement.recipients += len(user_ids)
        announcement.lease_until = now + _lease()
        announcement.save(update_fields=["cursor", "recipients", "lease_until"])
    # Candidates looked at, not recipients: a chunk of only inactive accounts is progress too.
    return max(1, len(user_ids))


def _notifications_insert(*, announcement: Announcement, user_ids: list[int], now) -> None:
    """INSERT ... ON CONFLICT DO NOTHING of one chunk. On PostgreSQL one statement with
    the ids as an array (the ORM's per-row preparation cost more than the insert)."""
    lease_until = now + _lease()
    if connection.vendor != "postgresql":
        Notification.objects.bulk_create(
            [
                Notification(
                    user_id=user_id,
                    announcement=announcement,
                    kind=announcement.kind,
                    object_key=announcement.object_key,
                    created_at=now,
                    email_lease_until=lease_until,
                )
                for user_id in user_ids
            ],
            ignore_conflicts=True,
        )
        return
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (user_id, announcement_id, kind, object_key, created_at,
                                 email_state, email_lease_until)
            SELECT unnest(%s::bigint[]), %s::bigint, %s::varchar, %s::varchar, %s::timestamptz,
                   %s::varchar, %s::timestamptz
            ON CONFLICT DO NOTHING
            """,
            [
                user_ids,
                announcement.pk,
                announcement.kind,
                announcement.object_key,
                now,
                EmailState.PENDING,
                lease_until,
            ],
        )


def fan_out_run(*, announcement_id: int) -> int:
    """Fan an announcement out, chunk after chunk, while this worker holds the lease.
    Returns the recipients this run inserted."""
    owner = uuid.uuid4().hex
    if not fan_out_claim(announcement_id=announcement_id, owner=owner):
        return 0
    done = 0
    while True:
        inserted = fan_out_chunk(announcement_id=announcement_id, owner=owner)
        if not inserted:
            return done
        done += inserted
        if settings.NOTIFICATION_CHUNK_PAUSE:
            time.sleep(settings.NOTIFICATION_CHUNK_PAUSE)


# ------------------------------------------------------------------ e-mail


def email_claim(*, kind: str, object_key: str, after_user_id: int, upto_user_id: int | None) -> list[int]:
    """Claim up to NOTIFICATION_EMAIL_BATCH unsent mails of one announcement in a user
    range: pending ones, and claims whose lease ran out (their worker died). Rows
    another worker is claiming right now are skipped, not waited for."""
    now = timezone.now()
    due = Notification.objects.filter(kind=kind, object_key=object_key, user_id__gt=after_user_id).filter(
        Q(email_state=EmailState.PENDING) | Q(email_state=EmailState.SENDING, email_lease_until__lt=now)
    )
    if upto_user_id is not None:
        due = due.filter(user_id__lte=upto_user_id)
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True)
            .order_by("user_id")
            .values_list("pk", flat=True)[: settings.NOTIFICATION_EMAIL_BATCH]
        )
        Notification.objects.filter(pk__in=ids).update(
            email_state=EmailState.SENDING, email_lease_until=now + _lease()
        )
    return ids


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    return signing.dumps([user_id, kind], salt=UNSUBSCRIBE_SALT, compress=False)


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """The (user id, kind) a link was made for; refuses a forged or mangled token."""
    try:
        user_id, kind = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise DomainError(Code.NOT_FOUND, "This unsubscribe link is not valid.") from error
    if kind not in NotificationKind.values or not isinstance(user_id, int):
        raise DomainError(Code.NOT_FOUND, "This unsubscribe link is not valid.")
    return user_id, kind


def message_id(notification: Notification) -> str:
    """The same Message-ID for every attempt at one notification's mail, so that the
    rare second copy (a worker killed between the SMTP answer and its mark) is
    recognisable as a duplicate by mail clients and by us."""
    domain = urlsplit(settings.SITE_URL).hostname or "encore.invalid"
    key = notification.object_key.replace(":", "-")
    return f"<{notification.kind}.{key}.{notification.user_id}@{domain}>"


def _mail_for(notification: Notification, user: User, texts: dict | None = None) -> EmailMessage:
    """The mail of one notification; ``texts`` keeps renderings per language and zone
    across a batch (fans of one announcement share a handful of them)."""
    texts = {} if texts is None else texts
    key = (notification.announcement_id, user.preferred_language, user.time_zone)
    rendered = texts.get(key)
    if rendered is None:
        rendered = texts[key] = notification_render(
            kind=notification.kind, params=notification.announcement.params, user=user
        )
    unsubscribe_url = settings.SITE_URL + reverse(
        "notification_unsubscribe",
        kwargs={"token": unsubscribe_token(user_id=user.pk, kind=notification.kind)},
    )
    with translation.override(rendered.language):
        body = render_to_string(
            "notifications/email.txt",
            {
                "rendered": rendered,
                "link": settings.SITE_URL + rendered.path,
                "unsubscribe_url": unsubscribe_url,
                "preferences_url": settings.SITE_URL + reverse("notification_preferences"),
            },
        )
    return EmailMessage(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + rendered.title,
        body=body,
        to=[user.email],
        headers={
            "Message-ID": message_id(notification),
            # RFC 2369 and RFC 8058: one click in the mail client unsubscribes by POST,
            # no sign-in (the signed token authorises). DKIM must cover both headers.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


def email_send(*, notification_ids: list[int]) -> int:
    """Mail the claimed notifications whose fans want this kind by mail and have a
    verified address; mark the others skipped. Each mail is marked sent right after
    the server accepted it: a crash can repeat at most the one mail in flight (same
    Message-ID), never skip one. Returns the mails sent."""
    notifications = list(
        Notification.objects.filter(pk__in=notification_ids, email_state=EmailState.SENDING)
        .select_related("announcement", "user")
        .order_by("user_id")
    )
    if not notifications:
        return 0
    users = {n.user_id for n in notifications}
    muted = set(
        NotificationPreference.objects.filter(
            user_id__in=users, kind=notifications[0].kind, email=False
        ).values_list("user_id", flat=True)
    )
    verified = set(
        EmailAddress.objects.filter(user_id__in=users, verified=True, primary=True).values_list(
            "user_id", "email"
        )
    )
    skipped, sent, texts = [], 0, {}
    mail_connection = get_connection(fail_silently=False)
    try:
        with _marks_without_waiting_for_disk():
            for notification in notifications:
                user = notification.user
                if (
                    user.pk in muted
                    or not user.is_active
                    or user.deleted_at is not None
                    or (user.pk, user.email) not in verified
                ):
                    skipped.append(notification.pk)
                    continue
                try:
                    mail_connection.send_messages([_mail_for(notification, user, texts)])
                except Exception:
                    # Left "sending": its lease runs out and a later task tries again.
                    logger.exception("mail of notification %s failed", notification.pk)
                    continue
                _mark_sent(notification.pk)
                sent += 1
    finally:
        mail_connection.close()
    Notification.objects.filter(pk__in=skipped).update(email_state=EmailState.SKIPPED)
    return sent


@contextmanager
def _marks_without_waiting_for_disk():
    """Marks of accepted mails are committed without waiting for the disk (PostgreSQL's
    synchronous_commit off, for this connection while the batch is sent): a killed
    worker loses nothing committed; only a crash of PostgreSQL itself could lose the
    last fraction of a second of marks, and those few mails would go out twice (same
    Message-ID), never be skipped. One round trip per mail instead of four."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _mark_sent(notification_id: int) -> None:
    Notification.objects.filter(pk=notification_id).update(
        email_state=EmailState.SENT, emailed_at=timezone.now()
    )


def email_run(*, kind: str, object_key: str, after_user_id: int = 0, upto_user_id: int | None = None) -> int:
    """Claim and send batches of one announcement's mail in a user range until none is due."""
    sent = 0
    while ids := email_claim(
        kind=kind, object_key=object_key, after_user_id=after_user_id, upto_user_id=upto_user_id
    ):
        sent += email_send(notification_ids=ids)
    return sent


# ------------------------------------------------------------------ recovery


def stalled_work_recover() -> dict[str, int]:
    """Re-enqueue what a dead worker left: fan-outs and mail whose lease ran out.

    The task engine marks a task running when a worker takes it and nothing ever
    unmarks a worker killed with SIGKILL, so liveness is decided here, by leases.
    A live but slow task that loses its lease stops at its next chunk (the owner no
    longer matches); unique keys make any overlap harmless."""
    from polls.notifications.tasks import announcement_fan_out, notifications_email

    now = timezone.now()
    fan_outs = 0
    for announcement_id in Announcement.objects.filter(
        fanned_out_at__isnull=True, lease_until__lt=now
    ).values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            handed_back = Announcement.objects.filter(
                pk=announcement_id, fanned_out_at__isnull=True, lease_until__lt=now
            ).update(lease_owner="", lease_until=now + _lease())
            if handed_back:
                announcement_fan_out.enqueue(announcement_id)
                fan_outs += 1
    mails = 0
    overdue = Notification.objects.filter(
        email_state__in=[EmailState.PENDING, EmailState.SENDING], email_lease_until__lt=now
    )
    for kind, object_key in overdue.values_list("kind", "object_key").distinct()[:100]:
        with transaction.atomic():
            # Pending again with a fresh wait: the new task claims them, the next sweep
            # leaves them alone meanwhile.
            overdue.filter(kind=kind, object_key=object_key).update(
                email_state=EmailState.PENDING, email_lease_until=now + _lease()
            )
            notifications_email.enqueue(kind, object_key, 0, None)
            mails += 1
    return {"fan_outs": fan_outs, "mails": mails}


# ------------------------------------------------------------------ the fan's side


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the fan's notifications read: these ids (others' ids are ignored), or all."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


def email_preferences_set(*, user: User, email_kinds: dict[str, bool]) -> None:
    """Which kinds come by mail (``{kind: bool}``); kinds not named keep their choice."""
    for kind, wanted in email_kinds.items():
        if kind not in NotificationKind.values:
            raise DomainError(Code.INVALID, "Unknown notification kind.", fields={kind: ["unknown kind"]})
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"email": bool(wanted)}
        )


def unsubscribe(*, token: str) -> tuple[User, str]:
    """One-click unsubscribe: the signed token alone says who and which kind."""
    user_id, kind = unsubscribe_token_read(token)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise DomainError(Code.NOT_FOUND, "This unsubscribe link is not valid.")
    email_preferences_set(user=user, email_kinds={kind: False})
    return user, kind


# ------------------------------------------------------------------ personal data


def notifications_export(user: User) -> dict[str, Any]:
    return {
        "notifications": [
            {
                "kind": n.kind,
                "object": n.object_key,
                "created_at": n.created_at.isoformat(),
                "read_at": n.read_at.isoformat() if n.read_at else None,
                "email": n.email_state,
            }
            for n in Notification.objects.filter(user=user).order_by("-created_at")
        ],
        "email_preferences": dict(
            NotificationPreference.objects.filter(user=user).values_list("kind", "email")
        ),
    }


def notifications_erase(user: User) -> None:
    Notification.objects.filter(user=user).delete()
    NotificationPreference.objects.filter(user=user).delete()
