from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.utils import timezone

from polls.ballots import ballot_build
from polls.receipts import receipt_new
from tests.factories import UserFactory


@pytest.fixture
def run_task_worker(monkeypatch):
    """Run the task engine's own worker (``manage.py db_worker --batch``) in this
    process until the queue is empty: tasks go through the real database backend,
    claimed, run and marked as in production. Its connection recycling is left out:
    it would close the test's transaction (the kill test runs the worker as a real
    process instead)."""
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)

    def run() -> None:
        call_command("db_worker", batch=True, reload=False, startup_delay=False, queue_name="*", verbosity=0)

    return run


def vote(poll, voter, *, slot: int = 0, receipt: str | None = None):
    """A ballot of ``voter`` in ``poll`` now (choices do not matter to notifications)."""
    ballot = ballot_build(
        poll=poll, voter=voter, moment=timezone.now(), receipt=receipt or receipt_new(), slot=slot
    )
    ballot.save()
    return ballot


def fans(count: int, **kwargs) -> list:
    return [UserFactory(verified=True, **kwargs) for _ in range(count)]


__all__ = ["HTTPStatus", "fans", "timedelta", "vote"]
