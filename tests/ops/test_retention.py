"""Raw IPs are kept only as long as review needs them; stored answers for 24 hours."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from polls.models import Ballot, IdempotentAnswer
from polls.services import ballot_cast
from tests.factories import PollFactory, UserFactory

pytestmark = pytest.mark.django_db


def cast(poll, ip="203.0.113.7", key=None):
    ballot_cast(
        poll=poll,
        voter=UserFactory(verified=True),
        choices=[poll.options.first().pk],
        client_ip=ip,
        idempotency_key=key,
    )
    return Ballot.objects.latest("id")


def test_old_raw_ips_are_reduced_to_their_network_and_new_ones_kept(settings):
    settings.RAW_IP_RETENTION_DAYS = 30
    poll = PollFactory()
    old, recent = cast(poll), cast(poll, ip="198.51.100.9")
    Ballot.objects.filter(pk=old.pk).update(cast_at=timezone.now() - timedelta(days=31))

    call_command("encore_retention", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("encore_retention", stdout=open("/dev/null", "w"))  # noqa: SIM115 - twice is harmless

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.client_ip, old.client_network) == (None, "203.0.113.0/24")
    assert (recent.client_ip, recent.client_network) == ("198.51.100.9", "198.51.100.0/24")


def test_stored_answers_with_receipts_are_deleted_after_24_hours():
    poll = PollFactory()
    cast(poll, key="old-key")
    cast(poll, key="new-key")
    IdempotentAnswer.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(hours=25))

    call_command("encore_retention", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert list(IdempotentAnswer.objects.values_list("key", flat=True)) == ["new-key"]


def test_audit_log_and_session_addresses_follow_the_ballots_retention(settings, agency):
    from allauth.usersessions.models import UserSession
    from django.contrib.sessions.backends.cached_db import SessionStore

    from accounts.models import AuditLogEntry

    settings.RAW_IP_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    user = UserFactory(verified=True)
    old_entry = AuditLogEntry.objects.create(
        agency=agency, actor=user, action="poll.create", ip_address="192.0.2.7"
    )
    new_entry = AuditLogEntry.objects.create(
        agency=agency, actor=user, action="poll.close", ip_address="192.0.2.8"
    )
    AuditLogEntry.objects.filter(pk=old_entry.pk).update(created_at=old)
    live = SessionStore()
    live.create()
    UserSession.objects.create(user=user, session_key=live.session_key, ip="198.51.100.77", last_seen_at=old)
    UserSession.objects.create(
        user=user, session_key="ended-long-ago", ip="2001:db8:1:2::5", last_seen_at=old
    )
    UserSession.objects.create(user=user, session_key="recent", ip="198.51.100.78")

    call_command("encore_retention", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("encore_retention", stdout=open("/dev/null", "w"))  # noqa: SIM115 - twice is harmless

    assert AuditLogEntry.objects.get(pk=old_entry.pk).ip_address is None
    assert AuditLogEntry.objects.get(pk=new_entry.pk).ip_address == "192.0.2.8"
    sessions = dict(UserSession.objects.values_list("session_key", "ip"))
    assert sessions == {live.session_key: "198.51.100.0", "recent": "198.51.100.78"}
