"""One error vocabulary for the whole service.

Every refusal has a stable machine code, a member of ``Code``, and the member carries
its HTTP status: no other module chooses an error status or builds an error body.
Services raise ``DomainError(Code.X, detail, **extra)`` (or an area's subclass of it);
the API's exception handler, the HTML views (through ``DomainErrorMiddleware``) and the
plain JSON views (``error_response``) all turn it into ``{"code", "detail", ...}``.
"""

import logging
from enum import StrEnum
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_ratelimit.exceptions import Ratelimited
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("encore.errors")

# Seconds a client is told to wait when a limit does not say more precisely.
DEFAULT_RETRY_AFTER = 60
# Seconds to wait when the database is unreachable (a failover takes a few seconds).
UNAVAILABLE_RETRY_AFTER = 2


class Code(StrEnum):
    """Every error code the service answers with, and the HTTP status it goes with."""

    status: HTTPStatus

    def __new__(cls, value: str, status: HTTPStatus):
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    # 400: the request itself is wrong; nothing was written.
    INVALID = "invalid", HTTPStatus.BAD_REQUEST
    INVALID_CHOICE = "invalid_choice", HTTPStatus.BAD_REQUEST
    INVALID_ROLE = "invalid_role", HTTPStatus.BAD_REQUEST
    PARSE_ERROR = "parse_error", HTTPStatus.BAD_REQUEST
    # A poll's language or a translation in a language Encore does not offer.
    UNKNOWN_LANGUAGE = "unknown_language", HTTPStatus.BAD_REQUEST
    # A time range the insight does not offer (``?range=``); the detail lists those it does.
    INVALID_RANGE = "invalid_range", HTTPStatus.BAD_REQUEST
    # A form sent back by a bot (too fast, honeypot filled, stamp forged).
    FORM_REJECTED = "form_rejected", HTTPStatus.BAD_REQUEST
    # 401, 403: who is asking, and may they.
    NOT_AUTHENTICATED = "not_authenticated", HTTPStatus.UNAUTHORIZED
    # An agency API token (Authorization: Bearer) that is unknown, past its expiry, or revoked.
    TOKEN_INVALID = "token_invalid", HTTPStatus.UNAUTHORIZED
    TOKEN_EXPIRED = "token_expired", HTTPStatus.UNAUTHORIZED
    TOKEN_REVOKED = "token_revoked", HTTPStatus.UNAUTHORIZED
    EMAIL_UNVERIFIED = "email_unverified", HTTPStatus.FORBIDDEN
    NOT_ELIGIBLE = "not_eligible", HTTPStatus.FORBIDDEN
    PERMISSION_DENIED = "permission_denied", HTTPStatus.FORBIDDEN
    MFA_REQUIRED = "mfa_required", HTTPStatus.FORBIDDEN
    # MFA is on, but this session signed in without it: reauthenticate with it.
    MFA_NOT_USED = "mfa_not_used", HTTPStatus.FORBIDDEN
    # The session has not proved a credential lately (allauth's reauthentication).
    REAUTHENTICATION_REQUIRED = "reauthentication_required", HTTPStatus.FORBIDDEN
    AGENCY_UNVERIFIED = "agency_unverified", HTTPStatus.FORBIDDEN
    RESULTS_HIDDEN = "results_hidden", HTTPStatus.FORBIDDEN
    INVITATION_WRONG_ACCOUNT = "invitation_wrong_account", HTTPStatus.FORBIDDEN
    # Deleting an account takes its password again (re-authentication).
    INVALID_PASSWORD = "invalid_password", HTTPStatus.FORBIDDEN
    # 404: absent, or not to be revealed to this caller.
    NOT_FOUND = "not_found", HTTPStatus.NOT_FOUND
    INVITATION_INVALID = "invitation_invalid", HTTPStatus.NOT_FOUND
    # 405, 406, 415: the HTTP envelope (DRF's own refusals).
    METHOD_NOT_ALLOWED = "method_not_allowed", HTTPStatus.METHOD_NOT_ALLOWED
    NOT_ACCEPTABLE = "not_acceptable", HTTPStatus.NOT_ACCEPTABLE
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    # 409: the request is fine but the state of things refuses it.
    POLL_NOT_OPEN = "poll_not_open", HTTPStatus.CONFLICT
    POLL_CLOSED = "poll_closed", HTTPStatus.CONFLICT
    ALREADY_VOTED = "already_voted", HTTPStatus.CONFLICT
    POLL_FROZEN = "poll_frozen", HTTPStatus.CONFLICT
    INVALID_TRANSITION = "invalid_transition", HTTPStatus.CONFLICT
    # Four eyes: the member who asked for an invalidation cannot also decide on it.
    SAME_REVIEWER = "same_reviewer", HTTPStatus.CONFLICT
    BALLOTS_QUARANTINED = "ballots_quarantined", HTTPStatus.CONFLICT
    # Publishing waits PUBLISH_GRACE_SECONDS after the close for votes still in flight.
    PUBLISH_TOO_EARLY = "publish_too_early", HTTPStatus.CONFLICT
    ALREADY_MEMBER = "already_member", HTTPStatus.CONFLICT
    # The declared country may not change now (``reason``: recent_change, open_ballots).
    COUNTRY_CHANGE_LOCKED = "country_change_locked", HTTPStatus.CONFLICT
    # An agency is never left without an owner (e.g. by its last owner deleting the account).
    LAST_OWNER = "last_owner", HTTPStatus.CONFLICT
    # 422: an Idempotency-Key sent again with a different request.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", HTTPStatus.UNPROCESSABLE_ENTITY
    # 429: over a rate limit; the answer carries Retry-After.
    RATE_LIMITED = "rate_limited", HTTPStatus.TOO_MANY_REQUESTS
    # 503: a dependency the answer needs is down; try again.
    UNAVAILABLE = "unavailable", HTTPStatus.SERVICE_UNAVAILABLE


