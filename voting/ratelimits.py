"""Rate limits by scope, counted in the shared cache.

Each scope (``settings.RATE_LIMITS``) lists rules as (who, rate): ``account`` counts
per signed-in user (or per agency API token), ``ip`` per client address (request.client_ip, proxies resolved),
``network`` per /24 (IPv4) or /64 (IPv6).

On Redis every rule of a scope is counted by one Lua script call: one round trip for
the whole scope (django-ratelimit's counters cost two per rule). Each counter is a
fixed window that starts at its first hit and expires with it, so ``Retry-After`` is
the counter's time to live. Without Redis (the demo's local cache, or the database
cache of a machine without Redis) django-ratelimit counts, rule by rule.
"""

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from accounts.client_ip import network_of

logger = logging.getLogger("encore.ratelimits")

# count(key, limit, period): add one to a window counter; the seconds to wait when it
# is over its limit, else 0. Shared by the scope script below and the lean vote gate.
COUNT_LUA = """
local function count(key, limit, period)
  local hits = redis.call('INCR', key)
  if hits == 1 then redis.call('EXPIRE', key, period) end
  if hits <= limit then return 0 end
  local ttl = redis.call('TTL', key)
  if ttl < 0 then redis.call('EXPIRE', key, period); ttl = period end
  return math.max(ttl, 1)
end
"""

# ARGV: key, limit, period for each rule, in the scope's order; stops at the first
# rule over its limit, as django-ratelimit does.
SCOPE_LUA = (
    COUNT_LUA
    + """
for i = 1, #ARGV, 3 do
  local wait = count(ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))
  if wait > 0 then return wait end
end
return 0
"""
)

RATE_PATTERN = re.compile(r"^(\d+)/(\d*)([smhd])$")
SECONDS_OF_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/m"`` is (20, 60); ``"5/10m"`` is (5, 600)."""
    match = RATE_PATTERN.match(rate.strip())
    if match is None:
        raise ValueError(f"not a rate: {rate!r}")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * SECONDS_OF_UNIT[unit]


def counter_key(scope: str, kind: str, rate: str, value: str) -> str:
    return f"{settings.LEAN_KEY_PREFIX}rl:{scope}:{kind}:{rate}:{value}"


def scope_counters(scope: str, values: dict[str, str | None]) -> list[str]:
    """The script arguments for ``scope``'s rules whose subject is known in ``values``
    (``account``, ``ip``, ``network``): key, limit and period of each."""
    arguments: list[str] = []
    for kind, rate in settings.RATE_LIMITS.get(scope, ()):
        value = values.get(kind)
        if value is None:
            continue
        limit, period = parse_rate(rate)
        arguments += [counter_key(scope, kind, rate, value), str(limit), str(period)]
    return arguments


def redis_counting() -> bool:
    return bool(settings.REDIS_URL)


def _scope_script():
    from django_redis import get_redis_connection

    connection = get_redis_connection("default")
    script = getattr(connection, "_encore_scope_script", None)
    if script is None:
        script = connection.register_script(SCOPE_LUA)
        connection._encore_scope_script = script
    return script


def count_in_redis(scope: str, values: dict[str, str | None]) -> int | None:
    """Count one request against ``scope`` in one round trip; the seconds to wait if
    over a limit, 0 if not, None if Redis could not count (fail open)."""
    arguments = scope_counters(scope, values)
    if not arguments:
        return 0
    try:
        return int(_scope_script()(args=arguments))
    except Exception:  # noqa: BLE001 - any Redis failure: fail open, loudly
        logger.warning("rate limit %s not counted: cache unavailable", scope)
        return None


def subjects(request: HttpRequest, kinds: Iterable[str]) -> dict[str, str | None]:
    return {kind: _who(request, kind) for kind in kinds}


def _who(request: HttpRequest, kind: str) -> str | None:
    if kind == "account":
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        # An agency API token is counted as an account of its own (accounts/principals.py).
        return getattr(user, "rate_limit_subject", None) or f"u{user.pk}"
    ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
    if not ip:
        return None
    return ip if kind == "ip" else network_of(ip)


def rate_limit(request: HttpRequest, scope: str) -> None:
    """Count this request against every rule of ``scope``; raise Ratelimited (with
    ``request.ratelimit_retry_after`` set) when one is over its rate."""
    if redis_counting():
        rules = settings.RATE_LIMITS.get(scope, ())
        wait = count_in_redis(scope, subjects(request, {kind for kind, _rate in rules}))
        if wait:
            request.ratelimit_retry_after = wait
            raise Ratelimited()
        return
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
