"""Refusals of the poll rules, with the stable codes of DESIGN.md."""

from http import HTTPStatus

from voting.errors import DomainError

STATUS_OF_CODE = {
    "invalid_choice": HTTPStatus.BAD_REQUEST,
    "invalid": HTTPStatus.BAD_REQUEST,
    "not_authenticated": HTTPStatus.UNAUTHORIZED,
    "email_unverified": HTTPStatus.FORBIDDEN,
    "not_eligible": HTTPStatus.FORBIDDEN,
    "permission_denied": HTTPStatus.FORBIDDEN,
    "results_hidden": HTTPStatus.FORBIDDEN,
    "mfa_required": HTTPStatus.FORBIDDEN,
    "agency_unverified": HTTPStatus.FORBIDDEN,
    "not_found": HTTPStatus.NOT_FOUND,
    "poll_not_open": HTTPStatus.CONFLICT,
    "poll_closed": HTTPStatus.CONFLICT,
    "already_voted": HTTPStatus.CONFLICT,
    "poll_frozen": HTTPStatus.CONFLICT,
    "invalid_transition": HTTPStatus.CONFLICT,
    # Four eyes: the member who asked for an invalidation cannot also decide on it.
    "same_reviewer": HTTPStatus.CONFLICT,
    "ballots_quarantined": HTTPStatus.CONFLICT,
    "idempotency_key_reused": HTTPStatus.UNPROCESSABLE_ENTITY,
    "rate_limited": HTTPStatus.TOO_MANY_REQUESTS,
}


class PollRuleError(DomainError):
    """Base of every poll refusal; the status follows from the code."""

    def __init__(self, code: str, detail: str = "", *, reason: str = ""):
        super().__init__(code, detail, http_status=STATUS_OF_CODE.get(code, HTTPStatus.BAD_REQUEST))
        self.reason = reason

    def as_body(self) -> dict:
        body = {"code": self.code, "detail": str(self.detail)}
        if self.reason:
            body["reason"] = self.reason
        return body


class VoteRefused(PollRuleError):
    """A ballot was not cast; nothing was written."""


class PollChangeRefused(PollRuleError):
    """An agency change to a poll was refused; nothing was written."""
