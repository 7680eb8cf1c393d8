"""One of every fan and agency page, with content, for the browser tests that sweep the
whole site (accessibility, page weight) and the journeys.

Plain functions, like tests/helpers.py: the data is made inside each test's database
(``django_db(transaction=True)``, as live_server needs), and the browser pieces take a
Playwright page or context.
"""

import io
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageDraw

from polls.agency.options import option_add
from polls.models import Poll, PollKind, PollState, ResultsVisibility, VotingMethod
from polls.services import ballot_cast
from polls.tally import tally_refresh
from tests.factories import AgencyFactory, DraftPollFactory, MembershipFactory, PollFactory, UserFactory
from tests.helpers import draft_without_options, login_with_mfa, session_user

# Korean and Thai are the Asian languages of issue 13; Thai renders in English until
# its catalogue ships (the pages still declare what they are in, checked by axe).
LANGUAGES = ["en", "ko", "th"]

CITIES = [("Seoul", "KR", 37.57, 126.98), ("Tokyo", "JP", 35.68, 139.69), ("Madrid", "ES", 40.42, -3.70)]
DESIGNS = [("Midnight tee", (40, 30, 90)), ("Sunrise hoodie", (230, 120, 40)), ("Ocean cap", (20, 120, 160))]


@dataclass
class Showcase:
    agency: object
    owner: object
    polls: dict = field(default_factory=dict)

    def fan_paths(self) -> dict[str, str]:
        """Fan pages anyone can open (no vote needed), by name."""
        polls = self.polls
        return {
            "home": "/",
            "poll single": f"/polls/{polls['single'].slug}/",
            "poll multiple": f"/polls/{polls['multiple'].slug}/",
            "poll ranked": f"/polls/{polls['ranked'].slug}/",
            "poll city (map)": f"/polls/{polls['city'].slug}/",
            "poll design": f"/polls/{polls['design'].slug}/",
            "results bars": f"/polls/{polls['single'].slug}/results/",
            "results map": f"/polls/{polls['city'].slug}/results/",
            "results ranked": f"/polls/{polls['ranked'].slug}/results/",
            "receipt check": "/receipts/",
            "sign-up": "/accounts/signup/",
            "login": "/accounts/login/",
        }

    def agency_paths(self) -> dict[str, str]:
        names = {
            "agency": self.agency.slug,
            "poll": self.polls["single"].slug,
            "draft": self.polls["draft"].slug,
            "design_draft": self.polls["design draft"].slug,
        }
        return {name: path.format(**names) for name, path in AGENCY_PAGES.items()}


# The agency pages the sweeps open, as path templates.
AGENCY_PAGES = {
    "agency poll list": "/agency/{agency}/polls/",
    "agency poll editor": "/agency/{agency}/polls/{draft}/",
    "agency poll editor (design)": "/agency/{agency}/polls/{design_draft}/",
    "agency open poll": "/agency/{agency}/polls/{poll}/",
    "agency fraud signals": "/agency/{agency}/polls/{poll}/signals/",
    "agency insight": "/agency/{agency}/polls/{poll}/insight/",
}


def design_png(colour: tuple[int, int, int], size=(1200, 1200)) -> bytes:
    """A poster-sized design: big enough that the page must not send it to a phone whole."""
    picture = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(picture)
    draw.ellipse([size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4], fill=(250, 250, 250))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def showcase_build(*, votes: int = 3) -> Showcase:
    """An agency with an open poll of every method and kind (live results, so the
    results pages have bars, a map and instant-runoff rounds), a draft for the editor,
    and an owner who has used MFA."""
    agency = AgencyFactory(name="Starlight Entertainment")
    owner = MembershipFactory(agency=agency, role="owner").user
    live = ResultsVisibility.LIVE
    polls = {
        "single": PollFactory(agency=agency, title="Next single", results_visibility=live),
        "multiple": PollFactory(
            agency=agency, title="Encore songs", method=VotingMethod.MULTIPLE, min_choices=1, max_choices=2
        ),
        "ranked": PollFactory(
            agency=agency,
            title="Tour order",
            method=VotingMethod.RANKED,
            min_choices=1,
            max_choices=3,
            results_visibility=live,
        ),
        "city": PollFactory(
            agency=agency,
            title="Next tour stop",
            kind=PollKind.CITY,
            results_visibility=live,
            option_labels=[name for name, *_ in CITIES],
        ),
        "design": design_poll_with_uploads(agency, owner, title="Tour merch"),
        "draft": DraftPollFactory(agency=agency, title="Winter fan meeting"),
        "design draft": design_draft_with_uploads(agency, owner, title="Winter merch"),
    }
    for option, (_name, country, latitude, longitude) in zip(
        polls["city"].options.all(), CITIES, strict=True
    ):
        option.country, option.latitude, option.longitude = country, latitude, longitude
        option.save()
    _cast_some(polls, votes)
    return Showcase(agency=agency, owner=owner, polls=polls)


