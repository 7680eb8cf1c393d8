import zoneinfo

from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject

from accounts.assurance import assurance_attach
from accounts.client_ip import client_ip_from


class ClientIPMiddleware:
    """Sets ``request.client_ip`` once; rate limits, allauth and signals all read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_ip = client_ip_from(request.META, tuple(settings.TRUSTED_PROXIES))
        return self.get_response(request)


class UserPreferencesMiddleware:
    """Activates the signed-in user's time zone and, unless chosen otherwise, language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            if user.preferred_language and not chosen:
                translation.activate(user.preferred_language)
                request.LANGUAGE_CODE = user.preferred_language
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class SessionAssuranceMiddleware:
    """Marks the request's user with what its session proved (accounts/assurance.py):
    MFA used, time of the last sign-in or reauthentication. Lazy, like the user itself:
    a request that never reads its user pays nothing. After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = SimpleLazyObject(lambda: assurance_attach(get_user(request), request.session))
        return self.get_response(request)
