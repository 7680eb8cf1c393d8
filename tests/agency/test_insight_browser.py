"""The insight page in a real browser (Debian's Chromium): it lays out on a phone
without sideways scrolling, with JavaScript off, and its chart is drawn."""

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from polls.models import PollKind
from polls.tally import tally_refresh
from tests.agency.test_insight import cast, cast_background
from tests.factories import PollFactory
from tests.fans.test_browser import (  # noqa: F401 - pytest fixtures
    NO_SIDEWAYS_SCROLL,
    PHONE,
    browser,
    browser_type_launch_args,
    playwright,
)
from tests.helpers import FARM_FINGERPRINT, fingerprint, login_with_mfa

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SCREENSHOTS = Path(tempfile.gettempdir())


def test_the_insight_page_works_on_a_phone_without_javascript(live_server, browser, client, agency, analyst):  # noqa: F811
    now = timezone.now()
    poll = PollFactory(
        agency=agency,
        kind=PollKind.CITY,
        title="Next tour city",
        opens_at=now - timedelta(hours=5),
        results_visibility="live",
        option_labels=["Jakarta", "Seoul", "Tokyo"],
    )
    cast_background(poll, now)
    for number in range(25):
        cast(
            poll,
            at=now - timedelta(minutes=number * 2),
            country="ID",
            ip=f"36.{70 + number}.{number}.5",
            client_fingerprint=fingerprint(f"phone {number % 6}"),
            option="Jakarta",
        )
    for number in range(22):
        cast(
            poll,
            at=now - timedelta(minutes=4),
            country="PH",
            ip=f"203.0.113.{number + 1}",
            client_fingerprint=FARM_FINGERPRINT,
            age=timedelta(minutes=30),
            option="Tokyo",
        )
    tally_refresh(poll=poll)
    login_with_mfa(client, analyst)
    context = browser.new_context(java_script_enabled=False, **PHONE)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()

    page.goto(f"{live_server.url}/agency/{agency.slug}/polls/{poll.slug}/insight/?range=6h")

    assert page.locator("svg.insight-chart rect").count() > 0
    assert page.get_by_text("Indonesia", exact=False).first.is_visible()
    assert page.locator("text=Suspicious").count() >= 1
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(SCREENSHOTS / "encore-insight-phone.png"), full_page=True)
    context.close()
