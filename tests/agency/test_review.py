"""Reviewing ballots with four eyes: quarantine, invalidate, count again, publish."""

import threading
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.db import connection
from django.test import Client

from accounts.models import AuditLogEntry
from accounts.permissions import has_mfa
from polls.agency.publishing import poll_publish
from polls.agency.review import invalidation_approve, invalidation_reject, invalidation_request
from polls.errors import PollChangeRefused
from polls.models import Ballot, BallotStatus, InvalidationRequest, Poll, PollState
from polls.tally import tally_refresh
from tests.factories import MembershipFactory, PollFactory, mfa_enable
from tests.helpers import AGENCY_API as API
from tests.helpers import (
    FARM_NETWORK,
    cast_clean_crowd,
    cast_farm,
    close,
    login_with_mfa,
    post_json,
    session_user,
)

pytestmark = pytest.mark.django_db

FARM_CLUSTER = {"kind": "network", "key": FARM_NETWORK}


@pytest.fixture
def agency(agency):
    agency.invalidation_approval_threshold = 10
    agency.save(update_fields=["invalidation_approval_threshold"])
    return agency


@pytest.fixture
def requester(agency):
    user = MembershipFactory(agency=agency, role="manager").user
    mfa_enable(user)
    return session_user(user, mfa=True)


@pytest.fixture
def approver(agency):
    user = MembershipFactory(agency=agency, role="owner").user
    mfa_enable(user)
    return session_user(user, mfa=True)


def signed_in(user) -> Client:
    client = Client()
    if has_mfa(user):
        return login_with_mfa(client, user)  # signed in with the second factor, as allauth asks
    client.force_login(user)
    return client


def statuses(ballots: list[Ballot]) -> set[str]:
    return set(Ballot.objects.filter(pk__in=[b.pk for b in ballots]).values_list("status", flat=True))


def test_invalidating_a_flagged_farm_with_a_second_approval_changes_the_published_results(
    poll, requester, approver
):
    farm = cast_farm(poll, option="Seoul")
    cast_clean_crowd(poll, option="Tokyo")
    first, second = signed_in(requester), signed_in(approver)

    asked = post_json(
        first,
        f"{API}/polls/{poll.slug}/invalidations/",
        {
            "cluster": FARM_CLUSTER,
            "status": "invalidated",
            "reason": "bot_network",
            "note": "40 new accounts",
        },
    )
    assert asked.status_code == HTTPStatus.CREATED
    assert (asked.json()["state"], asked.json()["size"]) == ("pending", 40)
    assert statuses(farm) == {BallotStatus.COUNTED}  # 40 > 10: nothing yet

    approved = post_json(second, f"{API}/polls/{poll.slug}/invalidations/{asked.json()['id']}/approve/")
    assert approved.status_code == HTTPStatus.OK
    assert approved.json()["state"] == "applied"
    assert approved.json()["changed"] == 40
    assert approved.json()["decided_by"] == approver.email
    assert statuses(farm) == {BallotStatus.INVALIDATED}

    close(poll)
    published = post_json(first, f"{API}/polls/{poll.slug}/publish/")
    assert published.status_code == HTTPStatus.OK
    results = published.json()
    assert results["invalidated"] == {"bot_network": 40}
    assert results["ballots"] == 40
    assert {row["label"]: row["votes"] for row in results["options"]} == {
        "Seoul": 0,
        "Tokyo": 40,
        "Madrid": 0,
    }
    assert results["turnout"]["ballots_cast"] == 80

    board = first.get(f"/api/v1/polls/{poll.slug}/bulletin/").json()
    marked = [ballot for ballot in board["ballots"] if ballot["status"] == "invalidated"]
    assert len(board["ballots"]) == 80
    assert len(marked) == 40
    assert {ballot["reason"] for ballot in marked} == {"bot_network"}

    actions = list(AuditLogEntry.objects.filter(agency=poll.agency).values_list("action", "actor"))
    assert ("invalidation.request", requester.pk) in actions
    assert ("invalidation.approve", approver.pk) in actions
    assert ("ballots.invalidated", approver.pk) in actions
    assert ("poll.publish", requester.pk) in actions


