"""Writes of the polls app. Casting a vote lives here; the HTML view and the API
both call ``ballot_cast``."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.voter_cards import VoterCard, voter_card_of
from polls.ballots import ballot_choices_build, ballot_insert_statement, ballot_row
from polls.eligibility import check_voter_eligible
from polls.errors import VoteRefused
from polls.models import Ballot, BallotChoice, IdempotentAnswer, Option, Poll, PollState, PollStatus
from polls.receipts import receipt_new
from voting.errors import Code


@dataclass(frozen=True)
class VoteAnswer:
    """What the voter is told: ``body`` holds the receipt, shown this once."""

    status_code: int
    body: dict
    replayed: bool = False


# ------------------------------------------------------------------ checks


def check_poll_open(*, poll: Poll, moment: datetime) -> None:
    status = poll.status_at(moment)
    if status == PollStatus.OPEN:
        return
    if status == PollStatus.DRAFT:
        raise VoteRefused(Code.NOT_FOUND, _("No such poll."))
    if status == PollStatus.SCHEDULED:
        raise VoteRefused(Code.POLL_NOT_OPEN, _("This poll has not opened yet."))
    raise VoteRefused(Code.POLL_CLOSED, _("This poll is closed."))


def check_choices(*, poll: Poll, choices: list) -> list[Option]:
    """The chosen options, in the voter's order. Raises ``invalid_choice``."""
    if not isinstance(choices, list) or not all(
        isinstance(choice, int) and not isinstance(choice, bool) for choice in choices
    ):
        raise VoteRefused(Code.INVALID_CHOICE, _("Choices must be a list of option ids."))
    if len(set(choices)) != len(choices):
        raise VoteRefused(Code.INVALID_CHOICE, _("Each option may be chosen only once."))
    if not poll.min_choices <= len(choices) <= poll.max_choices:
        if poll.min_choices == poll.max_choices:
            detail = _("Choose exactly %(n)s.") % {"n": poll.min_choices}
        else:
            detail = _("Choose between %(min)s and %(max)s.") % {
                "min": poll.min_choices,
                "max": poll.max_choices,
            }
        raise VoteRefused(Code.INVALID_CHOICE, detail)
    # poll.options is prefetched by the selectors the views use: no query here then.
    wanted = set(choices)
    options = {option.pk: option for option in poll.options.all() if option.pk in wanted}
    if len(options) != len(choices):
        raise VoteRefused(Code.INVALID_CHOICE, _("That is not an option of this poll."))
    return [options[choice] for choice in choices]


def check_ballot_cast(*, poll: Poll, voter, choices: list, moment: datetime) -> list[Option]:
    """Everything that refuses a ballot before anything is written, in the order a
    voter can act on: poll state, then the voter, then the choices."""
    check_poll_open(poll=poll, moment=moment)
    check_voter_eligible(poll=poll, voter=voter)
    return check_choices(poll=poll, choices=choices)


# ------------------------------------------------------------------ casting


def ballot_cast(
    *,
    poll: Poll,
    voter: User | VoterCard,
    choices: list,
    idempotency_key: str | None = None,
    client_ip: str | None = None,
    client_fingerprint: str = "",
) -> VoteAnswer:
    """Cast one ballot and answer with its receipt.

    ``voter`` is the signed-in User, or the VoterCard of one (the lean path's, read
    from the cache instead of the database).

    The ballot, its choices and (with an ``idempotency_key``) the answer to replay
    are written in one transaction (one statement on PostgreSQL); the answer is given
    only after it commits. Raises VoteRefused (nothing written). A retry with the same
    key returns the first answer; the same key with other choices is refused as
    ``idempotency_key_reused``.
    """
    now = timezone.now()
    voter = voter_card_of(voter)
    try:
        options = check_ballot_cast(poll=poll, voter=voter, choices=choices, moment=now)
        receipt = receipt_new()
        body = {
            "receipt": receipt,
            "poll": poll.slug,
            "choices": [option.pk for option in options],
            "cast_at": now.isoformat().replace("+00:00", "Z"),
        }
        answer = None
        if idempotency_key:
            answer = {
                "poll_id": poll.pk,
                "voter_id": voter.pk,
                "key": idempotency_key,
                "request_fingerprint": _request_fingerprint(poll, choices),
                "status_code": HTTPStatus.CREATED,
                "body": body,
                "created_at": now,
            }
        _ballot_write(
            poll=poll,
            voter=voter,
            option_ids=body["choices"],
            moment=now,
            receipt=receipt,
            answer=answer,
            client_ip=client_ip,
            client_fingerprint=client_fingerprint,
        )
    except (VoteRefused, IntegrityError):
        # A retry of a vote that was answered gets that answer, whatever refuses it now
        # (the allowance it used up, the key it claimed, the poll closed since).
        if idempotency_key:
            replay = _idempotent_replay(
                poll=poll, voter=voter, key=idempotency_key, fingerprint=_request_fingerprint(poll, choices)
            )
            if replay is not None:
                return replay
        raise
    return VoteAnswer(status_code=HTTPStatus.CREATED, body=body)


