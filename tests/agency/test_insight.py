"""The agency insight: turnout over time, by country and account age, surges told
apart from farms, options only when the results are public, a fixed number of queries
whatever the number of ballots, and who may read it."""

import csv
import io
import json
import time
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from polls.agency.insight import poll_insight
from polls.insight_counters import bucket_of
from polls.models import Ballot, BallotStatus, InsightOptionHour, InsightTurnout, PollKind
from polls.services import ballot_cast
from polls.tally import tally_refresh, tally_status_change
from tests.factories import AgencyFactory, MembershipFactory, PollFactory, UserFactory
from tests.helpers import AGENCY_API as API
from tests.helpers import FARM_FINGERPRINT, fingerprint

pytestmark = pytest.mark.django_db


def insight_page(agency, poll) -> str:
    return f"/agency/{agency.slug}/polls/{poll.slug}/insight/"


def insight_api(poll) -> str:
    return f"{API}/polls/{poll.slug}/insight/"


@pytest.fixture
def day_old_poll(agency):
    """An open poll that opened a day ago, results shown live."""
    now = timezone.now()
    return PollFactory(agency=agency, opens_at=now - timedelta(days=1), results_visibility="live")


def cast(poll, *, at, country="KR", ip=None, client_fingerprint="", age=timedelta(days=400), option=None):
    """One verified voter of ``country`` whose account is ``age`` old votes; the ballot
    is then dated ``at`` (before the refresher folds it, as if it had been cast then)."""
    voter = UserFactory(verified=True, country=country, date_joined=at - age)
    option_id = poll.options.get(label=option).pk if option else poll.options.first().pk
    ballot_cast(
        poll=poll, voter=voter, choices=[option_id], client_ip=ip, client_fingerprint=client_fingerprint
    )
    Ballot.objects.filter(poll=poll, voter=voter).update(cast_at=at)
    return voter


def cast_background(poll, now, *, size=60):
    """Steady Korean and Japanese voting over the hours before the last one, with a
    couple of Indonesians: a 2 % base for Indonesia."""
    for number in range(size):
        at = now - timedelta(hours=2, minutes=number * 3)
        country = "ID" if number in (10, 40) else ("KR" if number % 2 else "JP")
        cast(
            poll,
            at=at,
            country=country,
            ip=f"198.51.{number}.9",
            client_fingerprint=fingerprint(f"b{number % 5}"),
        )


# ------------------------------------------------------------------ what is counted


def test_turnout_buckets_country_shares_and_account_ages_match_the_ballots_cast(day_old_poll):
    poll = day_old_poll
    base = bucket_of(timezone.now()) - timedelta(hours=2)
    cast(poll, at=base + timedelta(minutes=1), country="KR")
    cast(poll, at=base + timedelta(minutes=4), country="KR", age=timedelta(days=3))
    cast(poll, at=base + timedelta(minutes=6), country="JP")
    cast(poll, at=base + timedelta(minutes=61), country="ID", age=timedelta(days=29))
    cast(poll, at=base + timedelta(minutes=62), country="")

    assert tally_refresh(poll=poll) == 5
    assert tally_refresh(poll=poll) == 0  # each ballot enters the counters once

    document = poll_insight(poll=poll, range_name="6h")
    assert document["step"] == "5min"
    series = {point["start"]: point["ballots"] for point in document["turnout"]}
    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    assert series[iso(base)] == 2
    assert series[iso(base + timedelta(minutes=5))] == 1
    assert series[iso(base + timedelta(minutes=60))] == 2
    assert sum(series.values()) == 5
    assert len(document["turnout"]) == 72 or len(document["turnout"]) == 73  # six hours of 5 minutes

    hourly = poll_insight(poll=poll, range_name="48h")
    assert hourly["step"] == "hour"
    by_hour = {point["start"]: point["ballots"] for point in hourly["turnout"]}
    hour = base.replace(minute=0)
    assert sum(by_hour.values()) == 5
    assert by_hour[iso(hour)] + by_hour.get(iso(hour + timedelta(hours=1)), 0) >= 3

    countries = {row["country"]: row for row in document["countries"]}
    assert countries["KR"]["ballots"] == 2 and countries["KR"]["share"] == 0.4
    assert countries["JP"]["share"] == 0.2 and countries["ID"]["share"] == 0.2
    assert countries[""]["ballots"] == 1  # no declared country
    assert (countries["KR"]["new"], countries["KR"]["established"]) == (1, 1)
    ages = {row["account_age"]: row["ballots"] for row in document["account_age"]}
    assert ages == {"new": 2, "established": 3}  # 3 and 29 days old: new


