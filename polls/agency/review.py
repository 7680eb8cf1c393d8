"""Changing a ballot's status in the open: quarantine, invalidate, count again.

Invalidated ballots stay on the bulletin board, marked with their reason, and the
results count them by reason. Every change goes to the agency's audit log.

``ballots_set_status`` is the one function that changes statuses (and keeps the
tallies right). Reviewers go through the four-eyes flow above it: an
``invalidation_request`` waits for a second member's ``invalidation_approve`` (or
``invalidation_reject``) when it would leave more of the poll's ballots invalidated
than the agency's ``invalidation_approval_threshold`` (counted per poll, so ten
requests of 100 are one of 1,000), or when it takes an invalidated ballot out of
that status (counting it again, or quarantining it on the way there). Quarantining
and counting again other ballots are applied at once: they undo each other, and a
quarantined ballot blocks publishing. See docs/decisions/four-eyes-per-poll.md.
"""

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.agency import fraud_signals
from polls.errors import PollChangeRefused
from polls.models import (
    Ballot,
    BallotStatus,
    InvalidationRequest,
    InvalidationRequestState,
    Poll,
    PollState,
)
from polls.tally import tally_status_change
from voting.errors import Code

REASON_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,63}$")


def check_reviewer(*, poll: Poll, actor: User) -> None:
    """Fraud signals show raw client addresses, and review requests the ballots and
    clusters they name: only managers and owners with MFA may see them or act on them
    (``accounts.permissions.check_reviewer``). Raises AgencyActionRefused (``not_found``
    for outsiders, ``permission_denied``, ``mfa_required``)."""
    permissions.check_reviewer(user=actor, agency=poll.agency)


def ballots_set_status(
    *, poll: Poll, actor: User, ballot_ids: list[int], status: str, reason: str, ip_address: str | None = None
) -> int:
    """Set the status of some of the poll's ballots; return how many changed.

    ``reason`` is a short public code (``bot_network``, ``duplicate_person``...),
    required unless the ballots are counted again. Only before publication. Needs a
    manager or owner with MFA. Raises PollChangeRefused.
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    if status not in BallotStatus.values:
        raise PollChangeRefused(Code.INVALID, _("Unknown ballot status."))
    reason = "" if status == BallotStatus.COUNTED else reason.strip().lower()
    if status != BallotStatus.COUNTED and not REASON_PATTERN.match(reason):
        raise PollChangeRefused(Code.INVALID, _("Give a short reason code, e.g. bot_network."))
    with transaction.atomic():
        locked = Poll.objects.select_for_update().get(pk=poll.pk)
        if locked.state in (PollState.PUBLISHED, PollState.CANCELLED):
            raise PollChangeRefused(Code.INVALID_TRANSITION, _("The results of this poll are final."))
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


# ------------------------------------------------------------------ four eyes

# One request names at most this many ballots (its ids are stored on the request).
MAX_REQUEST_BALLOTS = 100_000


def invalidation_request(
    *,
    poll: Poll,
    actor: User,
    status: str,
    reason: str,
    ballot_ids: list[int] | None = None,
    cluster: tuple[str, str] | None = None,
    note: str = "",
    ip_address: str | None = None,
) -> InvalidationRequest:
    """Ask for some of the poll's ballots to change status; apply at once when allowed.

    Name the ballots either by id or by a fraud-signal cluster ``(kind, key)``, e.g.
    ``("network", "203.0.113.0/24")``; a cluster is resolved to its ballots now, so
    an approver approves exactly what was requested. The request waits for another
    member (``invalidation_approve``) when ``_needs_second_member`` says so; it is
    applied at once through ``ballots_set_status`` otherwise.

    Needs a manager or owner with MFA. Raises PollChangeRefused: ``not_found``,
    ``permission_denied``, ``mfa_required``, ``invalid`` (status, reason, ballots
    not of this poll, none or both of ``ballot_ids`` and ``cluster``),
    ``invalid_transition`` (results final).
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    reason = _checked_reason(status, reason)
    ids = _checked_ballot_ids(poll=poll, ballot_ids=ballot_ids, cluster=cluster)
    with transaction.atomic():
        # The poll's row stays locked till commit: two requests decided at once cannot
        # both count the same invalidated total.
        _check_not_final(poll)
        at_once = not _needs_second_member(poll=poll, status=status, ids=ids)
        request = InvalidationRequest.objects.create(
            poll=poll,
            status=status,
            reason=reason,
            ballot_ids=ids,
            size=len(ids),
            note=note.strip(),
            requested_by=actor,
        )
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="invalidation.request",
            target=request,
            after=_request_summary(request, cluster=cluster),
            ip_address=ip_address,
        )
        if at_once:
            _apply(request, actor=actor, decided_by=None, ip_address=ip_address)
    return request


def invalidation_approve(
    *, request: InvalidationRequest, actor: User, ip_address: str | None = None
) -> InvalidationRequest:
    """Approve another member's pending request and apply it.

    Needs a manager or owner with MFA who is not the requester. Raises
    PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``same_reviewer``, ``invalid_transition`` (already decided, or results final).
    """
    return _decide(request=request, actor=actor, approve=True, ip_address=ip_address)


