"""Writes about agencies, members, invitations, trust and the audit log."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import AgencyActionRefused
from accounts.models import Agency, AuditLogEntry, Invitation, Membership, Role, User
from accounts.permissions import check_agency_action
from voting.errors import Code

INVITATION_LIFETIME = timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit_record(
    *,
    agency: Agency,
    actor: User | None,
    action: str,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
    ip_address: str | None = None,
) -> AuditLogEntry:
    """Append one entry to the agency's audit log (inside the caller's transaction)."""
    return AuditLogEntry.objects.create(
        agency=agency,
        actor=actor,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        before=before,
        after=after,
        ip_address=ip_address,
    )


def invitation_create(
    *, agency: Agency, inviter: User, email: str, role: str, ip_address: str | None = None
) -> tuple[Invitation, str]:
    """Invite an address to the agency; returns the invitation and its one-time token.

    Only owners invite, and only from a session that proved a credential lately (a
    stolen session cookie must not be enough to add a member). Re-inviting an address
    replaces its open invitation. The mail goes out after commit. Raises
    AgencyActionRefused (``reauthentication_required`` among others).
    """
    check_agency_action(
        user=inviter,
        agency=agency,
        least=Role.OWNER,
        recent_authentication=True,
        denied_detail=_("Only an owner can invite members."),
    )
    if role not in Role.values:
        raise AgencyActionRefused(Code.INVALID_ROLE, _("Unknown role."))
    email = email.strip().lower()
    if Membership.objects.filter(agency=agency, user__email__iexact=email).exists():
        raise AgencyActionRefused(Code.ALREADY_MEMBER, _("That address is already a member."))

    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        agency.invitations.filter(email__iexact=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(
            agency=agency,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=inviter,
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        audit_record(
            agency=agency,
            actor=inviter,
            action="member.invite",
            target=invitation,
            after={"email": email, "role": role},
            ip_address=ip_address,
        )
        transaction.on_commit(lambda: _send_invitation_mail(invitation, token))
    return invitation, token


def invitation_accept(*, token: str, user: User, ip_address: str | None = None) -> Membership:
    """Join the agency of an open invitation addressed to one of the user's verified
    addresses. Raises AgencyActionRefused."""
    from allauth.account.models import EmailAddress

    invitation = Invitation.objects.select_related("agency").filter(token_hash=token_hash(token)).first()
    if invitation is None or not invitation.is_open:
        raise AgencyActionRefused(Code.INVITATION_INVALID, _("This invitation is not valid any more."))
    if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
        raise AgencyActionRefused(
            Code.INVITATION_WRONG_ACCOUNT,
            _("This invitation was sent to another address. Sign in with that address, verified."),
        )
    with transaction.atomic():
        membership, _created = Membership.objects.get_or_create(
            agency=invitation.agency, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            agency=invitation.agency,
            actor=user,
            action="member.join",
            target=membership,
            after={"email": user.email, "role": membership.role},
            ip_address=ip_address,
        )
    return membership


def user_trust(*, user: User, agency: Agency, granted_by: User, ip_address: str | None = None) -> User:
    """Raise a fan to the ``trusted`` level (e.g. an official fan-club member).

    Managers and owners of an agency may grant it. Raises AgencyActionRefused.
    """
    check_agency_action(
        user=granted_by,
        agency=agency,
        least=Role.MANAGER,
        denied_detail=_("Only a manager or owner can trust a fan."),
    )
    with transaction.atomic():
        before = {"trusted_at": user.trusted_at.isoformat() if user.trusted_at else None}
        user.trusted_at = timezone.now()
        user.trusted_by = granted_by
        user.save(update_fields=["trusted_at", "trusted_by"])
        audit_record(
            agency=agency,
            actor=granted_by,
            action="fan.trust",
            target=user,
            before=before,
            after={"trusted_at": user.trusted_at.isoformat()},
            ip_address=ip_address,
        )
    return user


def _send_invitation_mail(invitation: Invitation, token: str) -> None:
    path = reverse("agency:invitation_accept", kwargs={"token": token})
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    context = {"invitation": invitation, "accept_url": f"{base}{path}"}
    send_mail(
        subject=_("[Encore] You are invited to join %(agency)s") % {"agency": invitation.agency.name},
        message=render_to_string("agency/invitation_email.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