def test_review_moves_a_ballots_votes_out_of_the_option_series_but_not_out_of_turnout(day_old_poll):
    poll = day_old_poll
    now = timezone.now()
    voter = cast(poll, at=now - timedelta(minutes=30), option="Tokyo")
    cast(poll, at=now - timedelta(minutes=30), option="Tokyo")
    tally_refresh(poll=poll)
    ballot = Ballot.objects.get(poll=poll, voter=voter)

    tally_status_change(
        poll=poll, ballot_ids=[ballot.pk], status=BallotStatus.INVALIDATED, reason="bot_network"
    )

    tokyo = poll.options.get(label="Tokyo")
    assert sum(InsightOptionHour.objects.filter(poll=poll, option=tokyo).values_list("votes", flat=True)) == 1
    assert sum(InsightTurnout.objects.filter(poll=poll).values_list("ballots", flat=True)) == 2
    document = poll_insight(poll=poll)
    assert {o["label"]: o["votes"] for o in document["options"]}["Tokyo"] == 1

    tally_status_change(poll=poll, ballot_ids=[ballot.pk], status=BallotStatus.COUNTED, reason="")
    assert sum(InsightOptionHour.objects.filter(poll=poll, option=tokyo).values_list("votes", flat=True)) == 2


# ------------------------------------------------------------------ surges


def test_an_indonesian_surge_from_many_networks_and_devices_is_interest(day_old_poll):
    poll = day_old_poll
    now = timezone.now()
    cast_background(poll, now)
    for number in range(25):
        cast(
            poll,
            at=now - timedelta(minutes=number * 2),
            country="ID",
            ip=f"36.{70 + number}.{number}.5",
            client_fingerprint=fingerprint(f"phone {number % 6}"),
        )
    tally_refresh(poll=poll)

    surges = poll_insight(poll=poll)["surges"]

    assert [surge["country"] for surge in surges] == ["ID"]
    surge = surges[0]
    assert surge["kind"] == "interest"
    assert surge["recent_share"] == 1.0
    assert surge["before_share"] == round(2 / 60, 4)
    assert surge["networks"] == 25 and surge["fingerprints"] == 6
    assert surge["review_url"] is None


def test_a_burst_from_one_network_with_one_fingerprint_is_suspicious_and_links_to_the_review(
    client, day_old_poll, agency, analyst
):
    poll = day_old_poll
    now = timezone.now()
    cast_background(poll, now)
    for number in range(25):
        cast(
            poll,
            at=now - timedelta(minutes=10, seconds=number),
            country="ID",
            ip=f"203.0.113.{number + 1}",
            client_fingerprint=FARM_FINGERPRINT,
            age=timedelta(minutes=20),
        )
    for number in range(5):
        cast(poll, at=now - timedelta(minutes=20), country="KR", ip=f"198.18.{number}.1")
    tally_refresh(poll=poll)

    surges = poll_insight(poll=poll)["surges"]

    assert [surge["country"] for surge in surges] == ["ID"]
    surge = surges[0]
    assert surge["kind"] == "suspicious"
    assert surge["recent_share"] == round(25 / 30, 4)
    assert (surge["networks"], surge["fingerprints"]) == (1, 1)
    assert surge["top_network_share"] == 1.0
    signals = f"/agency/{agency.slug}/polls/{poll.slug}/signals/"
    assert surge["review_url"] == signals
    client.force_login(analyst)
    page = client.get(insight_page(agency, poll)).content.decode()
    assert "Indonesia" in page and f'href="{signals}"' in page


def test_a_country_with_few_recent_ballots_does_not_surge(day_old_poll):
    poll = day_old_poll
    now = timezone.now()
    cast_background(poll, now)
    for number in range(5):
        cast(poll, at=now - timedelta(minutes=5), country="ID", ip=f"36.1.{number}.5")
    tally_refresh(poll=poll)

    assert poll_insight(poll=poll)["surges"] == []


# ------------------------------------------------------------------ the embargo


@pytest.fixture
def city_poll(agency):
    now = timezone.now()
    poll = PollFactory(
        agency=agency,
        kind=PollKind.CITY,
        opens_at=now - timedelta(hours=3),
        results_visibility="on_publish",
        option_labels=["Jakarta", "Seoul"],
    )
    poll.options.filter(label="Jakarta").update(
        country="ID", latitude=Decimal("-6.2"), longitude=Decimal("106.8"), population=10_000_000
    )
    poll.options.filter(label="Seoul").update(
        country="KR", latitude=Decimal("37.6"), longitude=Decimal("127.0")
    )
    return poll


