"""One error vocabulary for the whole service.

Services raise ``DomainError`` subclasses carrying a stable machine ``code``; the API
turns them (and DRF's own exceptions) into ``{"code", "detail"}`` JSON, and HTML views
turn them into messages. Codes are built here and nowhere else.
"""

from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# Seconds a client is told to wait when a limit does not say more precisely.
DEFAULT_RETRY_AFTER = 60


class DomainError(Exception):
    """A refusal by a business rule: nothing was written."""

    code = "invalid"
    http_status = HTTPStatus.BAD_REQUEST

    def __init__(self, code: str | None = None, detail: str = "", *, http_status=None):
        self.code = code or self.code
        self.detail = detail or self.code
        if http_status is not None:
            self.http_status = http_status
        super().__init__(f"{self.code}: {self.detail}")

    def as_body(self) -> dict:
        return error_body(self.code, self.detail)


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API, for the OpenAPI schema."""

    code = serializers.CharField()
    detail = serializers.CharField()
    reason = serializers.CharField(required=False)
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


def error_body(code: str, detail: str, **extra) -> dict:
    return {"code": code, "detail": str(detail), **extra}


def retry_after_seconds(request: HttpRequest | None) -> int:
    return int(getattr(request, "ratelimit_retry_after", None) or DEFAULT_RETRY_AFTER)


def api_exception_handler(exc, context):
    """DRF exception handler: every error leaves as ``{"code", "detail"}``."""
    request = context.get("request")
    if isinstance(exc, DomainError):
        return Response(exc.as_body(), status=exc.http_status)
    if isinstance(exc, Ratelimited):
        seconds = retry_after_seconds(request)
        return Response(
            error_body("rate_limited", _("Too many requests. Try again later.")),
            status=HTTPStatus.TOO_MANY_REQUESTS,
            headers={"Retry-After": str(seconds)},
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django log it and answer 500
    if isinstance(exc, drf.ValidationError):
        response.data = error_body(
            "invalid", _("The request is not valid."), fields=_field_errors(exc.detail)
        )
    elif isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        response.status_code = HTTPStatus.UNAUTHORIZED
        response.data = error_body("not_authenticated", exc.detail)
    elif isinstance(exc, drf.Throttled):
        response.data = error_body("rate_limited", exc.detail)
    else:
        code = exc.default_code if isinstance(exc, drf.APIException) else "error"
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(code, detail)
    return response


def _field_errors(detail) -> dict | list:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _field_errors(item) for item in detail]
    return [str(detail)]


def rate_limited_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's RATELIMIT_VIEW: JSON for the API, a friendly page otherwise."""
    seconds = retry_after_seconds(request)
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            error_body("rate_limited", _("Too many requests. Try again later.")),
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
    else:
        response = render(
            request,
            "errors/rate_limited.html",
            {"retry_after": seconds},
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
    response["Retry-After"] = str(seconds)
    return response


def not_found_view(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", _("Not found.")), status=HTTPStatus.NOT_FOUND)
    return render(request, "errors/404.html", status=HTTPStatus.NOT_FOUND)
