"""Bare Django views: what this box does with Django and nothing of Encore in the way.

Each view does one thing with a raw ``connection.cursor()`` on tables the benchmark
creates itself (no migration, no model), so that the vote can be read as a ratio of
them: an INSERT of one row, ``votes = votes + 1`` on one row (what ``F("votes") + 1``
compiles to) and a small JSON document with no database at all. bench/bare_settings.py
serves them with no middleware; bench/settings.py also mounts them under ``/bench/``
beside Encore's URLs, behind Encore's full middleware stack.

This module is also the URLconf of bench/bare_settings.py (``urlpatterns`` below).
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

# Created by bench/run.py before any server starts; bench_row is emptied each run.
TABLES_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_row ("
    " id bigserial PRIMARY KEY,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " payload text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bench_counter (id integer PRIMARY KEY, votes bigint NOT NULL DEFAULT 0)",
    "INSERT INTO bench_counter (id, votes) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
)

# About the size of a live results document of a three-option poll.
DOCUMENT = {
    "poll": "bench",
    "status": "live",
    "ballots": 5000,
    "options": [
        {"id": 1, "label": "Seoul", "votes": 2500, "share": 0.5},
        {"id": 2, "label": "Tokyo", "votes": 1500, "share": 0.3},
        {"id": 3, "label": "Madrid", "votes": 1000, "share": 0.2},
    ],
}


def tables_ensure() -> None:
    """Create the baseline tables when missing and empty bench_row."""
    with connection.cursor() as cursor:
        for statement in TABLES_SQL:
            cursor.execute(statement)
        cursor.execute("TRUNCATE bench_row")


# The write baselines are POSTs like a vote; csrf_exempt matters only under Encore's
# middleware (the bare server has none).
@csrf_exempt
def row_insert(request: HttpRequest) -> HttpResponse:
    """INSERT one row, autocommit: one statement, one commit, no checks."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (payload) VALUES (%s) RETURNING id", ["vote"])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


@csrf_exempt
def counter_increment(request: HttpRequest) -> HttpResponse:
    """``votes = votes + 1`` on one row, autocommit: every request waits its turn on it."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bench_counter SET votes = votes + 1 WHERE id = 1 RETURNING votes")
        (votes,) = cursor.fetchone()
    return JsonResponse({"votes": votes})


def small_json(request: HttpRequest) -> HttpResponse:
    """A small JSON document, no database, no cache."""
    return JsonResponse(DOCUMENT)


urlpatterns = [
    path("insert/", row_insert, name="bench-insert"),
    path("counter/", counter_increment, name="bench-counter"),
    path("json/", small_json, name="bench-json"),
]
