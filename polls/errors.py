"""Refusals of the poll rules. Codes and statuses come from ``voting.errors.Code``;
these subclasses only let a view catch the refusals of one area."""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from voting.errors import Code, DomainError


class PollRuleError(DomainError):
    """Base of every poll refusal."""


class VoteRefused(PollRuleError):
    """A ballot was not cast; nothing was written."""


class PollChangeRefused(PollRuleError):
    """An agency change to a poll was refused; nothing was written."""


class PollDataInvalid(PollChangeRefused):
    """``400 invalid`` naming each offending field, as DESIGN.md's ``fields``."""

    def __init__(self, fields: Mapping[str, Any], detail: str = ""):
        self.fields = {
            name: [str(message) for message in (messages if isinstance(messages, list) else [messages])]
            for name, messages in fields.items()
        }
        super().__init__(Code.INVALID, detail or _("The poll data is not valid."), fields=self.fields)
