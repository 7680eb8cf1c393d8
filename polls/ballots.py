"""How a ballot row is built: the one place that knows every field of a ballot and of
its choices. The vote service saves one at a time; demo seeding and the benchmark
build many and save them in bulk."""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from accounts.client_ip import network_of
from polls.models import Ballot, BallotChoice, Poll, VotingMethod
from polls.receipts import receipt_hash


def ballot_build(
    *,
    poll: Poll,
    voter,
    moment: datetime,
    receipt: str,
    slot: int = 0,
    client_ip: str | None = None,
    client_fingerprint: str = "",
) -> Ballot:
    """An unsaved ballot cast at ``moment``, counting against the voter's period and
    ``slot`` of the allowance. ``voter`` is a User or a VoterCard (only its ``pk`` is
    read). Only the receipt's hash is kept."""
    return Ballot(
        poll=poll,
        voter_id=voter.pk,
        period=poll.period_of(moment),
        slot=slot,
        day=poll.local_day(moment),
        cast_at=moment,
        receipt_hash=receipt_hash(receipt),
        client_ip=client_ip,
        client_network=network_of(client_ip) if client_ip else "",
        client_fingerprint=client_fingerprint,
    )


def ballot_choices_build(*, poll: Poll, ballot: Ballot, option_ids: Sequence[int]) -> list[BallotChoice]:
    """The unsaved choices of a saved ballot, in the voter's order: ranked polls keep
    the order as ranks 1, 2, ...; other methods give every choice rank 1."""
    ranked = poll.method == VotingMethod.RANKED
    return [
        BallotChoice(poll=poll, ballot=ballot, option_id=option_id, rank=index + 1 if ranked else 1)
        for index, option_id in enumerate(option_ids)
    ]


# ------------------------------------------------------------------ one statement (PostgreSQL)

# The poll row as the database holds it when the statement runs, not as a worker's
# cache remembers it, must be open at the ballot's cast_at: whatever the cache believes,
# no ballot enters after closes_at, an early close or a cancellation.
OPEN_POLL_SQL = """
    SELECT id FROM polls_poll
    WHERE id = %s AND state = 'scheduled' AND opens_at <= %s AND closes_at > %s
      AND (closed_early_at IS NULL OR closed_early_at > %s)
"""


@lru_cache(maxsize=8)
def _insert_columns(model, vendor: str) -> tuple[str, tuple, str]:
    """Quoted table, the fields to insert (every concrete one but the automatic primary
    key) and their quoted column list, once per model."""
    from django.db import connection

    fields = tuple(field for field in model._meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), fields, ", ".join(quote(field.column) for field in fields)


def _insert_parts(instance, connection) -> tuple[str, str, list]:
    """Table, columns and database values of an unsaved model row, as Django would
    insert it."""
    table, fields, columns = _insert_columns(type(instance), connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    return table, columns, values


def ballot_insert_statement(
    *, ballot: Ballot, option_ids: Sequence[int], answer=None, connection
) -> tuple[str, list]:
    """One data-modifying statement that inserts the ballot, its choices and (``answer``,
    an unsaved IdempotentAnswer) the answer to replay, only if the poll's row is open
    at the ballot's ``cast_at``. It returns the ballot's id once per choice, or no row when the
    poll is not open. Being one statement, it is its own transaction in autocommit:
    one round trip, and the unique indexes refuse a second ballot or key."""
    # Only identifiers from the models and placeholders are formatted into the text;
    # every value travels as a parameter.
    table, columns, values = _insert_parts(ballot, connection)
    placeholders = ", ".join(["%s"] * len(values))
    sql = [
        f"WITH open_poll AS ({OPEN_POLL_SQL}),",
        f" new_ballot AS (INSERT INTO {table} ({columns}) SELECT {placeholders} FROM open_poll RETURNING id)",
    ]
    moment = ballot._meta.get_field("cast_at").get_db_prep_save(ballot.cast_at, connection)
    params = [ballot.poll_id, moment, moment, moment, *values]
    if answer is not None:
        answer_table, answer_columns, answer_values = _insert_parts(answer, connection)
        sql.append(
            f", new_answer AS (INSERT INTO {answer_table} ({answer_columns})"
            f" SELECT {', '.join(['%s'] * len(answer_values))} FROM open_poll)"
        )
        params += answer_values
    choices = ballot_choices_build(poll=ballot.poll, ballot=ballot, option_ids=option_ids)
    rows = ", ".join(["(%s::integer, %s::smallint)"] * len(choices))
    sql.append(
        " INSERT INTO polls_ballotchoice (poll_id, ballot_id, option_id, rank)"
        f" SELECT %s, new_ballot.id, choice.option_id, choice.rank FROM new_ballot,"
        f" (VALUES {rows}) AS choice(option_id, rank) RETURNING ballot_id"
    )
    params.append(ballot.poll_id)
    for choice in choices:
        params += [choice.option_id, choice.rank]
    return "".join(sql), params
