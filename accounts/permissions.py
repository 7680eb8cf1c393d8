"""Who may act on an agency: asked by pages, API and services alike, answered here.

An agency's staff are its members, each with a role; roles further up include those
below (owner > manager > analyst). Actions that change what fans see or how they are
counted (schedule, close, cancel, publish, review ballots) also need MFA: an
authenticator on the account *and* a session that passed it (accounts/assurance.py).
Changes to who is a member (invitations) need a recent sign-in or reauthentication.

Outsiders get ``not_found``: an agency never learns about another agency's polls, and
nobody learns which agencies exist. Members below the role get ``permission_denied``,
members without MFA ``mfa_required``, members whose session did not pass MFA
``mfa_not_used``, and members who have not proved their password (or second factor)
lately ``reauthentication_required``.

Agency API tokens ask the same functions (accounts/principals.py): a token is a member
of its own agency with its scope's role and an outsider everywhere else, and it never
passes a gate that needs a person (``mfa``, ``recent_authentication``, ``human``):
those refuse it with ``permission_denied`` and ``reason: token_not_allowed``.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.assurance import assurance_of, reauthentication_timeout
from accounts.errors import AgencyActionRefused
from accounts.models import Agency, Membership, Role, User
from accounts.principals import is_token_principal
from voting.errors import Code

# What each role may do; roles further up include those below.
ROLE_RANK = {Role.ANALYST: 0, Role.MANAGER: 1, Role.OWNER: 2}

REFUSAL_BELOW_ROLE = {
    Role.MANAGER: gettext_lazy("Your role may only read this agency's polls."),
    Role.OWNER: gettext_lazy("Only an owner can do this."),
}


def membership_of(*, user: User, agency: Agency) -> Membership | None:
    if not user.is_authenticated:
        return None
    if is_token_principal(user):
        return user.membership_in(agency)
    return Membership.objects.filter(user=user, agency=agency).first()


def agencies_of(*, user: User) -> QuerySet[Agency]:
    """The agencies the user (or token) acts on: its memberships' (a token's own)."""
    if not user.is_authenticated:
        return Agency.objects.none()
    if is_token_principal(user):
        return Agency.objects.filter(pk=user.token.agency_id)
    return Agency.objects.filter(memberships__user=user)


def acting_user(user: User) -> User | None:
    """The person behind an action, for a "created by" column: None for a token
    (the audit log names the token)."""
    return None if is_token_principal(user) or not user.is_authenticated else user


def role_at_least(membership: Membership | None, least: Role) -> bool:
    return membership is not None and ROLE_RANK[Role(membership.role)] >= ROLE_RANK[least]


def has_role(*, user: User, agency: Agency, least: Role) -> bool:
    return role_at_least(membership_of(user=user, agency=agency), least)


def has_mfa(user: User) -> bool:
    """MFA is on when the user has a TOTP or WebAuthn authenticator (recovery codes
    alone are a fallback, not a second factor). Whether this session used it is
    ``mfa_used``."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    if is_token_principal(user):
        return False
    return user.is_authenticated and is_mfa_enabled(
        user, types=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    )


def mfa_used(user: User) -> bool:
    """The user's session passed a second factor, and MFA is still on the account."""
    return not is_token_principal(user) and assurance_of(user).mfa_used and has_mfa(user)


def recently_authenticated(user: User) -> bool:
    """The user's session proved a credential (signed in or reauthenticated) within
    allauth's reauthentication timeout."""
    if is_token_principal(user):
        return False
    return assurance_of(user).authenticated_within(reauthentication_timeout())


def check_agency_action(
    *,
    user: User,
    agency: Agency,
    least: Role,
    mfa: bool = False,
    recent_authentication: bool = False,
    human: bool = False,
    denied_detail: str = "",
) -> Membership:
    """The user's membership when they may act on the agency with role ``least`` (with
    a session that used MFA when ``mfa``, and that proved a credential lately when
    ``recent_authentication``; a person, not an API token, when ``human``). Raises
    AgencyActionRefused: ``not_found``, ``permission_denied`` (with ``denied_detail``
    when given; ``reason: token_not_allowed`` for a token at a person's gate),
    ``mfa_required``, ``mfa_not_used``, ``reauthentication_required``.

    A token's membership is unsaved (``pk`` None): it only carries the scope's role."""
    membership = membership_of(user=user, agency=agency)
    if membership is None:
        raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
    if not role_at_least(membership, least):
        detail = denied_detail or REFUSAL_BELOW_ROLE.get(least) or _("Your role does not allow this.")
        raise AgencyActionRefused(Code.PERMISSION_DENIED, str(detail))
    if (mfa or recent_authentication or human) and is_token_principal(user):
        raise AgencyActionRefused(
            Code.PERMISSION_DENIED,
            _("An API token cannot do this: a member must, signed in."),
            reason="token_not_allowed",
        )
    if mfa and not has_mfa(user):
        raise AgencyActionRefused(
            Code.MFA_REQUIRED,
            _("Turn on two-factor authentication (an authenticator app or a security key) first."),
        )
    if mfa and not assurance_of(user).mfa_used:
        raise AgencyActionRefused(
            Code.MFA_NOT_USED,
            _("Confirm it is you with your authenticator app or security key first."),
        )
    if recent_authentication and not recently_authenticated(user):
        raise AgencyActionRefused(
            Code.REAUTHENTICATION_REQUIRED, _("Confirm it is you with your password first.")
        )
    return membership


def check_agency_staff(*, user: User, least: Role = Role.ANALYST) -> None:
    """Refuse (``permission_denied``) anyone with no role of at least ``least`` in any
    agency: asked by agency endpoints that name their agency in the body or the query,
    before reading it."""
    if is_token_principal(user):
        roles = [user.role]
    elif user.is_authenticated:
        roles = list(Membership.objects.filter(user=user).values_list("role", flat=True).distinct())
    else:
        roles = []
    if any(ROLE_RANK[Role(role)] >= ROLE_RANK[least] for role in roles):
        return
    detail = REFUSAL_BELOW_ROLE.get(least) if roles else None
    raise AgencyActionRefused(Code.PERMISSION_DENIED, str(detail or _("This is for agency staff.")))


def check_reviewer(*, user: User, agency: Agency) -> Membership:
    """Reviewing ballots shows what names voters' networks: fraud signals with raw client
    addresses, review requests, the clusters they name. Only managers and owners with
    MFA; raises AgencyActionRefused as ``check_agency_action`` does."""
    return check_agency_action(user=user, agency=agency, least=Role.MANAGER, mfa=True)


def may_review(*, user: User, agency: Agency) -> bool:
    try:
        check_reviewer(user=user, agency=agency)
    except AgencyActionRefused:
        return False
    return True


def agency_of_member(*, user: User, slug: str) -> tuple[Agency, Membership]:
    """The agency with that slug and the user's membership in it; ``not_found``
    (AgencyActionRefused) for anyone else."""
    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
    return agency, check_agency_action(user=user, agency=agency, least=Role.ANALYST)
