import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

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
