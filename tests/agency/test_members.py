"""Agencies, roles, invitations by email, and the audit log."""

import re
import threading
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import members, services
from accounts.errors import AgencyActionRefused
from accounts.models import AuditLogEntry, Membership, Role
from accounts.verification import VerificationLevel, verification_level_of
from tests.factories import AgencyFactory, MembershipFactory, UserFactory, mfa_enable
from tests.helpers import AGENCY_API, login_just_now, login_with_mfa, patch_json, post_json, session_user

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


# ------------------------------------------------------------------ changing members


def member_of(agency, role):
    return MembershipFactory(agency=agency, role=role)


@pytest.fixture
def mfa_owner_client(client, owner):
    return login_with_mfa(client, owner)


def members_api(agency, member_id=None):
    base = f"{AGENCY_API}/agencies/{agency.slug}/members/"
    return base if member_id is None else f"{base}{member_id}/"


def test_owner_changes_a_members_role_and_it_is_audited(mfa_owner_client, agency, owner):
    analyst = member_of(agency, Role.ANALYST)

    response = patch_json(mfa_owner_client, members_api(agency, analyst.pk), {"role": "manager"})

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["role"] == "manager"
    analyst.refresh_from_db()
    assert analyst.role == Role.MANAGER
    entry = AuditLogEntry.objects.get(action="member.role_change")
    assert entry.actor == owner
    assert entry.before == {"email": analyst.user.email, "role": "analyst"}
    assert entry.after == {"email": analyst.user.email, "role": "manager"}


def test_owner_removes_a_member_and_it_is_audited(mfa_owner_client, agency, owner):
    manager = member_of(agency, Role.MANAGER)

    response = mfa_owner_client.delete(members_api(agency, manager.pk))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not Membership.objects.filter(pk=manager.pk).exists()
    entry = AuditLogEntry.objects.get(action="member.remove")
    assert (entry.actor, entry.before) == (owner, {"email": manager.user.email, "role": "manager"})


def test_owner_revokes_an_open_invitation_and_its_link_stops_working(mfa_owner_client, agency, owner):
    invitation, token = services.invitation_create(
        agency=agency, inviter=session_user(owner), email="late@example.com", role="analyst"
    )

    response = mfa_owner_client.delete(f"{AGENCY_API}/agencies/{agency.slug}/invitations/{invitation.pk}/")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not agency.invitations.exists()
    assert AuditLogEntry.objects.get(action="member.invitation_revoke").before == {
        "email": "late@example.com",
        "role": "analyst",
    }
    with pytest.raises(AgencyActionRefused) as refusal:
        services.invitation_accept(token=token, user=UserFactory(email="late@example.com", verified=True))
    assert refusal.value.code == "invitation_invalid"


def test_members_and_invitations_are_listed_for_members(client, agency, owner, analyst):
    services.invitation_create(
        agency=agency, inviter=session_user(owner), email="x@example.com", role="analyst"
    )
    client.force_login(analyst)

    listed = client.get(members_api(agency))
    invitations = client.get(f"{AGENCY_API}/agencies/{agency.slug}/invitations/")

    assert listed.status_code == HTTPStatus.OK
    assert {row["email"] for row in listed.json()} == {owner.email, analyst.email}
    assert [row["email"] for row in invitations.json()] == ["x@example.com"]


