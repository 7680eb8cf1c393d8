"""How a ballot row is built: the one place that knows every field of a ballot and of
its choices. The vote service saves one at a time; demo seeding and the benchmark
build many and save them in bulk."""

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from accounts.client_ip import network_of
from polls.models import Ballot, BallotChoice, IdempotentAnswer, Poll, VotingMethod
from polls.receipts import receipt_hash


def ballot_row(
    *,
    poll: Poll,
    voter,
    moment: datetime,
    receipt: str,
    slot: int = 0,
    client_ip: str | None = None,
    client_fingerprint: str = "",
) -> dict[str, Any]:
    """Every column of a ballot cast at ``moment``, counting against the voter's period
    and ``slot`` of the allowance, by field attname (the model's defaults for the
    rest). ``voter`` is a User or a VoterCard (only its ``pk`` is read). Only the
    receipt's hash is kept."""
    return {
        **_defaults(Ballot),
        "poll_id": poll.pk,
        "voter_id": voter.pk,
        "period": poll.period_of(moment),
        "slot": slot,
        "day": poll.local_day(moment),
        "cast_at": moment,
        "receipt_hash": receipt_hash(receipt),
        "client_ip": client_ip,
        "client_network": network_of(client_ip) if client_ip else "",
        "client_fingerprint": client_fingerprint,
    }


def ballot_build(**row_arguments) -> Ballot:
    """The same ballot as an unsaved model instance (``ballot_row``'s arguments), for
    saving through the ORM or in bulk."""
    return Ballot(**ballot_row(**row_arguments))


def choice_rows(*, poll: Poll, option_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(option id, rank) of each choice, in the voter's order: ranked polls keep the
    order as ranks 1, 2, ...; other methods give every choice rank 1."""
    ranked = poll.method == VotingMethod.RANKED
    return [(option_id, index + 1 if ranked else 1) for index, option_id in enumerate(option_ids)]


def ballot_choices_build(*, poll: Poll, ballot: Ballot, option_ids: Sequence[int]) -> list[BallotChoice]:
    """The unsaved choices of a saved ballot."""
    return [
        BallotChoice(poll=poll, ballot=ballot, option_id=option_id, rank=rank)
        for option_id, rank in choice_rows(poll=poll, option_ids=option_ids)
    ]


@lru_cache(maxsize=8)
def _fields(model) -> tuple:
    """The fields of a row to insert: every concrete one but the automatic primary key."""
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@lru_cache(maxsize=8)
def _static_defaults(model) -> tuple[tuple[str, Any], ...]:
    return tuple((field.attname, field.get_default()) for field in _fields(model))


def _defaults(model) -> dict[str, Any]:
    return dict(_static_defaults(model))


# ------------------------------------------------------------------ one statement (PostgreSQL)

# The poll row as the database holds it when the statement runs, not as a worker's
# cache remembers it, must be open at the ballot's cast_at: whatever the cache believes,
# no ballot enters after closes_at, an early close or a cancellation.
#
# FOR KEY SHARE holds the row from this check to the vote's commit. It is the lock the
# ballot's foreign key takes on the poll row anyway (at commit, the constraint being
# deferred), taken at the check instead: votes do not block one another, but closing
# and publishing (SELECT ... FOR UPDATE) wait for every vote that passed the check to
# commit, and a vote that comes to the row while they hold it waits, then re-checks
# the row as they left it (closed, published) and is refused. So an acknowledged vote
# is always on the published board (docs/decisions/publishing-after-in-flight-votes.md).
OPEN_POLL_SQL = """
    SELECT id FROM polls_poll
    WHERE id = %s::integer AND state = 'scheduled'
      AND opens_at <= %s::timestamptz AND closes_at > %s::timestamptz
      AND (closed_early_at IS NULL OR closed_early_at > %s::timestamptz)
    FOR KEY SHARE
"""


@lru_cache(maxsize=8)
def _insert_columns(model, vendor: str) -> tuple[str, str, str]:
    """Quoted table, quoted column list and the typed placeholders of a row of
    ``model``, once per model: each value is cast to its column's type, so plain
    Python values bind the same way with client- or server-side binding."""
    from django.db import connection

    quote = connection.ops.quote_name
    fields = _fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in fields)
    return quote(model._meta.db_table), columns, placeholders


def _row_values(model, row: dict[str, Any]) -> list:
    return [row[field.attname] for field in _fields(model)]


def ballot_insert_statement(
    *, poll: Poll, ballot: dict[str, Any], option_ids: Sequence[int], answer: dict[str, Any] | None = None
) -> tuple[str, list]:
    """One data-modifying statement that inserts the ballot (a ``ballot_row``), its
    choices and (``answer``, a row of IdempotentAnswer) the answer to replay, only if
    the poll's row is open at the ballot's ``cast_at``. It returns the ballot's id once
    per choice, or no row when the poll is not open. Being one statement, it is its own
    transaction in autocommit: one round trip, and the unique indexes refuse a second
    ballot or key."""
    from django.db import connection

    # Only identifiers from the models and placeholders are formatted into the text;
    # every value travels as a parameter.
    table, columns, placeholders = _insert_columns(Ballot, connection.vendor)
    moment = ballot["cast_at"]
    sql = [
        f"WITH open_poll AS ({OPEN_POLL_SQL}),",
        f" new_ballot AS (INSERT INTO {table} ({columns}) SELECT {placeholders} FROM open_poll RETURNING id)",
    ]
    params = [poll.pk, moment, moment, moment, *_row_values(Ballot, ballot)]
    if answer is not None:
        answer_table, answer_columns, answer_placeholders = _insert_columns(
            IdempotentAnswer, connection.vendor
        )
        sql.append(
            f", new_answer AS (INSERT INTO {answer_table} ({answer_columns})"
            f" SELECT {answer_placeholders} FROM open_poll)"
        )
        params += _row_values(IdempotentAnswer, {**answer, "body": json.dumps(answer["body"])})
    choices = choice_rows(poll=poll, option_ids=option_ids)
    rows = ", ".join(["(%s::integer, %s::smallint)"] * len(choices))
    sql.append(
        " INSERT INTO polls_ballotchoice (poll_id, ballot_id, option_id, rank)"
        f" SELECT %s::integer, new_ballot.id, choice.option_id, choice.rank FROM new_ballot,"
        f" (VALUES {rows}) AS choice(option_id, rank) RETURNING ballot_id"
    )
    params.append(poll.pk)
    for option_id, rank in choices:
        params += [option_id, rank]
    return "".join(sql), params
