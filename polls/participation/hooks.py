"""What participation tells the rest of the service, for notifications to hang on.

``proposals_promoted`` is a Django signal sent (after commit) when an agency promotes
proposals into options of a new draft poll; receivers get ``poll`` and ``proposals``
(a list of ``Proposal``, each with its ``proposer_id``). The notifications app connects
a receiver; nothing here knows about notifications.
"""

from django.dispatch import Signal

proposals_promoted = Signal()


def on_proposals_promoted(*, poll, proposals) -> None:
    """Called once the promotion has committed: tell whoever listens."""
    proposals_promoted.send(sender=on_proposals_promoted, poll=poll, proposals=list(proposals))
