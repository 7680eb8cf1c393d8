"""What the audit log records of a poll or an option: JSON snapshots of their fields."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils.duration import duration_iso_string

from polls.agency.rules import OPTION_FIELDS, POLL_FIELDS
from polls.models import Option, Poll


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if hasattr(value, "code"):  # a django_countries Country
        return value.code
    return value


def field_value(instance, name: str) -> Any:
    if name in ("allowed_countries", "blocked_countries"):
        # A descriptor that iterates as Country objects, not a list.
        return sorted(getattr(country, "code", country) for country in getattr(instance, name))
    if name == "country":
        value = getattr(instance, name)
        return (value.code or "") if hasattr(value, "code") else str(value or "")
    if name == "image":
        return instance.image.name if instance.image else ""
    return getattr(instance, name)


def poll_snapshot(poll: Poll, fields: tuple[str, ...] = ("state", *POLL_FIELDS)) -> dict:
    return {name: jsonable(field_value(poll, name)) for name in fields}


def option_snapshot(option: Option, fields: tuple[str, ...] = (*OPTION_FIELDS, "image")) -> dict:
    return {"id": option.pk, **{name: jsonable(field_value(option, name)) for name in fields}}


def state_snapshot(poll: Poll) -> dict:
    return {
        "state": poll.state,
        "status": str(poll.status),
        "closed_early_at": jsonable(poll.closed_early_at),
        "cancelled_at": jsonable(poll.cancelled_at),
    }
