"""Agency API tokens: created and revoked by owners, checked on every request that
carries one (docs/decisions/agency-api-tokens.md).

A token reads ``encore_<8 hex>_<43 url-safe characters>``: 256 random bits, of which
the first characters (``prefix``) are shown in lists to tell tokens apart. Only the
SHA-256 of the whole token is stored, so a copy of the database authenticates nothing;
the owner sees the token once, in the answer that created it.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import AgencyActionRefused
from accounts.models import Agency, AgencyApiToken, Role, TokenScope, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from voting.errors import Code, DomainError

TOKEN_PREFIX = "encore_"  # noqa: S105 - the public start of every token, not a secret
# last_used_at is written at most this often per token: a dashboard polling every few
# seconds must not turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def secret_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_token_management(*, actor: User, agency: Agency) -> None:
    """Tokens are managed by owners whose session used MFA and proved a credential
    lately: a token outlives the session that made it. Raises AgencyActionRefused."""
    check_agency_action(
        user=actor,
        agency=agency,
        least=Role.OWNER,
        mfa=True,
        recent_authentication=True,
        denied_detail=_("Only an owner can manage API tokens."),
    )


def tokens_of(*, agency: Agency) -> QuerySet[AgencyApiToken]:
    return agency.api_tokens.select_related("created_by", "revoked_by").order_by("-created_at", "-id")


def api_token_create(
    *,
    agency: Agency,
    actor: User,
    name: str,
    scope: str,
    lifetime_days: int | None = None,
    ip_address: str | None = None,
) -> tuple[AgencyApiToken, str]:
    """Make a token for the agency; returns it and the token text, which is not kept.

    ``lifetime_days`` defaults to AGENCY_TOKEN_DEFAULT_DAYS and may not pass
    AGENCY_TOKEN_MAX_DAYS. Raises AgencyActionRefused (``check_token_management``'s
    refusals, ``invalid``)."""
    check_token_management(actor=actor, agency=agency)
    name = (name or "").strip()
    if not name or len(name) > AgencyApiToken._meta.get_field("name").max_length:
        raise AgencyActionRefused(
            Code.INVALID, _("Name the token (at most 80 characters)."), fields={"name": [_("Required.")]}
        )
    if scope not in TokenScope.values:
        raise AgencyActionRefused(Code.INVALID, _("Unknown scope."), fields={"scope": [_("Unknown scope.")]})
    days = settings.AGENCY_TOKEN_DEFAULT_DAYS if lifetime_days is None else lifetime_days
    if not 1 <= days <= settings.AGENCY_TOKEN_MAX_DAYS:
        message = _("A token lives from 1 to %(days)d days.") % {"days": settings.AGENCY_TOKEN_MAX_DAYS}
        raise AgencyActionRefused(Code.INVALID, message, fields={"lifetime_days": [message]})

    visible = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    with transaction.atomic():
        api_token = AgencyApiToken.objects.create(
            agency=agency,
            name=name,
            scope=scope,
            prefix=f"{TOKEN_PREFIX}{visible}",
            secret_hash=secret_hash(token),
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="api_token.create",
            target=api_token,
            after={
                "name": name,
                "scope": scope,
                "prefix": api_token.prefix,
                "expires_at": api_token.expires_at.isoformat(),
            },
            ip_address=ip_address,
        )
    return api_token, token


def api_token_revoke(
    *, agency: Agency, actor: User, token_id: int, ip_address: str | None = None
) -> AgencyApiToken:
    """Revoke one of the agency's tokens at once (the next request with it is refused).
    Revoking a revoked token changes nothing. Raises AgencyActionRefused (``not_found``
    for a token of another agency)."""
    check_token_management(actor=actor, agency=agency)
    with transaction.atomic():
        api_token = AgencyApiToken.objects.select_for_update().filter(agency=agency, pk=token_id).first()
        if api_token is None:
            raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
        if api_token.revoked_at is not None:
            return api_token
        api_token.revoked_at = timezone.now()
        api_token.revoked_by = actor
        api_token.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            agency=agency,
            actor=actor,
            action="api_token.revoke",
            target=api_token,
            before={"name": api_token.name, "scope": api_token.scope, "prefix": api_token.prefix},
            ip_address=ip_address,
        )
    return api_token


def api_token_authenticate(*, token: str) -> AgencyApiToken:
    """The live token for this text, its ``last_used_at`` brought up to date. Raises
    DomainError ``token_invalid`` (unknown), ``token_revoked``, ``token_expired``."""
    api_token = None
    if token.startswith(TOKEN_PREFIX) and len(token) <= 128:
        api_token = (
            AgencyApiToken.objects.select_related("agency").filter(secret_hash=secret_hash(token)).first()
        )
    if api_token is None:
        raise DomainError(Code.TOKEN_INVALID, _("This API token is not valid."))
    if api_token.is_revoked:
        raise DomainError(Code.TOKEN_REVOKED, _("This API token was revoked."))
    if api_token.is_expired:
        raise DomainError(Code.TOKEN_EXPIRED, _("This API token has expired."))
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        # A plain UPDATE, outside any transaction of the request: the time is a hint
        # for the owner ("used 3 minutes ago"), not a record to lock for.
        AgencyApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        api_token.last_used_at = now
    return api_token
