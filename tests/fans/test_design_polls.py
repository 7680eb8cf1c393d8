"""Design polls in a real browser: a grid of large images on a wide screen, one column on
a phone, and a phone that downloads small WebP renditions (srcset and sizes) instead of
the uploaded originals. That the images are lazy-loaded and sized is checked on the
HTML in tests/agency/test_design_images.py."""

import pytest

from tests.factories import AgencyFactory, MembershipFactory
from tests.fans.test_browser import PHONE, browser, browser_type_launch_args, playwright
from tests.showcase import ARTIFACTS, design_poll_with_uploads, language_context

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("media_in_tmp"),
]

__all__ = ["browser", "browser_type_launch_args", "playwright"]  # fixtures shared with the fans' module

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def design_poll(db):
    agency = AgencyFactory()
    return design_poll_with_uploads(agency, MembershipFactory(agency=agency).user, title="Tour merch")


def option_boxes(page) -> list[dict]:
    return [item.bounding_box() for item in page.locator(".option-grid > li").all()]


def test_design_options_are_a_grid_of_large_images_on_a_wide_screen(browser, live_server, design_poll):
    context = language_context(browser, live_server.url, "en", **DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/polls/{design_poll.slug}/")
    page.locator(".option-grid img").last.scroll_into_view_if_needed()

    boxes = option_boxes(page)
    assert len(boxes) == 3
    assert len({round(box["y"]) for box in boxes}) == 1  # one row of three
    for image in page.locator(".option-grid img").all():
        assert image.bounding_box()["width"] >= 250  # large, not a thumbnail
    page.screenshot(path=ARTIFACTS / "design-poll-1280.png", full_page=True)
    context.close()


def test_a_phone_shows_one_column_and_loads_small_renditions_not_the_originals(
    browser, live_server, design_poll
):
    context = language_context(browser, live_server.url, "en", **PHONE)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if "/media/" in request.url else None)
    page.goto(f"{live_server.url}/polls/{design_poll.slug}/")
    page.wait_for_load_state("networkidle")

    boxes = option_boxes(page)
    assert len({round(box["x"]) for box in boxes}) == 1  # one column
    last = page.locator(".option-grid img").last
    # Chromium starts lazy images some screens ahead of the viewport, so three designs
    # all arrive; what a phone saves here is the size of each.
    last.scroll_into_view_if_needed()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=last.element_handle())
    current = last.evaluate("image => image.currentSrc")
    # A 390-pixel column gets a WebP rendition, never the 1200-pixel original.
    assert current.endswith(".webp"), current
    assert all(url.endswith(".webp") for url in fetched), fetched
    page.screenshot(path=ARTIFACTS / "design-poll-390.png", full_page=True)
    context.close()
