"""The agency side of open calls for suggestions: open a call on an artist, hide
proposals with a reason, merge duplicates, promote proposals into options of a new
draft poll, and read the fraud signals of the supports.

Every action asks ``check_agency_action`` first (a manager or owner; hiding and merging
change what the public counts, so they also need a session that used MFA, as reviewing
ballots does), then validates, then writes in one transaction with its audit entry.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.agency import fraud_signals, lifecycle, options
from polls.agency.rules import MAX_LEAST_ACCOUNT_AGE, VOTER_LEVELS
from polls.errors import PollDataInvalid
from polls.models import MAX_OPTIONS, Poll, PollKind
from polls.notifications.services import suggestion_promoted_announce
from polls.participation.hooks import on_proposals_promoted
from polls.participation.models import (
    MAX_SUPPORTS_PER_FAN,
    Artist,
    HiddenReason,
    OpenCall,
    Promotion,
    Proposal,
    ProposalState,
    Support,
)
from voting.errors import Code, DomainError

CALL_FIELDS = (
    "question",
    "description",
    "kind",
    "opens_at",
    "closes_at",
    "max_supports_per_fan",
    "least_verification",
    "least_account_age",
)


class CallActionRefused(DomainError):
    """An agency action on a call was refused; nothing was written."""


def _call_snapshot(call: OpenCall) -> dict:
    return {
        "id": call.pk,
        "artist": call.artist.slug,
        "question": call.question,
        "kind": call.kind,
        "opens_at": call.opens_at.isoformat(),
        "closes_at": call.closes_at.isoformat(),
        "max_supports_per_fan": call.max_supports_per_fan,
        "least_verification": call.least_verification,
        "least_account_age_days": call.least_account_age.days,
    }


def _call_problems(call: OpenCall) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if not (call.question or "").strip():
        add("question", _("This field is required."))
    elif len(call.question) > 200:
        add("question", _("At most %(n)s characters.") % {"n": 200})
    if call.kind not in PollKind.values:
        add("kind", _("Choose city, single, design or other."))
    for name in ("opens_at", "closes_at"):
        moment = getattr(call, name)
        if not isinstance(moment, datetime):
            add(name, _("This field is required."))
        elif timezone.is_naive(moment):
            add(name, _("Give a date and time with its time zone."))
    if not problems.get("opens_at") and not problems.get("closes_at") and call.closes_at <= call.opens_at:
        add("closes_at", _("The call must close after it opens."))
    if (
        not isinstance(call.max_supports_per_fan, int)
        or not 1 <= call.max_supports_per_fan <= MAX_SUPPORTS_PER_FAN
    ):
        add("max_supports_per_fan", _("Between 1 and %(n)s.") % {"n": MAX_SUPPORTS_PER_FAN})
    if call.least_verification not in VOTER_LEVELS:
        add("least_verification", _("Choose email, phone or trusted."))
    if not isinstance(call.least_account_age, timedelta) or not (
        timedelta(0) <= call.least_account_age <= MAX_LEAST_ACCOUNT_AGE
    ):
        add("least_account_age", _("Between 0 and 3650 days."))
    return problems


def call_create(
    *, artist: Artist, actor: User, data: Mapping[str, Any], ip_address: str | None = None
) -> OpenCall:
    """Open a call for suggestions on one of the agency's artists.

    ``data``: ``question``, ``kind``, ``opens_at``, ``closes_at`` (aware) required;
    ``description``, ``max_supports_per_fan`` (default 3), ``least_verification``,
    ``least_account_age`` (a timedelta) optional. Raises ``not_found``,
    ``permission_denied``, ``invalid``."""
    check_agency_action(user=actor, agency=artist.agency, least=Role.MANAGER)
    unknown = sorted(set(data) - set(CALL_FIELDS))
    if unknown:
        raise PollDataInvalid(dict.fromkeys(unknown, _("Unknown field.")))
    call = OpenCall(artist=artist, created_by=actor)
    for name, value in data.items():
        if value is not None:
            setattr(call, name, value.strip() if isinstance(value, str) else value)
    problems = _call_problems(call)
    if problems:
        raise PollDataInvalid(problems)
    with transaction.atomic():
        call.save()
        audit_record(
            agency=artist.agency,
            actor=actor,
            action="call.create",
            target=call,
            after=_call_snapshot(call),
            ip_address=ip_address,
        )
    return call


# ------------------------------------------------------------------ moderation


def proposal_hide(*, proposal: Proposal, actor: User, reason: str, ip_address: str | None = None) -> Proposal:
    """Hide a proposal from the public with a reason from ``HiddenReason``; the call's
    page counts hidden proposals by reason. Its supports stay (and stay used). Raises
    ``not_found``, ``permission_denied``, ``mfa_required``, ``mfa_not_used``,
    ``invalid`` (unknown reason), ``invalid_transition`` (merged or promoted)."""
    call = proposal.call
    check_agency_action(user=actor, agency=call.artist.agency, least=Role.MANAGER, mfa=True)
    if reason not in HiddenReason.values:
        raise PollDataInvalid({"reason": _("Choose one of the listed reasons.")})
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.state == ProposalState.MERGED or Promotion.objects.filter(proposal=proposal).exists():
            raise CallActionRefused(
                Code.INVALID_TRANSITION, _("A merged or promoted suggestion cannot be hidden.")
            )
        before = {"state": proposal.state, "reason": proposal.hidden_reason}
        proposal.state = ProposalState.HIDDEN
        proposal.hidden_reason = reason
        proposal.save(update_fields=["state", "hidden_reason"])
        audit_record(
            agency=call.artist.agency,
            actor=actor,
            action="proposal.hide",
            target=proposal,
            before=before,
            after={"state": proposal.state, "reason": reason, "label": proposal.label},
            ip_address=ip_address,
        )
    return proposal


def proposals_merge(
    *, call: OpenCall, keep_id: int, merge_ids: Sequence[int], actor: User, ip_address: str | None = None
) -> Proposal:
    """Merge duplicates into the kept proposal: their supports move to it, except a
    fan's second support (who supported both keeps one). The merged proposals stay,
    marked, so that proposing one again supports the kept one. The rows are locked
    (which also holds back supports racing in on them) for the transaction.
    Raises ``not_found``, ``permission_denied``, ``mfa_*``, ``invalid``."""
    check_agency_action(user=actor, agency=call.artist.agency, least=Role.MANAGER, mfa=True)
    merge_ids = sorted({int(i) for i in merge_ids} - {int(keep_id)})
    if not merge_ids:
        raise PollDataInvalid({"merge": _("Choose at least one other suggestion to merge.")})
    with transaction.atomic():
        rows = {
            p.pk: p
            for p in Proposal.objects.select_for_update()
            .filter(call=call, pk__in=[keep_id, *merge_ids])
            .order_by("pk")
        }
        if len(rows) != len(merge_ids) + 1:
            raise CallActionRefused(Code.NOT_FOUND, _("Not found."))
        if any(p.state != ProposalState.VISIBLE for p in rows.values()):
            raise PollDataInvalid({"merge": _("Only visible suggestions can be merged.")})
        keep = rows[keep_id]
        already = set(Support.objects.filter(proposal=keep).values_list("voter_id", flat=True))
        moved = dropped = 0
        for pk in merge_ids:
            supports = Support.objects.filter(proposal_id=pk)
            doubles = supports.filter(voter_id__in=already)
            dropped += doubles.count()
            doubles.delete()
            already |= set(supports.values_list("voter_id", flat=True))
            moved += supports.update(proposal=keep)
        Proposal.objects.filter(pk__in=merge_ids).update(state=ProposalState.MERGED, merged_into=keep)
        audit_record(
            agency=call.artist.agency,
            actor=actor,
            action="proposal.merge",
            target=keep,
            after={
                "kept": keep.pk,
                "merged": merge_ids,
                "supports_moved": moved,
                "supports_dropped": dropped,
            },
            ip_address=ip_address,
        )
    return keep


# ------------------------------------------------------------------ promotion


def _option_data(call: OpenCall, proposal: Proposal, label: str) -> dict:
    if call.kind == PollKind.CITY:
        return {
            "label": label,
            "country": proposal.country,
            "latitude": proposal.latitude,
            "longitude": proposal.longitude,
            "population": proposal.population,
        }
    if call.kind == PollKind.SINGLE:
        return {"label": label, "artist": call.artist.name, "track": proposal.label}
    return {"label": label}


def _labels(proposals: list[Proposal]) -> list[str]:
    """Option labels: a city's name, with its country when two chosen cities share it."""
    names = [p.label for p in proposals]
    return [
        f"{p.label} ({p.country})" if p.country and names.count(p.label) > 1 else p.label for p in proposals
    ][: len(proposals)]