def invalidation_reject(
    *, request: InvalidationRequest, actor: User, ip_address: str | None = None
) -> InvalidationRequest:
    """Reject another member's pending request; no ballot changes.

    The same checks as ``invalidation_approve``: a requester who changed their mind
    asks a colleague to reject, so every decision has two names on it.
    """
    return _decide(request=request, actor=actor, approve=False, ip_address=ip_address)


def _decide(
    *, request: InvalidationRequest, actor: User, approve: bool, ip_address: str | None
) -> InvalidationRequest:
    poll = request.poll
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    with transaction.atomic():
        locked = InvalidationRequest.objects.select_for_update().get(pk=request.pk)
        locked.poll = poll
        if locked.state != InvalidationRequestState.PENDING:
            raise PollChangeRefused(Code.INVALID_TRANSITION, _("This request has already been decided."))
        if locked.requested_by_id == actor.pk:
            raise PollChangeRefused(Code.SAME_REVIEWER, _("Another member must decide on your own request."))
        if approve:
            _check_not_final(poll)
            _apply(locked, actor=actor, decided_by=actor, ip_address=ip_address)
        else:
            locked.state = InvalidationRequestState.REJECTED
            locked.decided_by = actor
            locked.decided_at = timezone.now()
            locked.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="invalidation.approve" if approve else "invalidation.reject",
            target=locked,
            before={"state": InvalidationRequestState.PENDING},
            after=_request_summary(locked),
            ip_address=ip_address,
        )
    return locked


def _needs_second_member(*, poll: Poll, status: str, ids: list[int]) -> bool:
    """Whether a request must wait for another member (inside the caller's transaction,
    with the poll's row locked).

    Invalidating waits when the poll would then hold more invalidated ballots than the
    agency's threshold: the count is per poll, so splitting a large invalidation into
    small requests only makes the later ones wait. Any other status waits when it takes
    a ballot out of ``invalidated``: undoing an invalidation needs the same two names as
    making one, and quarantining first is no side door. Quarantining or counting again
    ballots that are not invalidated applies at once.
    """
    named = Ballot.objects.filter(poll=poll, id__in=ids)
    if status != BallotStatus.INVALIDATED:
        return named.filter(status=BallotStatus.INVALIDATED).exists()
    invalidated = Ballot.objects.filter(poll=poll, status=BallotStatus.INVALIDATED).count()
    newly = named.exclude(status=BallotStatus.INVALIDATED).count()
    return invalidated + newly > poll.agency.invalidation_approval_threshold


def _apply(
    request: InvalidationRequest, *, actor: User, decided_by: User | None, ip_address: str | None
) -> None:
    """Change the ballots (ballots_set_status writes its own audit entry) and record it."""
    request.changed = ballots_set_status(
        poll=request.poll,
        actor=actor,
        ballot_ids=request.ballot_ids,
        status=request.status,
        reason=request.reason,
        ip_address=ip_address,
    )
    request.state = InvalidationRequestState.APPLIED
    request.decided_by = decided_by
    request.decided_at = timezone.now()
    request.save(update_fields=["changed", "state", "decided_by", "decided_at"])


def _checked_reason(status: str, reason: str) -> str:
    if status not in BallotStatus.values:
        raise PollChangeRefused(Code.INVALID, _("Unknown ballot status."))
    if status == BallotStatus.COUNTED:
        return ""
    reason = reason.strip().lower()
    if not REASON_PATTERN.match(reason):
        raise PollChangeRefused(Code.INVALID, _("Give a short reason code, e.g. bot_network."))
    return reason


def _checked_ballot_ids(
    *, poll: Poll, ballot_ids: list[int] | None, cluster: tuple[str, str] | None
) -> list[int]:
    if (ballot_ids is None) == (cluster is None):
        raise PollChangeRefused(Code.INVALID, _("Name either some ballots or one cluster."))
    if cluster is not None:
        kind, key = cluster
        if kind not in fraud_signals.KINDS:
            raise PollChangeRefused(Code.INVALID, _("A cluster is a network or a fingerprint."))
        ids = fraud_signals.cluster_ballot_ids(poll=poll, kind=kind, key=key)
    else:
        ids = sorted(set(ballot_ids))
        if len(ids) > MAX_REQUEST_BALLOTS:
            raise PollChangeRefused(Code.INVALID, _("Too many ballots in one request."))
        if Ballot.objects.filter(poll=poll, id__in=ids).count() != len(ids):
            raise PollChangeRefused(Code.INVALID, _("Some of these ballots are not ballots of this poll."))
    if not ids:
        raise PollChangeRefused(Code.INVALID, _("No ballots to change."))
    if len(ids) > MAX_REQUEST_BALLOTS:
        raise PollChangeRefused(Code.INVALID, _("Too many ballots in one request."))
    return ids


def _check_not_final(poll: Poll) -> None:
    """Inside the caller's transaction: lock the poll and refuse once results are final."""
    locked = Poll.objects.select_for_update().get(pk=poll.pk)
    if locked.state in (PollState.PUBLISHED, PollState.CANCELLED):
        raise PollChangeRefused(Code.INVALID_TRANSITION, _("The results of this poll are final."))


def _request_summary(request: InvalidationRequest, *, cluster: tuple[str, str] | None = None) -> dict:
    summary = {
        "request": request.pk,
        "status": request.status,
        "reason": request.reason,
        "size": request.size,
        "state": request.state,
        "changed": request.changed,
    }
    if cluster is not None:
        summary["cluster"] = {"kind": cluster[0], "key": cluster[1]}
    return summary
