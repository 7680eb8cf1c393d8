from http import HTTPStatus

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from polls.worker import worker_age_seconds


def healthz(request):
    """Liveness of the database and the cache; a load balancer polls this."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("healthz", "ok", 5)
        checks["cache"] = "ok" if cache.get("healthz") == "ok" else "error: no round trip"
    except Exception as exc:  # noqa: BLE001
        checks["cache"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    # A stalled worker makes results stale but never stops voting: shown, not fatal.
    age = worker_age_seconds()
    worker = {"last_step_seconds_ago": None if age is None else round(age, 1)}
    worker["status"] = (
        "never_ran" if age is None else ("ok" if age <= settings.WORKER_STALE_AFTER else "stale")
    )
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks, "worker": worker},
        status=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
    )