def proposals_promote(
    *,
    call: OpenCall,
    proposal_ids: Sequence[int],
    actor: User,
    data: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
) -> Poll:
    """Make a new draft poll on the call's artist whose options are the chosen
    proposals, in one transaction: the poll (``data`` may give ``title``, ``slug``,
    ``opens_at``, ``closes_at`` and other poll fields; by default the call's question,
    opening in a week for a week), one option per proposal (a city with its country,
    coordinates and population; a design with a copy of its image), and a record of
    each promotion. After commit, ``on_proposals_promoted`` tells whoever listens
    (notifications to the proposers). Raises ``not_found``, ``permission_denied``,
    ``invalid`` (none chosen, not visible, promoted already); nothing is written then.
    """
    check_agency_action(user=actor, agency=call.artist.agency, least=Role.MANAGER)
    wanted = list(dict.fromkeys(int(i) for i in proposal_ids))
    if not wanted:
        raise PollDataInvalid({"proposals": _("Choose at least one suggestion.")})
    if len(wanted) > MAX_OPTIONS:
        raise PollDataInvalid({"proposals": _("A poll has at most %(n)s options.") % {"n": MAX_OPTIONS}})
    now = timezone.now()
    poll_data = {
        "title": call.question,
        "kind": call.kind,
        "opens_at": now + timedelta(days=7),
        "closes_at": now + timedelta(days=14),
        "least_verification": call.least_verification,
        **{name: value for name, value in (data or {}).items() if value not in (None, "")},
    }
    poll_data["kind"] = call.kind
    with transaction.atomic():
        proposals = list(Proposal.objects.select_for_update().filter(call=call, pk__in=wanted).order_by("pk"))
        if len(proposals) != len(wanted):
            raise CallActionRefused(Code.NOT_FOUND, _("Not found."))
        if any(p.state != ProposalState.VISIBLE for p in proposals):
            raise PollDataInvalid({"proposals": _("Only visible suggestions can be promoted.")})
        if Promotion.objects.filter(proposal__in=proposals).exists():
            raise PollDataInvalid({"proposals": _("Some of these suggestions were promoted already.")})
        order = {pk: position for position, pk in enumerate(wanted)}
        proposals.sort(key=lambda p: order[p.pk])
        poll = lifecycle.poll_create(
            agency=call.artist.agency, actor=actor, data=poll_data, ip_address=ip_address
        )
        Poll.objects.filter(pk=poll.pk).update(artist=call.artist)
        poll.artist = call.artist
        for position, (proposal, label) in enumerate(zip(proposals, _labels(proposals), strict=True)):
            image = None
            if call.kind == PollKind.DESIGN and proposal.image:
                with proposal.image.open("rb") as source:
                    image = ContentFile(source.read(), name=proposal.image.name.rsplit("/", 1)[-1])
            option = options.option_add(
                poll=poll,
                actor=actor,
                data={**_option_data(call, proposal, label), "position": position},
                image=image,
                ip_address=ip_address,
            )
            Promotion.objects.create(proposal=proposal, poll=poll, option=option, promoted_by=actor)
        audit_record(
            agency=call.artist.agency,
            actor=actor,
            action="call.promote",
            target=call,
            after={"poll": poll.slug, "proposals": [p.pk for p in proposals]},
            ip_address=ip_address,
        )
        _tell_proposers(call, proposals, poll)
        transaction.on_commit(lambda: on_proposals_promoted(poll=poll, proposals=proposals))
    return poll