def design_draft_with_uploads(agency, manager, **fields):
    """A draft design poll whose images went through the agency's upload (checked,
    stripped of metadata, sized, with their renditions), as in production."""
    poll = draft_without_options(agency, kind=PollKind.DESIGN, **fields)
    actor = session_user(manager)
    for name, colour in DESIGNS:
        upload = SimpleUploadedFile(f"{name}.png", design_png(colour), content_type="image/png")
        option_add(poll=poll, actor=actor, data={"label": name}, image=upload)
    return poll


def design_poll_with_uploads(agency, manager, **fields):
    """``design_draft_with_uploads``, open since an hour."""
    poll = design_draft_with_uploads(agency, manager, **fields)
    now = timezone.now()
    Poll.objects.filter(pk=poll.pk).update(
        state=PollState.SCHEDULED, opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=7)
    )
    return Poll.objects.get(pk=poll.pk)


def _cast_some(polls: dict, votes: int) -> None:
    for number in range(votes):
        voter = UserFactory(verified=True)
        for key in ("single", "city", "ranked"):
            ids = list(polls[key].options.values_list("pk", flat=True))
            order = ids[number % len(ids) :] + ids[: number % len(ids)]
            choices = order if key == "ranked" else order[:1]
            ballot_cast(poll=polls[key], voter=voter, choices=choices, client_ip=f"198.51.100.{number + 1}")
    for key in ("single", "city", "ranked"):
        tally_refresh(poll=polls[key])  # the worker's job, every TALLY_INTERVAL


# ------------------------------------------------------------------ browser side


def language_context(browser, base_url: str, language: str, **options):
    """A fresh browser context (empty cache, no cookies) asking for ``language`` both
    ways a fan does: the browser's Accept-Language and Encore's language cookie."""
    context = browser.new_context(extra_http_headers={"Accept-Language": language}, **options)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base_url}])
    serve_media(context)
    return context


def sign_in(context, base_url: str, user, *, mfa: bool = False) -> None:
    """Skip the login form where the test is about something else."""
    client = Client()
    if mfa:
        login_with_mfa(client, user)
    else:
        client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def serve_media(context) -> None:
    """Serve uploaded design images to the browser: live_server serves static files but
    not MEDIA_ROOT (only DEBUG's URLconf does), and a real deployment puts them behind
    the web server or a CDN."""

    def fulfil(route):
        path = route.request.url.split(settings.MEDIA_URL, 1)[1].split("?", 1)[0]
        file = Path(settings.MEDIA_ROOT) / path
        if ".." in path or not file.is_file():
            route.fulfill(status=404, body="")
            return
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": content_type})

    context.route(re.compile(rf".*{re.escape(settings.MEDIA_URL)}.*"), fulfil)


def ballot_fill(page, base_url: str, poll) -> None:
    """Open the poll and mark the first option (first two for multiple; first and
    second ranks for ranked)."""
    page.goto(f"{base_url}/polls/{poll.slug}/")
    labels = list(poll.options.values_list("label", flat=True))
    if poll.method == VotingMethod.RANKED:
        page.locator("select[name=rank_1]").select_option(label=labels[0])
        page.locator("select[name=rank_2]").select_option(label=labels[1])
        return
    picks = labels[:2] if poll.method == VotingMethod.MULTIPLE else labels[:1]
    for label in picks:
        page.locator(f"input[name=choice][value='{poll.options.get(label=label).pk}']").check()


def ballot_submit(page, poll) -> str:
    """Cast the filled ballot; the receipt code shown on the confirmation page."""
    page.locator("form.ballot button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/polls/{poll.slug}/voted/$"))
    return page.locator("#receipt-code").inner_text().strip()


def vote_in_browser(page, base_url: str, poll) -> str:
    ballot_fill(page, base_url, poll)
    return ballot_submit(page, poll)


def receipt_fill(page, base_url: str, code: str) -> None:
    page.goto(f"{base_url}/receipts/")
    page.locator("#receipt-code-input").fill(code)


def receipt_submit(page) -> None:
    page.locator("main form button[type=submit]").click()
    page.locator("#receipt-result").wait_for()


def check_receipt_in_browser(page, base_url: str, code: str) -> None:
    receipt_fill(page, base_url, code)
    receipt_submit(page)


# ------------------------------------------------------------------ what the sweeps report

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
# Tables and file lists the browser tests leave for a person (the axe results, the page
# weights, the journeys' screenshots): printed at the end of the run by
# tests/conftest.py's pytest_terminal_summary, and kept under var/artifacts/.
REPORTS: dict[str, str] = {}


def report_keep(title: str, text: str, file_name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / file_name).write_text(text + "\n")
    REPORTS[title] = text