def test_the_requester_cannot_approve_their_own_request(poll, requester):
    farm = cast_farm(poll, size=12)
    client = signed_in(requester)
    asked = post_json(
        client,
        f"{API}/polls/{poll.slug}/invalidations/",
        {"cluster": FARM_CLUSTER, "status": "invalidated", "reason": "bot_network"},
    ).json()

    response = post_json(client, f"{API}/polls/{poll.slug}/invalidations/{asked['id']}/approve/")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "same_reviewer"
    assert statuses(farm) == {BallotStatus.COUNTED}
    request = InvalidationRequest.objects.get(pk=asked["id"])
    assert (request.state, request.decided_by, request.changed) == ("pending", None, 0)


def test_an_analyst_cannot_request_an_invalidation(poll, agency):
    farm = cast_farm(poll, size=3)
    analyst = MembershipFactory(agency=agency, role="analyst").user
    mfa_enable(analyst)

    response = post_json(
        signed_in(analyst),
        f"{API}/polls/{poll.slug}/invalidations/",
        {"ballot_ids": [farm[0].pk], "status": "invalidated", "reason": "bot_network"},
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"
    assert not InvalidationRequest.objects.exists()


def test_a_manager_without_mfa_is_refused_with_mfa_required(poll, manager):
    farm = cast_farm(poll, size=3)

    response = post_json(
        signed_in(manager),
        f"{API}/polls/{poll.slug}/invalidations/",
        {"ballot_ids": [farm[0].pk], "status": "invalidated", "reason": "bot_network"},
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_required"
    assert statuses(farm) == {BallotStatus.COUNTED}


def test_an_invalidation_at_or_below_the_threshold_applies_at_once(poll, requester):
    farm = cast_farm(poll, size=10)

    response = post_json(
        signed_in(requester),
        f"{API}/polls/{poll.slug}/invalidations/",
        {"ballot_ids": [b.pk for b in farm], "status": "invalidated", "reason": "duplicate_person"},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert (response.json()["state"], response.json()["changed"]) == ("applied", 10)
    assert response.json()["decided_by"] is None
    assert statuses(farm) == {BallotStatus.INVALIDATED}
    tally_refresh(poll=poll)
    poll.tally.refresh_from_db()
    assert poll.tally.invalidated == {"duplicate_person": 10}


def test_quarantine_applies_at_once_and_blocks_publishing_until_counted_again(poll, requester):
    farm = cast_farm(poll)
    client = signed_in(requester)
    invalidations = f"{API}/polls/{poll.slug}/invalidations/"

    quarantined = post_json(
        client, invalidations, {"cluster": FARM_CLUSTER, "status": "quarantined", "reason": "bot_network"}
    )
    assert quarantined.status_code == HTTPStatus.CREATED
    assert (quarantined.json()["state"], quarantined.json()["changed"]) == ("applied", 40)
    assert statuses(farm) == {BallotStatus.QUARANTINED}

    close(poll)
    with pytest.raises(PollChangeRefused) as refusal:
        poll_publish(poll=poll, actor=requester)
    assert refusal.value.code == "ballots_quarantined"
    refused = post_json(client, f"{API}/polls/{poll.slug}/publish/")
    assert refused.status_code == HTTPStatus.CONFLICT
    assert refused.json()["code"] == "ballots_quarantined"

    counted = post_json(client, invalidations, {"cluster": FARM_CLUSTER, "status": "counted"})
    assert (counted.json()["state"], counted.json()["changed"]) == ("applied", 40)
    published = post_json(client, f"{API}/polls/{poll.slug}/publish/")
    assert published.status_code == HTTPStatus.OK
    assert published.json()["ballots"] == 40
    assert published.json()["invalidated"] == {}


def ids_of(ballots: list[Ballot]) -> list[int]:
    return [ballot.pk for ballot in ballots]


def test_small_invalidations_wait_once_the_poll_total_would_pass_the_threshold(poll, requester, approver):
    farm = cast_farm(poll, size=20)

    first = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm[:6]), status="invalidated", reason="bot_network"
    )
    second = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm[6:12]), status="invalidated", reason="bot_network"
    )
    third = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm[12:17]), status="invalidated", reason="bot_network"
    )

    # 6 invalidated, then 6 + 6 = 12 and 6 + 5 = 11 would pass the threshold of 10.
    assert (first.state, second.state, third.state) == ("applied", "pending", "pending")
    assert statuses(farm[:6]) == {BallotStatus.INVALIDATED}
    assert statuses(farm[6:17]) == {BallotStatus.COUNTED}
    assert invalidation_approve(request=second, actor=approver).changed == 6
    assert statuses(farm[6:12]) == {BallotStatus.INVALIDATED}


