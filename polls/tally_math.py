"""Counting rules, in plain Python with no Django: the server's published results and
the standalone recount (``python -m polls.recount``) run this same code.

Instant runoff (ranked polls), as Encore counts it:

1. Each round, every ballot counts for its highest-ranked option still in the race.
   A ballot with no such option is *exhausted* for that round and the rest.
2. An option with more than half of the round's non-exhausted ballots wins.
3. Otherwise the option with the fewest votes is eliminated. Tie rule, in order:
   the fewest votes in the previous round, then the round before, back to round 1;
   then the fewest first-preference votes; if still tied, the option listed last on
   the ballot paper (highest ``position``, then highest id) is eliminated.
4. When one option is left it wins; with no votes at all there is no winner.
"""

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Ranking = tuple[int, ...]


def ballot_line(*, receipt_hash: str, voter_tag: str, choices: Sequence[int], day: str) -> str:
    """The canonical text of one ballot, as committed to by checkpoints. The status is
    left out on purpose: it may change later (invalidation), with a stated reason."""
    return f"{receipt_hash}|{voter_tag}|{','.join(str(c) for c in choices)}|{day}"


def checkpoint_digest(previous_digest: str, lines: Iterable[str]) -> str:
    """Chain a batch of ballots onto the previous checkpoint: SHA-256 of the previous
    digest and the batch's canonical lines in sorted order, newline-separated."""
    body = "\n".join([previous_digest, *sorted(lines)])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


GENESIS_DIGEST = "0" * 64


def plurality_totals(option_ids: Sequence[int], ballots: Iterable[Sequence[int]]) -> dict[int, int]:
    """Votes per option for single and multiple polls: one per option picked."""
    totals = dict.fromkeys(option_ids, 0)
    for choices in ballots:
        for option in choices:
            totals[option] = totals.get(option, 0) + 1
    return totals


def shares(totals: Mapping[int, int], ballots: int) -> dict[int, float]:
    """Share of ballots that picked each option, rounded to 4 decimals (0.1234 = 12.34 %)."""
    return {option: round(votes / ballots, 4) if ballots else 0.0 for option, votes in totals.items()}


def instant_runoff(
    option_order: Sequence[int], rankings: Mapping[Ranking, int]
) -> tuple[list[dict], int | None]:
    """Run the count; return (rounds, winner). ``option_order`` lists option ids by
    ballot-paper position; ``rankings`` maps each distinct ranking to its ballots.

    Each round is ``{"round", "tallies": {id: votes}, "exhausted", "continuing",
    "eliminated": id | None, "winner": id | None}``.
    """
    continuing = list(option_order)
    paper_rank = {option: index for index, option in enumerate(option_order)}
    history: list[dict[int, int]] = []
    rounds: list[dict] = []
    first_preferences: dict[int, int] | None = None
    while continuing:
        tallies = dict.fromkeys(continuing, 0)
        exhausted = 0
        alive = set(continuing)
        for ranking, count in rankings.items():
            top = next((option for option in ranking if option in alive), None)
            if top is None:
                exhausted += count
            else:
                tallies[top] += count
        if first_preferences is None:
            first_preferences = dict(tallies)
        history.append(tallies)
        active = sum(tallies.values())
        record = {
            "round": len(rounds) + 1,
            "tallies": dict(tallies),
            "exhausted": exhausted,
            "continuing": active,
            "eliminated": None,
            "winner": None,
        }
        rounds.append(record)
        if active == 0:
            return rounds, None
        leader = max(continuing, key=lambda option: (tallies[option], -paper_rank[option]))
        if tallies[leader] * 2 > active or len(continuing) == 1:
            record["winner"] = leader
            return rounds, leader
        loser = min(
            continuing,
            key=lambda option: (
                tallies[option],
                *(earlier.get(option, 0) for earlier in reversed(history[:-1])),
                first_preferences.get(option, 0),
                -paper_rank[option],
            ),
        )
        record["eliminated"] = loser
        continuing.remove(loser)
    return rounds, None


def allowance_violations(
    tags_and_periods: Iterable[tuple[str, str]], votes_per_period: int
) -> dict[tuple[str, str], int]:
    """(voter tag, period) pairs holding more ballots than the allowance."""
    counts = Counter(tags_and_periods)
    return {key: count for key, count in counts.items() if count > votes_per_period}


def results_from_board(document: Mapping) -> dict:
    """The results that follow from a bulletin board document, and nothing else.

    Counted ballots make the totals; invalidated ones are counted by reason and
    quarantined ones apart. Used by publishing and by the standalone recount alike.
    """
    poll = document["poll"]
    option_ids = [option["id"] for option in document["options"]]
    labels = {option["id"]: option["label"] for option in document["options"]}
    counted = [ballot for ballot in document["ballots"] if ballot["status"] == "counted"]
    invalidated = Counter(
        ballot["reason"] for ballot in document["ballots"] if ballot["status"] == "invalidated"
    )
    results: dict = {
        "poll": poll["slug"],
        "status": "final",
        "ballots": len(counted),
        "turnout": {
            "ballots_cast": len(document["ballots"]),
            "voters": len({ballot["voter_tag"] for ballot in document["ballots"]}),
        },
        "invalidated": dict(sorted(invalidated.items())),
        "quarantined": sum(1 for ballot in document["ballots"] if ballot["status"] == "quarantined"),
        "checkpoints": len(document["checkpoints"]),
    }
    if poll["method"] == "ranked":
        rankings = Counter(tuple(ballot["choices"]) for ballot in counted)
        rounds, winner = instant_runoff(option_ids, rankings)
        totals = dict.fromkeys(option_ids, 0)
        for ranking, count in rankings.items():
            if ranking:
                totals[ranking[0]] += count
        results["rounds"] = [round_for_json(record) for record in rounds]
        results["winner"] = winner
    else:
        totals = plurality_totals(option_ids, (ballot["choices"] for ballot in counted))
    share = shares(totals, len(counted))
    results["options"] = [
        {"id": option, "label": labels[option], "votes": totals[option], "share": share[option]}
        for option in option_ids
    ]
    return results


def round_for_json(record: dict) -> dict:
    # JSON object keys are strings; keep the published form and the recount identical.
    return {**record, "tallies": {str(option): votes for option, votes in record["tallies"].items()}}
