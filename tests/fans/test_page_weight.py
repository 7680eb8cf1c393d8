"""Every fan page weighs under 150 KB on a first visit (empty cache), images aside: what
a phone on a slow, metered network pays before it can vote. Measured in the browser:
the bytes each request moved (headers and body as sent), summed per page.

The test server sends static files without compression (production's whitenoise serves
them gzip or brotli), so the figures are upper bounds.
"""

import pytest

from tests.factories import UserFactory
from tests.fans.test_browser import PHONE, browser, browser_type_launch_args, playwright
from tests.showcase import (
    ballot_fill,
    ballot_submit,
    language_context,
    receipt_fill,
    receipt_submit,
    report_keep,
    showcase_build,
    sign_in,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("media_in_tmp"),
]

__all__ = ["browser", "browser_type_launch_args", "playwright"]  # fixtures shared with the fans' module

BUDGET = 150 * 1024
IMAGE_TYPES = {"image"}


def first_load_page(context):
    """A page whose every load is a first one: the browser's cache is off (DevTools
    protocol), so the stylesheet is fetched again on each page."""
    page = context.new_page()
    context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
    return page


class Meter:
    """Bytes moved by the requests of one page load, by resource type."""

    def __init__(self, page):
        self.page = page
        self.requests = []
        page.on("requestfinished", lambda request: self.requests.append(request))

    def load(self, action) -> dict:
        self.requests.clear()
        action()
        self.page.wait_for_load_state("load")
        by_type = {"document": 0, "other": 0, "images (not counted)": 0}
        for request in self.requests:
            sizes = request.sizes()
            moved = sizes["responseHeadersSize"] + sizes["responseBodySize"]
            response = request.response()
            content_type = response.headers.get("content-type", "") if response else ""
            # The favicon comes as resource type "other": an image all the same.
            if request.resource_type in IMAGE_TYPES or content_type.startswith("image/"):
                by_type["images (not counted)"] += moved
            elif request.resource_type == "document":
                by_type["document"] += moved
            else:
                by_type["other"] += moved
        return by_type


def weight_table(weights: dict[str, dict]) -> str:
    width = max(len(name) for name in weights)
    header = f"{'page':<{width}} | {'total KB':>8} | {'HTML KB':>7} | {'CSS etc. KB':>11} | {'images KB by load (not counted)':>31}"
    lines = [header, "-" * len(header)]
    for name, by_type in weights.items():
        total = by_type["document"] + by_type["other"]
        lines.append(
            f"{name:<{width}} | {total / 1024:8.1f} | {by_type['document'] / 1024:7.1f} | "
            f"{by_type['other'] / 1024:11.1f} | {by_type['images (not counted)'] / 1024:31.1f}"
        )
    return "\n".join(lines)


def test_every_fan_page_weighs_under_150_kb_on_first_load_images_aside(browser, live_server):
    showcase = showcase_build()
    base = live_server.url
    weights: dict[str, dict] = {}

    visitor = language_context(browser, base, "en", **PHONE)
    page = first_load_page(visitor)
    meter = Meter(page)
    for name, path in showcase.fan_paths().items():
        weights[name] = meter.load(lambda path=path: page.goto(f"{base}{path}"))
    visitor.close()

    context = language_context(browser, base, "en", **PHONE)
    sign_in(context, base, UserFactory(verified=True))
    page = first_load_page(context)
    meter = Meter(page)
    codes = {}
    for key in ("single", "multiple", "ranked"):
        poll = showcase.polls[key]
        ballot_fill(page, base, poll)
        weights[f"vote confirmation ({key})"] = meter.load(
            lambda poll=poll, key=key: codes.setdefault(key, ballot_submit(page, poll))
        )
    receipt_fill(page, base, codes["single"])
    weights["receipt check answer"] = meter.load(lambda: receipt_submit(page))
    weights["my votes"] = meter.load(lambda: page.goto(f"{base}/my/votes/"))
    context.close()

    table = weight_table(weights)
    report_keep("page weights, first load, images aside (budget 150 KB)", table, "page-weights.txt")
    heavy = {
        name: by_type["document"] + by_type["other"]
        for name, by_type in weights.items()
        if by_type["document"] + by_type["other"] >= BUDGET
    }
    assert heavy == {}, table
