"""Checkpoints: while a poll is open, a published count and digest of every ballot
so far, chained like a ledger. The final bulletin board must agree with each one,
so a ballot cannot be slipped in behind a checkpoint, nor dropped, unnoticed."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from polls.bulletin import ballot_rows
from polls.models import Ballot, Checkpoint, Poll, PollState
from polls.tally import lock_poll_tally
from polls.tally_math import GENESIS_DIGEST, ballot_line, checkpoint_digest


def checkpoint_create(*, poll: Poll) -> Checkpoint | None:
    """Commit to every ballot not yet in a checkpoint; None when there is none new.

    Two machines doing this at once compute the same next ``seq``; the unique
    (poll, seq) constraint lets one win and the other's transaction roll back whole.
    """
    try:
        with transaction.atomic():
            # Same lock order as the tally refresher (tally row, then ballots).
            lock_poll_tally(poll)
            previous = Checkpoint.objects.filter(poll=poll).order_by("-seq").first()
            seq = previous.seq + 1 if previous else 1
            ids = list(
                Ballot.objects.select_for_update()
                .filter(poll=poll, checkpoint__isnull=True)
                .values_list("id", flat=True)
            )
            if not ids:
                return None
            Ballot.objects.filter(id__in=ids).update(checkpoint=seq)
            lines = [
                ballot_line(
                    receipt_hash=row["receipt_hash"],
                    voter_tag=row["voter_tag"],
                    choices=row["choices"],
                    day=row["day"],
                )
                for row in ballot_rows(poll=poll, ballot_filter={"checkpoint": seq})
            ]
            return Checkpoint.objects.create(
                poll=poll,
                seq=seq,
                count=(previous.count if previous else 0) + len(lines),
                digest=checkpoint_digest(previous.digest if previous else GENESIS_DIGEST, lines),
            )
    except IntegrityError:
        return None


def polls_due_for_checkpoint(*, now=None) -> list[Poll]:
    """Open or closed, unpublished polls whose last checkpoint is older than the interval."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.CHECKPOINT_INTERVAL)
    candidates = Poll.objects.filter(state=PollState.SCHEDULED, opens_at__lte=now)
    due = []
    for poll in candidates:
        last = Checkpoint.objects.filter(poll=poll).order_by("-seq").first()
        if last is None or last.created_at <= now - interval:
            due.append(poll)
    return due
