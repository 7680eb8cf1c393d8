"""Publishing a closed poll: the bulletin board, the results that follow from it, and
their signature, frozen together in one transaction."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.services import audit_record
from polls.bulletin import board_digest, board_document, board_json
from polls.checkpoints import checkpoint_create
from polls.errors import PollChangeRefused
from polls.lifecycle import check_member, check_mfa
from polls.models import Poll, PollState, PollStatus, ResultSnapshot
from polls.signing import sign_results
from polls.tally import tally_refresh
from polls.tally_math import results_from_board


def poll_publish(*, poll: Poll, actor: User, ip_address: str | None = None) -> ResultSnapshot:
    """Publish a closed poll's results.

    A last checkpoint commits to every ballot; the board is built from the ballots,
    the results are computed from the board alone (as any recount will), then signed
    with the service's key. Needs a manager or owner with MFA. Raises
    PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``invalid_transition`` (not closed), ``ballots_quarantined``.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    check_mfa(actor=actor)
    with transaction.atomic():
        poll = Poll.objects.select_for_update().select_related("agency").get(pk=poll.pk)
        if poll.status != PollStatus.CLOSED:
            raise PollChangeRefused("invalid_transition", _("Only a closed poll can be published."))
        if poll.ballots.filter(status="quarantined").exists():
            raise PollChangeRefused(
                "ballots_quarantined",
                _("Some ballots are still quarantined: count or invalidate them before publishing."),
            )
        snapshot = snapshot_build(poll=poll)
        poll.state = PollState.PUBLISHED
        poll.published_at = snapshot.created_at
        poll.save(update_fields=["state", "published_at", "updated_at"])
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="poll.publish",
            target=poll,
            before={"state": PollState.SCHEDULED},
            after={
                "state": PollState.PUBLISHED,
                "digest": snapshot.board_digest,
                "ballots": snapshot.results["ballots"],
            },
            ip_address=ip_address,
        )
    tally_refresh(poll=poll)
    return snapshot


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
        board_digest=digest,
        signature=results["signature"],
    )
