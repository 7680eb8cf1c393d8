"""Reads about agencies and their members. Who may act is in accounts/permissions.py."""

from django.db.models import QuerySet

from accounts.models import Agency, AuditLogEntry, Invitation, Membership, User


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("agency").order_by("agency__name")


def members_of(*, agency: Agency) -> QuerySet[Membership]:
    return agency.memberships.select_related("user").order_by("role", "user__email")


def open_invitations_of(*, agency: Agency) -> QuerySet[Invitation]:
    from django.utils import timezone

    return agency.invitations.filter(accepted_at__isnull=True, expires_at__gt=timezone.now()).order_by(
        "-created_at"
    )


def audit_log_of(*, agency: Agency) -> QuerySet[AuditLogEntry]:
    return agency.audit_log.select_related("actor")
