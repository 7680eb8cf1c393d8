"""How a ballot row is built: the one place that knows every field of a ballot and of
its choices. The vote service saves one at a time; demo seeding and the benchmark
build many and save them in bulk."""

from collections.abc import Sequence
from datetime import datetime

from accounts.client_ip import network_of
from polls.models import Ballot, BallotChoice, Poll, VotingMethod
from polls.receipts import receipt_hash


def ballot_build(
    *,
    poll: Poll,
    voter,
    moment: datetime,
    receipt: str,
    slot: int = 0,
    client_ip: str | None = None,
    client_fingerprint: str = "",
) -> Ballot:
    """An unsaved ballot cast at ``moment``, counting against the voter's period and
    ``slot`` of the allowance. Only the receipt's hash is kept."""
    return Ballot(
        poll=poll,
        voter=voter,
        period=poll.period_of(moment),
        slot=slot,
        day=poll.local_day(moment),
        cast_at=moment,
        receipt_hash=receipt_hash(receipt),
        client_ip=client_ip,
        client_network=network_of(client_ip) if client_ip else "",
        client_fingerprint=client_fingerprint,
    )


def ballot_choices_build(*, poll: Poll, ballot: Ballot, option_ids: Sequence[int]) -> list[BallotChoice]:
    """The unsaved choices of a saved ballot, in the voter's order: ranked polls keep
    the order as ranks 1, 2, ...; other methods give every choice rank 1."""
    ranked = poll.method == VotingMethod.RANKED
    return [
        BallotChoice(poll=poll, ballot=ballot, option_id=option_id, rank=index + 1 if ranked else 1)
        for index, option_id in enumerate(option_ids)
    ]
