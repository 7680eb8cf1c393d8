"""The polls app's part of a fan's data (accounts/data_rights.py): their ballots.

Exported: every ballot with its status (the receipt's answer), choices, receipt hash and
what the client sent (address while kept, network, fingerprint). Never the receipt
code: it was shown once and only its SHA-256 is kept.

Erased on account deletion: the ballots' raw address and fingerprint, and the stored
answers of retried votes (they hold receipt codes in clear). The ballots themselves
stay, as they are on the bulletin board: their voter tag is an HMAC of the user id,
which the tombstone keeps, so no count, result or board digest changes.
"""

from typing import Any

from polls.models import Ballot, IdempotentAnswer
from polls.selectors import ballots_of_voter


def ballots_export(user) -> dict[str, Any]:
    return {
        "ballots": [
            {
                "poll": ballot.poll.slug,
                "poll_title": ballot.poll.title,
                "cast_at": _iso(ballot.cast_at),
                "day": ballot.day.isoformat(),
                "choices": [
                    {"id": choice.option_id, "label": choice.option.label, "rank": choice.rank}
                    for choice in ballot.choices.all()
                ],
                "status": ballot.status,
                "reason": ballot.status_reason,
                "receipt_hash": ballot.receipt_hash,
                "checkpoint": ballot.checkpoint,
                "client_ip": ballot.client_ip,
                "client_network": ballot.client_network,
                "client_fingerprint": ballot.client_fingerprint,
            }
            for ballot in ballots_of_voter(voter=user)
        ]
    }


def ballots_erase(user) -> None:
    """Keep the ballots, pseudonymous: drop what identifies the client. The network
    (/24, /64) stays, as it does after RAW_IP_RETENTION_DAYS, for the fraud signals."""
    Ballot.objects.filter(voter=user).update(client_ip=None, client_fingerprint="")
    IdempotentAnswer.objects.filter(voter=user).delete()


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
