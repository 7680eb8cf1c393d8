from http import HTTPStatus

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from polls.notifications.selectors import oldest_waiting_task_seconds
from polls.worker import worker_age_seconds
from voting.errors import Code


def healthz(request):
    """What a load balancer and an operator need to know.

    Only the database makes this node unable to serve (503). A cache outage or a
    stalled worker degrade it (rate limits fail open, results go stale) but votes stay
    correct, so the node keeps taking traffic and says "degraded" (200).
    """
    checks = {"database": _database_check(), "cache": _cache_check()}
    age = worker_age_seconds()
    worker = {"last_step_seconds_ago": None if age is None else round(age, 1)}
    worker["status"] = (
        "never_ran" if age is None else ("ok" if age <= settings.WORKER_STALE_AFTER else "stale")
    )
    tasks = {"oldest_waiting_seconds": None}
    if checks["database"] == "ok":
        waiting = oldest_waiting_task_seconds()
        tasks["oldest_waiting_seconds"] = None if waiting is None else round(waiting, 1)
    # Tasks waiting longer than this mean no task worker is taking them (notifications).
    tasks["status"] = "stale" if (tasks["oldest_waiting_seconds"] or 0) > settings.TASKS_STALE_AFTER else "ok"
    if checks["database"] != "ok":
        status = "unhealthy"
    elif checks["cache"] != "ok" or worker["status"] == "stale" or tasks["status"] == "stale":
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse(
        {"status": status, "checks": checks, "worker": worker, "tasks": tasks},
        status=Code.UNAVAILABLE.status if status == "unhealthy" else HTTPStatus.OK,
    )


def _database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _cache_check() -> str:
    try:
        cache.set("healthz", "ok", 5)
        return "ok" if cache.get("healthz") == "ok" else "error: no round trip"
    except Exception as exc:  # noqa: BLE001
        return f"error: {exc.__class__.__name__}"
