"""Live tallies: counters folded in by a refresher, never by the vote path.

Why this design: the vote transaction only inserts its own rows, so no two voters
ever wait on one another (no hot counter row). A refresher, outside any request,
takes the ballots not yet tallied (a partial index makes that the size of the
backlog, not of the poll), adds them to a few counter rows and marks them tallied,
all in one transaction. A ballot is therefore counted exactly once: the mark and the
increment commit together. Marking instead of a watermark on ids matters because
ids are handed out before commit: a slow transaction can commit id 101 after 102
was seen, and a watermark would skip it for ever.

The same transaction folds the agency insight's counters (polls/insight_counters.py,
docs/insight.md), so they too count each ballot exactly once.

Reading results costs a handful of queries on the counter rows whatever the number
of ballots; staleness is the refresher's interval (``TALLY_INTERVAL``, 2 s).
"""

from collections import Counter, defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from polls.insight_counters import BALLOT_FIELDS as INSIGHT_FIELDS
from polls.insight_counters import insight_fold, insight_status_change
from polls.models import (
    Ballot,
    BallotChoice,
    BallotStatus,
    OptionTally,
    Poll,
    PollTally,
    RankingTally,
    VotingMethod,
)
from polls.tally_math import instant_runoff, round_for_json, shares

BATCH_SIZE = 5000


def tally_refresh(*, poll: Poll) -> int:
    """Fold every untallied ballot of the poll into its counters; return how many.

    Safe to run on several machines at once: the poll's tally row is locked for the
    length of a batch, so refreshers of one poll take turns.
    """
    folded = 0
    while True:
        with transaction.atomic():
            tally = lock_poll_tally(poll)
            ids = list(
                Ballot.objects.filter(poll=poll, tallied=False)
                .order_by("id")
                .values_list("id", flat=True)[:BATCH_SIZE]
            )
            if not ids:
                tally.refreshed_at = timezone.now()
                tally.save(update_fields=["refreshed_at"])
                return folded
            _fold(poll, tally, ids)
            folded += len(ids)


def polls_with_untallied_ballots() -> list[int]:
    return list(Ballot.objects.filter(tallied=False).values_list("poll_id", flat=True).distinct())


def lock_poll_tally(poll: Poll) -> PollTally:
    PollTally.objects.get_or_create(poll=poll)
    return PollTally.objects.select_for_update().get(poll=poll)


def _fold(poll: Poll, tally: PollTally, ids: list[int]) -> None:
    ballots = list(Ballot.objects.filter(id__in=ids).values("id", "status", "status_reason", *INSIGHT_FIELDS))
    choices = _choices_by_ballot(ids)
    option_deltas: Counter[int] = Counter()
    ranking_deltas: Counter[str] = Counter()
    invalidated = Counter(tally.invalidated)
    counted = quarantined = 0
    for ballot in ballots:
        if ballot["status"] == BallotStatus.INVALIDATED:
            invalidated[ballot["status_reason"]] += 1
            continue
        if ballot["status"] == BallotStatus.QUARANTINED:
            quarantined += 1
            continue
        counted += 1
        picks = choices.get(ballot["id"], [])
        _count_picks(poll, picks, option_deltas, ranking_deltas, sign=1)
    _apply_deltas(poll, option_deltas, ranking_deltas)
    # In this transaction, so the insight counts each ballot exactly when the tally does.
    insight_fold(poll=poll, ballots=ballots, choices=choices)
    tally.ballots = F("ballots") + counted
    tally.quarantined = F("quarantined") + quarantined
    tally.invalidated = dict(invalidated)
    tally.refreshed_at = timezone.now()
    tally.save(update_fields=["ballots", "quarantined", "invalidated", "refreshed_at"])
    tally.refresh_from_db(fields=["ballots", "quarantined"])
    Ballot.objects.filter(id__in=ids).update(tallied=True)


