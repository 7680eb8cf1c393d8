"""The agency console end to end in a real browser (Debian's Chromium via Playwright):
the owner signs in with password and TOTP code, creates a city poll with three cities,
schedules it; once it opens a fan votes; the owner sees turnout move; the worker folds
the ballot into the tally; the owner closes and publishes; the public results page shows
the totals and the bulletin board's digest.

Every step leaves a screenshot under ``var/artifacts/journey/`` (git-ignored; CI keeps
it as an artifact), and the test prints their list.
"""

import os
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

from accounts.models import Role
from polls.models import Ballot, Poll, PollState, PollStatus
from polls.worker import worker_step
from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory, mfa_enable
from tests.helpers import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ARTIFACTS = ROOT / "var" / "artifacts" / "journey"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
CITIES = [
    ("Seoul", "KR", "37.56650", "126.97800", "9586000"),
    ("Tokyo", "JP", "35.67620", "139.65030", "14090000"),
    ("Jakarta", "ID", "-6.20880", "106.84560", "10560000"),
]
# Time from "Save draft" to the poll opening: enough for three options and scheduling.
OPENS_AFTER = timedelta(seconds=15)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (browsers cannot be downloaded here), as tests/fans/test_browser.py
    starts it; Playwright's event loop needs DJANGO_ALLOW_ASYNC_UNSAFE for the ORM calls
    in this module, undone when the module ends."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        pytest.fail(
            f"Chromium is missing at {chromium}: run `make chromium` as root, or "
            "`apt-get install chromium fonts-noto-cjk`",
            pytrace=False,
        )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            started = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            yield started
            started.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Screenshots:
    """Numbered full-page screenshots, NN-step.png, in the order taken."""

    def __init__(self):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
        self.taken: list[str] = []

    def take(self, page: Page, step: str) -> None:
        path = ARTIFACTS / f"{len(self.taken) + 1:02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        self.taken.append(str(path.relative_to(ROOT)))


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now; near the end of its 30-second window,
    the next one (allauth accepts the current window only)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def local_input(moment: datetime) -> str:
    """A datetime-local value to the second, in UTC (the poll's time zone here)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def owner_sees_ballot_count(page: Page, base: str, poll: Poll, *, ballots: int) -> None:
    """The count of ballots on the agency poll page (counted live, not from the tally)."""
    page.goto(f"{base}/agency/{poll.agency.slug}/polls/{poll.slug}/")
    ballot_word = "ballot" if ballots == 1 else "ballots"
    schedule_and_turnout = page.locator("section[aria-labelledby=schedule-heading]")
    expect(schedule_and_turnout).to_contain_text(f"{ballots} {ballot_word}, {ballots} voter")


def owner_sees_turnout(page: Page, base: str, poll: Poll, *, ballots: int, country: str) -> None:
    """The insight page (from the counters the tally refresher folds): the turnout, the
    chart with its numbers as a table, and the voters' country."""
    page.goto(f"{base}/agency/{poll.agency.slug}/polls/{poll.slug}/insight/")
    ballot_word = "ballot" if ballots == 1 else "ballots"
    expect(page.get_by_text(f"{ballots} {ballot_word} cast so far.")).to_be_visible()
    expect(page.locator("svg").first).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(country))).to_be_visible()