def test_counting_again_an_invalidated_ballot_waits_for_a_second_member(poll, requester, approver):
    farm = cast_farm(poll, size=5)
    invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm), status="invalidated", reason="bot_network"
    )

    restore = post_json(
        signed_in(requester),
        f"{API}/polls/{poll.slug}/invalidations/",
        {"ballot_ids": ids_of(farm[:1]), "status": "counted"},
    )

    assert restore.status_code == HTTPStatus.CREATED
    assert (restore.json()["state"], restore.json()["changed"]) == ("pending", 0)
    assert statuses(farm) == {BallotStatus.INVALIDATED}
    request = InvalidationRequest.objects.get(pk=restore.json()["id"])
    assert invalidation_approve(request=request, actor=approver).changed == 1
    assert statuses(farm[:1]) == {BallotStatus.COUNTED}


def test_quarantining_an_invalidated_ballot_is_no_side_door_to_counting_it_again(poll, requester):
    farm = cast_farm(poll, size=5)
    invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm), status="invalidated", reason="bot_network"
    )

    quarantine = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm), status="quarantined", reason="second_look"
    )

    assert quarantine.state == "pending"
    assert statuses(farm) == {BallotStatus.INVALIDATED}


def test_quarantining_and_counting_again_ballots_never_invalidated_still_apply_at_once(poll, requester):
    farm = cast_farm(poll, size=30)  # above the threshold of 10

    quarantine = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm), status="quarantined", reason="bot_network"
    )
    counted = invalidation_request(
        poll=poll, actor=requester, ballot_ids=ids_of(farm), status="counted", reason=""
    )

    assert (quarantine.state, counted.state) == ("applied", "applied")
    assert statuses(farm) == {BallotStatus.COUNTED}


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_small_invalidations_cannot_both_slip_under_the_threshold(agency, poll, requester):
    farm = cast_farm(poll, size=16)
    halves = [ids_of(farm[:8]), ids_of(farm[8:])]  # 8 each; 16 together > 10
    barrier = threading.Barrier(2)
    states: list[str] = []

    def ask(ids: list[int]) -> None:
        try:
            barrier.wait(timeout=30)
            request = invalidation_request(
                poll=poll, actor=requester, ballot_ids=ids, status="invalidated", reason="bot_network"
            )
            states.append(request.state)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(ids,)) for ids in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(states) == ["applied", "pending"]
    assert Ballot.objects.filter(poll=poll, status=BallotStatus.INVALIDATED).count() == 8


def test_a_rejected_request_changes_nothing_and_cannot_be_approved_later(poll, requester, approver):
    farm = cast_farm(poll, size=12)
    request = invalidation_request(
        poll=poll,
        actor=requester,
        cluster=("network", FARM_NETWORK),
        status="invalidated",
        reason="bot_network",
    )

    rejected = invalidation_reject(request=request, actor=approver)

    assert (rejected.state, rejected.decided_by) == ("rejected", approver)
    assert statuses(farm) == {BallotStatus.COUNTED}
    with pytest.raises(PollChangeRefused) as refusal:
        invalidation_approve(request=rejected, actor=approver)
    assert refusal.value.code == "invalid_transition"
    assert AuditLogEntry.objects.filter(action="invalidation.reject", actor=approver).count() == 1


