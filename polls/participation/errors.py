"""Refusals of the participation rules. Codes and statuses come from ``voting.errors``."""

from voting.errors import DomainError


class ParticipationRefused(DomainError):
    """A follow, proposal, support or agency action on calls was refused; nothing was written."""
