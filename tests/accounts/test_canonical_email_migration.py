"""Migration 0003 gives existing accounts their canonical address without failing on
aliases made before the rule: the oldest account of an inbox keeps it."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0002_one_account_per_verified_phone")]
AFTER = [("accounts", "0003_user_canonical_email")]


@pytest.fixture
def migrator(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_aliases_leave_the_oldest_account_the_canonical_address(migrator, capsys):
    User = migrator.loader.project_state(BEFORE).apps.get_model("accounts", "User")
    for day, email in enumerate(["mina.kim+2@gmail.com", "minakim@gmail.com", "solo+x@example.com"], start=1):
        User.objects.create(email=email, date_joined=datetime(2026, 1, day, tzinfo=UTC))

    migrator.loader.build_graph()
    migrator.migrate(AFTER)

    User = migrator.loader.project_state(AFTER).apps.get_model("accounts", "User")
    canonical = dict(User.objects.values_list("email", "canonical_email"))
    assert canonical == {
        "mina.kim+2@gmail.com": "minakim@gmail.com",
        "minakim@gmail.com": None,
        "solo+x@example.com": "solo@example.com",
    }
    assert "minakim@gmail.com" in capsys.readouterr().out
