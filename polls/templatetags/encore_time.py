"""Times and numbers as a fan reads them: in the viewer's time zone with the zone named,
relative ("closes in 3 hours") with the exact moment machine-readable, a daily poll's
day boundary spelled out, and counts grouped the way the reader's language groups them.

    {% load encore_time %}
    {% local_time poll.opens_at poll %}          Nov. 25, 2026, 1:57 p.m. KST (Asia/Seoul)
    {% blocktranslate with when=poll.closes_at|until %}Closes in {{ when }}{% endblocktranslate %}
    {% daily_reset poll %}
    {{ results.ballots|number }}                  12,345 (en) · 12.345 (es, pt-br, id)

The viewer's zone is the account's (``User.time_zone``, which
accounts.middleware.UserPreferencesMiddleware also activates); a visitor who is not
signed in sees the poll's own zone on a poll's pages and UTC elsewhere, always named.
"""

from datetime import datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import ngettext

register = template.Library()

UTC = ZoneInfo("UTC")


def viewer_zone(context, poll=None) -> ZoneInfo:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        try:
            return ZoneInfo(user.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return poll.zone if poll is not None else UTC


def zone_name(zone: ZoneInfo) -> str:
    return zone.key.replace("_", " ")


def zone_label(moment: datetime, zone: ZoneInfo) -> str:
    """``KST (Asia/Seoul)``: the abbreviation people say, when the zone has a lettered
    one, and the IANA name, which is unambiguous (CST is three zones)."""
    abbreviation = moment.tzname() or ""
    if zone.key == "UTC" or not abbreviation.isalpha():
        return zone_name(zone)
    return f"{abbreviation} ({zone_name(zone)})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@register.simple_tag(takes_context=True)
def local_time(context, moment, poll=None, zone: str = "", format: str = "DATETIME_FORMAT") -> SafeString:
    """``<time>`` with the moment in the viewer's zone (or ``zone``), the zone named."""
    if not isinstance(moment, datetime):
        return mark_safe("")
    where = ZoneInfo(zone) if zone else viewer_zone(context, poll)
    local = moment.astimezone(where)
    text = f"{formats.date_format(local, format)} {zone_label(local, where)}"
    return format_html('<time datetime="{}">{}</time>', _iso(moment), text)


@register.filter(is_safe=True)
def until(moment) -> SafeString:
    """How long until ``moment`` ("3 hours"), in a ``<time>`` with the exact moment."""
    if not isinstance(moment, datetime):
        return mark_safe("")
    return format_html('<time datetime="{}">{}</time>', _iso(moment), timeuntil(moment, depth=1))


@register.filter(is_safe=True)
def since(moment) -> SafeString:
    """How long since ``moment`` ("2 days"), in a ``<time>`` with the exact moment."""
    if not isinstance(moment, datetime):
        return mark_safe("")
    return format_html('<time datetime="{}">{}</time>', _iso(moment), timesince(moment, depth=1))


def next_midnight(poll, moment: datetime) -> datetime:
    """The next start of a day in the poll's zone: when a daily allowance renews."""
    local_day = moment.astimezone(poll.zone).date()
    return datetime.combine(local_day + timedelta(days=1), clock(0), tzinfo=poll.zone)


@register.simple_tag(takes_context=True)
def daily_reset(context, poll, moment=None) -> SafeString:
    """ "Your 3 daily votes reset at midnight Asia/Jakarta time — 02:00 your time."."""
    renewal = next_midnight(poll, moment or timezone.now())
    viewer = viewer_zone(context, poll)
    n = poll.votes_per_period
    values = {"n": n, "zone": zone_name(poll.zone), "time": "\x00"}
    if viewer.key == poll.zone.key:
        sentence = ngettext(
            "Your %(n)s daily vote resets at midnight %(zone)s time.",
            "Your %(n)s daily votes reset at midnight %(zone)s time.",
            n,
        )
    else:
        sentence = ngettext(
            "Your %(n)s daily vote resets at midnight %(zone)s time — %(time)s your time.",
            "Your %(n)s daily votes reset at midnight %(zone)s time — %(time)s your time.",
            n,
        )
    yours = renewal.astimezone(viewer)
    when = format_html(
        '<time datetime="{}">{}</time>', _iso(renewal), f"{formats.time_format(yours, 'TIME_FORMAT')}"
    )
    return mark_safe(escape(sentence % values).replace("\x00", when))


@register.filter(is_safe=True)
def number(value) -> str:
    """A count grouped by the reader's locale: 12,345 in English, 12.345 in Spanish."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, use_l10n=True, force_grouping=True)