# DRF's own exceptions, by the code each one leaves with.
CODE_OF_DRF_EXCEPTION: tuple[tuple[type[drf.APIException], Code], ...] = (
    (drf.ValidationError, Code.INVALID),
    (drf.ParseError, Code.PARSE_ERROR),
    (drf.NotAuthenticated, Code.NOT_AUTHENTICATED),
    (drf.AuthenticationFailed, Code.NOT_AUTHENTICATED),
    (drf.PermissionDenied, Code.PERMISSION_DENIED),
    (drf.NotFound, Code.NOT_FOUND),
    (drf.MethodNotAllowed, Code.METHOD_NOT_ALLOWED),
    (drf.NotAcceptable, Code.NOT_ACCEPTABLE),
    (drf.UnsupportedMediaType, Code.UNSUPPORTED_MEDIA_TYPE),
    (drf.Throttled, Code.RATE_LIMITED),
)


class DomainError(Exception):
    """A refusal by a business rule: nothing was written.

    ``extra`` adds fields to the body (``reason``, ``fields``); empty ones are left out.
    """

    def __init__(self, code: Code, detail: str = "", **extra):
        self.code = Code(code)
        self.detail = detail or str(self.code)
        self.extra = extra
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def http_status(self) -> HTTPStatus:
        return self.code.status

    @property
    def reason(self) -> str:
        return self.extra.get("reason", "")

    def as_body(self) -> dict:
        return error_body(self.code, self.detail, **self.extra)


# A field's errors are messages, or, for a list or nested object, the same again by
# index or name: {"allowed_countries": {"1": ["Ensure this field has ..."]}}.
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
    },
}


