"""Public reads from read replicas, everything else from the primary.

A view that serves the public (poll lists and pages, results, bulletin boards,
checkpoints) reads inside ``public_reads()`` (or is decorated ``@reads_from_replica``);
only then does the router send reads to a replica (``settings.DATABASE_REPLICAS``, one
per request, at random). Writes, and every read outside such a block (a voter's own
ballots and receipts, agency pages, sign-in), go to the primary, so nobody reads back
their own write from a replica that has not replayed it yet.
"""

import random
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.conf import settings

_replica: ContextVar[str | None] = ContextVar("encore_replica", default=None)


@contextmanager
def public_reads():
    replicas = settings.DATABASE_REPLICAS
    token = _replica.set(random.choice(replicas) if replicas else None)  # noqa: S311 - load spreading
    try:
        yield
    finally:
        _replica.reset(token)


def reads_from_replica(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        with public_reads():
            return view(*args, **kwargs)

    return wrapped


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        return _replica.get() or "default"

    def db_for_write(self, model, **hints) -> str:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == "default"
