from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    POLL_OPENED = "poll_opened", _("A poll of an artist I follow opens")
    POLL_CLOSING = "poll_closing", _("A poll closes within a day and I still have votes")
    RESULTS_PUBLISHED = "results_published", _("Results of a poll I voted in or follow are published")
    SUGGESTION_PROMOTED = "suggestion_promoted", _("My suggestion becomes an option of a poll")


class EmailState(models.TextChoices):
    PENDING = "pending", _("Pending")
    # Claimed by a mail task until ``email_lease_until``; then another may take it.
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # Not mailed: the fan turned this kind off, or has no verified address.
    SKIPPED = "skipped", _("Not mailed")


class Announcement(models.Model):
    """One event to tell an audience about, once: unique by (kind, object_key), so a
    worker that sees the event twice, or two workers at once, announce it once.

    The fan-out walks the audience in user-id order; ``cursor`` is the last user id
    whose notification is committed, moved in the same transaction as the chunk, so a
    crash resumes exactly where the last commit ended. ``lease_owner`` and
    ``lease_until`` say which task is fanning out and until when it is believed alive.
    """

    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    object_key = models.CharField(max_length=100)
    # What the message says (poll slug and title, closing time...), rendered per fan later.
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    cursor = models.BigIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField()
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_key"], name="notifications_announcement_once"),
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values), name="notifications_announcement_kind_valid"
            ),
        ]
        indexes = [
            # The sweeper looks for unfinished fan-outs whose lease ran out.
            models.Index(
                fields=["lease_until"],
                condition=Q(fanned_out_at__isnull=True),
                name="notifications_fan_out_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_key}"


class Notification(models.Model):
    """One fan told about one announcement. Unique by (kind, object_key, user): a
    retried chunk or a second worker inserts nothing twice (ON CONFLICT DO NOTHING)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    object_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.PENDING)
    # Pending: the time by which a mail task should have claimed it (else the sweeper
    # enqueues one). Sending: the claim's lease.
    email_lease_until = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_key", "user"], name="notifications_one_per_fan_kind_object"
            ),
            models.CheckConstraint(
                condition=Q(email_state__in=EmailState.values), name="notifications_email_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notifications_inbox"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notifications_unread"),
            # The sweeper finds mail whose claim or wait ran out (mail tasks claim by
            # the unique key's (kind, object_key, user) range).
            models.Index(
                fields=["email_lease_until"],
                condition=Q(email_state__in=["pending", "sending"]),
                name="notifications_mail_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_key} for {self.user_id}"


class NotificationPreference(models.Model):
    """A fan's choice for one kind; without a row, the kind comes by mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notifications_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by mail: {self.email}"
