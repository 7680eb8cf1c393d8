"""Publishing a closed poll: the agency's act that freezes the bulletin board, the
results that follow from it and their signature (``polls.snapshots``) in one
transaction."""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.errors import PollChangeRefused
from polls.models import Poll, PollState, PollStatus, ResultSnapshot
from polls.snapshots import snapshot_build
from polls.tally import tally_refresh
from voting.errors import Code


def poll_publish(*, poll: Poll, actor: User, ip_address: str | None = None) -> ResultSnapshot:
    """Publish a closed poll's results.

    A last checkpoint commits to every ballot; the board is built from the ballots,
    the results are computed from the board alone (as any recount will), then signed
    with the service's key. Needs a manager or owner with MFA. Raises
    PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``invalid_transition`` (not closed), ``ballots_quarantined``.
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    # Durable: the publisher is told "published" only once the snapshot is committed.
    with transaction.atomic(durable=True):
        poll = Poll.objects.select_for_update().select_related("agency").get(pk=poll.pk)
        if poll.status != PollStatus.CLOSED:
            raise PollChangeRefused(Code.INVALID_TRANSITION, _("Only a closed poll can be published."))
        if poll.ballots.filter(status="quarantined").exists():
            raise PollChangeRefused(
                Code.BALLOTS_QUARANTINED,
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
