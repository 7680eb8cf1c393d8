"""Changing a ballot's status in the open: quarantine, invalidate, count again.

Invalidated ballots stay on the bulletin board, marked with their reason, and the
results count them by reason. Every change goes to the agency's audit log.
"""

import re

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.services import audit_record
from polls.errors import PollChangeRefused
from polls.lifecycle import check_member, check_mfa
from polls.models import BallotStatus, Poll, PollState
from polls.tally import tally_status_change

REASON_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,63}$")


def ballots_set_status(
    *, poll: Poll, actor: User, ballot_ids: list[int], status: str, reason: str, ip_address: str | None = None
) -> int:
    """Set the status of some of the poll's ballots; return how many changed.

    ``reason`` is a short public code (``bot_network``, ``duplicate_person``...),
    required unless the ballots are counted again. Only before publication. Needs a
    manager or owner with MFA. Raises PollChangeRefused.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    check_mfa(actor=actor)
    if status not in BallotStatus.values:
        raise PollChangeRefused("invalid", _("Unknown ballot status."))
    reason = "" if status == BallotStatus.COUNTED else reason.strip().lower()
    if status != BallotStatus.COUNTED and not REASON_PATTERN.match(reason):
        raise PollChangeRefused("invalid", _("Give a short reason code, e.g. bot_network."))
    with transaction.atomic():
        locked = Poll.objects.select_for_update().get(pk=poll.pk)
        if locked.state in (PollState.PUBLISHED, PollState.CANCELLED):
            raise PollChangeRefused("invalid_transition", _("The results of this poll are final."))
        changed = tally_status_change(poll=poll, ballot_ids=ballot_ids, status=status, reason=reason)
        audit_record(
            agency=poll.agency,
            actor=actor,
            action=f"ballots.{status}",
            target=poll,
            after={"ballots": sorted(ballot_ids), "changed": changed, "reason": reason},
            ip_address=ip_address,
        )
    return changed
