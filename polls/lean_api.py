"""The launch-hour endpoints without the full stack: casting a vote with an app's
``X-Session-Token`` and reading public results.

``LeanPathMiddleware`` sits right after SecurityMiddleware. For these two endpoints it
answers itself, skipping the work they do not need (sessions, messages, CSRF for
token clients, locale and user middleware, DRF's request wrapping and content
negotiation); everything else, and every request it cannot answer exactly as the full
path would, goes on down the stack:

- a vote costs one Redis round trip (the stored voter card, the session's existence
  and the rate-limit counters, in one script: accounts/voter_cards.py) and one SQL
  statement (polls/ballots.py);
- a results read costs nothing but a dictionary look-up most of the time: the JSON
  bytes are built once per interval per worker (polls/selectors.py) and served with
  an ETag and ``Cache-Control: public`` so HTTP caches in front absorb the rest.

The vote's business rules are ``polls.services.ballot_cast``'s, the same function the
full path calls; refusals are the same codes and bodies.
"""

import json
import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation

from accounts.client_ip import client_ip_from, network_of
from accounts.fingerprint import client_fingerprint
from accounts.voter_cards import ACCOUNT_PLACEHOLDER, card_store_available, voter_card_gate
from polls import selectors
from polls.models import Poll
from polls.services import ballot_cast
from voting.db_router import reads_from_replica
from voting.errors import DATABASE_UNAVAILABLE, Code, DomainError, error_response, unavailable_response
from voting.ratelimits import scope_counters

VOTE_PATH = re.compile(r"^/api/v1/polls/(?P<slug>[-a-zA-Z0-9_]+)/votes/$")
RESULTS_PATH = re.compile(r"^/api/v1/polls/(?P<slug>[-a-zA-Z0-9_]+)/results/$")


class LeanPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = None
        path = request.path_info
        try:
            if path.startswith("/api/v1/polls/"):
                if request.method == "POST" and (match := VOTE_PATH.match(path)):
                    response = lean_vote(request, match["slug"])
                elif request.method in ("GET", "HEAD") and (match := RESULTS_PATH.match(path)):
                    response = lean_results(request, match["slug"])
        except DATABASE_UNAVAILABLE:
            return unavailable_response()  # a failover under way: retry, never a 500
        return response if response is not None else self.get_response(request)


def _choices_of(request: HttpRequest) -> list[int] | None:
    """The ``choices`` of a well-formed JSON vote, else None (the full path then gives
    its exact refusal for malformed input)."""
    if request.content_type != "application/json":
        return None
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not all(type(choice) is int for choice in choices):
        return None
    return choices


def lean_vote(request: HttpRequest, slug: str) -> HttpResponse | None:
    from django.conf import settings

    token = request.META.get("HTTP_X_SESSION_TOKEN", "")
    if not token or not card_store_available():
        return None  # browsers (session cookie and CSRF) take the full path
    choices = _choices_of(request)
    if choices is None:
        return None
    poll = selectors.poll_for_public_cached(slug=slug)
    if poll is None:
        return None
    ip = client_ip_from(request.META, tuple(settings.TRUSTED_PROXIES))
    subjects = {"account": f"u{ACCOUNT_PLACEHOLDER}", "ip": ip, "network": network_of(ip) if ip else None}
    gate = voter_card_gate(session_key=token, counters=scope_counters("vote", subjects))
    if gate is None:
        return None
    card, wait = gate
    with translation.override(card.language or translation.get_language_from_request(request)):
        if wait:
            return _rate_limited(wait)
        return _cast(request, poll=poll, card=card, choices=choices, ip=ip)


def _cast(request: HttpRequest, *, poll: Poll, card, choices: list[int], ip: str | None) -> HttpResponse:
    try:
        answer = ballot_cast(
            poll=poll,
            voter=card,
            choices=choices,
            idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()[:128] or None,
            client_ip=ip,
            client_fingerprint=client_fingerprint(request),
        )
    except DomainError as refusal:
        return JsonResponse(refusal.as_body(), status=refusal.http_status)
    except DATABASE_UNAVAILABLE:
        return unavailable_response()
    return HttpResponse(
        json.dumps(answer.body, separators=(",", ":")),
        content_type="application/json",
        status=answer.status_code,
    )


def _rate_limited(wait: int) -> HttpResponse:
    from django.utils.translation import gettext as _

    response = error_response(Code.RATE_LIMITED, _("Too many requests. Try again later."))
    response["Retry-After"] = str(wait)
    return response


@reads_from_replica
def lean_results(request: HttpRequest, slug: str) -> HttpResponse | None:
    poll = selectors.poll_for_public_cached(slug=slug)
    if poll is None:
        return None
    return results_response(request, poll)


def results_response(request: HttpRequest, poll: Poll) -> HttpResponse:
    """The results of a public poll as the API serves them (both paths): the cached
    bytes with an ETag (``304`` on a match) and a public max-age; ``403`` never
    publicly cacheable while they are hidden."""
    try:
        document = selectors.results_document(poll=poll)
    except DomainError as hidden:
        # Only a refusal has words, in the reader's language (its detail is lazy).
        with translation.override(translation.get_language_from_request(request)):
            response = JsonResponse(hidden.as_body(), status=hidden.http_status)
        response["Cache-Control"] = "no-store"
        return response
    if document.etag in _etags(request.META.get("HTTP_IF_NONE_MATCH", "")):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(document.body, content_type="application/json")
    # The same bytes for every reader: labels in the poll's own language, as signed and
    # recounted. Readers of other languages relabel by option id from the poll read
    # (docs/decisions/poll-content-languages.md), so nothing here varies by language.
    response["Content-Language"] = poll.language
    response["ETag"] = document.etag
    response["Cache-Control"] = f"public, max-age={document.max_age}"
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
