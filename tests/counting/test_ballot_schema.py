"""Every unique constraint and index on the ballot tables includes the poll: what Citus
needs to distribute ballots by poll, and what PostgreSQL's declarative partitioning by
poll needs before it. Read from the database itself, not from the models.

The primary keys (``id``) are the one exception, named here on purpose: moving to Citus
turns them into (poll, id), a step of its own (docs/scaling.md).
"""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

BALLOT_TABLES = ("polls_ballot", "polls_ballotchoice")


def indexes_and_unique_constraints(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: details["columns"]
        for name, details in constraints.items()
        if (details["index"] or details["unique"]) and not details["primary_key"]
    }


@pytest.mark.parametrize("table", BALLOT_TABLES)
def test_every_unique_constraint_and_index_on_ballot_tables_includes_the_poll(table):
    found = indexes_and_unique_constraints(table)

    assert found, f"no index read from {table}"
    assert {name: columns for name, columns in found.items() if "poll_id" not in columns} == {}


def test_the_allowance_stays_a_unique_constraint_that_includes_the_poll():
    found = indexes_and_unique_constraints("polls_ballot")

    assert ["poll_id", "voter_id", "period", "slot"] in found.values()
