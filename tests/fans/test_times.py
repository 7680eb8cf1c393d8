"""Times and numbers on fan pages: the viewer's zone, named; relative times with the
exact moment machine-readable; a daily poll's day boundary spelled out; counts grouped
the way the reader's language groups them."""

import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import formats, timezone, translation

from polls.models import OptionTally, Period, PollTally, ResultsVisibility
from polls.services import ballot_cast
from tests.factories import PollFactory, UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")


def in_english(moment: datetime, zone: ZoneInfo) -> str:
    with translation.override("en"):
        return formats.date_format(moment.astimezone(zone), "DATETIME_FORMAT")


def test_poll_page_shows_times_in_the_accounts_zone_with_the_zone_named(client, agency):
    opens_at = datetime(2026, 11, 25, 4, 57, tzinfo=UTC)
    poll = PollFactory(agency=agency, timezone="America/Mexico_City", opens_at=opens_at)
    client.force_login(UserFactory(verified=True, time_zone="Asia/Seoul"))

    html = client.get(f"/polls/{poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # 04:57 UTC is 13:57 in Seoul.
    assert (
        f'<time datetime="2026-11-25T04:57:00Z">{in_english(opens_at, SEOUL)} KST (Asia/Seoul)</time>' in html
    )
    assert "1:57 p.m." in in_english(opens_at, SEOUL)


def test_a_visitor_not_signed_in_sees_the_polls_own_zone_named(client, agency):
    opens_at = datetime(2026, 11, 25, 4, 57, tzinfo=UTC)
    poll = PollFactory(agency=agency, timezone="Asia/Jakarta", opens_at=opens_at)

    html = client.get(f"/polls/{poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    jakarta = ZoneInfo("Asia/Jakarta")
    assert f"{in_english(opens_at, jakarta)} WIB (Asia/Jakarta)</time>" in html


def test_my_votes_and_the_receipt_check_show_the_cast_time_in_the_accounts_zone(client, agency):
    poll = PollFactory(agency=agency, timezone="UTC")
    fan = UserFactory(verified=True, time_zone="Asia/Seoul")
    answer = ballot_cast(poll=poll, voter=fan, choices=[poll.options.first().pk])
    client.force_login(fan)

    my_votes = client.get("/my/votes/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    receipt = client.post(
        "/receipts/", {"code": answer.body["receipt"]}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "KST (Asia/Seoul)</time>" in my_votes
    assert "KST (Asia/Seoul)</time>" in receipt


def test_an_open_poll_says_it_closes_in_3_hours_with_the_moment_machine_readable(client, agency):
    closes_at = timezone.now() + timedelta(hours=3, minutes=10)
    poll = PollFactory(agency=agency, title="Closing poll", closes_at=closes_at)

    home = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    page = client.get(f"/polls/{poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    machine = closes_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'Closes in <time datetime="{machine}">3\xa0hours</time>' in home
    assert f'(in <time datetime="{machine}">3\xa0hours</time>)' in page
    # ... and how long it has been open.
    assert re.search(r'\(<time datetime="[^"]+">1\xa0hour</time> ago\)', page)


def test_relative_times_follow_the_readers_language(client, agency):
    PollFactory(agency=agency, closes_at=timezone.now() + timedelta(hours=3, minutes=10))

    korean = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert "3시간</time>" in korean


def test_daily_reset_names_the_polls_zone_and_the_viewers_time(client, agency):
    poll = PollFactory(agency=agency, timezone="Asia/Jakarta", period=Period.DAILY, votes_per_period=3)
    client.force_login(UserFactory(verified=True, time_zone="Asia/Seoul"))

    html = client.get(f"/polls/{poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # Midnight in Jakarta (UTC+7) is 2 a.m. in Seoul (UTC+9).
    sentence = re.search(
        r"Your 3 daily votes reset at midnight Asia/Jakarta time — <time datetime=\"([^\"]+)\">([^<]+)</time> your time\.",
        html,
    )
    assert sentence, html
    renewal = datetime.fromisoformat(sentence[1].replace("Z", "+00:00"))
    assert renewal.astimezone(ZoneInfo("Asia/Jakarta")).time().isoformat() == "00:00:00"
    assert sentence[2] == "2 a.m."


def test_daily_reset_in_the_polls_own_zone_needs_no_second_time(client, agency):
    poll = PollFactory(agency=agency, timezone="Asia/Jakarta", period=Period.DAILY, votes_per_period=1)

    html = client.get(f"/polls/{poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Your 1 daily vote resets at midnight Asia/Jakarta time." in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "12,345"),
        ("es", "12.345"),
        ("pt-br", "12.345"),
        ("id", "12.345"),
        ("ko", "12,345"),
        ("zh-hans", "12,345"),
    ],
)
def test_counts_are_grouped_per_locale(language, expected):
    template = Template("{% load encore_time %}{{ n|number }}")
    with translation.override(language):
        assert template.render(Context({"n": 12345})) == expected


@pytest.mark.parametrize(("language", "expected"), [("en", "12,345"), ("es", "12.345")])
def test_results_page_groups_counts_per_locale(client, agency, language, expected):
    poll = PollFactory(
        agency=agency, results_visibility=ResultsVisibility.LIVE, option_labels=["Seoul", "Tokyo"]
    )
    seoul = poll.options.get(label="Seoul")
    PollTally.objects.create(poll=poll, ballots=12345, refreshed_at=timezone.now())
    OptionTally.objects.create(poll=poll, option=seoul, votes=12345)

    page = client.get(f"/polls/{poll.slug}/results/", HTTP_ACCEPT_LANGUAGE=language)

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert f'<dd class="big-number">{expected}</dd>' in html
    assert f'<span class="bar-value">{expected} ' in html


def test_agency_poll_list_names_the_polls_zone(manager_client, agency):
    PollFactory(agency=agency, timezone="Asia/Seoul")

    html = manager_client.get(f"/agency/{agency.slug}/polls/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "KST (Asia/Seoul)</time>" in html