def _ballot_write(
    *,
    poll: Poll,
    voter,
    option_ids: list[int],
    moment: datetime,
    receipt: str,
    answer: dict | None,
    client_ip: str | None,
    client_fingerprint: str,
) -> None:
    """Write the ballot into the first free slot of the voter's period, or refuse.

    The unique (poll, voter, period, slot) index decides: each attempt either takes a
    slot or hits a row someone else committed, so there is no read-then-write race
    and no lock on a shared row.
    """
    if poll.votes_per_period == 1:
        slots = [0]
    else:
        # Start at the first slot likely free; wrap around for gaps left by rollbacks.
        used = Ballot.objects.filter(poll=poll, voter_id=voter.pk, period=poll.period_of(moment)).count()
        slots = list(range(used, poll.votes_per_period)) + list(range(min(used, poll.votes_per_period)))
    for slot in slots:
        ballot = ballot_row(
            poll=poll,
            voter=voter,
            moment=moment,
            receipt=receipt,
            slot=slot,
            client_ip=client_ip,
            client_fingerprint=client_fingerprint,
        )
        try:
            written = _ballot_insert(poll=poll, ballot=ballot, option_ids=option_ids, answer=answer)
        except IntegrityError as conflict:
            if _constraint_of(conflict) == SLOT_CONSTRAINT:
                continue
            raise
        if not written:
            raise _not_open_refusal(poll)
        return
    raise VoteRefused(Code.ALREADY_VOTED, _already_voted_detail(poll))


SLOT_CONSTRAINT = "polls_ballot_one_per_slot"


def _ballot_insert(*, poll: Poll, ballot: dict, option_ids: list[int], answer: dict | None) -> bool:
    """Insert ballot, choices and answer (rows) as one transaction; False when the
    poll's row is not open at the ballot's cast_at, and nothing was written."""
    if connection.in_atomic_block:
        # Durable: only a test's own transaction may hold ours (as a savepoint); any
        # other caller's transaction could still roll back an acknowledged vote.
        with transaction.atomic(durable=True):
            return _ballot_insert_now(poll=poll, ballot=ballot, option_ids=option_ids, answer=answer)
    return _ballot_insert_now(poll=poll, ballot=ballot, option_ids=option_ids, answer=answer)


def _ballot_insert_now(*, poll: Poll, ballot: dict, option_ids: list[int], answer: dict | None) -> bool:
    if connection.vendor == "postgresql":
        # One statement in autocommit: one round trip, and its own transaction.
        sql, params = ballot_insert_statement(poll=poll, ballot=ballot, option_ids=option_ids, answer=answer)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return bool(cursor.fetchall())
    # Embedded default (SQLite, one writer): the same rows through the ORM, after the
    # same check of the poll's row (SQLite's single writer lock holds it till commit).
    with transaction.atomic(durable=not connection.in_atomic_block):
        if not poll_open_at(poll_id=poll.pk, moment=ballot["cast_at"]):
            return False
        if answer is not None:
            IdempotentAnswer.objects.create(**answer)
        saved = Ballot.objects.create(**ballot)
        BallotChoice.objects.bulk_create(ballot_choices_build(poll=poll, ballot=saved, option_ids=option_ids))
    return True


def poll_open_at(*, poll_id: int, moment: datetime) -> bool:
    """Whether the poll's row, as the database holds it now, is open at ``moment``."""
    return (
        Poll.objects.filter(pk=poll_id, state=PollState.SCHEDULED, opens_at__lte=moment, closes_at__gt=moment)
        .filter(Q(closed_early_at__isnull=True) | Q(closed_early_at__gt=moment))
        .exists()
    )


def _constraint_of(conflict: IntegrityError) -> str:
    """The name of the constraint a write hit (PostgreSQL), or "" when unknown."""
    diagnostics = getattr(conflict.__cause__, "diag", None)
    if diagnostics is not None and diagnostics.constraint_name:
        return diagnostics.constraint_name
    # SQLite names the columns instead: the slot index is the one on voter and slot.
    message = str(conflict)
    return SLOT_CONSTRAINT if "polls_ballot.slot" in message else ""


def _not_open_refusal(poll: Poll) -> VoteRefused:
    """Why the database refused a ballot its open check let through: a cache was stale."""
    fresh = Poll.objects.get(pk=poll.pk)
    try:
        check_poll_open(poll=fresh, moment=timezone.now())
    except VoteRefused as refusal:
        return refusal
    return VoteRefused(Code.POLL_CLOSED, _("This poll is closed."))


def _already_voted_detail(poll: Poll) -> str:
    if poll.period == "daily":
        return _("You have used all your votes for today in this poll.")
    return _("You have already voted in this poll.")


def _request_fingerprint(poll: Poll, choices: list) -> str:
    return hashlib.sha256(json.dumps([poll.pk, choices], default=str).encode()).hexdigest()


def _idempotent_replay(*, poll: Poll, voter, key: str, fingerprint: str) -> VoteAnswer | None:
    stored = IdempotentAnswer.objects.filter(poll=poll, voter_id=voter.pk, key=key).first()
    if stored is None:
        return None
    if stored.request_fingerprint != fingerprint:
        raise VoteRefused(
            Code.IDEMPOTENCY_KEY_REUSED,
            _("This Idempotency-Key was already used for a different vote."),
        )
    return VoteAnswer(status_code=stored.status_code, body=stored.body, replayed=True)