def test_ballots_of_another_poll_are_refused_as_invalid(poll, agency, requester):
    other = PollFactory(agency=agency)
    stranger = cast_farm(other, size=1)[0]
    own = cast_farm(poll, size=1)[0]

    response = post_json(
        signed_in(requester),
        f"{API}/polls/{poll.slug}/invalidations/",
        {"ballot_ids": [own.pk, stranger.pk], "status": "invalidated", "reason": "bot_network"},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert not InvalidationRequest.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "invalidated", "reason": "bot_network"},  # no ballots named
        {"ballot_ids": [1], "cluster": FARM_CLUSTER, "status": "invalidated", "reason": "bot_network"},
        {"cluster": FARM_CLUSTER, "status": "invalidated", "reason": "Bot Network!"},
        {"cluster": {"kind": "network", "key": "198.51.100.0/24"}, "status": "invalidated", "reason": "x_y"},
        {"cluster": {"kind": "country", "key": "KR"}, "status": "invalidated", "reason": "bot_network"},
        {"cluster": FARM_CLUSTER, "status": "deleted", "reason": "bot_network"},
    ],
)
def test_bad_invalidation_requests_are_refused_with_400(poll, requester, payload):
    cast_farm(poll, size=2)

    response = post_json(signed_in(requester), f"{API}/polls/{poll.slug}/invalidations/", payload)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert not InvalidationRequest.objects.exists()


def test_nothing_changes_once_the_results_are_published(poll, requester, approver):
    farm = cast_farm(poll, size=12)
    request = invalidation_request(
        poll=poll,
        actor=requester,
        cluster=("network", FARM_NETWORK),
        status="invalidated",
        reason="bot_network",
    )
    poll_publish(poll=close(poll), actor=requester)

    with pytest.raises(PollChangeRefused) as refusal:
        invalidation_approve(request=request, actor=approver)

    assert refusal.value.code == "invalid_transition"
    assert statuses(farm) == {BallotStatus.COUNTED}


def test_a_member_of_another_agency_gets_404_on_invalidations(poll):
    outsider = MembershipFactory(role="owner").user
    mfa_enable(outsider)
    client = signed_in(outsider)

    listed = client.get(f"{API}/polls/{poll.slug}/invalidations/")
    created = post_json(
        client, f"{API}/polls/{poll.slug}/invalidations/", {"cluster": FARM_CLUSTER, "status": "quarantined"}
    )

    assert listed.status_code == created.status_code == HTTPStatus.NOT_FOUND
    assert created.json()["code"] == "not_found"


def test_the_invalidation_list_needs_a_manager_with_mfa_like_the_review_page(
    poll, agency, manager, requester
):
    cast_farm(poll, size=12)
    request = invalidation_request(
        poll=poll,
        actor=requester,
        cluster=("network", FARM_NETWORK),
        status="invalidated",
        reason="bot_network",
        note=f"all from {FARM_NETWORK}",
    )
    analyst = MembershipFactory(agency=agency, role="analyst").user
    mfa_enable(analyst)
    url = f"{API}/polls/{poll.slug}/invalidations/"

    by_analyst = signed_in(analyst).get(url)
    without_mfa = signed_in(manager).get(url)
    by_reviewer = signed_in(requester).get(url)
    approve = post_json(signed_in(analyst), f"{url}{request.pk}/approve/")

    assert by_analyst.status_code == HTTPStatus.FORBIDDEN
    assert by_analyst.json()["code"] == "permission_denied"
    assert FARM_NETWORK not in by_analyst.content.decode()
    assert without_mfa.status_code == HTTPStatus.FORBIDDEN
    assert without_mfa.json()["code"] == "mfa_required"
    assert by_reviewer.status_code == HTTPStatus.OK
    assert [item["id"] for item in by_reviewer.json()["results"]] == [request.pk]
    assert approve.status_code == HTTPStatus.FORBIDDEN
    assert approve.json()["code"] == "permission_denied"


def test_the_audit_log_hides_cluster_networks_from_members_who_may_not_review(
    poll, agency, manager, requester
):
    cast_farm(poll, size=12)
    invalidation_request(
        poll=poll,
        actor=requester,
        cluster=("network", FARM_NETWORK),
        status="invalidated",
        reason="bot_network",
    )
    analyst = MembershipFactory(agency=agency, role="analyst").user
    api, page = f"{API}/agencies/{agency.slug}/audit/", f"/agency/{agency.slug}/audit/"

    def cluster_in_api(user) -> dict:
        entries = signed_in(user).get(api).json()["results"]
        return next(
            entry["after"]["cluster"] for entry in entries if entry["action"] == "invalidation.request"
        )

    assert cluster_in_api(analyst) == {"kind": "network", "key": "[redacted]"}
    assert cluster_in_api(manager) == {"kind": "network", "key": "[redacted]"}  # no MFA
    assert cluster_in_api(requester) == {"kind": "network", "key": FARM_NETWORK}
    assert FARM_NETWORK not in signed_in(analyst).get(page).content.decode()
    assert FARM_NETWORK in signed_in(requester).get(page).content.decode()
    stored = AuditLogEntry.objects.get(action="invalidation.request")
    assert stored.after["cluster"]["key"] == FARM_NETWORK  # redacted when shown, not when kept