def tally_status_change(*, poll: Poll, ballot_ids: list[int], status: str, reason: str) -> int:
    """Move ballots to a new status and keep the counters right; return how many
    changed. Runs inside the caller's transaction; locks the tally row first, then
    the ballots, in the same order as the refresher, so the two cannot deadlock."""
    tally = lock_poll_tally(poll)
    ballots = list(
        Ballot.objects.select_for_update()
        .filter(poll=poll, id__in=ballot_ids)
        .exclude(status=status, status_reason=reason)
        .values("id", "status", "status_reason", "tallied", "cast_at")
    )
    if not ballots:
        return 0
    choices = _choices_by_ballot([b["id"] for b in ballots if b["tallied"]])
    # Untallied ballots reach the insight with their new status when folded.
    insight_status_change(
        poll=poll, ballots=(b for b in ballots if b["tallied"]), choices=choices, status=status
    )
    option_deltas: Counter[int] = Counter()
    ranking_deltas: Counter[str] = Counter()
    invalidated = Counter(tally.invalidated)
    counted_delta = quarantined_delta = 0
    for ballot in (b for b in ballots if b["tallied"]):
        for old_or_new, sign in ((ballot, -1), ({"status": status, "status_reason": reason}, 1)):
            if old_or_new["status"] == BallotStatus.COUNTED:
                counted_delta += sign
                _count_picks(poll, choices.get(ballot["id"], []), option_deltas, ranking_deltas, sign=sign)
            elif old_or_new["status"] == BallotStatus.QUARANTINED:
                quarantined_delta += sign
            else:
                invalidated[old_or_new["status_reason"]] += sign
    _apply_deltas(poll, option_deltas, ranking_deltas)
    tally.ballots = F("ballots") + counted_delta
    tally.quarantined = F("quarantined") + quarantined_delta
    tally.invalidated = {key: value for key, value in invalidated.items() if value}
    tally.save(update_fields=["ballots", "quarantined", "invalidated"])
    Ballot.objects.filter(id__in=[b["id"] for b in ballots]).update(status=status, status_reason=reason)
    return len(ballots)


def _choices_by_ballot(ids: list[int]) -> dict[int, list[int]]:
    picks: dict[int, list[int]] = defaultdict(list)
    rows = BallotChoice.objects.filter(ballot_id__in=ids).order_by("ballot_id", "rank", "id")
    for ballot_id, option_id in rows.values_list("ballot_id", "option_id"):
        picks[ballot_id].append(option_id)
    return picks


def _count_picks(poll: Poll, picks: list[int], options: Counter, rankings: Counter, *, sign: int) -> None:
    if poll.method == VotingMethod.RANKED:
        if picks:
            options[picks[0]] += sign
        rankings[",".join(map(str, picks))] += sign
    else:
        for option in picks:
            options[option] += sign


def _apply_deltas(poll: Poll, option_deltas: Counter, ranking_deltas: Counter) -> None:
    for option_id, delta in option_deltas.items():
        if delta and not OptionTally.objects.filter(poll=poll, option_id=option_id).update(
            votes=F("votes") + delta
        ):
            OptionTally.objects.create(poll=poll, option_id=option_id, votes=delta)
    for ranking, delta in ranking_deltas.items():
        if delta and not RankingTally.objects.filter(poll=poll, ranking=ranking).update(
            ballots=F("ballots") + delta
        ):
            RankingTally.objects.create(poll=poll, ranking=ranking, ballots=delta)


def live_results(*, poll: Poll) -> dict:
    """Results from the counters: a fixed number of queries however many ballots."""
    tally = PollTally.objects.filter(poll=poll).first() or PollTally(poll=poll)
    options = list(poll.options.all())
    votes = dict(OptionTally.objects.filter(poll=poll).values_list("option_id", "votes"))
    totals = {option.pk: votes.get(option.pk, 0) for option in options}
    result = {
        "poll": poll.slug,
        "status": "live",
        "ballots": tally.ballots,
        "invalidated": dict(sorted(tally.invalidated.items())),
        "quarantined": tally.quarantined,
        "options": _option_rows(options, totals, tally.ballots),
        "updated_at": _iso(tally.refreshed_at),
    }
    if poll.method == VotingMethod.RANKED:
        rankings = {
            tuple(int(part) for part in ranking.split(",") if part): count
            for ranking, count in RankingTally.objects.filter(poll=poll, ballots__gt=0).values_list(
                "ranking", "ballots"
            )
        }
        rounds, winner = instant_runoff([option.pk for option in options], rankings)
        result["rounds"] = [round_for_json(record) for record in rounds]
        result["winner"] = winner
    return result


def _option_rows(options, totals: dict[int, int], ballots: int) -> list[dict]:
    share = shares(totals, ballots)
    return [
        {"id": option.pk, "label": option.label, "votes": totals[option.pk], "share": share[option.pk]}
        for option in options
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
