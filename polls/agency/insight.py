"""The agency's insight into one poll: turnout over time, by voter country and by
account age, surges, and (when the results are public) each option over time.

Everything is read from the counters the tally refresher keeps
(polls/insight_counters.py), never from ballots: a fixed handful of grouped queries
whatever the number of ballots, then one assembled document kept in the shared cache
for ``INSIGHT_CACHE_SECONDS`` (at most 60). Per-option numbers follow the poll's
results visibility (``polls.selectors.results_visible``), as for the public: a poll
whose results are hidden has a document, and a cache entry, without them.

Surges, in short (docs/insight.md has the reasoning): a country surges when, in the
last hour, it cast at least ``INSIGHT_SURGE_MIN_RECENT`` ballots, the poll had at
least ``INSIGHT_SURGE_MIN_BEFORE`` ballots before that hour, and the country's share
of the last hour is at least ``INSIGHT_SURGE_RATIO`` times, and
``INSIGHT_SURGE_MIN_RISE`` above, its share before. It is ``suspicious`` when one
client network holds ``INSIGHT_SURGE_NETWORK_SHARE`` or more of the country's recent
ballots, or one client fingerprint ``INSIGHT_SURGE_FINGERPRINT_SHARE`` or more;
``interest`` otherwise.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, Sum
from django.db.models.functions import Trunc
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries as country_names

from accounts.models import Agency, Role, User
from accounts.permissions import check_agency_action
from polls.insight_counters import BUCKET_MINUTES, bucket_of
from polls.models import (
    AccountAge,
    ClientKind,
    InsightClientHour,
    InsightOptionHour,
    InsightTurnout,
    Poll,
    PollKind,
    PollState,
    PollStatus,
    PollTally,
)
from polls.selectors import results_visible
from voting.errors import Code, DomainError

FIVE_MINUTES = "5min"
HOUR = "hour"
DAY = "day"
STEP_LENGTH = {
    FIVE_MINUTES: timedelta(minutes=BUCKET_MINUTES),
    HOUR: timedelta(hours=1),
    DAY: timedelta(days=1),
}

# ?range= values: how far back the turnout series goes and in which buckets. "all"
# covers the poll from its opening and picks the buckets by its length (``_step_for``).
RANGES: dict[str, tuple[timedelta | None, str | None]] = {
    "6h": (timedelta(hours=6), FIVE_MINUTES),
    "48h": (timedelta(hours=48), HOUR),
    "7d": (timedelta(days=7), HOUR),
    "all": (None, None),
}
DEFAULT_RANGE = "all"
# The window the surge rule calls "the last hour": twelve 5-minute buckets.
RECENT = timedelta(hours=1)
# Voter countries drawn on a city poll's map (all of them are in the table).
MAP_COUNTRIES = 15


# ------------------------------------------------------------------ who may read


def check_insight_reader(*, user: User, agency: Agency) -> None:
    """Who may read an agency's insight: every member (analyst and up). The one place
    to ask, so that other callers (an agency API token, say) are added here; raises
    AgencyActionRefused (``not_found`` for outsiders) as ``check_agency_action`` does."""
    check_agency_action(user=user, agency=agency, least=Role.ANALYST)


def insight_poll_of(*, user: User, slug: str, agency: Agency | None = None) -> Poll:
    """The poll with that slug (of ``agency`` when given) once ``user`` may read its
    insight. Raises DomainError ``not_found`` for a poll the user may not see, so that
    nobody learns which polls exist, and the refusals of ``check_insight_reader``."""
    polls = Poll.objects.select_related("agency")
    if agency is not None:
        polls = polls.filter(agency=agency)
    poll = polls.filter(slug=slug).first()
    if poll is None:
        raise DomainError(Code.NOT_FOUND, _("Not found."))
    check_insight_reader(user=user, agency=poll.agency)
    return poll


def parse_range(value: str | None) -> str:
    """The ``?range=`` asked for, or the default; raises ``invalid_range``."""
    if value is None or value == "":
        return DEFAULT_RANGE
    if value not in RANGES:
        raise DomainError(
            Code.INVALID_RANGE,
            _("Unknown range. Use one of: %(ranges)s.") % {"ranges": ", ".join(RANGES)},
        )
    return value


# ------------------------------------------------------------------ the document


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    step: str
    # Before the opening there is no bucket to show at all.
    empty: bool = False


def poll_insight(*, poll: Poll, range_name: str = DEFAULT_RANGE) -> dict:
    """The insight document of the poll (see the API's InsightOutputSerializer for its
    shape), from the shared cache when a copy younger than ``INSIGHT_CACHE_SECONDS``
    is there. Visibility is decided on every call and is part of the cache key, so a
    poll whose results are hidden never has a cached document with option numbers."""
    visible = results_visible(poll=poll)
    key = f"polls:insight:{poll.pk}:{range_name}:{'results' if visible else 'embargoed'}"
    document = cache.get(key)
    if document is None:
        document = _insight_build(poll, range_name, visible=visible, now=timezone.now())
        cache.set(key, document, timeout=insight_cache_seconds())
    return document


def insight_cache_seconds() -> int:
    return min(60, max(1, getattr(settings, "INSIGHT_CACHE_SECONDS", 30)))


def _insight_build(poll: Poll, range_name: str, *, visible: bool, now: datetime) -> dict:
    window = insight_window(poll, range_name, now=now)
    refreshed_at = PollTally.objects.filter(poll=poll).values_list("refreshed_at", flat=True).first()
    recent_start = bucket_of(window.end) - RECENT + STEP_LENGTH[FIVE_MINUTES]
    by_country = _turnout_by_country(poll, recent_start)
    document = {
        "poll": poll.slug,
        "status": poll.status_at(now).value,
        "updated_at": _iso(refreshed_at),
        "range": range_name,
        "step": window.step,
        "results_visible": visible,
        "ballots": sum(row["ballots"] for row in by_country.values()),
        "turnout": _turnout_series(poll, window),
        "countries": _countries(by_country),
        "account_age": _account_ages(by_country),
        "surges": _surges(poll, by_country, recent_start),
    }
    if visible:
        document["options"] = _options(poll, window)
    return document


def insight_window(poll: Poll, range_name: str, *, now: datetime) -> Window:
    """The span of the turnout series: up to now, or to the close if earlier, going
    back by the range (never before the opening), in buckets the range decides."""
    end = min(now, poll.effective_closes_at)
    length, step = RANGES[range_name]
    start = poll.opens_at if length is None else max(poll.opens_at, end - length)
    if step is None:
        step = _step_for(end - start)
    return Window(start=start, end=max(start, end), step=step, empty=end < poll.opens_at)


def _step_for(span: timedelta) -> str:
    if span <= timedelta(hours=6):
        return FIVE_MINUTES
    if span <= timedelta(days=7):
        return HOUR
    return DAY


def _bucket_starts(poll: Poll, window: Window) -> list[datetime]:
    """Every bucket start from the window's start to its end, so that a quiet bucket
    shows as a zero rather than disappearing. Hours and days are the poll's own
    (a day in Seoul starts at 15:00 UTC)."""
    if window.empty:
        return []
    zone = ZoneInfo(poll.timezone)
    if window.step == FIVE_MINUTES:
        first = bucket_of(window.start)
    else:
        local = window.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        if window.step == DAY:
            local = local.replace(hour=0)
        first = local
    starts = []
    moment = first
    while moment <= window.end:
        starts.append(moment.astimezone(UTC))
        if window.step == DAY:
            # Local midnight to local midnight, whatever daylight saving does.
            next_day = (moment.astimezone(zone) + timedelta(days=1)).date()
            moment = datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone)
        else:
            moment = moment + STEP_LENGTH[window.step]
    return starts


def _truncated(poll: Poll, field: str, step: str):
    return Trunc(field, step, tzinfo=ZoneInfo(poll.timezone))


def _turnout_series(poll: Poll, window: Window) -> list[dict]:
    starts = _bucket_starts(poll, window)
    if not starts:
        return []
    rows = InsightTurnout.objects.filter(poll=poll, bucket__gte=starts[0], bucket__lte=window.end)
    if window.step == FIVE_MINUTES:
        counts = rows.values("bucket").annotate(total=Sum("ballots")).values_list("bucket", "total")
    else:
        counts = (
            rows.annotate(start=_truncated(poll, "bucket", window.step))
            .values("start")
            .annotate(total=Sum("ballots"))
            .values_list("start", "total")
        )
    totals = {start.astimezone(UTC): total for start, total in counts}
    return [{"start": _iso(start), "ballots": totals.get(start, 0)} for start in starts]


def _turnout_by_country(poll: Poll, recent_start: datetime) -> dict[str, dict]:
    """Ballots per voter country: in all, in the last hour, by account age."""
    rows = (
        InsightTurnout.objects.filter(poll=poll)
        .values("country", "account_age")
        .annotate(total=Sum("ballots"), recent=Sum("ballots", filter=Q(bucket__gte=recent_start)))
    )
    countries: dict[str, dict] = defaultdict(
        lambda: {"ballots": 0, "recent": 0, AccountAge.NEW.value: 0, AccountAge.ESTABLISHED.value: 0}
    )
    for row in rows:
        country = countries[row["country"]]
        country["ballots"] += row["total"] or 0
        country["recent"] += row["recent"] or 0
        country[row["account_age"]] += row["total"] or 0
    return dict(countries)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def country_name(code: str) -> str:
    return str(country_names.name(code)) if code else _("Unknown")


def _countries(by_country: dict[str, dict]) -> list[dict]:
    total = sum(row["ballots"] for row in by_country.values())
    ordered = sorted(by_country.items(), key=lambda item: (-item[1]["ballots"], item[0]))
    return [
        {
            "country": code,
            "name": country_name(code),
            "ballots": row["ballots"],
            "share": _share(row["ballots"], total),
            "new": row[AccountAge.NEW],
            "established": row[AccountAge.ESTABLISHED],
        }
        for code, row in ordered
        if row["ballots"]
    ]


def _account_ages(by_country: dict[str, dict]) -> list[dict]:
    total = sum(row["ballots"] for row in by_country.values())
    answer = []
    for age in AccountAge:
        ballots = sum(row[age.value] for row in by_country.values())
        answer.append(
            {
                "account_age": age.value,
                "label": str(age.label),
                "ballots": ballots,
                "share": _share(ballots, total),
            }
        )
    return answer


# ------------------------------------------------------------------ surges


def _setting(name: str, default):
    return getattr(settings, name, default)


def _surges(poll: Poll, by_country: dict[str, dict], recent_start: datetime) -> list[dict]:
    recent_total = sum(row["recent"] for row in by_country.values())
    before_total = sum(row["ballots"] - row["recent"] for row in by_country.values())
    # One query whatever happens next, so that the number of queries never depends on
    # the data: the clusters of every country in the hours the last hour touches.
    clusters = _recent_clusters(poll, recent_start)
    if before_total < _setting("INSIGHT_SURGE_MIN_BEFORE", 20) or not recent_total:
        return []
    surges = []
    for code, row in by_country.items():
        if not code or row["recent"] < _setting("INSIGHT_SURGE_MIN_RECENT", 20):
            continue
        recent_share = row["recent"] / recent_total
        before_share = (row["ballots"] - row["recent"]) / before_total
        if recent_share < _setting("INSIGHT_SURGE_RATIO", 2.0) * before_share:
            continue
        if recent_share - before_share < _setting("INSIGHT_SURGE_MIN_RISE", 0.05):
            continue
        surges.append(_surge(poll, code, row, recent_share, before_share, clusters.get(code, {})))
    surges.sort(key=lambda surge: (surge["before_share"] - surge["recent_share"], surge["country"]))
    return surges


def _recent_clusters(poll: Poll, recent_start: datetime) -> dict[str, dict[str, dict]]:
    """Per country and kind (network, fingerprint): ``ballots``, distinct ``keys`` and
    the ballots of the busiest key (``top``), over the whole hours the last hour
    touches (the client counters are hourly; docs/insight.md). One query: the keys are
    summed over those hours and then aggregated in the database, so what travels is
    a row per country and kind, not per network."""
    table = connection.ops.quote_name(InsightClientHour._meta.db_table)
    # Identifiers are the model's; the poll and the hour are parameters.
    sql = (
        "SELECT country, kind, SUM(n), COUNT(*) FILTER (WHERE key <> ''), "  # noqa: S608
        "MAX(n) FILTER (WHERE key <> '') FROM ("
        f"SELECT country, kind, key, SUM(ballots) AS n FROM {table} "
        "WHERE poll_id = %s AND hour >= %s GROUP BY country, kind, key"
        ") AS per_key GROUP BY country, kind"
    )
    hour_field = InsightClientHour._meta.get_field("hour")
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [poll.pk, hour_field.get_db_prep_value(recent_start.replace(minute=0), connection)]
        )
        rows = cursor.fetchall()
    clusters: dict[str, dict[str, dict]] = defaultdict(dict)
    for country, kind, ballots, keys, top in rows:
        clusters[country][kind] = {"ballots": ballots or 0, "keys": keys or 0, "top": top or 0}
    return clusters


def _surge(
    poll: Poll, code: str, row: dict, recent_share: float, before_share: float, clusters: dict
) -> dict:
    network = clusters.get(ClientKind.NETWORK, {})
    fingerprint = clusters.get(ClientKind.FINGERPRINT, {})
    top_network_share = _share(network.get("top") or 0, network.get("ballots") or 0)
    top_fingerprint_share = _share(fingerprint.get("top") or 0, fingerprint.get("ballots") or 0)
    suspicious = top_network_share >= _setting(
        "INSIGHT_SURGE_NETWORK_SHARE", 0.5
    ) or top_fingerprint_share >= _setting("INSIGHT_SURGE_FINGERPRINT_SHARE", 0.8)
    return {
        "country": code,
        "name": country_name(code),
        "recent_ballots": row["recent"],
        "recent_share": round(recent_share, 4),
        "before_share": round(before_share, 4),
        "networks": network.get("keys") or 0,
        "fingerprints": fingerprint.get("keys") or 0,
        "top_network_share": top_network_share,
        "top_fingerprint_share": top_fingerprint_share,
        "kind": "suspicious" if suspicious else "interest",
        "review_url": (
            reverse("agency:polls:signals", kwargs={"agency_slug": poll.agency.slug, "poll_slug": poll.slug})
            if suspicious
            else None
        ),
    }


# ------------------------------------------------------------------ options (visible results only)


def _options(poll: Poll, window: Window) -> list[dict]:
    """Each option's votes in all and per bucket (hours at the finest), with votes per
    million residents for a city with a population. Only called when the results are
    visible; counted ballots only, as the results count them."""
    step = DAY if window.step == DAY else HOUR
    series_window = Window(start=window.start, end=window.end, step=step, empty=window.empty)
    starts = _bucket_starts(poll, series_window)
    options = list(poll.options.all())
    totals = dict(
        InsightOptionHour.objects.filter(poll=poll)
        .values("option")
        .annotate(total=Sum("votes"))
        .values_list("option", "total")
    )
    per_bucket: dict[int, dict[datetime, int]] = defaultdict(dict)
    if starts:
        rows = (
            InsightOptionHour.objects.filter(poll=poll, hour__gte=starts[0], hour__lte=window.end)
            .annotate(start=_truncated(poll, "hour", step))
            .values("option", "start")
            .annotate(total=Sum("votes"))
            .values_list("option", "start", "total")
        )
        for option_id, start, total in rows:
            per_bucket[option_id][start.astimezone(UTC)] = total
    ballots = sum(totals.values())
    answer = []
    for option in options:
        votes = totals.get(option.pk, 0)
        population = option.population if poll.kind == PollKind.CITY else None
        answer.append(
            {
                "id": option.pk,
                "label": option.label,
                "votes": votes,
                "share": _share(votes, ballots),
                "population": population,
                "per_million": round(votes * 1_000_000 / population, 2) if population else None,
                "series": [
                    {"start": _iso(start), "votes": per_bucket[option.pk].get(start, 0)} for start in starts
                ],
            }
        )
    return answer


# ------------------------------------------------------------------ the agency home


def open_polls_insight(*, user: User) -> list[dict]:
    """Every open poll of the user's agencies with its last 48 hours of turnout and
    its surges, for the agency home: the cached documents, a few queries per poll."""
    now = timezone.now()
    polls = (
        Poll.objects.filter(
            agency__memberships__user=user,
            state=PollState.SCHEDULED,
            opens_at__lte=now,
        )
        .select_related("agency")
        .order_by("closes_at", "id")
    )
    answer = []
    for poll in polls:
        if poll.status_at(now) != PollStatus.OPEN:
            continue
        check_insight_reader(user=user, agency=poll.agency)
        answer.append({"poll": poll, "insight": poll_insight(poll=poll, range_name="48h")})
    return answer


# ------------------------------------------------------------------ CSV

CSV_HEADER = ["section", "start", "key", "label", "value", "share"]


def insight_csv(document: dict) -> str:
    """The document as one CSV table (docs/insight.md lists the sections). Per-option
    rows are there only when the document has them, i.e. when results are visible."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for point in document["turnout"]:
        writer.writerow(["turnout", point["start"], "", "", point["ballots"], ""])
    for row in document["countries"]:
        writer.writerow(["country", "", row["country"], _csv_text(row["name"]), row["ballots"], row["share"]])
    for row in document["account_age"]:
        writer.writerow(
            ["account_age", "", row["account_age"], _csv_text(row["label"]), row["ballots"], row["share"]]
        )
    for surge in document["surges"]:
        writer.writerow(
            ["surge", "", surge["country"], surge["kind"], surge["recent_share"], surge["before_share"]]
        )
    for option in document.get("options", []):
        writer.writerow(
            ["option", "", option["id"], _csv_text(option["label"]), option["votes"], option["share"]]
        )
        if option["per_million"] is not None:
            writer.writerow(
                [
                    "option_per_million",
                    "",
                    option["id"],
                    _csv_text(option["label"]),
                    option["per_million"],
                    "",
                ]
            )
        for point in option["series"]:
            writer.writerow(
                [
                    "option_series",
                    point["start"],
                    option["id"],
                    _csv_text(option["label"]),
                    point["votes"],
                    "",
                ]
            )
    return buffer.getvalue()


def _csv_text(text: str) -> str:
    # A spreadsheet runs a cell starting with these as a formula (CSV injection).
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
