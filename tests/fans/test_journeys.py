"""A fan's whole journey in a real browser, on a phone (390 px) and a desktop (1280 px),
in English and Korean: sign up, get the verification mail, follow its link, vote in a
single, a multiple and a ranked poll, keep the receipt, check it, read the results.

Every step leaves a full-page screenshot under var/artifacts/journeys/<lang>-<width>/
(git-ignored), listed in the test output, for a person to look through. Selectors avoid
button texts, which change with the language; what the fan reads is asserted through
the database and the page's language.
"""

import re

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from polls.models import Ballot, PollKind, ResultsVisibility, VotingMethod
from polls.receipts import receipt_hash
from polls.tally import tally_refresh
from tests.factories import AgencyFactory, PollFactory
from tests.fans.test_browser import (
    NO_SIDEWAYS_SCROLL,
    RECEIPT_PATTERN,
    browser,
    browser_type_launch_args,
    playwright,
)
from tests.helpers import FAN_PASSWORD
from tests.showcase import (
    ARTIFACTS,
    ballot_fill,
    ballot_submit,
    language_context,
    receipt_fill,
    receipt_submit,
    report_keep,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

__all__ = ["browser", "browser_type_launch_args", "playwright"]  # fixtures shared with the fans' module

SCREENS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    1280: {"viewport": {"width": 1280, "height": 800}},
}
JOURNEYS = [(language, width) for language in ("en", "ko") for width in SCREENS]
SIGNED_IN = "header form[action$='/logout/'] button"


class Album:
    """Numbered full-page screenshots of one journey."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = ARTIFACTS / "journeys" / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.shots = []

    def take(self, step: str) -> None:
        # Every step is laid out for its screen: nothing scrolls sideways.
        assert self.page.evaluate(NO_SIDEWAYS_SCROLL), step
        path = self.folder / f"{len(self.shots) + 1:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        self.shots.append(path)


def journey_polls() -> dict:
    agency = AgencyFactory(name="Starlight Entertainment")
    live = ResultsVisibility.LIVE
    return {
        "single": PollFactory(agency=agency, title="Next single", results_visibility=live),
        "multiple": PollFactory(
            agency=agency,
            title="Encore songs",
            method=VotingMethod.MULTIPLE,
            min_choices=1,
            max_choices=2,
            results_visibility=live,
        ),
        "ranked": PollFactory(
            agency=agency,
            title="Next tour stop",
            kind=PollKind.CITY,
            method=VotingMethod.RANKED,
            min_choices=1,
            max_choices=3,
            results_visibility=live,
        ),
    }


def confirm_path_in_mail_to(email: str) -> str:
    sent = [message for message in mail.outbox if message.to == [email]]
    assert sent, f"no mail to {email}"
    match = re.search(r"/accounts/confirm-email/[^/\s]+/", sent[-1].body)
    assert match, sent[-1].body
    return match.group(0)


@pytest.mark.parametrize(("language", "width"), JOURNEYS, ids=[f"{lang}-{w}" for lang, w in JOURNEYS])
def test_fan_journey_from_sign_up_to_results(browser, live_server, language, width):
    polls = journey_polls()
    base = live_server.url
    email = f"journey-{language}-{width}@example.com"
    context = language_context(browser, base, language, **SCREENS[width])
    page = context.new_page()
    album = Album(page, f"{language}-{width}")

    page.goto(f"{base}/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    album.take("home")

    page.goto(f"{base}/accounts/signup/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(FAN_PASSWORD)
    page.locator("input[name=password2]").fill(FAN_PASSWORD)
    album.take("sign-up")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    album.take("check-your-mail")

    page.goto(f"{base}{confirm_path_in_mail_to(email)}")
    album.take("verify-link")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(SIGNED_IN)).to_be_visible()  # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION

    codes = {}
    for key in ("single", "multiple", "ranked"):
        ballot_fill(page, base, polls[key])
        album.take(f"vote-{key}")
        codes[key] = ballot_submit(page, polls[key])
        assert RECEIPT_PATTERN.match(codes[key]), codes[key]
        album.take(f"receipt-{key}")

    for key, code in codes.items():
        ballot = Ballot.objects.get(poll=polls[key], voter__email=email)
        assert ballot.receipt_hash == receipt_hash(code)
    assert Ballot.objects.get(poll=polls["ranked"], voter__email=email).choices.count() == 2
    assert Ballot.objects.get(poll=polls["multiple"], voter__email=email).choices.count() == 2

    receipt_fill(page, base, codes["ranked"])
    receipt_submit(page)
    expect(page.locator("#receipt-result h2")).to_have_text(polls["ranked"].title)
    album.take("receipt-checked")

    page.goto(f"{base}/my/votes/")
    for poll in polls.values():
        expect(page.get_by_role("link", name=poll.title)).to_be_visible()
    album.take("my-votes")

    for poll in polls.values():
        tally_refresh(poll=poll)  # the worker's job, every TALLY_INTERVAL
    for key in ("single", "ranked"):
        page.goto(f"{base}/polls/{polls[key].slug}/results/")
        expect(page.locator(".bar-row").first).to_be_visible()
        assert page.locator(".bar-value").first.inner_text().startswith("1")
        album.take(f"results-{key}")
    context.close()

    listing = "\n".join(str(path.relative_to(settings.BASE_DIR)) for path in album.shots)
    report_keep(f"screenshots: {language} journey at {width} px", listing, f"journeys/{language}-{width}.txt")