def _tell_proposers(call: OpenCall, proposals: list[Proposal], poll: Poll) -> None:
    """Announce each promotion to whoever proposed it, including the fans whose
    duplicates were merged into it, inside the promotion's transaction: the notice is
    written if and only if the promotion is (delivery happens later, on the task worker)."""
    merged_proposers: dict[int, set[int]] = {}
    for kept_id, proposer_id in Proposal.objects.filter(merged_into__in=proposals).values_list(
        "merged_into_id", "proposer_id"
    ):
        merged_proposers.setdefault(kept_id, set()).add(proposer_id)
    path = reverse("call_detail", kwargs={"call_id": call.pk})
    for proposal in proposals:
        suggestion_promoted_announce(
            suggestion_key=f"proposal:{proposal.pk}",
            suggestion=proposal.label,
            poll=poll,
            proposer_ids={proposal.proposer_id, *merged_proposers.get(proposal.pk, ())},
            path=path,
        )


# ------------------------------------------------------------------ reads


def call_signals(*, call: OpenCall, actor: User) -> list[fraud_signals.Cluster]:
    """Clusters of the call's supports (proposals included: proposing is supporting),
    scored by the same rules as ballots (polls/agency/fraud_signals.py). Only managers
    and owners with MFA, as for ballots: clusters name networks."""
    check_agency_action(user=actor, agency=call.artist.agency, least=Role.MANAGER, mfa=True)
    return fraud_signals.clusters_of(Support.objects.filter(call=call))