def test_owner_invites_through_the_api(client, agency, owner, django_capture_on_commit_callbacks):
    login_just_now(client, owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client,
            f"{AGENCY_API}/agencies/{agency.slug}/invitations/",
            {"email": "api@example.com", "role": "manager"},
        )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert mail.outbox[-1].to == ["api@example.com"]


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MANAGER])
def test_analysts_and_managers_cannot_change_members(client, agency, owner, role):
    actor = member_of(agency, role).user
    login_with_mfa(client, actor)
    target = member_of(agency, Role.ANALYST)
    invitation, _token = services.invitation_create(
        agency=agency, inviter=session_user(owner), email="keep@example.com", role="analyst"
    )

    answers = [
        patch_json(client, members_api(agency, target.pk), {"role": "owner"}),
        client.delete(members_api(agency, target.pk)),
        client.delete(f"{AGENCY_API}/agencies/{agency.slug}/invitations/{invitation.pk}/"),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.FORBIDDEN] * 3
    assert {answer.json()["code"] for answer in answers} == {"permission_denied"}
    target.refresh_from_db()
    assert target.role == Role.ANALYST
    assert agency.invitations.filter(pk=invitation.pk).exists()
    assert not AuditLogEntry.objects.filter(action__in=["member.role_change", "member.remove"]).exists()