def test_embargoed_option_numbers_never_appear_in_the_page_the_csv_the_api_or_the_cache(
    client, agency, analyst, city_poll
):
    poll = city_poll
    now = timezone.now()
    for number in range(7):
        cast(poll, at=now - timedelta(minutes=number), country="ID", option="Jakarta")
    tally_refresh(poll=poll)
    client.force_login(analyst)

    page = client.get(insight_page(agency, poll))
    download = client.get(insight_page(agency, poll) + "csv/")
    answer = client.get(insight_api(poll))

    assert page.status_code == download.status_code == answer.status_code == HTTPStatus.OK
    assert answer.json()["ballots"] == 7 and answer.json()["results_visible"] is False
    assert "options" not in answer.json()
    sections = {row["section"] for row in csv.DictReader(io.StringIO(download.content.decode()))}
    assert sections == {"turnout", "country", "account_age"}
    html = page.content.decode()
    assert "Jakarta" not in html and "Votes per million" not in html
    assert "Indonesia" in html  # the voters' country is not an option number
    cached = cache.get(f"polls:insight:{poll.pk}:all:embargoed")
    assert cached is not None and "options" not in cached
    assert "Jakarta" not in json.dumps(cached)
    assert cache.get(f"polls:insight:{poll.pk}:all:results") is None


def test_visible_results_bring_options_over_time_and_votes_per_million(client, agency, analyst, city_poll):
    poll = city_poll
    poll.results_visibility = "live"
    poll.save(update_fields=["results_visibility"])
    now = timezone.now()
    for number in range(5):
        cast(poll, at=now - timedelta(minutes=number), country="ID", option="Jakarta")
    cast(poll, at=now - timedelta(hours=2), country="KR", option="Seoul")
    tally_refresh(poll=poll)
    client.force_login(analyst)

    answer = client.get(insight_api(poll)).json()
    download = client.get(insight_page(agency, poll) + "csv/").content.decode()
    page = client.get(insight_page(agency, poll)).content.decode()

    options = {option["label"]: option for option in answer["options"]}
    assert options["Jakarta"]["votes"] == 5 and options["Jakarta"]["per_million"] == 0.5
    assert options["Seoul"]["per_million"] is None
    assert sum(point["votes"] for point in options["Jakarta"]["series"]) == 5
    assert sum(point["votes"] for point in options["Seoul"]["series"]) == 1
    assert "option_per_million" in download and "Jakarta" in page and "0.50" in page


# ------------------------------------------------------------------ cost


