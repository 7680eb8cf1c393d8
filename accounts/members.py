"""Who is a member of an agency, changed by its owners: a member's role, removing a
member, revoking an open invitation. (Inviting and joining are in accounts/services.py.)

Each change needs an owner whose session used MFA and proved a credential lately: it
decides who may read the agency's data and run its polls, so a stolen session cookie
alone must not be enough.

An agency always keeps an owner. Two owners demoting or removing each other at the
same moment would each see the other still there and both succeed, leaving none: so
every change takes a lock on the agency's row first (``SELECT … FOR UPDATE``), and
reads the owners, the actor's role included, under it. Changes to one agency's members
run one after another; other agencies are not held up.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import AgencyActionRefused
from accounts.models import Agency, Invitation, Membership, Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from voting.errors import Code


def check_member_management(*, actor: User, agency: Agency) -> Membership:
    """The actor's membership if they may change the agency's members. Raises
    AgencyActionRefused (``not_found``, ``permission_denied``, ``mfa_required``,
    ``mfa_not_used``, ``reauthentication_required``)."""
    return check_agency_action(
        user=actor,
        agency=agency,
        least=Role.OWNER,
        mfa=True,
        recent_authentication=True,
        denied_detail=_("Only an owner can change the agency's members."),
    )


def _lock_agency_and_recheck(*, actor: User, agency: Agency) -> None:
    """Lock the agency's row (serialising member changes) and check, under the lock,
    that the actor is still an owner: another owner may have demoted them meanwhile."""
    Agency.objects.select_for_update().filter(pk=agency.pk).first()
    if not Membership.objects.filter(agency=agency, user=actor, role=Role.OWNER).exists():
        raise AgencyActionRefused(Code.PERMISSION_DENIED, _("Only an owner can change the agency's members."))


def _member(*, agency: Agency, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(agency=agency, pk=membership_id).first()
    if membership is None:
        raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
    return membership


def _check_an_owner_stays(*, agency: Agency, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    if not Membership.objects.filter(agency=agency, role=Role.OWNER).exclude(pk=membership.pk).exists():
        raise AgencyActionRefused(
            Code.LAST_OWNER, _("An agency keeps at least one owner: make another member an owner first.")
        )


def member_role_change(
    *, agency: Agency, actor: User, membership_id: int, role: str, ip_address: str | None = None
) -> Membership:
    """Give a member another role. Raises AgencyActionRefused: the refusals of
    ``check_member_management``, ``invalid_role``, ``not_found``, ``last_owner``."""
    check_member_management(actor=actor, agency=agency)
    if role not in Role.values:
        raise AgencyActionRefused(Code.INVALID_ROLE, _("Unknown role."))
    with transaction.atomic():
        _lock_agency_and_recheck(actor=actor, agency=agency)
        membership = _member(agency=agency, membership_id=membership_id)
        before = membership.role
        if before == role:
            return membership
        if role != Role.OWNER:
            _check_an_owner_stays(agency=agency, membership=membership)
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            agency=agency,
            actor=actor,
            action="member.role_change",
            target=membership,
            before={"email": membership.user.email, "role": before},
            after={"email": membership.user.email, "role": role},
            ip_address=ip_address,
        )
    return membership


def member_remove(*, agency: Agency, actor: User, membership_id: int, ip_address: str | None = None) -> None:
    """Take a member out of the agency (an owner may leave, unless the last one).
    Raises AgencyActionRefused: the refusals of ``check_member_management``,
    ``not_found``, ``last_owner``."""
    check_member_management(actor=actor, agency=agency)
    with transaction.atomic():
        _lock_agency_and_recheck(actor=actor, agency=agency)
        membership = _member(agency=agency, membership_id=membership_id)
        _check_an_owner_stays(agency=agency, membership=membership)
        audit_record(
            agency=agency,
            actor=actor,
            action="member.remove",
            target=membership,
            before={"email": membership.user.email, "role": membership.role},
            ip_address=ip_address,
        )
        membership.delete()


def invitation_revoke(
    *, agency: Agency, actor: User, invitation_id: int, ip_address: str | None = None
) -> None:
    """Withdraw an invitation not yet accepted: its link stops working. Raises
    AgencyActionRefused: the refusals of ``check_member_management``, ``not_found``
    (also for an invitation already accepted)."""
    check_member_management(actor=actor, agency=agency)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(agency=agency, pk=invitation_id, accepted_at__isnull=True)
            .first()
        )
        if invitation is None:
            raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
        audit_record(
            agency=agency,
            actor=actor,
            action="member.invitation_revoke",
            target=invitation,
            before={"email": invitation.email, "role": invitation.role},
            ip_address=ip_address,
        )
        invitation.delete()
