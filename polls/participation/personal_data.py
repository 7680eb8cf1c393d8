"""Participation's part of a fan's data (accounts/data_rights.py): follows, proposals
and supports. On account deletion the follows go, and the proposals and supports stay
(they are counted in public) without their raw address and fingerprint."""

from typing import Any

from polls.participation.models import Follow, Proposal, Support


def participation_export(user) -> dict[str, Any]:
    return {
        "follows": [
            {"artist": follow.artist.slug, "since": follow.created_at.isoformat()}
            for follow in Follow.objects.filter(fan=user).select_related("artist")
        ],
        "proposals": [
            {
                "call": proposal.call_id,
                "label": proposal.label,
                "state": proposal.state,
                "created_at": proposal.created_at.isoformat(),
                "client_ip": proposal.client_ip,
                "client_network": proposal.client_network,
                "client_fingerprint": proposal.client_fingerprint,
            }
            for proposal in Proposal.objects.filter(proposer=user)
        ],
        "supports": [
            {
                "call": support.call_id,
                "proposal": support.proposal_id,
                "cast_at": support.cast_at.isoformat(),
                "client_ip": support.client_ip,
                "client_network": support.client_network,
                "client_fingerprint": support.client_fingerprint,
            }
            for support in Support.objects.filter(voter=user)
        ],
    }


def participation_erase(user) -> None:
    Follow.objects.filter(fan=user).delete()
    Proposal.objects.filter(proposer=user).update(client_ip=None, client_fingerprint="")
    Support.objects.filter(voter=user).update(client_ip=None, client_fingerprint="")
