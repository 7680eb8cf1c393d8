"""The bulletin board: every ballot of a poll, without voter identity, in a canonical
form that anyone can download, hash and recount (``python -m polls.recount``).

The JSON download is ``json.dumps(document, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8; its SHA-256 is the published digest. Ballots
are ordered by receipt hash, so the order says nothing about who voted when.
"""

import csv
import hashlib
import hmac
import io
import json
from collections import defaultdict
from collections.abc import Iterator

from polls.models import Ballot, BallotChoice, Checkpoint, Poll

BOARD_FORMAT = "encore-bulletin-board/1"
CSV_COLUMNS = ["receipt_hash", "voter_tag", "choices", "day", "status", "reason", "checkpoint"]


def voter_tag(poll: Poll, voter_id: int) -> str:
    """HMAC-SHA256 of the voter under the poll's own secret: the same voter always
    has the same tag in one poll, so the allowance can be checked by anyone, and
    tags of different polls cannot be linked."""
    return hmac.new(poll.voter_tag_secret.encode(), str(voter_id).encode(), hashlib.sha256).hexdigest()[:32]


def ballot_rows(*, poll: Poll, ballot_filter: dict | None = None) -> Iterator[dict]:
    """Board rows, ordered by receipt hash: one query for ballots, one for choices."""
    ballots = Ballot.objects.filter(poll=poll, **(ballot_filter or {})).order_by("receipt_hash")
    fields = ("id", "receipt_hash", "voter_id", "day", "status", "status_reason", "checkpoint")
    rows = list(ballots.values(*fields))
    picks: dict[int, list[int]] = defaultdict(list)
    choices = BallotChoice.objects.filter(ballot_id__in=[row["id"] for row in rows]).order_by(
        "ballot_id", "rank", "id"
    )
    for ballot_id, option_id in choices.values_list("ballot_id", "option_id"):
        picks[ballot_id].append(option_id)
    for row in rows:
        yield {
            "receipt_hash": row["receipt_hash"],
            "voter_tag": voter_tag(poll, row["voter_id"]),
            "choices": picks[row["id"]],
            "day": row["day"].isoformat(),
            "status": row["status"],
            "reason": row["status_reason"],
            "checkpoint": row["checkpoint"],
        }


def board_document(*, poll: Poll, published_at: str) -> dict:
    checkpoints = Checkpoint.objects.filter(poll=poll).order_by("seq")
    return {
        "format": BOARD_FORMAT,
        "poll": {
            "slug": poll.slug,
            "title": poll.title,
            "kind": poll.kind,
            "method": poll.method,
            "min_choices": poll.min_choices,
            "max_choices": poll.max_choices,
            "votes_per_period": poll.votes_per_period,
            "period": poll.period,
            "timezone": poll.timezone,
            "opens_at": poll.opens_at.isoformat(),
            "closes_at": poll.effective_closes_at.isoformat(),
            "published_at": published_at,
        },
        "options": [{"id": option.pk, "label": option.label} for option in poll.options.all()],
        "checkpoints": [checkpoint_row(checkpoint) for checkpoint in checkpoints],
        "ballots": list(ballot_rows(poll=poll)),
    }


def checkpoint_row(checkpoint: Checkpoint) -> dict:
    return {
        "seq": checkpoint.seq,
        "count": checkpoint.count,
        "digest": checkpoint.digest,
        "created_at": checkpoint.created_at.isoformat().replace("+00:00", "Z"),
    }


def board_json(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def board_digest(board_text: str) -> str:
    return hashlib.sha256(board_text.encode("utf-8")).hexdigest()


def board_csv(document: dict) -> str:
    """The same ballots as CSV; choices are option ids joined by spaces, in rank order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ballot in document["ballots"]:
        writer.writerow(
            [
                ballot["receipt_hash"],
                ballot["voter_tag"],
                " ".join(str(choice) for choice in ballot["choices"]),
                ballot["day"],
                ballot["status"],
                ballot["reason"],
                "" if ballot["checkpoint"] is None else ballot["checkpoint"],
            ]
        )
    return out.getvalue()
