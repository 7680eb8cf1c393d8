"""Fans' data rights: download everything Encore holds about me; delete my account.

Accounts never import polls, yet "everything about me" includes ballots. So every app
that keeps personal data registers a *section* here, from its ``AppConfig.ready()``:
a name, a function that exports the user's data in it as JSON-ready values, and one
that erases it inside the deletion's transaction (``polls`` registers its ballots).
Accounts assembles the download and runs the erasure without knowing the other apps.

Deletion keeps the user row as an anonymised tombstone (inactive, unusable password,
a placeholder address under the reserved ``.invalid`` domain, names and phone blank)
because ballots (``on_delete=PROTECT``) and audit entries point at it: ballots stay,
pseudonymous, so no count, published result or bulletin-board digest changes (the
board's voter tag is an HMAC of the user id, which stays). See
docs/decisions/account-deletion.md.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import AccountActionRefused
from accounts.models import Agency, AuditLogEntry, Invitation, Membership, Role, User
from accounts.verification import verification_level_of
from voting.errors import Code

logger = logging.getLogger("encore.accounts")

# RFC 2606 reserves .invalid: mail to a tombstone's address can never be delivered.
TOMBSTONE_DOMAIN = "deleted.invalid"


@dataclass(frozen=True)
class PersonalDataSection:
    """``export(user)`` answers a dict of top-level keys of the download; ``erase(user)``
    runs inside the deletion's transaction, before the user row becomes a tombstone."""

    name: str
    export: Callable[[User], dict[str, Any]]
    erase: Callable[[User], None] | None = None


_sections: dict[str, PersonalDataSection] = {}


def personal_data_register(
    *, name: str, export: Callable[[User], dict[str, Any]], erase: Callable[[User], None] | None = None
) -> None:
    """Add an app's section to the download (and its erasure to account deletion).
    Registering a name again replaces it."""
    _sections[name] = PersonalDataSection(name=name, export=export, erase=erase)


def personal_data_sections() -> list[PersonalDataSection]:
    """The registered sections, by name; the account's own comes first in the download
    and is erased last."""
    return sorted(_sections.values(), key=lambda section: section.name)


# ------------------------------------------------------------------ download


def personal_data_export(*, user: User) -> dict:
    """Everything Encore holds about the user, as one JSON-ready document. Secrets
    (password hash, MFA secrets, tokens) are never in it, nor receipt codes: Encore
    keeps only their SHA-256."""
    document: dict[str, Any] = {"format": "encore-personal-data/1", "exported_at": _iso(timezone.now())}
    document.update(_account_export(user))
    for section in personal_data_sections():
        document.update(section.export(user))
    return document


def _account_export(user: User) -> dict:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount
    from allauth.usersessions.models import UserSession

    return {
        "account": {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "phone_number": user.phone_number,
            "phone_verified_at": _iso(user.phone_verified_at),
            "trusted_at": _iso(user.trusted_at),
            "verification_level": str(verification_level_of(user)),
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
        },
        "preferences": {
            "country": str(user.country or ""),
            "preferred_language": user.preferred_language,
            "time_zone": user.time_zone,
        },
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("-primary", "email")
        ],
        "sessions": [
            {
                "created_at": _iso(session.created_at),
                "last_seen_at": _iso(session.last_seen_at),
                "ip": session.ip,
                "user_agent": session.user_agent,
            }
            for session in UserSession.objects.filter(user=user).order_by("-created_at")
        ],
        # Which second factors are set up, never their secrets.
        "mfa": [
            {"type": authenticator.type, "created_at": _iso(authenticator.created_at)}
            for authenticator in Authenticator.objects.filter(user=user).order_by("created_at")
        ],
        "social_accounts": [
            {
                "provider": social.provider,
                "uid": social.uid,
                "date_joined": _iso(social.date_joined),
                "last_login": _iso(social.last_login),
                "extra_data": social.extra_data,
            }
            for social in SocialAccount.objects.filter(user=user).order_by("provider")
        ],
        "agencies": [
            {
                "agency": membership.agency.slug,
                "name": membership.agency.name,
                "role": membership.role,
                "since": _iso(membership.created_at),
            }
            for membership in Membership.objects.filter(user=user).select_related("agency")
        ],
        "agency_actions": [
            {
                "agency": entry.agency.slug,
                "action": entry.action,
                "target_type": entry.target_type,
                "target_id": entry.target_id,
                "created_at": _iso(entry.created_at),
                "ip_address": entry.ip_address,
            }
            for entry in AuditLogEntry.objects.filter(actor=user).select_related("agency").order_by("id")
        ],
    }


