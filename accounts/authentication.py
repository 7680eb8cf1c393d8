"""Authentication of API requests (DRF): allauth's app session token, with what the
session proved marked on its user (accounts/assurance.py); and agency API tokens."""

from allauth.headless.contrib.rest_framework.authentication import (
    XSessionTokenAuthentication as AllauthXSessionTokenAuthentication,
)
from django.utils.translation import gettext as _
from drf_spectacular.contrib.django_allauth import XSessionTokenAuthenticationScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.assurance import assurance_attach


class XSessionTokenAuthentication(AllauthXSessionTokenAuthentication):
    """allauth's ``X-Session-Token`` authentication; the user also carries what the
    token's session proved (MFA used, last sign-in), as a browser session's user does
    through ``SessionAssuranceMiddleware``."""

    def authenticate(self, request):
        answer = super().authenticate(request)
        if answer is not None:
            user, session = answer
            assurance_attach(user, session)
        return answer


class EncoreXSessionTokenScheme(XSessionTokenAuthenticationScheme):
    """The same OpenAPI security scheme as allauth's class (drf-spectacular matches
    authentication classes exactly, not their subclasses)."""

    target_class = "accounts.authentication.XSessionTokenAuthentication"


# The URL namespace of the agency API (polls/agency/api_urls.py): the only place a
# token authenticates. Everywhere else (the fans' API, votes, the account) a bearer
# token is no credential at all, so a token can never vote or act as a person.
AGENCY_API_NAMESPACE = "agency_api"


class AgencyTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer encore_…``: an agency API token, on the agency API only.

    The answer's user is an ``AgencyTokenPrincipal`` (accounts/principals.py), which the
    permission functions understand: no agency view needs code of its own for tokens.
    Each request with a token counts against the ``agency_token`` rate limit, per token.
    HTML pages never see it: they read Django's session user, not DRF's.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        # Imported here: DRF imports this module while voting.errors (which these
        # need) is still importing DRF.
        from accounts.api_tokens import api_token_authenticate
        from accounts.principals import AgencyTokenPrincipal
        from voting.errors import Code, DomainError
        from voting.ratelimits import rate_limit

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if not _on_agency_api(request):
            return None
        if len(parts) != 2:
            raise DomainError(Code.TOKEN_INVALID, _("Send the token as: Authorization: Bearer <token>."))
        api_token = api_token_authenticate(token=parts[1].decode("latin-1"))
        principal = AgencyTokenPrincipal(api_token)
        django_request = request._request
        django_request.user = principal
        rate_limit(django_request, "agency_token")
        return principal, api_token

    def authenticate_header(self, request):
        return 'Bearer realm="agency"'


def _on_agency_api(request) -> bool:
    match = getattr(request._request, "resolver_match", None)
    return match is not None and AGENCY_API_NAMESPACE in match.namespaces


class AgencyTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AgencyTokenAuthentication"
    name = "agencyToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An agency API token (`encore_…`), made by an owner on the agency's tokens page. "
                "Accepted by the agency API only (`/api/v1/agency/`), with its scope: "
                "`read` or `write` (docs/decisions/agency-api-tokens.md)."
            ),
        }

    def get_security_requirement(self, auto_schema):
        # Declared on the agency API's operations only: anywhere else a token is ignored.
        if not auto_schema.path.startswith("/api/v1/agency/"):
            return []
        return {self.name: []}
