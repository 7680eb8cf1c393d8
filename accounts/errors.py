from http import HTTPStatus

from voting.errors import DomainError


class AgencyActionRefused(DomainError):
    """An agency write refused by a rule (role, MFA, invitation state)."""

    code = "permission_denied"
    http_status = HTTPStatus.FORBIDDEN
