"""Authentication of API requests (DRF): allauth's app session token, with what the
session proved marked on its user (accounts/assurance.py)."""

from allauth.headless.contrib.rest_framework.authentication import (
    XSessionTokenAuthentication as AllauthXSessionTokenAuthentication,
)
from drf_spectacular.contrib.django_allauth import XSessionTokenAuthenticationScheme

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
