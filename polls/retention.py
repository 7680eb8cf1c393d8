"""Keeping personal data only as long as it serves: raw IPs and stored answers.

Raw client addresses on ballots serve fraud review; after ``RAW_IP_RETENTION_DAYS``
only their network (/24 or /64) is kept, which the signals still use. The same
retention applies to the addresses accounts keep: agencies' audit entries and the
user sessions of allauth (accounts/retention.py). Stored idempotent answers hold a
receipt in clear and go after 24 hours. Every step is an UPDATE/DELETE on a
condition, so running them twice, or on two machines at once, does no harm.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.retention import account_addresses_reduce
from polls.models import Ballot, IdempotentAnswer

IDEMPOTENT_ANSWER_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class RetentionReport:
    addresses_reduced: int
    answers_deleted: int
    audit_addresses_dropped: int = 0
    session_addresses_reduced: int = 0
    sessions_forgotten: int = 0


def retention_apply(*, now=None) -> RetentionReport:
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RAW_IP_RETENTION_DAYS)
    reduced = Ballot.objects.filter(cast_at__lt=cutoff, client_ip__isnull=False).update(client_ip=None)
    deleted, _ = IdempotentAnswer.objects.filter(created_at__lt=now - IDEMPOTENT_ANSWER_LIFETIME).delete()
    accounts = account_addresses_reduce(cutoff=cutoff)
    return RetentionReport(
        addresses_reduced=reduced,
        answers_deleted=deleted,
        audit_addresses_dropped=accounts.audit_addresses_dropped,
        session_addresses_reduced=accounts.session_addresses_reduced,
        sessions_forgotten=accounts.sessions_forgotten,
    )
