"""Accessibility in a real browser: axe-core (pinned in package.json, installed by
`make test` with `npm ci`) finds no serious or critical violation on the fan and agency
pages, in English, Korean and Thai; and a fan votes with the keyboard alone, by every
method.

axe is loaded as an init script (DevTools protocol), which the pages' Content-Security-
Policy does not govern, so the pages are tested under their real policy.
"""

import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from polls.models import Ballot, BallotChoice, VotingMethod
from tests.factories import PollFactory, UserFactory
from tests.fans.test_browser import browser, browser_type_launch_args, playwright
from tests.showcase import (
    ARTIFACTS,
    LANGUAGES,
    check_receipt_in_browser,
    language_context,
    report_keep,
    showcase_build,
    sign_in,
    vote_in_browser,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("media_in_tmp"),
]

__all__ = ["browser", "browser_type_launch_args", "playwright"]  # fixtures shared with the fans' module

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
IMPACTS = ["critical", "serious", "moderate", "minor"]
# What the lead quotes: one row per page and language, violations counted by impact.
REPORT: dict[tuple[str, str], Counter] = {}
# Every violation, blocking or not, with where it is: var/artifacts/axe-details.txt.
DETAILS: list[str] = []


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is missing at {AXE}: run `make axe` (npm ci; needs Debian's nodejs and npm)",
            pytrace=False,
        )
    return AXE.read_text()


@pytest.fixture(scope="module", autouse=True)
def axe_table():
    yield
    if REPORT:
        report_keep(
            "axe-core violations by impact (critical/serious/moderate/minor)", axe_report_table(), "axe.txt"
        )
        (ARTIFACTS / "axe-details.txt").write_text("".join(f"{line}\n" for line in DETAILS))


def axe_report_table() -> str:
    languages = sorted({language for _page, language in REPORT}, key=LANGUAGES.index)
    pages = list(dict.fromkeys(page for page, _language in REPORT))
    width = max(len(page) for page in pages)
    header = f"{'page':<{width}} | " + " | ".join(f"{lang} (crit/ser/mod/min)" for lang in languages)
    lines = [header, "-" * len(header)]
    for page in pages:
        cells = []
        for language in languages:
            counts = REPORT.get((page, language))
            cells.append(
                f"{'/'.join(str(counts[i]) for i in IMPACTS):<19}" if counts is not None else f"{'-':<19}"
            )
        lines.append(f"{page:<{width}} | " + " | ".join(cells))
    return "\n".join(lines)


def axe_violations(page) -> list[dict]:
    """axe's violations on the current page (WCAG 2.x A and AA rules plus best practices)."""
    return page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )


def page_language(language: str) -> str:
    """The language a page asked for in ``language`` is written in: that one when Encore
    ships it, else the default (Thai until its catalogue lands)."""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def record(name: str, language: str, page, found: list) -> None:
    # axe checks that <html lang> is a valid language; this, that it is the right one.
    declared = page.locator("html").get_attribute("lang")
    if declared != page_language(language):
        found.append(f"{language} {name}: <html lang={declared!r}>")
    violations = axe_violations(page)
    REPORT[(name, language)] = Counter(v["impact"] for v in violations)
    described = [
        (v, f"{language} {name}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}") for v in violations
    ]
    DETAILS.extend(text for _v, text in described)
    found.extend(text for v, text in described if v["impact"] in BLOCKING)


def test_no_serious_or_critical_axe_violation_on_any_page_in_english_korean_and_thai(
    browser, live_server, axe_source
):
    # One site for the three languages: building it (uploads with their renditions)
    # and emptying the database afterwards cost more than a language's sweep.
    showcase = showcase_build()
    found: list[str] = []
    for language in LANGUAGES:
        sweep(browser, live_server.url, axe_source, showcase, language, found)
    assert found == [], "\n".join(found)