def seed_ballots(poll, count: int, voters: list[int]) -> None:
    """``count`` counted ballots for the poll in one statement, spread over the last
    three hours, many networks and fingerprints, with one choice each."""
    option_ids = list(poll.options.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO polls_ballot (poll_id, voter_id, period, slot, day, cast_at, receipt_hash,
                                      status, status_reason, client_network, client_fingerprint, tallied)
            SELECT %(poll)s, (%(voters)s::bigint[])[1 + i %% %(nvoters)s],
                   DATE '2020-01-01' + (i / (%(nvoters)s * 20)), (i / %(nvoters)s) %% 20, CURRENT_DATE,
                   now() - (i %% 10800) * interval '1 second', md5(%(poll)s || '-' || i),
                   'counted', '', '10.' || (i %% 200) || '.' || (i / 200 %% 200) || '.0/24',
                   md5((i %% 37)::text), false
            FROM generate_series(0, %(count)s - 1) AS i
            """,
            {"poll": poll.pk, "voters": voters, "nvoters": len(voters), "count": count},
        )
        cursor.execute(
            """
            INSERT INTO polls_ballotchoice (poll_id, ballot_id, option_id, rank)
            SELECT poll_id, id, (%(options)s::bigint[])[1 + id %% %(noptions)s], 1
            FROM polls_ballot WHERE poll_id = %(poll)s
            """,
            {"poll": poll.pk, "options": option_ids, "noptions": len(option_ids)},
        )


def test_reading_insight_for_100000_ballots_runs_as_many_queries_as_for_10(agency, postgresql):
    now = timezone.now()
    users = User.objects.bulk_create(
        User(
            email=f"bulk{n}@example.com",
            country=("ID", "KR", "JP", "")[n % 4],
            date_joined=now - timedelta(days=n % 60),
        )
        for n in range(1000)
    )
    voters = [user.pk for user in users]
    small = PollFactory(agency=agency, opens_at=now - timedelta(hours=4), results_visibility="live")
    large = PollFactory(agency=agency, opens_at=now - timedelta(hours=4), results_visibility="live")
    seed_ballots(small, 10, voters)
    seed_ballots(large, 100_000, voters)
    tally_refresh(poll=small)
    started = time.monotonic()
    assert tally_refresh(poll=large) == 100_000
    print(f"folding 100,000 ballots: {time.monotonic() - started:.1f} s")

    counts = []
    for poll in (small, large):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            document = poll_insight(poll=poll, range_name="all")
        counts.append(len(queries))
        assert sum(point["ballots"] for point in document["turnout"]) == document["ballots"]
        assert "options" in document
    print(f"queries to read insight: 10 ballots {counts[0]}, 100,000 ballots {counts[1]}")

    assert counts[0] == counts[1]
    assert sum(row["ballots"] for row in poll_insight(poll=large)["countries"]) == 100_000
    with CaptureQueriesContext(connection) as cached:
        poll_insight(poll=large, range_name="all")
    assert len(cached) == 0  # the next reader within the minute gets the cached document


# ------------------------------------------------------------------ who may read, and how


def test_a_fan_or_another_agencys_member_is_refused_and_an_analyst_may_read(client, agency, analyst, poll):
    fan = UserFactory(verified=True)
    stranger = MembershipFactory(agency=AgencyFactory(), role="owner").user

    for outsider in (fan, stranger):
        client.force_login(outsider)
        assert client.get(insight_page(agency, poll)).status_code == HTTPStatus.NOT_FOUND
        assert client.get(insight_page(agency, poll) + "csv/").status_code == HTTPStatus.NOT_FOUND
        refused = client.get(insight_api(poll))
        assert refused.status_code == HTTPStatus.NOT_FOUND and refused.json()["code"] == "not_found"

    client.force_login(analyst)
    assert client.get(insight_page(agency, poll)).status_code == HTTPStatus.OK
    assert client.get(insight_page(agency, poll) + "csv/").status_code == HTTPStatus.OK
    assert client.get(insight_api(poll)).status_code == HTTPStatus.OK


def test_anonymous_callers_are_asked_to_sign_in(client, agency, poll):
    assert client.get(insight_api(poll)).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(insight_page(agency, poll)).status_code == HTTPStatus.FOUND


def test_an_unknown_range_is_a_400_invalid_range_but_only_for_a_reader(client, agency, analyst, poll):
    client.force_login(UserFactory(verified=True))
    assert client.get(insight_api(poll), {"range": "year"}).status_code == HTTPStatus.NOT_FOUND

    client.force_login(analyst)
    refused = client.get(insight_api(poll), {"range": "year"})
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["code"] == "invalid_range"
    assert client.get(insight_page(agency, poll), {"range": "year"}).status_code == HTTPStatus.BAD_REQUEST
    for name, step in (("6h", "5min"), ("48h", "hour"), ("7d", "hour"), ("all", "5min")):
        assert client.get(insight_api(poll), {"range": name}).json()["step"] == step


def test_the_turnout_chart_is_svg_with_its_numbers_also_in_a_table(client, agency, analyst, day_old_poll):
    cast(day_old_poll, at=timezone.now() - timedelta(minutes=3))
    tally_refresh(poll=day_old_poll)
    client.force_login(analyst)

    html = client.get(insight_page(agency, day_old_poll), {"range": "6h"}).content.decode()

    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'class="insight-chart"' in html
    assert "<table>" in html and "<script" not in html
    assert (
        client.get(f"/agency/{agency.slug}/polls/{day_old_poll.slug}/")
        .content.decode()
        .count(insight_page(agency, day_old_poll))
    )


def test_the_agency_home_shows_each_open_poll_with_a_sparkline_and_its_surges(
    client, agency, analyst, day_old_poll
):
    now = timezone.now()
    cast_background(day_old_poll, now)
    for number in range(25):
        cast(
            day_old_poll,
            at=now - timedelta(minutes=9),
            country="ID",
            ip=f"203.0.113.{number + 1}",
            client_fingerprint=FARM_FINGERPRINT,
        )
    closed = PollFactory(agency=agency, opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    tally_refresh(poll=day_old_poll)
    client.force_login(analyst)

    html = client.get("/agency/").content.decode()

    assert day_old_poll.title in html and closed.title not in html
    assert 'class="sparkline"' in html
    assert "Suspicious surge: Indonesia" in html


def test_a_poll_not_yet_open_has_no_turnout_buckets(agency):
    now = timezone.now()
    scheduled = PollFactory(
        agency=agency, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2)
    )

    document = poll_insight(poll=scheduled)

    assert document["turnout"] == [] and document["countries"] == [] and document["surges"] == []
    assert document["ballots"] == 0 and "options" not in document
