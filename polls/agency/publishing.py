"""Publishing a closed poll: the agency's act that freezes the bulletin board, the
results that follow from it and their signature (``polls.snapshots``) in one
transaction."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.errors import PollChangeRefused
from polls.models import Poll, PollState, PollStatus, ResultSnapshot
from polls.notifications.models import NotificationKind
from polls.notifications.services import poll_announce
from polls.snapshots import snapshot_build
from polls.tally import tally_refresh
from voting.errors import Code


def publishable_at(poll: Poll) -> datetime:
    """When a closed poll's results may be published: PUBLISH_GRACE_SECONDS after its
    effective close, so that votes cast just before the close have arrived (each one
    is committed or refused by then; publishing also waits for any still running)."""
    return poll.effective_closes_at + timedelta(seconds=settings.PUBLISH_GRACE_SECONDS)


def check_grace_period_over(poll: Poll) -> None:
    """Raises PollChangeRefused ``publish_too_early`` before ``publishable_at``."""
    moment = publishable_at(poll)
    wait = (moment - timezone.now()).total_seconds()
    if wait > 0:
        raise PollChangeRefused(
            Code.PUBLISH_TOO_EARLY,
            _("Votes cast just before the close may still be arriving: publish in %(seconds)d s.")
            % {"seconds": math.ceil(wait)},
            publishable_at=moment.isoformat().replace("+00:00", "Z"),
        )


def poll_publish(*, poll: Poll, actor: User, ip_address: str | None = None) -> ResultSnapshot:
    """Publish a closed poll's results.

    A last checkpoint commits to every ballot; the board is built from the ballots,
    the results are computed from the board alone (as any recount will), then signed
    with the service's key. Not before ``publishable_at``; taking the poll's row
    (FOR UPDATE) also waits for any vote that passed its open check to commit, so the
    board holds every acknowledged ballot. Needs a manager or owner with MFA. Raises
    PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``invalid_transition`` (not closed), ``publish_too_early``,
    ``ballots_quarantined``.
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    # Durable: the publisher is told "published" only once the snapshot is committed.
    with transaction.atomic(durable=True):
        # FOR UPDATE, not no_key: it is the lock that waits for votes holding the row
        # (FOR KEY SHARE, polls/ballots.py) and makes later ones re-check it.
        poll = Poll.objects.select_for_update().select_related("agency").get(pk=poll.pk)
        if poll.status != PollStatus.CLOSED:
            raise PollChangeRefused(Code.INVALID_TRANSITION, _("Only a closed poll can be published."))
        check_grace_period_over(poll)
        if poll.ballots.filter(status="quarantined").exists():
            raise PollChangeRefused(
                Code.BALLOTS_QUARANTINED,
                _("Some ballots are still quarantined: count or invalidate them before publishing."),
            )
        snapshot = snapshot_build(poll=poll)
        poll.state = PollState.PUBLISHED
        poll.published_at = snapshot.created_at
        poll.save(update_fields=["state", "published_at", "updated_at"])
        # Voters and followers hear of it: one announcement and its fan-out task,
        # committed with the publication; the fan-out itself runs in a task worker.
        poll_announce(poll=poll, kind=NotificationKind.RESULTS_PUBLISHED)
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