# ------------------------------------------------------------------ deletion


def check_account_delete(*, user: User, password: str) -> None:
    """Refuse a deletion before anything is written. Raises AccountActionRefused:
    ``invalid_password`` (wrong, or the account has none: set one first),
    ``last_owner`` (an agency would be left without an owner)."""
    if not user.has_usable_password():
        raise AccountActionRefused(
            Code.INVALID_PASSWORD,
            _("Your account has no password (you sign in with another service): set one first."),
        )
    if not isinstance(password, str) or not user.check_password(password):
        raise AccountActionRefused(Code.INVALID_PASSWORD, _("That is not your password."))
    check_not_last_owner(user=user)


def check_not_last_owner(*, user: User) -> None:
    """Raise ``last_owner`` when the user is the only owner of an agency."""
    sole_owner_of = (
        Membership.objects.filter(user=user, role=Role.OWNER)
        .annotate(owners=Count("agency__memberships", filter=Q(agency__memberships__role=Role.OWNER)))
        .filter(owners=1)
        .select_related("agency")
    )
    agencies = [membership.agency.name for membership in sole_owner_of]
    if agencies:
        raise AccountActionRefused(
            Code.LAST_OWNER,
            _("You are the only owner of %(agencies)s: make another member an owner first.")
            % {"agencies": ", ".join(agencies)},
        )


def account_delete(*, user: User, password: str) -> User:
    """Delete the fan's account: check the password again, then, in one transaction,
    erase every registered section and turn the user row into a tombstone. Sessions
    end (every device is signed out) once it commits. Raises AccountActionRefused
    (nothing written); returns the tombstone."""
    check_account_delete(user=user, password=password)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_deleted:
            return user  # a concurrent request did it first
        # Two owners of one agency deleting at once: the agency's row makes them take
        # turns, and the second sees that it would leave no owner.
        list(Agency.objects.select_for_update().filter(memberships__user=user, memberships__role=Role.OWNER))
        check_not_last_owner(user=user)
        for section in personal_data_sections():
            if section.erase is not None:
                section.erase(user)
        _account_erase(user)
    logger.info("account %s deleted at the user's request", user.pk)
    return user


def _account_erase(user: User) -> None:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount
    from allauth.usersessions.models import UserSession

    addresses = {user.email.lower()} | {
        address.lower() for address in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
    }
    placeholder = f"deleted-{user.pk}@{TOMBSTONE_DOMAIN}"

    session_keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    UserSession.objects.filter(user=user).delete()
    transaction.on_commit(lambda: _sessions_end(session_keys))
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    SocialAccount.objects.filter(user=user).delete()  # their tokens go with them
    Membership.objects.filter(user=user).delete()

    # The agencies' audit trail keeps its entries, pointing at the tombstone (shown as
    # "deleted account"), without the raw IPs and with the addresses replaced.
    AuditLogEntry.objects.filter(actor=user).update(ip_address=None)
    _audit_addresses_replace(addresses, placeholder)
    Invitation.objects.filter(accepted_by=user).update(email=placeholder)

    user.email = placeholder
    user.display_name = ""
    user.country = ""
    user.preferred_language = ""
    user.time_zone = "UTC"
    user.phone_number = ""
    user.phone_verified_at = None
    user.trusted_at = None
    user.trusted_by = None
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    user.deleted_at = timezone.now()
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _sessions_end(session_keys: list[str]) -> None:
    """Delete the sessions themselves (browser cookies and app X-Session-Tokens alike).
    An inactive user with a changed password is refused by any session missed here."""
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in session_keys:
        store(key).delete()


def _audit_addresses_replace(addresses: set[str], placeholder: str) -> None:
    """Replace the user's addresses inside audit entries' before/after (invitations,
    joins) with the tombstone's placeholder."""
    for address in addresses:
        mentioning = AuditLogEntry.objects.filter(Q(before__icontains=address) | Q(after__icontains=address))
        for entry in mentioning:
            entry.before = _replace_in(entry.before, address, placeholder)
            entry.after = _replace_in(entry.after, address, placeholder)
            entry.save(update_fields=["before", "after"])


def _replace_in(value: Any, address: str, placeholder: str) -> Any:
    if isinstance(value, str):
        return placeholder if value.lower() == address else value
    if isinstance(value, dict):
        return {key: _replace_in(item, address, placeholder) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_in(item, address, placeholder) for item in value]
    return value


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
