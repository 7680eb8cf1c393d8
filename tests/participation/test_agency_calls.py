"""The agency hides, merges and promotes proposals; supports are scored for fraud."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts.models import AuditLogEntry
from polls.agency import calls
from polls.models import Option, Poll, PollKind, PollState
from polls.participation import hooks, services
from polls.participation.models import Promotion, Proposal, ProposalState, Support
from polls.participation.services import Client
from tests.factories import UserFactory
from tests.helpers import AGENCY_API, FARM_FINGERPRINT, login_with_mfa, png_bytes, post_json, session_user
from tests.participation.conftest import open_call

pytestmark = pytest.mark.django_db


def propose(call, name, **kwargs):
    return services.proposal_create(call=call, fan=UserFactory(verified=True), city_name=name, **kwargs)[0]


def test_hidden_proposals_are_counted_by_reason_on_the_public_call(client, city_call, manager):
    seoul, tokyo, lima = propose(city_call, "Seoul"), propose(city_call, "Tokyo"), propose(city_call, "Lima")
    actor = session_user(manager, mfa=True)
    calls.proposal_hide(proposal=tokyo, actor=actor, reason="off_topic")
    calls.proposal_hide(proposal=lima, actor=actor, reason="off_topic")
    answer = client.get(f"/api/v1/calls/{city_call.pk}/")
    assert answer.status_code == HTTPStatus.OK
    body = answer.json()
    assert [p["label"] for p in body["proposals"]] == ["Seoul"]
    assert body["hidden"] == {"off_topic": 2}
    page = client.get(f"/calls/{city_call.pk}/")
    assert "Tokyo" not in page.content.decode()
    assert "Off topic: 2" in page.content.decode()
    assert AuditLogEntry.objects.filter(action="proposal.hide").count() == 2
    del seoul


def test_hiding_needs_a_reason_from_the_list(city_call, manager):
    seoul = propose(city_call, "Seoul")
    with pytest.raises(Exception) as refusal:
        calls.proposal_hide(proposal=seoul, actor=session_user(manager, mfa=True), reason="dislike")
    assert refusal.value.code == "invalid"


def test_an_analyst_may_not_hide_and_a_manager_needs_mfa(city_call, analyst, manager):
    seoul = propose(city_call, "Seoul")
    with pytest.raises(Exception) as analyst_refusal:
        calls.proposal_hide(proposal=seoul, actor=session_user(analyst, mfa=True), reason="spam")
    assert analyst_refusal.value.code == "permission_denied"
    with pytest.raises(Exception) as no_mfa:
        calls.proposal_hide(proposal=seoul, actor=session_user(manager), reason="spam")
    assert no_mfa.value.code in ("mfa_required", "mfa_not_used")
    assert Proposal.objects.get(pk=seoul.pk).state == ProposalState.VISIBLE


def test_an_outsider_gets_not_found_on_another_agencys_call(city_call):
    outsider = UserFactory(verified=True)
    seoul = propose(city_call, "Seoul")
    with pytest.raises(Exception) as refusal:
        calls.proposals_promote(
            call=city_call, proposal_ids=[seoul.pk], actor=session_user(outsider, mfa=True)
        )
    assert refusal.value.code == "not_found"
    assert not Poll.objects.filter(title=city_call.question).exists()


def test_merging_moves_supports_without_counting_a_fan_twice(city_call, manager):
    seoul = propose(city_call, "Seoul")
    duplicate = services.proposal_create(
        call=city_call, fan=UserFactory(verified=True), text=None, city_name="Tokyo"
    )[0]
    both = UserFactory(verified=True)
    services.support_add(call=city_call, proposal=seoul, fan=both)
    services.support_add(call=city_call, proposal=duplicate, fan=both)
    only_duplicate = UserFactory(verified=True)
    services.support_add(call=city_call, proposal=duplicate, fan=only_duplicate)
    calls.proposals_merge(
        call=city_call, keep_id=seoul.pk, merge_ids=[duplicate.pk], actor=session_user(manager, mfa=True)
    )
    # Seoul: its proposer and "both"; from the duplicate: its proposer and only_duplicate.
    assert Support.objects.filter(proposal=seoul).count() == 4
    assert Support.objects.filter(proposal=seoul, voter=both).count() == 1
    assert not Support.objects.filter(proposal=duplicate).exists()
    merged = Proposal.objects.get(pk=duplicate.pk)
    assert merged.state == ProposalState.MERGED and merged.merged_into_id == seoul.pk
    # Proposing the merged city again supports the kept proposal.
    again, created = services.proposal_create(
        call=city_call, fan=UserFactory(verified=True), city_name="Tokyo"
    )
    assert again.pk == seoul.pk and not created


def test_promotion_makes_a_draft_poll_with_city_options_in_one_step(city_call, manager):
    seoul, jakarta = propose(city_call, "Seoul"), propose(city_call, "Jakarta")
    told = []

    def receiver(sender, poll, proposals, **kwargs):
        told.append((poll.pk, sorted(p.proposer_id for p in proposals)))

    hooks.proposals_promoted.connect(receiver)
    try:
        with pytest.MonkeyPatch.context():
            from django.test import TestCase

            with TestCase.captureOnCommitCallbacks(execute=True):
                poll = calls.proposals_promote(
                    call=city_call, proposal_ids=[jakarta.pk, seoul.pk], actor=session_user(manager)
                )
    finally:
        hooks.proposals_promoted.disconnect(receiver)
    assert poll.state == PollState.DRAFT and poll.kind == PollKind.CITY
    assert poll.artist_id == city_call.artist_id
    options = list(poll.options.order_by("position"))
    assert [o.label for o in options] == ["Jakarta", "Seoul"]
    assert options[0].country == "ID" and options[0].population > 1_000_000
    assert options[0].latitude is not None and options[0].longitude is not None
    assert set(Promotion.objects.filter(poll=poll).values_list("proposal_id", flat=True)) == {
        seoul.pk,
        jakarta.pk,
    }
    assert told == [(poll.pk, sorted([seoul.proposer_id, jakarta.proposer_id]))]


def test_a_failed_promotion_leaves_no_poll_behind(city_call, manager):
    seoul, tokyo = propose(city_call, "Seoul"), propose(city_call, "Tokyo")
    calls.proposal_hide(proposal=tokyo, actor=session_user(manager, mfa=True), reason="spam")
    before = Poll.objects.count()
    with pytest.raises(Exception) as refusal:
        calls.proposals_promote(
            call=city_call, proposal_ids=[seoul.pk, tokyo.pk], actor=session_user(manager)
        )
    assert refusal.value.code == "invalid"
    assert Poll.objects.count() == before and not Promotion.objects.exists()


def test_promoted_designs_copy_their_image(artist, manager, media_in_tmp):
    call = open_call(artist, kind=PollKind.DESIGN, question="Which tour shirt?")
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("shirt.png", png_bytes((16, 16)), content_type="image/png")
    proposal, _ = services.proposal_create(
        call=call, fan=UserFactory(verified=True), text="Stars", image=image
    )
    poll = calls.proposals_promote(call=call, proposal_ids=[proposal.pk], actor=session_user(manager))
    option = Option.objects.get(poll=poll)
    assert option.label == "Stars" and option.image
    assert option.image.name != proposal.image.name


def test_a_seeded_farms_supports_are_flagged_like_votes(city_call, manager):
    target = propose(city_call, "Jakarta", client=Client(ip="198.18.200.1", fingerprint="a" * 64))
    now = timezone.now()
    for number in range(40):
        fan = UserFactory(verified=True, date_joined=now - timedelta(minutes=30 - number % 30))
        services.support_add(
            call=city_call,
            proposal=target,
            fan=fan,
            client=Client(ip=f"203.0.113.{number + 1}", fingerprint=FARM_FINGERPRINT),
        )
    for number in range(30):
        fan = UserFactory(verified=True, date_joined=now - timedelta(days=20 + number))
        services.support_add(
            call=city_call,
            proposal=target,
            fan=fan,
            client=Client(ip=f"198.18.{number}.7", fingerprint=f"{number % 4}" * 64),
        )
    clusters = calls.call_signals(call=city_call, actor=session_user(manager, mfa=True))
    flagged = {(c.kind, c.key) for c in clusters if c.flagged}
    assert ("network", "203.0.113.0/24") in flagged
    assert ("fingerprint", FARM_FINGERPRINT) in flagged
    assert not any(c.flagged and c.key.startswith("198.18.") for c in clusters)


def test_promotion_through_the_agency_api(client, city_call, manager):
    seoul, tokyo = propose(city_call, "Seoul"), propose(city_call, "Tokyo")
    login_with_mfa(client, manager)
    answer = post_json(
        client, f"{AGENCY_API}/calls/{city_call.pk}/promote/", {"proposals": [seoul.pk, tokyo.pk]}
    )
    assert answer.status_code == HTTPStatus.CREATED, answer.content
    poll = Poll.objects.get(slug=answer.json()["poll"])
    assert poll.options.count() == 2 and poll.state == PollState.DRAFT


def test_an_analyst_may_not_promote_through_the_api(client, city_call, analyst):
    seoul = propose(city_call, "Seoul")
    login_with_mfa(client, analyst)
    answer = post_json(client, f"{AGENCY_API}/calls/{city_call.pk}/promote/", {"proposals": [seoul.pk]})
    assert answer.status_code == HTTPStatus.FORBIDDEN
    assert answer.json()["code"] == "permission_denied"


def test_hiding_through_the_api_with_an_unknown_reason_is_a_400(client, city_call, manager):
    seoul = propose(city_call, "Seoul")
    login_with_mfa(client, manager)
    answer = post_json(
        client, f"{AGENCY_API}/calls/{city_call.pk}/proposals/{seoul.pk}/hide/", {"reason": "meh"}
    )
    assert answer.status_code == HTTPStatus.BAD_REQUEST
    assert answer.json()["code"] == "invalid"
