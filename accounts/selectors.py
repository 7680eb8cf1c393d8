"""Reads about agencies and their members."""

from django.db.models import QuerySet

from accounts.models import Agency, AuditLogEntry, Invitation, Membership, Role, User

# What each role may do; roles further up include those below.
ROLE_RANK = {Role.ANALYST: 0, Role.MANAGER: 1, Role.OWNER: 2}


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("agency").order_by("agency__name")


def membership_of(*, user: User, agency: Agency) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, agency=agency).first()


def has_role(*, user: User, agency: Agency, least: Role) -> bool:
    membership = membership_of(user=user, agency=agency)
    return membership is not None and ROLE_RANK[Role(membership.role)] >= ROLE_RANK[least]


def members_of(*, agency: Agency) -> QuerySet[Membership]:
    return agency.memberships.select_related("user").order_by("role", "user__email")


def open_invitations_of(*, agency: Agency) -> QuerySet[Invitation]:
    from django.utils import timezone

    return agency.invitations.filter(accepted_at__isnull=True, expires_at__gt=timezone.now()).order_by(
        "-created_at"
    )


def audit_log_of(*, agency: Agency) -> QuerySet[AuditLogEntry]:
    return agency.audit_log.select_related("actor")
