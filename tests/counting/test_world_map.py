"""The server-rendered SVG world map of tour-city polls (no database needed)."""

import re
import xml.etree.ElementTree as ET

import pytest

from polls.world_map import MapPoint, city_map_svg, land_path, project

NS = {"svg": "http://www.w3.org/2000/svg"}

SAMPLE = [
    MapPoint("Seoul", 37.57, 126.98, 120, 0.3288),
    MapPoint("Tokyo", 35.68, 139.69, 90, 0.2466),
    MapPoint("São Paulo", -23.55, -46.63, 75, 0.2055),
    MapPoint("Madrid", 40.42, -3.70, 40, 0.1096),
    MapPoint("Jakarta", -6.21, 106.85, 30, 0.0822),
    MapPoint("Mexico City", 19.43, -99.13, 10, 0.0274),
]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted XML


def _view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in root.attrib["viewBox"].split())
    return x, y, w, h


def _circles(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//svg:circle", NS)


def _circle_at(root: ET.Element, x: float, y: float) -> ET.Element:
    return min(
        _circles(root), key=lambda c: (float(c.attrib["cx"]) - x) ** 2 + (float(c.attrib["cy"]) - y) ** 2
    )


def _rings(d: str) -> list[list[tuple[float, float]]]:
    rings = []
    for chunk in d.split("M")[1:]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", chunk)]
        rings.append(list(zip(numbers[0::2], numbers[1::2], strict=True)))
    return rings


def _on_land(x: float, y: float, rings: list[list[tuple[float, float]]]) -> bool:
    inside = False  # even-odd rule, as the path is filled
    for ring in rings:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
    return inside


def test_svg_is_accessible_xml():
    svg = city_map_svg(SAMPLE, title="Where should the tour go?")
    root = _parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.attrib["role"] == "img"
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title is not None and title.text == "Where should the tour go?"
    assert desc is not None
    assert root.attrib["aria-labelledby"].split() == [title.attrib["id"], desc.attrib["id"]]
    assert "Seoul: 120 votes" in desc.text
    assert "Mexico City: 10 votes" in desc.text
    assert "32.9% of ballots" in desc.text
    assert root.attrib["width"] == "100%"
    assert "preserveAspectRatio" in root.attrib


def test_one_circle_per_point_and_labels_carry_votes():
    root = _parse(city_map_svg(SAMPLE, title="Map"))
    assert len(_circles(root)) == len(SAMPLE)
    texts = {t.text for t in root.findall(".//svg:text", NS)}
    assert "Seoul — 120" in texts
    assert "São Paulo — 75" in texts


def test_more_votes_means_larger_circle_by_area():
    root = _parse(city_map_svg(SAMPLE, title="Map"))
    radius = {}
    for point in SAMPLE:
        x, y = project(point.latitude, point.longitude)
        radius[point.label] = float(_circle_at(root, x, y).attrib["r"])
    assert radius["Seoul"] > radius["Tokyo"] > radius["São Paulo"] > radius["Madrid"]
    # Area, not radius, follows the votes: 120 vs 30 votes is 2x the radius.
    assert radius["Seoul"] / radius["Jakarta"] == pytest.approx(2.0, rel=0.02)


def test_zero_votes_still_visible():
    points = [MapPoint("Busy", 10, 10, 500, 1.0), MapPoint("Empty", -10, -10, 0, 0.0)]
    root = _parse(city_map_svg(points, title="Map"))
    circles = _circles(root)
    assert len(circles) == 2
    assert min(float(c.attrib["r"]) for c in circles) >= 3
    assert "Empty: 0 votes" in root.find("svg:desc", NS).text


def test_all_zero_votes_render():
    points = [MapPoint("A", 10, 10, 0, None), MapPoint("B", 20, 20, 0, None)]
    root = _parse(city_map_svg(points, title="Map"))
    assert len(_circles(root)) == 2


def test_hidden_counts_give_equal_circles_and_plain_labels():
    points = [MapPoint("Seoul", 37.57, 126.98, None, None), MapPoint("Madrid", 40.42, -3.7, None, None)]
    root = _parse(city_map_svg(points, title="Map"))
    radii = {c.attrib["r"] for c in _circles(root)}
    assert len(radii) == 1
    assert {t.text for t in root.findall(".//svg:text", NS)} == {"Seoul", "Madrid"}
    desc = root.find("svg:desc", NS).text
    assert "hidden" in desc and "vote" not in desc.replace("vote counts are hidden", "")


def test_no_points_still_renders_a_map():
    root = _parse(city_map_svg([], title="Map"))
    assert _circles(root) == []
    assert root.find("svg:path", NS).attrib["d"]


def test_labels_and_title_are_escaped():
    nasty = '<script>alert("x")</script> & "Co"'
    svg = city_map_svg([MapPoint(nasty, 1, 1, 3, 1.0)], title="Tour <b>&</b>")
    assert "<script" not in svg
    assert "<b>" not in svg
    root = _parse(svg)  # still well-formed XML
    assert root.find("svg:title", NS).text == "Tour <b>&</b>"
    assert nasty in root.find("svg:desc", NS).text
    assert {t.text for t in root.findall(".//svg:text", NS)} == {nasty + " — 3"}


def test_extreme_coordinates_stay_inside_the_view_box():
    points = [
        MapPoint("Far north-east", 84, 179.9, 50, None),
        MapPoint("Far south-west", -55, -179.9, 50, None),
        MapPoint("Beyond the crop", -89, -180, 1, None),
        MapPoint("A rather long label for the edge city", 0, 179.9, 5, None),
    ]
    root = _parse(city_map_svg(points, title="Map"))
    x0, y0, w, h = _view_box(root)
    for circle in _circles(root):
        cx, cy = float(circle.attrib["cx"]), float(circle.attrib["cy"])
        assert x0 <= cx <= x0 + w and y0 <= cy <= y0 + h
    font_size = float(root.find(".//svg:g[@font-size]", NS).attrib["font-size"])
    for text in root.findall(".//svg:text", NS):
        x, y = float(text.attrib["x"]), float(text.attrib["y"])
        assert x0 <= x <= x0 + w and y0 + font_size * 0.5 <= y <= y0 + h
        # The whole label fits: its estimated width on the anchored side stays inside.
        est = len(text.text) * font_size * 0.5
        anchor = text.attrib["text-anchor"]
        if anchor == "start":
            assert x + est <= x0 + w
        elif anchor == "end":
            assert x - est >= x0


def test_land_path_is_real_land():
    d = land_path()
    assert d.startswith("M") and len(d) > 5000
    root = _parse(city_map_svg(SAMPLE, title="Map"))
    assert root.find("svg:path", NS).attrib["d"] == d
    _, _, w, h = _view_box(root)
    rings = _rings(d)
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    assert min(xs) >= 0 and max(xs) <= w
    assert min(ys) >= 0 and max(ys) <= h

    seoul = project(37.57, 126.98)
    assert 0 <= seoul[0] <= w and 0 <= seoul[1] <= h
    assert _on_land(*seoul, rings)
    assert _on_land(*project(-15.0, -55.0), rings)  # Brazil
    assert _on_land(*project(48.86, 2.35), rings)  # Paris
    assert not _on_land(*project(0.0, -140.0), rings)  # Pacific Ocean
    assert not _on_land(*project(30.0, -40.0), rings)  # Atlantic Ocean


def test_land_path_is_cached():
    assert land_path(800) is land_path(800)


def test_width_scales_the_view_box():
    root = _parse(city_map_svg(SAMPLE, title="Map", width=400))
    _, _, w, h = _view_box(root)
    assert w == 400
    assert h == pytest.approx(400 * 145 / 360, abs=0.1)
