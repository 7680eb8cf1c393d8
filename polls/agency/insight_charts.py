"""Server-rendered SVG for the insight: the turnout chart, the agency home's
sparklines and the voter-country map of a city poll.

Like polls/world_map.py: no JavaScript, no style attributes (the Content-Security-Policy
forbids inline styles; static/css/site.css sizes the figures), every piece of text
escaped, so the returned markup is safe to ``mark_safe``. The numbers are always also
on the page as a table; the SVG's <desc> says the essentials for screen readers.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from polls.world_map import MapPoint, city_map_svg

COUNTRY_POINTS_FILE = Path(__file__).resolve().parent.parent / "data" / "country_points.json"

BAR_FILL = "#b3124e"  # the map's circle colour: passes WCAG AA on white
AXIS = "#55606b"
GRID = "#d5d9de"
TEXT_FILL = "#111111"

CHART_WIDTH = 640
CHART_HEIGHT = 220
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 12
MARGIN_BOTTOM = 30


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _parse(start: str) -> datetime:
    return datetime.fromisoformat(start.replace("Z", "+00:00"))


def _moment_label(start: str, step: str, zone: ZoneInfo) -> str:
    local = _parse(start).astimezone(zone)
    return local.strftime("%m-%d") if step == "day" else local.strftime("%m-%d %H:%M")


def _uid(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def turnout_chart_svg(points: list[dict], *, title: str, step: str, time_zone: str) -> SafeString:
    """Bars of ballots per bucket (``points``: ``[{"start", "ballots"}]``)."""
    zone = ZoneInfo(time_zone)
    uid = f"turnout-{_uid(title, step, tuple((p['start'], p['ballots']) for p in points))}"
    title_id, desc_id = f"{uid}-title", f"{uid}-desc"
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = max((p["ballots"] for p in points), default=0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{title_id} {desc_id}" class="insight-chart">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(_chart_description(points, step, zone))}</desc>',
    ]
    baseline = MARGIN_TOP + plot_height
    out.append(
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{CHART_WIDTH - MARGIN_RIGHT}" y2="{MARGIN_TOP}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{MARGIN_LEFT}" y1="{baseline}" x2="{CHART_WIDTH - MARGIN_RIGHT}" y2="{baseline}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    out.append(f'<g fill="{BAR_FILL}">')
    if points and top:
        slot = plot_width / len(points)
        gap = min(1.0, slot * 0.15)
        for index, point in enumerate(points):
            height = plot_height * point["ballots"] / top
            if not height:
                continue
            x = MARGIN_LEFT + index * slot + gap / 2
            out.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(baseline - height)}" width="{_fmt(max(slot - gap, 0.5))}" '
                f'height="{_fmt(height)}"/>'
            )
    out.append("</g>")
    out.append(
        f'<g font-family="system-ui, sans-serif" font-size="11" fill="{TEXT_FILL}" aria-hidden="true">'
    )
    out.append(f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">{top:,}</text>')
    out.append(f'<text x="{MARGIN_LEFT - 6}" y="{baseline + 4}" text-anchor="end">0</text>')
    if points:
        label_y = baseline + 18
        first, last = points[0], points[-1]
        out.append(
            f'<text x="{MARGIN_LEFT}" y="{label_y}" text-anchor="start">'
            f"{escape(_moment_label(first['start'], step, zone))}</text>"
        )
        if len(points) > 1:
            out.append(
                f'<text x="{CHART_WIDTH - MARGIN_RIGHT}" y="{label_y}" text-anchor="end">'
                f"{escape(_moment_label(last['start'], step, zone))}</text>"
            )
    out.append("</g></svg>")
    return mark_safe("".join(out))  # built here, every text escaped


def _chart_description(points: list[dict], step: str, zone: ZoneInfo) -> str:
    if not points:
        return gettext("No ballots in this range yet.")
    total = sum(p["ballots"] for p in points)
    busiest = max(points, key=lambda p: p["ballots"])
    per = {"5min": gettext("5 minutes"), "hour": gettext("hour"), "day": gettext("day")}[step]
    return gettext(
        "Ballots per %(per)s from %(first)s to %(last)s: %(total)s in all, at most %(most)s (at %(busiest)s)."
    ) % {
        "per": per,
        "first": _moment_label(points[0]["start"], step, zone),
        "last": _moment_label(points[-1]["start"], step, zone),
        "total": f"{total:,}",
        "most": f"{busiest['ballots']:,}",
        "busiest": _moment_label(busiest["start"], step, zone),
    }


def sparkline_svg(points: list[dict], *, label: str) -> SafeString:
    """A small line of ballots per bucket, for the agency home; ``label`` says it in
    words (the card shows the total as text too)."""
    width, height = 120, 28
    values = [p["ballots"] for p in points]
    top = max(values, default=0) or 1
    if len(values) < 2:
        values = [values[0] if values else 0] * 2
    step = width / (len(values) - 1)
    coords = " ".join(
        f"{_fmt(index * step)},{_fmt(height - 2 - (height - 4) * value / top)}"
        for index, value in enumerate(values)
    )
    return mark_safe(  # built here, the label escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)}" class="sparkline">'
        f'<polyline points="{coords}" fill="none" stroke="{BAR_FILL}" stroke-width="2" '
        f'stroke-linejoin="round"/></svg>'
    )


@functools.lru_cache(maxsize=1)
def country_points() -> dict[str, tuple[float, float]]:
    """Where each voter country is drawn: its capital (polls/data/README.md)."""
    with COUNTRY_POINTS_FILE.open(encoding="utf-8") as fh:
        return {code: (lat, lon) for code, (lat, lon) in json.load(fh).items()}


def voter_map_svg(countries: list[dict], *, title: str, limit: int = 15) -> SafeString | None:
    """The voter countries with most ballots on the world map, each a circle sized by
    its ballots at its capital; None when no known country has any."""
    places = country_points()
    points = [
        MapPoint(
            label=row["name"],
            latitude=places[row["country"]][0],
            longitude=places[row["country"]][1],
            votes=row["ballots"],
            share=row["share"],
        )
        for row in countries
        if row["country"] in places
    ][:limit]
    if not points:
        return None
    return mark_safe(city_map_svg(points, title=title, width=640))  # world_map escapes every text


def ballots_words(count: int) -> str:
    return ngettext("%(n)s ballot", "%(n)s ballots", count) % {"n": f"{count:,}"}
