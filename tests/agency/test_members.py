"""Agencies, roles, invitations by email, and the audit log."""

import re
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.errors import AgencyActionRefused
from accounts.models import AuditLogEntry, Membership, Role
from accounts.verification import VerificationLevel, verification_level_of
from tests.factories import AgencyFactory, UserFactory
from tests.helpers import login_just_now, session_user

pytestmark = pytest.mark.django_db


def invite(client, agency, email, role="manager"):
    return client.post(reverse("agency:members", args=[agency.slug]), {"email": email, "role": role})


def test_owner_invites_by_email_and_the_invitee_joins_with_that_role(
    client, agency, owner, django_capture_on_commit_callbacks
):
    login_just_now(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client, agency, "new.manager@example.com")
    assert response.status_code == HTTPStatus.FOUND
    assert mail.outbox[-1].to == ["new.manager@example.com"]
    accept_path = re.search(r"/agency/invitations/[^/\s]+/", mail.outbox[-1].body).group(0)

    invitee = UserFactory(email="new.manager@example.com", verified=True)
    client.force_login(invitee)
    response = client.post(accept_path)

    assert response.status_code == HTTPStatus.FOUND
    assert Membership.objects.get(agency=agency, user=invitee).role == Role.MANAGER
    actions = list(AuditLogEntry.objects.filter(agency=agency).values_list("action", flat=True))
    assert actions == ["member.join", "member.invite"]
    entry = AuditLogEntry.objects.get(action="member.invite")
    assert entry.actor == owner
    assert entry.ip_address == "127.0.0.1"
    assert entry.after == {"email": "new.manager@example.com", "role": "manager"}


def test_invitation_cannot_be_used_by_another_account(agency, owner):
    _, token = services.invitation_create(
        agency=agency, inviter=session_user(owner), email="right@example.com", role="analyst"
    )
    stranger = UserFactory(email="wrong@example.com", verified=True)

    with pytest.raises(AgencyActionRefused) as refusal:
        services.invitation_accept(token=token, user=stranger)

    assert refusal.value.code == "invitation_wrong_account"
    assert not Membership.objects.filter(user=stranger).exists()


def test_invitation_is_single_use(agency, owner):
    _, token = services.invitation_create(
        agency=agency, inviter=session_user(owner), email="once@example.com", role="analyst"
    )
    invitee = UserFactory(email="once@example.com", verified=True)
    services.invitation_accept(token=token, user=invitee)

    with pytest.raises(AgencyActionRefused) as refusal:
        services.invitation_accept(token=token, user=invitee)

    assert refusal.value.code == "invitation_invalid"


def test_only_owners_invite(client, agency, manager):
    client.force_login(manager)

    invite(client, agency, "someone@example.com")

    assert agency.invitations.count() == 0
    assert mail.outbox == []


def test_agency_pages_do_not_exist_for_non_members(client, agency):
    outsider = UserFactory(verified=True)
    client.force_login(outsider)

    assert client.get(reverse("agency:members", args=[agency.slug])).status_code == HTTPStatus.NOT_FOUND
    assert client.get(reverse("agency:audit_log", args=[agency.slug])).status_code == HTTPStatus.NOT_FOUND


def test_one_agency_cannot_see_another(client, agency, owner):
    other = AgencyFactory()
    client.force_login(owner)

    assert client.get(reverse("agency:members", args=[other.slug])).status_code == HTTPStatus.NOT_FOUND


def test_agency_area_requires_login(client, agency):
    response = client.get(reverse("agency:members", args=[agency.slug]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("account_login"))


def test_manager_grants_trusted_level_and_it_is_audited(agency, manager):
    fan = UserFactory(verified=True)

    services.user_trust(user=fan, agency=agency, granted_by=manager)

    assert verification_level_of(fan) == VerificationLevel.TRUSTED
    assert AuditLogEntry.objects.get(action="fan.trust").actor == manager


def test_analyst_cannot_grant_trust(agency):
    analyst = UserFactory(verified=True)
    Membership.objects.create(agency=agency, user=analyst, role=Role.ANALYST)
    fan = UserFactory(verified=True)

    with pytest.raises(AgencyActionRefused):
        services.user_trust(user=fan, agency=agency, granted_by=analyst)

    fan.refresh_from_db()
    assert fan.trusted_at is None


def test_verification_levels_form_a_ladder():
    unverified = UserFactory(verified=False)
    unverified.trusted_at = unverified.date_joined
    emailed = UserFactory(verified=True)
    phoned = UserFactory(verified=True, phone_number="+821012345678", phone_verified_at=emailed.date_joined)

    # Trust without a verified address still cannot vote: the ladder starts at email.
    assert verification_level_of(unverified) == VerificationLevel.NONE
    assert verification_level_of(emailed) == VerificationLevel.EMAIL
    assert verification_level_of(phoned) == VerificationLevel.PHONE


def test_audit_log_page_lists_entries_for_members(client, agency, owner):
    services.invitation_create(
        agency=agency, inviter=session_user(owner), email="x@example.com", role="analyst"
    )
    client.force_login(owner)

    page = client.get(reverse("agency:audit_log", args=[agency.slug])).content.decode()

    assert "member.invite" in page


def test_agency_writes_are_rate_limited_per_account_with_retry_after(client, agency, owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "agency_write": [("account", "2/h")]}
    login_just_now(client, owner)

    statuses = [invite(client, agency, f"member{n}@example.com").status_code for n in range(3)]

    assert statuses[:2] == [HTTPStatus.FOUND, HTTPStatus.FOUND]
    assert statuses[2] == HTTPStatus.TOO_MANY_REQUESTS
    assert agency.invitations.count() == 2