def sweep(browser, base: str, axe_source: str, showcase, language: str, found: list) -> None:
    """Every page of the showcase as a visitor, a fan who votes and an agency owner."""
    visitor = language_context(browser, base, language)
    visitor.add_init_script(axe_source)
    page = visitor.new_page()
    for name, path in showcase.fan_paths().items():
        response = page.goto(f"{base}{path}")
        assert response.status == 200, (name, response.status)
        record(name, language, page, found)
    visitor.close()

    fan = language_context(browser, base, language)
    fan.add_init_script(axe_source)
    sign_in(fan, base, UserFactory(verified=True))
    page = fan.new_page()
    for key in ("single", "multiple", "ranked"):
        code = vote_in_browser(page, base, showcase.polls[key])
        record(f"vote confirmation ({key})", language, page, found)
    check_receipt_in_browser(page, base, code)
    record("receipt check answer", language, page, found)
    page.goto(f"{base}/my/votes/")
    record("my votes", language, page, found)
    page.goto(f"{base}/polls/{showcase.polls['single'].slug}/")
    record("poll single, already voted", language, page, found)
    fan.close()

    staff = language_context(browser, base, language)
    staff.add_init_script(axe_source)
    sign_in(staff, base, showcase.owner, mfa=True)
    page = staff.new_page()
    for name, path in showcase.agency_paths().items():
        response = page.goto(f"{base}{path}")
        assert response.status == 200, (name, response.status)
        record(name, language, page, found)
    staff.close()


# ------------------------------------------------------------------ keyboard only


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def keyboard_context(browser, base_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    voter = UserFactory(verified=True)
    sign_in(context, base_url, voter)
    return context, voter


def cast_with_enter(page, slug: str) -> None:
    tab_to(page, "form.ballot button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/polls/{slug}/voted/$"))


def test_keyboard_alone_casts_a_single_choice_vote(browser, live_server):
    poll = PollFactory(method=VotingMethod.SINGLE)
    context, voter = keyboard_context(browser, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/polls/{poll.slug}/")

    first = poll.options.first()
    tab_to(page, f"#option-{first.pk}")  # Tab enters the radio group on its first radio
    page.keyboard.press("Space")  # selects it
    page.keyboard.press("ArrowDown")  # arrows move the choice within the group
    cast_with_enter(page, poll.slug)

    ballot = Ballot.objects.get(poll=poll, voter=voter)
    assert [choice.option.label for choice in ballot.choices.all()] == ["Tokyo"]
    context.close()


def test_keyboard_alone_casts_a_multiple_choice_vote(browser, live_server):
    poll = PollFactory(method=VotingMethod.MULTIPLE, min_choices=1, max_choices=2)
    context, voter = keyboard_context(browser, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/polls/{poll.slug}/")

    seoul, _tokyo, madrid = poll.options.all()
    tab_to(page, f"#option-{seoul.pk}")
    page.keyboard.press("Space")
    tab_to(page, f"#option-{madrid.pk}")
    page.keyboard.press("Space")
    cast_with_enter(page, poll.slug)

    ballot = Ballot.objects.get(poll=poll, voter=voter)
    assert sorted(choice.option.label for choice in ballot.choices.all()) == ["Madrid", "Seoul"]
    context.close()


def test_keyboard_alone_casts_a_ranked_vote(browser, live_server):
    poll = PollFactory(method=VotingMethod.RANKED, min_choices=1, max_choices=3)
    context, voter = keyboard_context(browser, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/polls/{poll.slug}/")

    # A closed <select> changes its value with the arrow keys: "— none —", Seoul, Tokyo, Madrid.
    tab_to(page, "select[name=rank_1]")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    tab_to(page, "select[name=rank_2]")
    page.keyboard.press("ArrowDown")
    cast_with_enter(page, poll.slug)

    ballot = Ballot.objects.get(poll=poll, voter=voter)
    ranks = list(BallotChoice.objects.filter(ballot=ballot).values_list("rank", "option__label"))
    assert ranks == [(1, "Madrid"), (2, "Seoul")]
    context.close()
