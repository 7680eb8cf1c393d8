"""The IANA time zones a user or a poll may choose.

Validated rather than declared as model choices: the list comes from the machine's
tz database, and choices would make migrations differ from one machine to the next.
"""

import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known time zone."), params={"value": value}, code="invalid_time_zone"
        )