@extend_schema_field(FIELD_ERRORS_SCHEMA)
class FieldErrorsField(serializers.DictField):
    pass


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API, for the OpenAPI schema."""

    code = serializers.ChoiceField(choices=[code.value for code in Code])
    detail = serializers.CharField()
    reason = serializers.CharField(required=False)
    fields = FieldErrorsField(required=False)


def error_body(code: Code, detail: str, **extra) -> dict:
    kept = {name: value for name, value in extra.items() if value not in (None, "", {}, [])}
    return {"code": str(code), "detail": str(detail), **kept}


def error_response(code: Code, detail: str, **extra) -> JsonResponse:
    """A plain Django JSON answer for a refusal, for views outside DRF."""
    return JsonResponse(error_body(code, detail, **extra), status=code.status)


def retry_after_seconds(request: HttpRequest | None) -> int:
    return int(getattr(request, "ratelimit_retry_after", None) or DEFAULT_RETRY_AFTER)


def api_exception_handler(exc, context):
    """DRF exception handler: every error leaves as ``{"code", "detail"}``."""
    request = context.get("request")
    if isinstance(exc, DomainError):
        return Response(exc.as_body(), status=exc.http_status)
    if isinstance(exc, Ratelimited):
        return _rate_limited_api_response(request)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable: %s", exc)
        return Response(**unavailable_answer())
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django log it and answer 500
    code = next((code for kind, code in CODE_OF_DRF_EXCEPTION if isinstance(exc, kind)), None)
    if code is None:
        return None  # an APIException of our own making would be a bug: 500 and a log line
    response.status_code = code.status
    if code == Code.INVALID:
        response.data = error_body(code, _("The request is not valid."), fields=_field_errors(exc.detail))
    else:
        response.data = error_body(code, getattr(exc, "detail", str(exc)))
    return response


# The database could not be reached or answered with a connection failure (a primary
# going down, a failover under way). Integrity errors are not among these.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def unavailable_answer() -> dict:
    """The pieces of a 503: the client retries (with its Idempotency-Key for a vote: a
    vote whose commit raced the failure is then answered, not cast twice)."""
    return {
        "data": error_body(Code.UNAVAILABLE, _("The service is briefly unavailable. Try again in a moment.")),
        "status": Code.UNAVAILABLE.status,
        "headers": {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    }


def unavailable_response() -> JsonResponse:
    answer = unavailable_answer()
    response = JsonResponse(answer["data"], status=answer["status"])
    for name, value in answer["headers"].items():
        response[name] = value
    return response


def _rate_limited_api_response(request) -> Response:
    seconds = retry_after_seconds(request)
    return Response(
        error_body(Code.RATE_LIMITED, _("Too many requests. Try again later.")),
        status=Code.RATE_LIMITED.status,
        headers={"Retry-After": str(seconds)},
    )


def _field_errors(detail) -> dict | list:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _field_errors(item) for item in detail]
    return [str(detail)]


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def rate_limited_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's RATELIMIT_VIEW: JSON for the API, a friendly page otherwise."""
    seconds = retry_after_seconds(request)
    if wants_json(request):
        response: HttpResponse = error_response(Code.RATE_LIMITED, _("Too many requests. Try again later."))
    else:
        response = render(
            request,
            "errors/rate_limited.html",
            {"retry_after": seconds},
            status=Code.RATE_LIMITED.status,
        )
    response["Retry-After"] = str(seconds)
    return response


def not_found_view(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(Code.NOT_FOUND, _("Not found."))
    return render(request, "errors/404.html", status=Code.NOT_FOUND.status)


def refusal_page(request: HttpRequest, refusal: DomainError) -> HttpResponse:
    """The HTML answer to a refusal no view handled itself: the 404 page for
    ``not_found`` (nothing is revealed), else a page that says why, with its status."""
    if refusal.code == Code.NOT_FOUND:
        return not_found_view(request)
    return render(request, "errors/refused.html", {"refusal": refusal}, status=refusal.http_status)


class DomainErrorMiddleware:
    """Maps a DomainError that escapes a plain Django view to its answer: JSON for API
    clients, ``refusal_page`` for browsers; and an unreachable database to a 503 with
    Retry-After. DRF views never get here (their handler answers first)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            logger.warning("database unavailable: %s", exception)
            return unavailable_response()
        if not isinstance(exception, DomainError):
            return None
        if wants_json(request):
            return JsonResponse(exception.as_body(), status=exception.http_status)
        return refusal_page(request, exception)
