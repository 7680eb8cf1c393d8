from voting.errors import DomainError


class AgencyActionRefused(DomainError):
    """An agency action refused by a rule (role, MFA, invitation state); nothing was
    written. Codes and statuses come from ``voting.errors.Code``."""


class ProfileChangeRefused(DomainError):
    """A change to a fan's own profile refused by a rule (the country's); nothing was
    written."""


class AccountActionRefused(DomainError):
    """A fan's action on their own account refused (e.g. deletion with a wrong
    password); nothing was written."""
