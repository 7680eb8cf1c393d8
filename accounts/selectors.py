"""Reads about agencies and their members. Who may act is in accounts/permissions.py."""

import copy
from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import Agency, AuditLogEntry, Invitation, Membership, User
from accounts.permissions import may_review


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
    return agency.audit_log.select_related("actor", "api_token")


# Keys of an audit entry's before/after that name a fraud-signal cluster, whose key is
# a voters' network or client fingerprint (``invalidation.request``).
REVIEW_ONLY_KEYS = ("cluster",)
REDACTED = "[redacted]"


def audit_entries_shown(
    entries: Iterable[AuditLogEntry], *, user: User, agency: Agency
) -> list[AuditLogEntry]:
    """The entries as ``user`` may read them. Every member reads the whole log (who did
    what, when); only members who may review ballots (``may_review``) read the
    networks and fingerprints it names: for anyone else, a cluster keeps its kind and
    its key reads ``[redacted]``. The entries are copies; nothing is saved."""
    entries = list(entries)
    if may_review(user=user, agency=agency):
        return entries
    return [_redacted(entry) for entry in entries]


def _redacted(entry: AuditLogEntry) -> AuditLogEntry:
    shown = copy.copy(entry)
    for side in ("before", "after"):
        values = getattr(entry, side)
        if not isinstance(values, dict) or not any(key in values for key in REVIEW_ONLY_KEYS):
            continue
        values = dict(values)
        for key in REVIEW_ONLY_KEYS:
            if isinstance(values.get(key), dict):
                values[key] = {**values[key], "key": REDACTED}
            elif key in values:
                values[key] = REDACTED
        setattr(shown, side, values)
    return shown
