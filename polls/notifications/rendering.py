"""What a notification says, in the fan's language and time zone, decided when it is
shown or mailed (never when it is stored), so a fan who changes either sees the change."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from polls.notifications.models import NotificationKind


@dataclass(frozen=True)
class RenderedNotification:
    title: str
    body: str
    path: str
    language: str


def fan_language(user) -> str:
    return user.preferred_language or settings.LANGUAGE_CODE


def fan_zone(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _moment(value: str | None, zone: zoneinfo.ZoneInfo) -> str:
    moment: datetime | None = parse_datetime(value) if value else None
    if moment is None:
        return ""
    # The localized format of the active language: "27 de noviembre de 2026 a las 10:00".
    return formats.date_format(timezone.localtime(moment, zone), "DATETIME_FORMAT")


def _texts(kind: str, params: dict, zone: zoneinfo.ZoneInfo) -> tuple[str, str, str]:
    title = params.get("title", "")
    closes = _moment(params.get("closes_at"), zone)
    slug = params.get("slug")
    poll_path = reverse("poll_detail", kwargs={"slug": slug}) if slug else "/"
    if kind == NotificationKind.POLL_OPENED:
        return (
            _("Voting is open: %(title)s") % {"title": title},
            _("Vote until %(closes)s.") % {"closes": closes},
            poll_path,
        )
    if kind == NotificationKind.POLL_CLOSING:
        return (
            _("Last day to vote: %(title)s") % {"title": title},
            _("The poll closes on %(closes)s and you still have votes left.") % {"closes": closes},
            poll_path,
        )
    if kind == NotificationKind.RESULTS_PUBLISHED:
        path = reverse("poll_results", kwargs={"slug": slug}) if slug else "/"
        return (
            _("Results are out: %(title)s") % {"title": title},
            _("The results were published on %(published)s.")
            % {"published": _moment(params.get("published_at"), zone)},
            path,
        )
    return (
        _("Your suggestion made it: %(suggestion)s") % {"suggestion": params.get("suggestion", "")},
        _("It is now an option of “%(title)s”.") % {"title": title},
        params.get("path") or poll_path,
    )


def notification_render(*, kind: str, params: dict, user) -> RenderedNotification:
    """The notification's title, text and link for ``user``: their language, their zone."""
    language = fan_language(user)
    with translation.override(language):
        title, body, path = _texts(kind, params, fan_zone(user))
    return RenderedNotification(title=title, body=body, path=path, language=language)
