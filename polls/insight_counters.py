"""The agency insight's counters, folded by the tally refresher (polls/tally.py).

Why here and not in ``polls.agency``: the counting side never imports the agency
package (import-linter), and these counters must be written by the same transaction
that marks ballots tallied, so that each ballot enters them exactly once, as it
enters the tally. Reading them is ``polls/agency/insight.py``.

Three tables (polls/models.py, docs/insight.md):

``InsightTurnout``
    every ballot cast, whatever review later decides, per 5-minute bucket of its
    ``cast_at`` x the voter's declared country when folded ("" unknown) x account age
    class at cast time (``new`` younger than ``INSIGHT_NEW_ACCOUNT_AGE``, 30 days).
``InsightOptionHour``
    votes per option per hour among *counted* ballots, as the tally counts them, so
    review (``insight_status_change``) moves them as it moves the tally.
``InsightClientHour``
    ballots per hour x country x client network (/24 or /64) and x client fingerprint:
    the surge rule's "many networks and devices, or one of each".

Each write is one ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table
and batch (PostgreSQL and SQLite both speak it), so a batch of 5,000 ballots costs
three statements more, not one per ballot.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, models
from django.db.models import F

from polls.models import (
    AccountAge,
    BallotStatus,
    ClientKind,
    InsightClientHour,
    InsightOptionHour,
    InsightTurnout,
    Poll,
    VotingMethod,
)

BUCKET_MINUTES = 5
# Rows per INSERT: 6 parameters each stays far below SQLite's 32,766 variables.
UPSERT_CHUNK = 1000

# What the refresher reads of each ballot for these counters (with tally's own fields).
BALLOT_FIELDS = (
    "cast_at",
    "client_network",
    "client_fingerprint",
    "voter__country",
    "voter__date_joined",
)


def new_account_age() -> timedelta:
    """An account younger than this when it cast a ballot counts as ``new``."""
    return getattr(settings, "INSIGHT_NEW_ACCOUNT_AGE", timedelta(days=30))


def bucket_of(moment: datetime) -> datetime:
    """The start of the 5-minute bucket (UTC) holding ``moment``."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % BUCKET_MINUTES, second=0, microsecond=0)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def account_age_of(ballot: dict) -> str:
    joined = ballot.get("voter__date_joined")
    if joined is not None and ballot["cast_at"] - joined < new_account_age():
        return AccountAge.NEW
    return AccountAge.ESTABLISHED


def counted_options(poll: Poll, picks: list[int]) -> list[int]:
    """The options a counted ballot adds a vote to, as polls/tally.py counts them:
    the first preference of a ranked ballot, every pick otherwise."""
    if poll.method == VotingMethod.RANKED:
        return picks[:1]
    return list(picks)


def insight_fold(*, poll: Poll, ballots: list[dict], choices: dict[int, list[int]]) -> None:
    """Add newly tallied ballots to the insight counters. Runs inside the refresher's
    transaction, with the poll's tally row locked; ``ballots`` carry ``id``, ``status``
    and ``BALLOT_FIELDS``, ``choices`` each ballot's option ids in rank order."""
    turnout: Counter[tuple] = Counter()
    clients: Counter[tuple] = Counter()
    options: Counter[tuple] = Counter()
    for ballot in ballots:
        country = ballot.get("voter__country") or ""
        hour = hour_of(ballot["cast_at"])
        turnout[(bucket_of(ballot["cast_at"]), country, account_age_of(ballot))] += 1
        clients[(hour, country, ClientKind.NETWORK.value, ballot["client_network"] or "")] += 1
        clients[(hour, country, ClientKind.FINGERPRINT.value, ballot["client_fingerprint"] or "")] += 1
        if ballot["status"] == BallotStatus.COUNTED:
            for option_id in counted_options(poll, choices.get(ballot["id"], [])):
                options[(hour, option_id)] += 1
    _upsert_add(InsightTurnout, poll, ("bucket", "country", "account_age"), "ballots", turnout)
    _upsert_add(InsightClientHour, poll, ("hour", "country", "kind", "key"), "ballots", clients)
    _upsert_add(InsightOptionHour, poll, ("hour", "option"), "votes", options)


def insight_status_change(
    *, poll: Poll, ballots: Iterable[dict], choices: dict[int, list[int]], status: str
) -> None:
    """Keep the option series right when review moves tallied ballots to ``status``:
    a ballot leaving ``counted`` takes its votes out of its hour, one entering it puts
    them back. Turnout and client counters count ballots cast, so they do not move."""
    options: Counter[tuple] = Counter()
    for ballot in ballots:
        was_counted = ballot["status"] == BallotStatus.COUNTED
        now_counted = status == BallotStatus.COUNTED
        if was_counted == now_counted:
            continue
        sign = 1 if now_counted else -1
        for option_id in counted_options(poll, choices.get(ballot["id"], [])):
            options[(hour_of(ballot["cast_at"]), option_id)] += sign
    _upsert_add(InsightOptionHour, poll, ("hour", "option"), "votes", options)


def _upsert_add(
    model: type[models.Model], poll: Poll, key_fields: tuple[str, ...], value_field: str, deltas: Counter
) -> None:
    rows = [(key, delta) for key, delta in sorted(deltas.items()) if delta > 0]
    # Taking away (review) only touches rows that exist: an UPDATE each, as the proposed
    # row of an upsert is checked against "not negative" before the conflict is found.
    for key, delta in sorted(deltas.items()):
        if delta < 0:
            model.objects.filter(poll=poll, **dict(zip(key_fields, key, strict=True))).update(
                **{value_field: F(value_field) + delta}
            )
    if not rows:
        return
    meta = model._meta
    fields = [meta.get_field(name) for name in ("poll", *key_fields)]
    value = meta.get_field(value_field)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [quote(field.column) for field in fields]
    placeholders = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    target = quote(value.column)
    for start in range(0, len(rows), UPSERT_CHUNK):
        chunk = rows[start : start + UPSERT_CHUNK]
        params: list = []
        for key, delta in chunk:
            for field, raw in zip(fields, (poll.pk, *key), strict=True):
                params.append(field.get_db_prep_value(raw, connection))
            params.append(delta)
        # Identifiers come from the model's metadata; every value is a parameter.
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}, {target}) "  # noqa: S608
            f"VALUES {', '.join([placeholders] * len(chunk))} "
            f"ON CONFLICT ({', '.join(columns)}) "
            f"DO UPDATE SET {target} = {table}.{target} + EXCLUDED.{target}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
