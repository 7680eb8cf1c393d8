"""Reads for agency staff: their agencies' polls, turnout, invalidation requests, the
audit log. (Fraud signals are reads too; they live in polls/agency/fraud_signals.py.)"""

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Agency, AuditLogEntry, User
from accounts.permissions import agencies_of
from accounts.permissions import agency_of_member as agency_and_membership
from polls.errors import PollChangeRefused
from polls.models import Ballot, InvalidationRequest, Poll
from voting.errors import Code


def polls_of_member(*, user: User, agency: Agency | None = None) -> QuerySet[Poll]:
    """The polls of every agency the user belongs to (or of one of them), newest first.
    For an agency API token: its own agency's."""
    polls = Poll.objects.filter(agency__in=agencies_of(user=user)).select_related("agency")
    if agency is not None:
        polls = polls.filter(agency=agency)
    return polls.prefetch_related("options").order_by("-created_at", "-id")


def agency_of_member(*, user: User, slug: str) -> Agency:
    """The agency with that slug if the user is a member; ``not_found`` otherwise, so
    that nobody learns which agencies exist."""
    agency, _membership = agency_and_membership(user=user, slug=slug)
    return agency


def poll_of_member(*, user: User, slug: str) -> Poll:
    """The poll with that slug if it belongs to one of the user's agencies.
    Raises PollChangeRefused ``not_found`` otherwise."""
    poll = (
        Poll.objects.filter(slug=slug, agency__in=agencies_of(user=user))
        .select_related("agency")
        .prefetch_related("options")
        .first()
    )
    if poll is None:
        raise PollChangeRefused(Code.NOT_FOUND, _("Not found."))
    return poll


def poll_turnout(*, poll: Poll) -> dict:
    """How many ballots were cast and by how many accounts, whatever their status.

    Deliberately no count per option: who may see those, and when, is the poll's
    results visibility, decided elsewhere. One indexed aggregate over the poll's
    ballots; fine for a staff page, not for a public one.
    """
    totals = Ballot.objects.filter(poll=poll).aggregate(
        ballots=Count("id"), voters=Count("voter", distinct=True)
    )
    return {"ballots": totals["ballots"], "voters": totals["voters"]}


def audit_log_of_member(*, user: User, slug: str) -> tuple[Agency, QuerySet[AuditLogEntry]]:
    """The agency and its audit log, newest first, for one of its members; show a page
    of it through ``accounts.selectors.audit_entries_shown``."""
    agency = agency_of_member(user=user, slug=slug)
    return agency, agency.audit_log.select_related("actor", "api_token")


def invalidation_requests_of(*, poll: Poll) -> QuerySet[InvalidationRequest]:
    """The poll's invalidation requests, newest first."""
    return InvalidationRequest.objects.filter(poll=poll).select_related("requested_by", "decided_by")


def invalidation_request_of(*, poll: Poll, request_id: int) -> InvalidationRequest:
    """One of the poll's requests; raises PollChangeRefused ``not_found`` otherwise."""
    request = invalidation_requests_of(poll=poll).filter(pk=request_id).first()
    if request is None:
        raise PollChangeRefused(Code.NOT_FOUND, _("Not found."))
    request.poll = poll
    return request
