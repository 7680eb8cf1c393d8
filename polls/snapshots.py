"""The frozen snapshot of a published poll: its bulletin board (JSON, and the same
ballots as CSV), the results computed from the board alone (as any recount will) and
their signature."""

from django.utils import timezone

from polls.bulletin import board_csv, board_digest, board_document, board_json
from polls.checkpoints import checkpoint_create
from polls.models import Poll, ResultSnapshot
from polls.signing import sign_results
from polls.tally_math import results_from_board


def snapshot_build(*, poll: Poll) -> ResultSnapshot:
    """Freeze board, results and signature (inside the caller's transaction)."""
    now = timezone.now()
    checkpoint_create(poll=poll)
    document = board_document(poll=poll, published_at=now.isoformat())
    text = board_json(document)
    digest = board_digest(text)
    results = results_from_board(document)
    results.update(updated_at=now.isoformat().replace("+00:00", "Z"), digest=digest)
    results["signature"] = sign_results(results)
    return ResultSnapshot.objects.create(
        poll=poll,
        created_at=now,
        results=results,
        board_json=text,
        board_csv=board_csv(document),
        board_digest=digest,
        signature=results["signature"],
    )
