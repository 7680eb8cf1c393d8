"""Server-rendered SVG world map of a tour-city poll's candidate cities.

Everything is drawn locally: land outlines come from ``polls/data/world_land.json``
(Natural Earth 1:110m, public domain; see ``polls/data/README.md``), projected with a plain
equirectangular (plate carrée) projection cropped to latitudes -60..85. No tiles, no
JavaScript, no external requests.

Each city is a circle whose *area* is proportional to its votes (radius grows with the
square root), with a minimum radius so cities with no votes still show. When counts are
hidden (``votes is None``) all circles are the same size and labels carry no numbers.

The returned string is a complete ``<svg>`` element; every piece of text in it is escaped,
so it is safe to insert with ``mark_safe`` in a template.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from django.utils.html import escape
from django.utils.translation import gettext, ngettext

LAND_FILE = Path(__file__).resolve().parent / "data" / "world_land.json"

LAT_TOP = 85.0
LAT_BOTTOM = -60.0
LON_LEFT = -180.0
LON_RIGHT = 180.0

OCEAN_FILL = "#e8f1f8"
LAND_FILL = "#d5d9de"
LAND_STROKE = "#9aa3ad"
CIRCLE_FILL = "#b3124e"  # white-on-this and this-on-white both pass WCAG AA
CIRCLE_STROKE = "#ffffff"
TEXT_FILL = "#111111"  # on its white halo: contrast ~18.9:1
HALO = "#ffffff"


@dataclass(frozen=True)
class MapPoint:
    """One candidate city on the map.

    ``votes`` is ``None`` when the poll hides its counts; ``share`` is the fraction of
    ballots (0.1234 = 12.34 %, as ``polls.tally_math.shares`` returns) or ``None``.
    Cities without coordinates have no place on the map: leave them out.
    """

    label: str
    latitude: float
    longitude: float
    votes: int | None = None
    share: float | None = None


@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    scale: float  # pixels per degree

    @classmethod
    def for_width(cls, width: int) -> _Layout:
        width = max(int(width), 200)
        scale = width / (LON_RIGHT - LON_LEFT)
        return cls(width=float(width), height=round((LAT_TOP - LAT_BOTTOM) * scale, 1), scale=scale)

    def project(self, latitude: float, longitude: float) -> tuple[float, float]:
        lat = min(max(float(latitude), LAT_BOTTOM), LAT_TOP)
        lon = min(max(float(longitude), LON_LEFT), LON_RIGHT)
        return (lon - LON_LEFT) * self.scale, (LAT_TOP - lat) * self.scale


def project(latitude: float, longitude: float, *, width: int = 800) -> tuple[float, float]:
    """Where a coordinate lands in the viewBox of a map rendered at ``width``."""
    return _Layout.for_width(width).project(latitude, longitude)


@functools.lru_cache(maxsize=1)
def _land_rings() -> tuple[tuple[tuple[float, float], ...], ...]:
    with LAND_FILE.open(encoding="utf-8") as fh:
        rings = json.load(fh)
    return tuple(tuple((float(lon), float(lat)) for lon, lat in ring) for ring in rings)


@functools.lru_cache(maxsize=8)
def land_path(width: int = 800) -> str:
    """The ``d`` attribute of the land outline for a map ``width`` pixels wide (cached)."""
    layout = _Layout.for_width(width)
    parts = []
    for ring in _land_rings():
        coords = []
        previous = None
        for lon, lat in ring:
            x, y = layout.project(lat, lon)
            point = f"{x:.1f} {y:.1f}"
            if point != previous:
                coords.append(point)
                previous = point
        if len(coords) >= 3:
            parts.append("M" + "L".join(coords) + "Z")
    return "".join(parts)


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _votes_words(votes: int) -> str:
    return ngettext("%(n)s vote", "%(n)s votes", votes) % {"n": f"{votes:,}"}


def _label_text(point: MapPoint) -> str:
    if point.votes is None:
        return point.label
    return f"{point.label} — {point.votes:,}"


def _description(points: list[MapPoint]) -> str:
    if not points:
        return gettext("World map with no candidate cities to show.")
    if all(p.votes is None for p in points):
        return gettext("World map of the candidate cities; vote counts are hidden. Cities: %(cities)s.") % {
            "cities": "; ".join(p.label for p in points)
        }
    items = []
    for p in sorted(points, key=lambda p: -(p.votes or 0)):
        if p.votes is None:
            items.append(gettext("%(city)s: votes hidden") % {"city": p.label})
        elif p.share is not None:
            items.append(
                gettext("%(city)s: %(votes)s (%(share)s%% of ballots)")
                % {"city": p.label, "votes": _votes_words(p.votes), "share": f"{p.share * 100:.1f}"}
            )
        else:
            items.append(gettext("%(city)s: %(votes)s") % {"city": p.label, "votes": _votes_words(p.votes)})
    return gettext("World map of the candidate cities, each circle sized by its votes. %(cities)s.") % {
        "cities": "; ".join(items)
    }


def _radii(points: list[MapPoint], width: float) -> list[float]:
    r_min = max(width / 200, 3.0)
    r_max = max(width / 34, r_min * 2)
    if all(p.votes is None for p in points):
        return [max(width / 110, r_min)] * len(points)
    top = max((p.votes or 0) for p in points)
    radii = []
    for p in points:
        votes = max(p.votes or 0, 0)
        radius = r_max * math.sqrt(votes / top) if top > 0 else 0.0
        radii.append(max(radius, r_min))
    return radii


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlap(a: Box, b: Box) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    if ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0:
        return 0.0
    return (min(ax1, bx1) - max(ax0, bx0)) * (min(ay1, by1) - max(ay0, by0))


def _place_labels(
    centres: list[tuple[float, float]],
    radii: list[float],
    texts: list[str],
    order: list[int],
    layout: _Layout,
    font_size: float,
) -> dict[int, tuple[float, float, str]]:
    """Greedy placement: for each label pick the in-bounds spot that hides the least.

    Returns ``{index: (x, baseline_y, text_anchor)}``.
    """
    margin = 3.0
    gap = font_size * 0.35
    circle_boxes = [(x - r, y - r, x + r, y + r) for (x, y), r in zip(centres, radii, strict=True)]
    placed: list[Box] = []
    result: dict[int, tuple[float, float, str]] = {}
    for i in order:
        x, y = centres[i]
        r = radii[i]
        text_w = len(texts[i]) * font_size * 0.56 + 4
        text_h = font_size * 1.15
        # (anchor x, top of box, text-anchor)
        candidates = [
            (x + r + gap, y - text_h / 2, "start"),
            (x - r - gap, y - text_h / 2, "end"),
            (x, y - r - gap - text_h, "middle"),
            (x, y + r + gap, "middle"),
            (x + r * 0.7 + gap, y - r * 0.7 - text_h, "start"),
            (x + r * 0.7 + gap, y + r * 0.7, "start"),
            (x - r * 0.7 - gap, y - r * 0.7 - text_h, "end"),
            (x - r * 0.7 - gap, y + r * 0.7, "end"),
        ]
        best = None
        for rank, (ax, top, anchor) in enumerate(candidates):
            left = {"start": ax, "end": ax - text_w, "middle": ax - text_w / 2}[anchor]
            # Slide the box back inside the viewBox rather than let it be cut off.
            shift_x = max(margin - left, 0.0) + min(layout.width - margin - (left + text_w), 0.0)
            shift_y = max(margin - top, 0.0) + min(layout.height - margin - (top + text_h), 0.0)
            box = (left + shift_x, top + shift_y, left + shift_x + text_w, top + shift_y + text_h)
            cost = sum(_overlap(box, other) for other in placed) * 4
            cost += sum(_overlap(box, c) for j, c in enumerate(circle_boxes) if j != i)
            cost += _overlap(box, circle_boxes[i]) * 2
            cost += (abs(shift_x) + abs(shift_y)) * text_h * 0.5 + rank * 0.01
            if best is None or cost < best[0]:
                best = (cost, box, ax + shift_x, anchor)
        assert best is not None
        _, box, ax, anchor = best
        placed.append(box)
        baseline = box[1] + font_size * 0.9
        result[i] = (ax, baseline, anchor)
    return result


def city_map_svg(points: list[MapPoint], *, title: str, width: int = 800) -> str:
    """Render ``points`` on a world map; returns a standalone, accessible ``<svg>`` element.

    ``width`` sets the viewBox width (the height follows the projection); the element
    itself is ``width="100%"`` so it shrinks to fit narrow screens. No ``style``
    attribute: pages forbid inline styles (Content-Security-Policy), so the page's
    stylesheet sizes it (``.map-figure svg``).
    """
    layout = _Layout.for_width(width)
    points = list(points)
    w, h = _fmt(layout.width), _fmt(layout.height)
    font_size = max(layout.width / 62, 9.0)
    # Stable ids, distinct for different maps on one page (aria-labelledby needs them).
    digest = hashlib.sha256(repr((title, points, width)).encode()).hexdigest()[:10]
    uid = f"citymap-{digest}"
    title_id, desc_id = f"{uid}-title", f"{uid}-desc"

    centres = [layout.project(p.latitude, p.longitude) for p in points]
    radii = _radii(points, layout.width)
    texts = [_label_text(p) for p in points]
    # Big circles first so small ones stay visible on top; labels for big ones placed first.
    order = sorted(range(len(points)), key=lambda i: (-radii[i], i))
    labels = _place_labels(centres, radii, texts, order, layout, font_size)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" class="city-map">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(_description(points))}</desc>',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{OCEAN_FILL}"/>',
        f'<path d="{land_path(int(layout.width))}" fill="{LAND_FILL}" stroke="{LAND_STROKE}" '
        f'stroke-width="0.6" stroke-linejoin="round" fill-rule="evenodd"/>',
        f'<g fill="{CIRCLE_FILL}" fill-opacity="0.78" stroke="{CIRCLE_STROKE}" stroke-width="1.5">',
    ]
    for i in order:
        x, y = centres[i]
        out.append(f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(radii[i])}"/>')
    out.append("</g>")
    out.append(
        f"<g font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" "
        f'font-size="{_fmt(font_size)}" font-weight="600" fill="{TEXT_FILL}" stroke="{HALO}" '
        f'stroke-width="3" stroke-linejoin="round" paint-order="stroke" aria-hidden="true">'
    )
    for i in order:
        x, y, anchor = labels[i]
        out.append(f'<text x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}">{escape(texts[i])}</text>')
    out.append("</g></svg>")
    return "".join(out)