def test_owner_whose_session_did_not_use_mfa_is_refused(client, agency, owner):
    mfa_enable(owner)
    login_just_now(client, owner)
    target = member_of(agency, Role.ANALYST)

    response = patch_json(client, members_api(agency, target.pk), {"role": "manager"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_not_used"
    target.refresh_from_db()
    assert target.role == Role.ANALYST


def test_owner_without_mfa_is_told_to_turn_it_on(client, agency, owner):
    login_just_now(client, owner)
    target = member_of(agency, Role.ANALYST)

    response = client.delete(members_api(agency, target.pk))

    assert response.json()["code"] == "mfa_required"
    assert Membership.objects.filter(pk=target.pk).exists()


def test_owner_without_a_recent_sign_in_must_reauthenticate(mfa_owner_client, agency):
    target = member_of(agency, Role.ANALYST)

    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        response = mfa_owner_client.delete(members_api(agency, target.pk))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "reauthentication_required"
    assert Membership.objects.filter(pk=target.pk).exists()


def test_outsiders_do_not_learn_the_agency_or_its_members(client, agency, owner):
    stranger = UserFactory(verified=True)
    login_with_mfa(client, stranger)
    target = Membership.objects.get(user=owner)

    answers = [
        client.get(members_api(agency)),
        patch_json(client, members_api(agency, target.pk), {"role": "analyst"}),
        client.delete(members_api(agency, target.pk)),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.NOT_FOUND] * 3


def test_a_member_of_another_agency_is_not_found(mfa_owner_client, agency):
    elsewhere = member_of(AgencyFactory(), Role.ANALYST)

    response = patch_json(mfa_owner_client, members_api(agency, elsewhere.pk), {"role": "manager"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    elsewhere.refresh_from_db()
    assert elsewhere.role == Role.ANALYST


def test_the_last_owner_can_be_neither_demoted_nor_removed(mfa_owner_client, agency, owner):
    own = Membership.objects.get(user=owner)

    demoted = patch_json(mfa_owner_client, members_api(agency, own.pk), {"role": "manager"})
    removed = mfa_owner_client.delete(members_api(agency, own.pk))

    assert (demoted.status_code, demoted.json()["code"]) == (HTTPStatus.CONFLICT, "last_owner")
    assert (removed.status_code, removed.json()["code"]) == (HTTPStatus.CONFLICT, "last_owner")
    own.refresh_from_db()
    assert own.role == Role.OWNER


def test_an_owner_may_step_down_while_another_owner_stays(mfa_owner_client, agency, owner):
    member_of(agency, Role.OWNER)
    own = Membership.objects.get(user=owner)

    response = patch_json(mfa_owner_client, members_api(agency, own.pk), {"role": "analyst"})

    assert response.status_code == HTTPStatus.OK
    assert Membership.objects.filter(agency=agency, role=Role.OWNER).count() == 1


def race_two_owners(change: str) -> tuple:
    """Two owners of a new agency demote or remove each other at the same moment, in
    two threads with their own PostgreSQL connections; the agency and the outcomes."""
    agency = AgencyFactory()
    first, second = member_of(agency, Role.OWNER), member_of(agency, Role.OWNER)
    actors = {first.pk: session_user(first.user, mfa=True), second.pk: session_user(second.user, mfa=True)}
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor_membership, target_membership):
        try:
            barrier.wait(timeout=30)
            actor = actors[actor_membership.pk]
            if change == "demote":
                members.member_role_change(
                    agency=agency, actor=actor, membership_id=target_membership.pk, role=Role.MANAGER
                )
            else:
                members.member_remove(agency=agency, actor=actor, membership_id=target_membership.pk)
            outcomes.append("done")
        except AgencyActionRefused as refusal:
            outcomes.append(str(refusal.code))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(first, second)),
        threading.Thread(target=act, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return agency, sorted(outcomes)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_owners_changing_each_other_at_once_never_leave_the_agency_without_an_owner(change, postgresql):
    # Several rounds: each is a real race between two PostgreSQL transactions; without
    # the lock on the agency's row both see two owners and both succeed (checked).
    for _round in range(5):
        agency, outcomes = race_two_owners(change)

        assert Membership.objects.filter(agency=agency, role=Role.OWNER).count() == 1
        # The second waits for the first's commit, then finds itself no longer an owner.
        assert outcomes[0] == "done"
        assert outcomes[1] in {"permission_denied", "last_owner"}


def test_role_change_needs_a_known_role_after_permission(mfa_owner_client, agency):
    target = member_of(agency, Role.ANALYST)

    response = patch_json(mfa_owner_client, members_api(agency, target.pk), {"role": "emperor"})

    assert response.status_code == HTTPStatus.BAD_REQUEST


# ------------------------------------------------------------------ the members page


def test_owner_changes_roles_removes_and_revokes_on_the_members_page(mfa_owner_client, agency, owner):
    analyst, manager = member_of(agency, Role.ANALYST), member_of(agency, Role.MANAGER)
    invitation, _token = services.invitation_create(
        agency=agency, inviter=session_user(owner), email="page@example.com", role="analyst"
    )
    page = mfa_owner_client.get(reverse("agency:members", args=[agency.slug])).content.decode()
    assert reverse("agency:member_role", args=[agency.slug, analyst.pk]) in page
    assert 'name="csrfmiddlewaretoken"' in page

    answers = [
        mfa_owner_client.post(
            reverse("agency:member_role", args=[agency.slug, analyst.pk]), {"role": "manager"}
        ),
        mfa_owner_client.post(reverse("agency:member_remove", args=[agency.slug, manager.pk])),
        mfa_owner_client.post(reverse("agency:invitation_revoke", args=[agency.slug, invitation.pk])),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.FOUND] * 3
    analyst.refresh_from_db()
    assert analyst.role == Role.MANAGER
    assert not Membership.objects.filter(pk=manager.pk).exists()
    assert not agency.invitations.exists()
    assert (
        AuditLogEntry.objects.filter(
            action__in=["member.role_change", "member.remove", "member.invitation_revoke"]
        ).count()
        == 3
    )


def test_members_page_sends_an_owner_without_mfa_in_session_to_confirm_it(client, agency, owner):
    mfa_enable(owner)
    login_just_now(client, owner)
    target = member_of(agency, Role.ANALYST)

    response = client.post(reverse("agency:member_remove", args=[agency.slug, target.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert Membership.objects.filter(pk=target.pk).exists()


def test_members_page_refuses_a_manager_with_403(client, agency, manager):
    login_with_mfa(client, manager)
    target = member_of(agency, Role.ANALYST)

    response = client.post(reverse("agency:member_role", args=[agency.slug, target.pk]), {"role": "owner"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    target.refresh_from_db()
    assert target.role == Role.ANALYST


def test_members_page_says_the_last_owner_stays(mfa_owner_client, agency, owner):
    own = Membership.objects.get(user=owner)

    response = mfa_owner_client.post(reverse("agency:member_remove", args=[agency.slug, own.pk]), follow=True)

    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=own.pk).exists()
