"""Property: whatever the ballots, the three counts agree.

Hypothesis draws a poll (single, multiple or ranked; two to five options), ballots by a
few voters, status changes (quarantine, invalidation with a reason, counting again)
and when the tally refresher runs between them. The live tally (``tally_refresh``,
``live_results``), the published snapshot (``poll_publish``, ``snapshot_build``) and the
standalone recount of the downloaded board (``polls.recount.recount``) must then give
the same totals, and those of a plain count of what was drawn.

Each example runs in its own transaction, rolled back after it
(``hypothesis.extra.django.TestCase``), against the real vote path and PostgreSQL.
"""

from collections import Counter

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from polls.agency.publishing import poll_publish
from polls.models import Ballot, BallotStatus, VotingMethod
from polls.receipts import receipt_hash
from polls.recount import COMPARED_FIELDS, recount
from polls.services import ballot_cast
from polls.tally import live_results, tally_refresh, tally_status_change
from tests.factories import MembershipFactory, PollFactory, UserFactory
from tests.helpers import close, session_user

LABELS = ["Seoul", "Tokyo", "Madrid", "Lima", "Oslo"]
# A status a reviewer may set, with its reason; quarantine is never left at the end
# (a poll with quarantined ballots cannot be published).
STATUSES = [
    (BallotStatus.COUNTED, ""),
    (BallotStatus.QUARANTINED, "review"),
    (BallotStatus.INVALIDATED, "bot_network"),
    (BallotStatus.INVALIDATED, "duplicate_account"),
]
FINAL_STATUSES = [status for status in STATUSES if status[0] != BallotStatus.QUARANTINED]


@st.composite
def scenarios(draw) -> dict:
    method = draw(st.sampled_from(VotingMethod.values))
    options = draw(st.integers(min_value=2, max_value=len(LABELS)))
    max_choices = 1 if method == VotingMethod.SINGLE else draw(st.integers(min_value=1, max_value=options))
    ballot = st.lists(
        st.integers(min_value=0, max_value=options - 1), min_size=1, max_size=max_choices, unique=True
    )
    casts = draw(st.lists(st.tuples(ballot, st.booleans()), min_size=0, max_size=12))
    # (ballot index, status, refresh before it): changes in any order, before or after
    # the ballot entered the counters.
    changes = []
    if casts:
        changes = draw(
            st.lists(
                st.tuples(
                    st.integers(min_value=0, max_value=len(casts) - 1),
                    st.sampled_from(STATUSES),
                    st.booleans(),
                ),
                max_size=8,
            )
        )
    return {
        "method": method,
        "options": options,
        "max_choices": max_choices,
        "casts": casts,
        "changes": changes,
        "voters": draw(st.integers(min_value=1, max_value=4)),
    }


def final_statuses(scenario: dict) -> list[tuple[str, str]]:
    """Each ballot's status once every change is applied and quarantine is cleared."""
    statuses = [(BallotStatus.COUNTED, "")] * len(scenario["casts"])
    for index, status, _refresh in scenario["changes"]:
        statuses[index] = status
    return [(BallotStatus.COUNTED, "") if s[0] == BallotStatus.QUARANTINED else s for s in statuses]


def expected_totals(scenario: dict, option_ids: list[int]) -> tuple[dict[int, int], dict[str, int]]:
    """A plain count of what was drawn: votes per option (first preferences when
    ranked) among counted ballots, and invalidated ballots by reason."""
    votes = dict.fromkeys(option_ids, 0)
    invalidated: Counter[str] = Counter()
    for (picks, _refresh), (status, reason) in zip(scenario["casts"], final_statuses(scenario), strict=True):
        if status == BallotStatus.INVALIDATED:
            invalidated[reason] += 1
            continue
        counted = picks[:1] if scenario["method"] == VotingMethod.RANKED else picks
        for pick in counted:
            votes[option_ids[pick]] += 1
    return votes, dict(sorted(invalidated.items()))


def change_status(poll, ballot_id: int, status: str, reason: str) -> None:
    with transaction.atomic():
        tally_status_change(poll=poll, ballot_ids=[ballot_id], status=status, reason=reason)


class CountsAgreeTests(TestCase):
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenario=scenarios())
    def test_live_tally_published_snapshot_and_recount_agree_for_any_ballots(self, scenario):
        poll = PollFactory(
            method=scenario["method"],
            min_choices=1,
            max_choices=scenario["max_choices"],
            votes_per_period=20,
            option_labels=LABELS[: scenario["options"]],
        )
        option_ids = list(poll.options.values_list("pk", flat=True))
        voters = [UserFactory(verified=True) for _ in range(scenario["voters"])]
        ballot_ids = []
        for number, (picks, refresh_after) in enumerate(scenario["casts"]):
            answer = ballot_cast(
                poll=poll, voter=voters[number % len(voters)], choices=[option_ids[p] for p in picks]
            )
            ballot_ids.append(Ballot.objects.get(receipt_hash=receipt_hash(answer.body["receipt"])).pk)
            if refresh_after:
                tally_refresh(poll=poll)
        for index, (status, reason), refresh_before in scenario["changes"]:
            if refresh_before:
                tally_refresh(poll=poll)
            change_status(poll, ballot_ids[index], status, reason)
        for ballot_id in Ballot.objects.filter(poll=poll, status=BallotStatus.QUARANTINED).values_list(
            "pk", flat=True
        ):
            change_status(poll, ballot_id, BallotStatus.COUNTED, "")
        tally_refresh(poll=poll)
        live = live_results(poll=poll)

        manager = MembershipFactory(agency=poll.agency, role="manager").user
        snapshot = poll_publish(poll=close(poll), actor=session_user(manager, mfa=True))
        recount_lines: list[str] = []
        verified = recount(snapshot.board_json.encode(), results=snapshot.results, out=recount_lines.append)

        votes, invalidated = expected_totals(scenario, option_ids)
        assert {row["id"]: row["votes"] for row in live["options"]} == votes
        assert live["invalidated"] == invalidated
        assert live["ballots"] == sum(1 for status, _ in final_statuses(scenario) if status == "counted")
        assert live["quarantined"] == 0
        for field in COMPARED_FIELDS:
            if field != "turnout":  # only the board knows voters; live results do not show turnout
                assert live.get(field) == snapshot.results.get(field), field
        assert verified, "\n".join(recount_lines)
        assert snapshot.results["turnout"]["ballots_cast"] == len(scenario["casts"])
