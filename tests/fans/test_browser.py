"""The fan pages in a real browser: Debian's Chromium driven by Playwright against live_server.

What the Django test client cannot show: that the pages work on a phone with JavaScript
off, that every shipped language lays out without sideways scrolling, and that a
keyboard user can reach the vote button and see where the focus is.
"""

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect, sync_playwright

from polls.models import Ballot, BallotChoice, VotingMethod
from polls.receipts import ALPHABET, receipt_hash
from tests.factories import TEST_PASSWORD, PollFactory, UserFactory
from tests.helpers import FAN_PASSWORD as PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
NARROW_PHONE = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True}
CODE_CHAR = f"[{re.escape(ALPHABET)}]"
# 26 characters in groups of five (polls/receipts.py): XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-X
RECEIPT_PATTERN = re.compile(rf"^{CODE_CHAR}{{5}}(?:-{CODE_CHAR}{{5}}){{4}}-{CODE_CHAR}$")
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# Screenshots stay behind for a person to look at: /tmp/encore-*.png on Linux.
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Browsers cannot be downloaded here: use Debian's Chromium (we run as root).
    # `make test` installs it when missing, or stops and says what to install; run
    # without make, these tests fail (never skip) with the same advice.
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        pytest.fail(
            f"Chromium is missing at {chromium}: run `make chromium` as root, or "
            "`apt-get install chromium fonts-noto-cjk fonts-thai-tlwg`",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": chromium,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="module")
def playwright():
    """Playwright for this module only (pytest-playwright keeps it for the session).

    Its sync API runs an event loop in the test thread for as long as it is started, and
    Django refuses ORM calls next to a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is
    set. Both are undone when the module ends, so that neither leaks into later tests
    (threads hitting the ORM) or the subprocesses they start (`check --deploy` reports
    the variable as async.E001).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as started:
            yield started
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright, browser_type_launch_args):
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


def confirm_path_in_last_mail() -> str:
    body = mail.outbox[-1].body
    match = re.search(r"/accounts/confirm-email/[^/\s]+/", body)
    assert match, body
    return match.group(0)


def log_in_with_form(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(TEST_PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def log_in_with_session_cookie(context, base_url: str, user) -> None:
    """Skip the login form where the test is about something else."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def test_fan_signs_up_verifies_votes_and_sees_the_receipt(browser, live_server):
    poll = PollFactory(title="Next tour stop")
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()

    page.goto(f"{live_server.url}/accounts/signup/")
    page.locator("input[name=email]").fill("mina@example.com")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    assert mail.outbox[-1].to == ["mina@example.com"]

    page.goto(f"{live_server.url}{confirm_path_in_last_mail()}")
    page.get_by_role("button", name="Confirm").click()
    # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION: the same browser session is now signed in.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.goto(f"{live_server.url}/polls/{poll.slug}/")
    page.locator("label", has_text="Tokyo").click()
    expect(page.get_by_role("radio", name="Tokyo")).to_be_checked()
    page.get_by_role("button", name="Cast my vote").click()

    expect(page).to_have_url(re.compile(rf"/polls/{poll.slug}/voted/$"))
    expect(page.get_by_role("heading", name="Your vote is in")).to_be_visible()
    code = page.locator("#receipt-code").inner_text().strip()
    assert RECEIPT_PATTERN.match(code), code
    ballot = Ballot.objects.get(poll=poll, voter__email="mina@example.com")
    assert ballot.receipt_hash == receipt_hash(code)
    assert [choice.option.label for choice in ballot.choices.all()] == ["Tokyo"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=SCREENSHOTS / "encore-receipt-mobile.png", full_page=True)

    page.goto(f"{live_server.url}/my/votes/")
    expect(page.get_by_text("Recorded", exact=True)).to_be_visible()  # until the results are published
    expect(page.get_by_role("link", name="Next tour stop")).to_be_visible()
    assert code not in page.content()
    context.close()


def test_ranked_ballot_works_without_javascript(browser, live_server):
    poll = PollFactory(method=VotingMethod.RANKED, min_choices=1, max_choices=3)
    fan = UserFactory(verified=True)
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    log_in_with_form(page, live_server.url, fan.email)

    page.goto(f"{live_server.url}/polls/{poll.slug}/")
    page.get_by_label("1st choice").select_option(label="Madrid")
    page.get_by_label("2nd choice").select_option(label="Seoul")
    page.get_by_role("button", name="Cast my vote").click()

    expect(page.get_by_role("heading", name="Your vote is in")).to_be_visible()
    expect(page.locator("main strong")).to_have_text("1. Madrid, 2. Seoul")
    ballot = Ballot.objects.get(poll=poll, voter=fan)
    ranks = list(BallotChoice.objects.filter(ballot=ballot).values_list("rank", "option__label"))
    assert ranks == [(1, "Madrid"), (2, "Seoul")]
    context.close()


def test_pages_render_in_every_shipped_language_on_a_phone(browser, live_server):
    poll = PollFactory(title="Next tour stop")
    paths = ["/", "/accounts/signup/", f"/polls/{poll.slug}/"]

    for code, _name in settings.LANGUAGES:
        context = browser.new_context(**NARROW_PHONE)
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}])
        page = context.new_page()
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, (code, path)
            expect(page.locator("html")).to_have_attribute("lang", code)
            assert page.evaluate(NO_SIDEWAYS_SCROLL), (code, path)
            if path == "/":
                page.screenshot(path=SCREENSHOTS / f"encore-home-{code}.png", full_page=True)
        context.close()


def test_keyboard_user_can_reach_the_vote_button_with_visible_focus(browser, live_server):
    poll = PollFactory()
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    log_in_with_session_cookie(context, live_server.url, UserFactory(verified=True))
    page = context.new_page()
    page.goto(f"{live_server.url}/polls/{poll.slug}/")
    vote_button = page.get_by_role("button", name="Cast my vote")
    expect(vote_button).to_be_visible()

    for _ in range(60):
        page.keyboard.press("Tab")
        if vote_button.evaluate("button => button === document.activeElement"):
            break

    expect(vote_button).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    context.close()