def test_publishing_through_the_api_needs_a_manager_with_mfa(poll, agency, manager):
    cast_farm(poll, size=2)
    close(poll)

    response = post_json(signed_in(manager), f"{API}/polls/{poll.slug}/publish/")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_required"
    assert Poll.objects.get(pk=poll.pk).state == PollState.SCHEDULED


def test_publishing_waits_for_the_grace_period_after_the_close_with_409(poll, agency, requester, settings):
    settings.PUBLISH_GRACE_SECONDS = 10
    cast_farm(poll, size=2)
    closed_at = close(poll).closed_early_at
    client = signed_in(requester)

    with time_machine.travel(closed_at + timedelta(seconds=9), tick=False):
        early = post_json(client, f"{API}/polls/{poll.slug}/publish/")
        page = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/").content.decode()
    with time_machine.travel(closed_at + timedelta(seconds=10), tick=False):
        published = post_json(client, f"{API}/polls/{poll.slug}/publish/")

    assert early.status_code == HTTPStatus.CONFLICT
    assert early.json()["code"] == "publish_too_early"
    assert early.json()["publishable_at"].startswith(
        (closed_at + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert "Results can be published from" in page
    assert published.status_code == HTTPStatus.OK
    assert published.json()["ballots"] == 2


# ------------------------------------------------------------------ pages


def test_pages_request_and_approve_a_cluster_then_publish(poll, agency, requester, approver):
    farm = cast_farm(poll)
    base = f"/agency/{agency.slug}/polls/{poll.slug}"
    first, second = signed_in(requester), signed_in(approver)

    page = first.get(f"{base}/signals/")
    assert page.status_code == HTTPStatus.OK
    assert "Review these ballots" in page.content.decode()
    asked = first.post(
        f"{base}/invalidations/",
        {
            "kind": "network",
            "key": FARM_NETWORK,
            "status": "invalidated",
            "reason": "bot_network",
            "note": "",
        },
    )
    assert asked.status_code == HTTPStatus.FOUND
    request = InvalidationRequest.objects.get()
    assert request.state == "pending"
    own_view = first.get(f"{base}/signals/").content.decode()
    assert f"{base}/invalidations/{request.pk}/approve/" not in own_view  # no button for the requester

    other_view = second.get(f"{base}/signals/").content.decode()
    assert f"{base}/invalidations/{request.pk}/approve/" in other_view
    approved = second.post(f"{base}/invalidations/{request.pk}/approve/")
    assert approved.status_code == HTTPStatus.FOUND
    assert statuses(farm) == {BallotStatus.INVALIDATED}

    close(poll)
    detail = first.get(f"{base}/").content.decode()
    assert f'action="{base}/publish/"' in detail
    assert "Publish results" in detail
    published = first.post(f"{base}/publish/")
    assert published.status_code == HTTPStatus.FOUND
    assert Poll.objects.get(pk=poll.pk).snapshot.results["invalidated"] == {"bot_network": 40}


def test_the_publish_button_is_shown_only_once_the_poll_is_closed(client, poll, agency, requester):
    client.force_login(requester)

    page = client.get(f"/agency/{agency.slug}/polls/{poll.slug}/").content.decode()

    assert "Publish results" not in page


def test_a_refused_page_request_shows_the_reason_and_changes_nothing(poll, agency, manager):
    farm = cast_farm(poll, size=3)
    client = signed_in(manager)  # no MFA

    response = client.post(
        f"/agency/{agency.slug}/polls/{poll.slug}/invalidations/",
        {"kind": "network", "key": FARM_NETWORK, "status": "invalidated", "reason": "bot_network"},
        follow=True,
    )

    assert response.status_code == HTTPStatus.OK
    assert "two-factor" in response.content.decode()
    assert statuses(farm) == {BallotStatus.COUNTED}