def test_owner_runs_a_city_poll_from_totp_sign_in_to_published_results(browser, live_server, capsys):
    started = time.monotonic()
    base = live_server.url
    shots = Screenshots()
    membership = MembershipFactory(role=Role.OWNER, user__email="owner@starlight.example")
    owner, agency = membership.user, membership.agency
    secret = mfa_enable(owner)
    fan = UserFactory(verified=True, email="mina@example.com", country="ID")
    owner_page = browser.new_context(**DESKTOP).new_page()

    # 1. Password, then the code of the authenticator app, through allauth's MFA step.
    owner_page.goto(f"{base}/accounts/login/")
    owner_page.locator("input[name=login]").fill(owner.email)
    owner_page.locator("input[name=password]").fill(TEST_PASSWORD)
    owner_page.locator("main form").get_by_role("button", name="Sign in").click()
    expect(owner_page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    owner_page.locator("input[name=code]").fill(totp_code(secret))
    shots.take(owner_page, "owner-enters-totp-code")
    owner_page.locator("input[name=code]").press("Enter")
    expect(owner_page.get_by_role("button", name="Sign out")).to_be_visible()

    # 2. A draft city poll that opens a few seconds from now.
    owner_page.goto(f"{base}/agency/{agency.slug}/polls/new/")
    opens_at = timezone.now() + OPENS_AFTER
    owner_page.locator("#id_title").fill("LUMEN tour: which city next?")
    owner_page.locator("#id_kind").select_option("city")
    owner_page.locator("#id_opens_at").fill(local_input(opens_at))
    owner_page.locator("#id_closes_at").fill(local_input(opens_at + timedelta(days=7)))
    owner_page.locator("#id_results_visibility").select_option("on_publish")
    shots.take(owner_page, "owner-fills-new-city-poll")
    owner_page.get_by_role("button", name="Save draft").click()
    expect(owner_page.get_by_text("The draft is saved.")).to_be_visible()
    poll = Poll.objects.get(agency=agency)

    # 3. Three cities.
    for label, country, latitude, longitude, population in CITIES:
        owner_page.locator("#id_option_label").fill(label)
        owner_page.locator("#id_option_country").select_option(country)
        owner_page.locator("#id_option_latitude").fill(latitude)
        owner_page.locator("#id_option_longitude").fill(longitude)
        owner_page.locator("#id_option_population").fill(population)
        owner_page.get_by_role("button", name="Add option").click()
        expect(owner_page.get_by_role("heading", name=label, level=3)).to_be_visible()
    shots.take(owner_page, "owner-added-three-cities")

    # 4. Scheduled (needs the MFA this session used); nobody has voted yet.
    owner_page.get_by_role("button", name="Schedule").click()
    expect(owner_page.get_by_text("The poll is scheduled.")).to_be_visible()
    owner_sees_ballot_count(owner_page, base, poll, ballots=0)
    shots.take(owner_page, "owner-scheduled-poll")
    poll.refresh_from_db()
    assert poll.state == PollState.SCHEDULED  # its status may already be "open" on a slow machine
    while timezone.now() < poll.opens_at:
        time.sleep(0.2)

    # 5. Open now: a verified fan votes on a phone, without JavaScript.
    fan_context = browser.new_context(java_script_enabled=False, **PHONE)
    fan_page = fan_context.new_page()
    fan_page.goto(f"{base}/accounts/login/")
    fan_page.locator("input[name=login]").fill(fan.email)
    fan_page.locator("input[name=password]").fill(TEST_PASSWORD)
    fan_page.locator("main form").get_by_role("button", name="Sign in").click()
    expect(fan_page.get_by_role("button", name="Sign out")).to_be_visible()
    fan_page.goto(f"{base}/polls/{poll.slug}/")
    fan_page.locator("label", has_text="Jakarta").click()
    fan_page.get_by_role("button", name="Cast my vote").click()
    expect(fan_page.get_by_role("heading", name="Your vote is in")).to_be_visible()
    shots.take(fan_page, "fan-voted")
    assert Ballot.objects.filter(poll=poll, voter=fan).count() == 1

    # 6. The worker's step folds the ballot into the poll's tally and insight counters.
    assert worker_step()["folded"] == 1

    # 7. The owner sees turnout move on the insight page.
    owner_sees_turnout(owner_page, base, poll, ballots=1, country=fan.country.name)
    shots.take(owner_page, "owner-sees-turnout-on-insight")

    # 8. Closed, then published (manager or owner with MFA used; PUBLISH_GRACE_SECONDS=0 in tests).
    owner_page.goto(f"{base}/agency/{agency.slug}/polls/{poll.slug}/")
    owner_page.get_by_text("Close this poll now…").click()
    owner_page.get_by_role("button", name="Close now").click()
    expect(owner_page.get_by_text("The poll is closed.")).to_be_visible()
    shots.take(owner_page, "owner-closed-poll")
    owner_page.get_by_role("button", name="Publish results").click()
    expect(owner_page.get_by_text("The results are published and signed.")).to_be_visible()
    shots.take(owner_page, "owner-published-results")

    # 9. Anyone sees the totals and the bulletin board's digest.
    public_page = browser.new_context(**DESKTOP).new_page()
    public_page.goto(f"{base}/polls/{poll.slug}/results/")
    expect(public_page.get_by_text("Final results")).to_be_visible()
    poll.refresh_from_db()
    expect(public_page.locator("code.digest")).to_have_text(poll.snapshot.board_digest)
    for city, votes in (("Jakarta", "1 (100.0%)"), ("Seoul", "0 (0.0%)"), ("Tokyo", "0 (0.0%)")):
        expect(public_page.locator(".bar-row", has_text=city).locator(".bar-value")).to_have_text(votes)
    expect(public_page.locator(".facts .big-number").first).to_have_text("1")
    shots.take(public_page, "public-results-with-digest")

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nconsole journey: {elapsed:.1f} s, screenshots:\n" + "\n".join(f"  {p}" for p in shots.taken)
        )
    assert poll.status == PollStatus.PUBLISHED
