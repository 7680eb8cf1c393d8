"""Writes about agencies, members, invitations, trust, the audit log and the fan's
own profile (the declared country's rules)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.errors import AgencyActionRefused, ProfileChangeRefused
from accounts.models import Agency, AuditLogEntry, CountryChange, Invitation, Membership, Role, User
from accounts.permissions import check_agency_action
from accounts.principals import is_token_principal
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
    """Append one entry to the agency's audit log (inside the caller's transaction).
    An agency API token as ``actor`` is recorded as the token, with no person."""
    api_token = None
    if is_token_principal(actor):
        api_token, actor = actor.token, None
    return AuditLogEntry.objects.create(
        agency=agency,
        actor=actor,
        api_token=api_token,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        before=before,
        after=after,
        ip_address=ip_address,
    )


def check_invitation_create(*, inviter: User, agency: Agency) -> None:
    """Only owners invite, from a session that proved a credential lately. Raises
    AgencyActionRefused."""
    check_agency_action(
        user=inviter,
        agency=agency,
        least=Role.OWNER,
        recent_authentication=True,
        denied_detail=_("Only an owner can invite members."),
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
    check_invitation_create(inviter=inviter, agency=agency)
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


def check_user_country_change(*, user: User, country: str) -> None:
    """Refuse a change of the declared country, which decides who may vote in
    country-limited polls (a fan in a blocked country would otherwise declare an
    allowed one and vote):

    - ``recent_change``: at most one change per ``COUNTRY_CHANGE_MIN_DAYS`` (30), the
      first declaration included;
    - whatever the ``COUNTRY_CHANGE_CHECKS`` refuse (polls': not while the fan's
      ballots stand in open country-limited polls, ``open_ballots``).

    Raises ProfileChangeRefused (``country_change_locked``) or the checks' DomainError.
    """
    interval = timedelta(days=settings.COUNTRY_CHANGE_MIN_DAYS)
    last = CountryChange.objects.filter(user=user).values_list("changed_at", flat=True).first()
    if last is not None and timezone.now() < last + interval:
        raise ProfileChangeRefused(
            Code.COUNTRY_CHANGE_LOCKED,
            _("You changed your country recently. You can change it again from %(date)s.")
            % {"date": formats.date_format(timezone.localtime(last + interval), "DATE_FORMAT")},
            reason="recent_change",
        )
    for path in settings.COUNTRY_CHANGE_CHECKS:
        import_string(path)(user=user, country=country)


def user_profile_update(
    *, user: User, display_name: str, country: str, preferred_language: str, time_zone: str
) -> User:
    """Save the fan's profile. A different country goes through
    ``check_user_country_change`` and is recorded (who, when, from, to); the account's
    row is locked meanwhile, so two changes sent at once cannot both pass the rule.
    Raises what the check raises; nothing is written then."""
    with transaction.atomic():
        stored = User.objects.select_for_update().get(pk=user.pk)
        previous = stored.country.code or ""
        if country != previous:
            check_user_country_change(user=stored, country=country)
            CountryChange.objects.create(
                user=stored, changed_by=user, from_country=previous, to_country=country
            )
        stored.display_name = display_name
        stored.country = country
        stored.preferred_language = preferred_language
        stored.time_zone = time_zone
        stored.save(update_fields=["display_name", "country", "preferred_language", "time_zone"])
    return stored


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
