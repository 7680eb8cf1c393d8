"""Who acts on a request that an agency API token authenticated.

``accounts.authentication.AgencyTokenAuthentication`` puts an ``AgencyTokenPrincipal``
where DRF puts the user (``request.user``), so every agency endpoint asks
``accounts.permissions`` the same questions whether a person or a token called it, and
the permission functions answer for both: a token is a member of its own agency only,
ranked by its scope (``read`` as an analyst, ``write`` as a manager), and never passes a
gate that needs a person (MFA, a recent sign-in, owners' business).
"""

from accounts.models import AgencyApiToken, Membership, Role, TokenScope

# The role a token acts with in its agency, by scope.
ROLE_OF_SCOPE = {TokenScope.READ: Role.ANALYST, TokenScope.WRITE: Role.MANAGER}


class AgencyTokenPrincipal:
    """A token acting on its agency. Quacks enough like a user for DRF, the rate limits
    and the permission functions; anything that needs a person's account (a foreign key
    to a user, MFA) must ask ``is_token_principal`` first."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    # Not a user: a query that filters by it as a user must fail loudly, not match row 0.
    pk = None
    id = None

    def __init__(self, token: AgencyApiToken):
        self.token = token

    def __str__(self) -> str:
        return f"API token {self.token.prefix}"

    @property
    def rate_limit_subject(self) -> str:
        # Counted apart from every account: "account" limits apply per token.
        return f"t{self.token.pk}"

    @property
    def role(self) -> Role:
        return ROLE_OF_SCOPE[TokenScope(self.token.scope)]

    def membership_in(self, agency) -> Membership | None:
        """An unsaved membership with the scope's role in the token's own agency;
        None for any other agency (which the token must not learn exists)."""
        if agency is None or agency.pk != self.token.agency_id:
            return None
        return Membership(agency=agency, role=self.role)

    def has_perm(self, *_args, **_kwargs) -> bool:
        return False

    def has_perms(self, *_args, **_kwargs) -> bool:
        return False

    def has_module_perms(self, *_args, **_kwargs) -> bool:
        return False

    def get_username(self) -> str:
        return str(self)


def is_token_principal(user) -> bool:
    return isinstance(user, AgencyTokenPrincipal)
