"""Raw client addresses that accounts keep, held only as long as ballots hold theirs
(``RAW_IP_RETENTION_DAYS``): agencies' audit entries and allauth's user sessions.

Audit entries drop the address. A user session's address cannot be empty (allauth's
column is required), so it is reduced to its network's first address (/24 or /64),
what ballots keep too; sessions that no longer exist are forgotten, as allauth itself
does when it lists them. Every step is a conditional update or delete: running it
twice, or on two machines at once, does no harm.
"""

from dataclasses import dataclass
from datetime import datetime

from accounts.client_ip import network_of
from accounts.models import AuditLogEntry


@dataclass(frozen=True)
class AccountRetentionReport:
    audit_addresses_dropped: int
    session_addresses_reduced: int
    sessions_forgotten: int


def account_addresses_reduce(*, cutoff: datetime) -> AccountRetentionReport:
    from allauth.usersessions.models import UserSession

    dropped = AuditLogEntry.objects.filter(created_at__lt=cutoff, ip_address__isnull=False).update(
        ip_address=None
    )
    reduced = forgotten = 0
    for session in UserSession.objects.filter(last_seen_at__lt=cutoff).iterator():
        if not session.exists():
            forgotten += UserSession.objects.filter(pk=session.pk).delete()[0]
            continue
        network_address = network_of(session.ip).split("/", 1)[0]
        if session.ip != network_address:
            reduced += UserSession.objects.filter(pk=session.pk, ip=session.ip).update(ip=network_address)
    return AccountRetentionReport(
        audit_addresses_dropped=dropped, session_addresses_reduced=reduced, sessions_forgotten=forgotten
    )
