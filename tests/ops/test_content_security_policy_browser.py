"""The Content-Security-Policy in a real browser (Debian's Chromium): the pages Encore
renders, the API docs (Swagger UI from local files) and the admin work under their
policies with no violation, and an injected inline script does not run."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from polls.models import PollKind, ResultsVisibility
from tests.factories import PollFactory, UserFactory
from tests.fans.test_browser import browser, browser_type_launch_args, log_in_with_session_cookie, playwright
from tests.helpers import login_with_mfa

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

__all__ = ["browser", "browser_type_launch_args", "playwright"]  # fixtures shared with the fans' module


def violations_while(page, visit) -> list[str]:
    """Console messages about the policy while ``visit`` runs."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text))
    visit()
    return [text for text in seen if "Content Security Policy" in text]


def test_results_page_shows_bars_and_map_with_no_violation(browser, live_server):
    poll = PollFactory(kind=PollKind.CITY, results_visibility=ResultsVisibility.LIVE)
    for number, option in enumerate(poll.options.all()):
        option.country, option.latitude, option.longitude = "KR", 37.5 - number, 127 + number
        option.save()
    page = browser.new_page()

    found = violations_while(page, lambda: page.goto(f"{live_server.url}/polls/{poll.slug}/results/"))

    assert found == []
    expect(page.locator(".bar-track").first).to_be_visible()
    assert page.locator(".bar-track").first.bounding_box()["width"] > 100
    page.close()


def test_the_api_docs_render_swagger_ui_from_local_files_with_no_violation(browser, live_server):
    page = browser.new_page()

    found = violations_while(page, lambda: page.goto(f"{live_server.url}/api/docs/"))
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)

    assert found == []
    page.close()


def test_the_admin_runs_its_own_scripts_with_no_violation(browser, live_server):
    operator = UserFactory(verified=True, is_staff=True, is_superuser=True)
    client = login_with_mfa(Client(), operator)
    context = browser.new_context()
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()

    found = violations_while(page, lambda: page.goto(f"{live_server.url}/admin/accounts/agency/add/"))

    assert found == []
    expect(page.get_by_role("button", name="Add another Membership")).to_be_visible()  # inlines.js ran
    context.close()


def test_an_injected_inline_script_does_not_run(browser, live_server):
    context = browser.new_context()
    log_in_with_session_cookie(context, live_server.url, UserFactory(verified=True))
    page = context.new_page()
    page.goto(f"{live_server.url}/")

    found = violations_while(
        page,
        lambda: page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.injected = true";
                document.body.appendChild(script);
            }"""
        ),
    )

    assert page.evaluate("window.injected === undefined")
    assert found
    context.close()
