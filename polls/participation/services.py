"""Fans' writes: follow artists, propose options in open calls, support proposals.

Proposals and supports obey the vote's rules: a verified account, the call's least
verification level and account age (``polls.eligibility``), rate limits (the views),
and the client's network and fingerprint are kept on each row for the fraud signals.
Limits that must hold under concurrency are constraints (polls/participation/models.py).
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.client_ip import network_of
from accounts.models import User
from accounts.voter_cards import voter_card_of
from polls.eligibility import check_voter_eligible
from polls.errors import VoteRefused
from polls.images import check_design_image, image_without_metadata
from polls.models import PollKind
from polls.participation.cities import City, city_best_match, city_by_id, normalised
from polls.participation.errors import ParticipationRefused
from polls.participation.models import (
    MAX_PROPOSAL_TEXT,
    Artist,
    Follow,
    OpenCall,
    Proposal,
    ProposalState,
    Support,
)
from voting.errors import Code

SLOT_CONSTRAINT = "participation_support_slot"
ONCE_CONSTRAINT = "participation_support_once"
PROPOSAL_CONSTRAINT = "participation_proposal_once"


@dataclass(frozen=True)
class Client:
    """What the request says about the client, kept on proposals and supports."""

    ip: str | None = None
    fingerprint: str = ""

    @property
    def network(self) -> str:
        return network_of(self.ip) if self.ip else ""


# ------------------------------------------------------------------ follows


def check_fan_verified(fan: User) -> None:
    if not fan.is_authenticated:
        raise ParticipationRefused(Code.NOT_AUTHENTICATED, _("Sign in first."))
    if voter_card_of(fan).level == "none":
        raise ParticipationRefused(Code.EMAIL_UNVERIFIED, _("Verify your email address first."))


def follow_add(*, fan: User, artist: Artist) -> Follow:
    """Follow an artist (again: nothing changes). Raises ``email_unverified``."""
    check_fan_verified(fan)
    follow, _created = Follow.objects.get_or_create(fan=fan, artist=artist)
    return follow


def follow_remove(*, fan: User, artist: Artist) -> None:
    if not fan.is_authenticated:
        raise ParticipationRefused(Code.NOT_AUTHENTICATED, _("Sign in first."))
    Follow.objects.filter(fan=fan, artist=artist).delete()


# ------------------------------------------------------------------ checks


def check_call_open(*, call: OpenCall, moment: datetime) -> None:
    if moment < call.opens_at:
        raise ParticipationRefused(Code.POLL_NOT_OPEN, _("This call has not opened yet."))
    if moment >= call.closes_at:
        raise ParticipationRefused(Code.POLL_CLOSED, _("This call is closed."))


def check_participant(*, call: OpenCall, fan: User, moment: datetime) -> None:
    """Everything about the call and the fan that refuses a proposal or a support:
    ``poll_not_open``, ``poll_closed``, ``not_authenticated``, ``email_unverified``,
    ``not_eligible`` (reason ``verification_level`` or ``account_too_new``)."""
    check_call_open(call=call, moment=moment)
    if not fan.is_authenticated:
        raise ParticipationRefused(Code.NOT_AUTHENTICATED, _("Sign in first."))
    try:
        check_voter_eligible(poll=call, voter=voter_card_of(fan))
    except VoteRefused as refusal:
        raise ParticipationRefused(refusal.code, refusal.detail, **refusal.extra) from None


def normalised_text(text: str) -> str:
    return normalised(text)


def _clean_text(text) -> str:
    if not isinstance(text, str):
        raise ParticipationRefused(
            Code.INVALID, _("Write your suggestion."), fields={"text": [_("Required.")]}
        )
    cleaned = re.sub(r"\s+", " ", text).strip()
    if not normalised(cleaned):
        raise ParticipationRefused(
            Code.INVALID, _("Write your suggestion."), fields={"text": [_("This field is required.")]}
        )
    if len(cleaned) > MAX_PROPOSAL_TEXT:
        raise ParticipationRefused(
            Code.INVALID,
            _("At most %(n)s characters.") % {"n": MAX_PROPOSAL_TEXT},
            fields={"text": [_("At most %(n)s characters.") % {"n": MAX_PROPOSAL_TEXT}]},
        )
    return cleaned


def _city_of(*, geoname_id, city_name) -> City:
    city = None
    if geoname_id not in (None, ""):
        try:
            city = city_by_id(int(geoname_id))
        except (TypeError, ValueError):
            city = None
    elif isinstance(city_name, str) and city_name.strip():
        city = city_best_match(city_name)
    if city is None:
        raise ParticipationRefused(
            Code.INVALID, _("Pick a city from the list."), fields={"city": [_("Unknown city.")]}
        )
    return city


# ------------------------------------------------------------------ proposals


def proposal_create(
    *,
    call: OpenCall,
    fan: User,
    text: str | None = None,
    geoname_id: int | None = None,
    city_name: str | None = None,
    image=None,
    client: Client | None = None,
) -> tuple[Proposal, bool]:
    """Propose an option and support it; returns (proposal, created).

    A city is a GeoNames id (or a name, resolved to the most populous city so called);
    a single or other idea is text; a design is an image, re-encoded without metadata.
    The same city, text (case, accents and spacing aside) or image already proposed is
    the existing proposal: the fan supports it instead (``created`` is False); one
    merged away leads to the proposal it was merged into. Raises ParticipationRefused:
    the participant checks, ``invalid``, ``already_voted`` (supported already, or the
    cap of supports reached), ``not_found`` (the existing one is hidden).
    """
    now = timezone.now()
    check_participant(call=call, fan=fan, moment=now)
    client = client or Client()
    values: dict = {}
    content = None
    if call.kind == PollKind.CITY:
        city = _city_of(geoname_id=geoname_id, city_name=city_name)
        values = {
            "label": city.name,
            "geoname_id": city.geoname_id,
            "country": city.country,
            "latitude": city.latitude,
            "longitude": city.longitude,
            "population": city.population,
        }
        key = f"city:{city.geoname_id}"
    elif call.kind == PollKind.DESIGN:
        if image is None:
            raise ParticipationRefused(
                Code.INVALID, _("A design needs an image."), fields={"image": [_("This field is required.")]}
            )
        extension = _checked_image(image)
        pixels = image_without_metadata(image)
        content = ContentFile(pixels, name=f"design.{extension}")
        label = _clean_text(text) if text else _("Design")
        values = {"label": label}
        key = f"image:{hashlib.sha256(pixels).hexdigest()}"
    else:
        cleaned = _clean_text(text)
        values = {"label": cleaned}
        key = f"text:{normalised(cleaned)}"[:300]

    existing = Proposal.objects.filter(call=call, dedupe_key=key).first()
    if existing is None:
        proposal = Proposal(
            call=call,
            proposer=fan,
            dedupe_key=key,
            created_at=now,
            client_ip=client.ip,
            client_network=client.network,
            client_fingerprint=client.fingerprint,
            **values,
        )
        if content is not None:
            proposal.image = content
        try:
            with transaction.atomic():
                proposal.save()
                _support_write(call=call, proposal=proposal, fan=fan, moment=now, client=client)
            return proposal, True
        except IntegrityError as conflict:
            if _constraint_of(conflict) != PROPOSAL_CONSTRAINT:
                raise
            # Someone proposed the same a moment ago: support theirs.
            existing = Proposal.objects.get(call=call, dedupe_key=key)
    target = _live_proposal(existing)
    support_add(call=call, proposal=target, fan=fan, client=client, moment=now, checked=True)
    return target, False


def _checked_image(image) -> str:
    from polls.errors import PollDataInvalid

    try:
        return check_design_image(image)
    except PollDataInvalid as invalid:
        raise ParticipationRefused(Code.INVALID, invalid.detail, fields=invalid.fields) from None


def _live_proposal(proposal: Proposal) -> Proposal:
    """The proposal a support goes to: merged ones lead to the kept one; hidden ones to none."""
    seen = set()
    while proposal.state == ProposalState.MERGED and proposal.merged_into_id and proposal.pk not in seen:
        seen.add(proposal.pk)
        proposal = Proposal.objects.get(pk=proposal.merged_into_id)
    if proposal.state != ProposalState.VISIBLE:
        raise ParticipationRefused(Code.NOT_FOUND, _("This suggestion is not open to support."))
    return proposal


# ------------------------------------------------------------------ supports


def support_add(
    *,
    call: OpenCall,
    proposal: Proposal,
    fan: User,
    client: Client | None = None,
    moment: datetime | None = None,
    checked: bool = False,
) -> Support:
    """Support a visible proposal of an open call. Raises ParticipationRefused: the
    participant checks, ``not_found``, ``already_voted`` (this one supported already,
    reason ``supported``; or the call's cap reached, reason ``cap``)."""
    now = moment or timezone.now()
    if not checked:
        check_participant(call=call, fan=fan, moment=now)
    if proposal.call_id != call.pk:
        raise ParticipationRefused(Code.NOT_FOUND, _("Not found."))
    proposal = _live_proposal(proposal)
    return _support_write(call=call, proposal=proposal, fan=fan, moment=now, client=client or Client())


def _support_write(
    *, call: OpenCall, proposal: Proposal, fan: User, moment: datetime, client: Client
) -> Support:
    """Take the first free slot below the call's cap, or refuse. As for ballots, the
    unique (call, voter, slot) index decides under concurrency: every attempt either
    takes a slot or hits a row another request committed."""
    used = Support.objects.filter(call=call, voter=fan).count()
    cap = call.max_supports_per_fan
    slots = list(range(used, cap)) + list(range(min(used, cap)))
    for slot in slots:
        support = Support(
            call=call,
            proposal=proposal,
            voter=fan,
            slot=slot,
            cast_at=moment,
            client_ip=client.ip,
            client_network=client.network,
            client_fingerprint=client.fingerprint,
        )
        try:
            with transaction.atomic():
                support.save()
        except IntegrityError as conflict:
            name = _constraint_of(conflict)
            if name == SLOT_CONSTRAINT:
                continue
            if name == ONCE_CONSTRAINT:
                raise ParticipationRefused(
                    Code.ALREADY_VOTED, _("You already support this suggestion."), reason="supported"
                ) from None
            raise
        return support
    raise ParticipationRefused(
        Code.ALREADY_VOTED,
        _("You have used all %(n)s of your supports in this call.") % {"n": cap},
        reason="cap",
    )


def _constraint_of(conflict: IntegrityError) -> str:
    diagnostics = getattr(conflict.__cause__, "diag", None)
    if diagnostics is not None and diagnostics.constraint_name:
        return diagnostics.constraint_name
    # SQLite names the columns instead.
    message = str(conflict)
    if "slot" in message:
        return SLOT_CONSTRAINT
    if "dedupe_key" in message:
        return PROPOSAL_CONSTRAINT
    if "participation_support.proposal_id" in message:
        return ONCE_CONSTRAINT
    return ""
