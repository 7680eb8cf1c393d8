"""Rate limits by scope, on django-ratelimit's counters in the shared cache.

Each scope (``settings.RATE_LIMITS``) lists rules as (who, rate): ``account`` counts
per signed-in user, ``ip`` per client address (request.client_ip, proxies resolved),
``network`` per /24 (IPv4) or /64 (IPv6). Every rule costs cache round trips on the
request, so a scope lists only the rules that buy protection there.
"""

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from accounts.client_ip import network_of

logger = logging.getLogger("encore.ratelimits")


def _who(request: HttpRequest, kind: str) -> str | None:
    if kind == "account":
        user = getattr(request, "user", None)
        return f"u{user.pk}" if user is not None and user.is_authenticated else None
    ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
    if not ip:
        return None
    return ip if kind == "ip" else network_of(ip)


def rate_limit(request: HttpRequest, scope: str) -> None:
    """Count this request against every rule of ``scope``; raise Ratelimited (with
    ``request.ratelimit_retry_after`` set) when one is over its rate."""
    for kind, rate in settings.RATE_LIMITS.get(scope, ()):
        value = _who(request, kind)
        if value is None:
            continue
        usage = get_usage(
            request,
            group=f"{scope}:{kind}",
            key=lambda _group, _request, v=value: v,
            rate=rate,
            increment=True,
        )
        if usage is None:
            # The cache could not count (RATELIMIT_FAIL_OPEN): let it through, loudly.
            logger.warning("rate limit %s:%s not counted: cache unavailable", scope, kind)
            continue
        if usage["should_limit"]:
            request.ratelimit_retry_after = max(1, usage["time_left"])
            raise Ratelimited()


def rate_limited(scope: str, methods: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")) -> Callable:
    """View decorator: apply ``rate_limit(request, scope)`` to the given methods."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            # DRF passes its own Request; django-ratelimit wants the Django one.
            django_request = getattr(request, "_request", request)
            if django_request.method in methods:
                rate_limit(django_request, scope)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
