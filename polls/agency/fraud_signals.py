"""Fraud signals of a poll: clusters of ballots that share a client network or a
client fingerprint, scored for a human reviewer.

Nothing here runs on the vote path. The signals are computed on demand, by grouped
queries over the poll's ballots (``values().annotate()``), and cached for
``FRAUD_SIGNALS_CACHE_SECONDS`` (60 s) under the poll and its latest ballot id, so a
new ballot makes the next look fresh while a reviewer's reloads cost nothing.
A score never changes a ballot: only a manager's invalidation request does
(polls/agency/review.py). See docs/anti-fraud-signals.md for the reasoning.

Clusters
    ``network``: ballots with one ``client_network`` (/24 for IPv4, /64 for IPv6).
    ``fingerprint``: ballots with one ``client_fingerprint``.
    Only clusters with at least ``FRAUD_LIST_MIN_VOTERS`` (3) distinct voters are
    listed, the ``FRAUD_MAX_CLUSTERS`` (50) largest of each kind.

Figures of a cluster
    ``ballots``, ``voters`` (distinct accounts), ``ips`` (distinct addresses),
    ``first_cast_at``/``last_cast_at``;
    ``burst``: ballots per minute over the cluster's busiest window of
    ``FRAUD_BURST_WINDOW_MINUTES`` (10) consecutive minutes (minute buckets, so a
    window is ten whole minutes), and ``burst_ballots``, the ballots in that window;
    ``new_accounts``: voters whose account was created less than
    ``FRAUD_NEW_ACCOUNT_AGE`` (24 h) before their first ballot in this poll;
    ``signup_burst``: the largest number of the cluster's voters whose accounts were
    all created within one ``FRAUD_SIGNUP_WINDOW`` (60 min);
    ``shared_fingerprint``: the largest group of the cluster's voters sharing one
    fingerprint (for a fingerprint cluster, all of them);
    ``shared_network``: the same for one network (for a network cluster, all of them);
    ``top_ips``: the addresses with most voters, with their ballots and voters;
    ``country_mismatch``: with a GeoIP database (``GEOIP_COUNTRY_DB``), the voters who
    declared a country and cast a ballot of the cluster from a network the database
    places in another one; None without a database. Shown, not scored.

Score, in [0, 1]
    score = size * (0.30*new + 0.25*signup + 0.20*shared + 0.15*burst + 0.10*one_ip)

    new    = new_accounts / voters
    signup = signup_burst / voters
    shared = shared_fingerprint / voters for a network cluster,
             shared_network / voters for a fingerprint cluster (a popular browser
             shares a fingerprint across the country; one network does not)
    burst  = burst_ballots / ballots (the share cast in the busiest window)
    one_ip = voters of the busiest address / voters (weak: carrier NAT does this)
    size   = min(1, voters / FRAUD_MIN_CLUSTER_VOTERS), so that a handful of
             voters, whose shares are trivially high, cannot score high.

    Weights are ``FRAUD_SCORE_WEIGHTS``. A cluster is ``flagged`` when its score is
    at least ``FRAUD_SCORE_THRESHOLD`` (0.6) and it has at least
    ``FRAUD_MIN_CLUSTER_VOTERS`` (10) voters.

Settings may override every default above; they are read here with ``getattr`` so
the module works without any of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncMinute

from polls.models import Ballot, BallotStatus, Poll
from voting.geoip import CountryLookup, country_lookup

NETWORK = "network"
FINGERPRINT = "fingerprint"
KINDS = (NETWORK, FINGERPRINT)
KEY_FIELD = {NETWORK: "client_network", FINGERPRINT: "client_fingerprint"}
# The other dimension a cluster is checked for concentration on.
OTHER_FIELD = {NETWORK: "client_fingerprint", FINGERPRINT: "client_network"}

TOP_IPS = 5


# Read at call time, so that tests and deployments can override them (voting/settings.py
# gives each one its reason).
def score_threshold() -> float:
    return float(settings.FRAUD_SCORE_THRESHOLD)


def min_cluster_voters() -> int:
    return int(settings.FRAUD_MIN_CLUSTER_VOTERS)


def list_min_voters() -> int:
    return int(settings.FRAUD_LIST_MIN_VOTERS)


def max_clusters() -> int:
    return int(settings.FRAUD_MAX_CLUSTERS)


def new_account_age() -> timedelta:
    return settings.FRAUD_NEW_ACCOUNT_AGE


def signup_window() -> timedelta:
    return settings.FRAUD_SIGNUP_WINDOW


def burst_window_minutes() -> int:
    return int(settings.FRAUD_BURST_WINDOW_MINUTES)


def score_weights() -> dict[str, float]:
    return dict(settings.FRAUD_SCORE_WEIGHTS)


def cache_seconds() -> int:
    return int(settings.FRAUD_SIGNALS_CACHE_SECONDS)


@dataclass(frozen=True)
class IpCount:
    ip: str
    ballots: int
    voters: int


@dataclass(frozen=True)
class Cluster:
    kind: str
    key: str
    ballots: int
    voters: int
    ips: int
    first_cast_at: datetime
    last_cast_at: datetime
    burst: float
    burst_ballots: int
    new_accounts: int
    signup_burst: int
    shared_fingerprint: int
    shared_network: int
    top_ips: tuple[IpCount, ...]
    components: dict[str, float]
    score: float
    flagged: bool
    # Voters whose declared country is not their network's; None without GeoIP.
    country_mismatch: int | None = None
    # Ballots per status right now; filled in after the cache, never cached.
    statuses: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ public reads


def poll_signals(*, poll: Poll) -> list[Cluster]:
    """The poll's clusters, flagged first, then by score and size.

    Cached for a minute per (poll, latest ballot id); the status counts of each
    cluster are read fresh on every call (two grouped queries).
    """
    latest = Ballot.objects.filter(poll=poll).aggregate(latest=Max("id"))["latest"] or 0
    cache_key = f"polls:fraud-signals:{poll.pk}:{latest}"
    clusters = cache.get(cache_key)
    if clusters is None:
        clusters = clusters_compute(poll=poll)
        cache.set(cache_key, clusters, cache_seconds())
    return _with_statuses(poll, clusters)


def cluster_ballot_ids(*, poll: Poll, kind: str, key: str) -> list[int]:
    """Ids of every ballot of the poll in one cluster, whatever their status."""
    if kind not in KINDS or not key:
        return []
    ballots = Ballot.objects.filter(poll=poll, **{KEY_FIELD[kind]: key})
    return list(ballots.order_by("id").values_list("id", flat=True))


def clusters_compute(*, poll: Poll) -> list[Cluster]:
    """Compute every listed cluster of the poll from the database (no cache)."""
    return clusters_of(Ballot.objects.filter(poll=poll))


def clusters_of(ballots) -> list[Cluster]:
    """Every listed cluster of a queryset of ballot-like rows: any model with ``voter``,
    ``client_ip``, ``client_network``, ``client_fingerprint`` and ``cast_at`` (the
    supports of a call for suggestions are scored by the same rules as votes)."""
    totals = {kind: _cluster_totals(ballots, kind) for kind in KINDS}
    voters_of = {kind: _cluster_voters(ballots, kind, list(totals[kind])) for kind in KINDS if totals[kind]}
    first_ballot = _first_ballot_of(ballots, totals)
    lookup = country_lookup()
    clusters = []
    for kind in KINDS:
        keys = list(totals[kind])
        if not keys:
            continue
        minutes = _minute_counts(ballots, kind, keys)
        others = _other_concentration(ballots, kind, keys)
        ips = _ip_counts(ballots, kind, keys)
        mismatches = _country_mismatches(ballots, kind, keys, lookup) if lookup else None
        for key, total in totals[kind].items():
            cluster = _cluster(
                kind=kind,
                key=key,
                total=total,
                minutes=minutes.get(key, []),
                others=others.get(key, 0),
                ips=ips.get(key, []),
                voters=voters_of[kind][key],
                first_ballot=first_ballot,
            )
            if mismatches is not None:
                cluster = replace(cluster, country_mismatch=mismatches.get(key, 0))
            clusters.append(cluster)
    return sorted(clusters, key=lambda c: (not c.flagged, -c.score, -c.ballots, c.kind, c.key))


# ------------------------------------------------------------------ grouped queries


def _cluster_totals(ballots, kind: str) -> dict[str, dict]:
    key_field = KEY_FIELD[kind]
    rows = (
        ballots.exclude(**{key_field: ""})
        .values(key_field)
        .annotate(
            n_ballots=Count("id"),
            n_voters=Count("voter", distinct=True),
            n_ips=Count("client_ip", distinct=True),
            first=Min("cast_at"),
            last=Max("cast_at"),
        )
        .filter(n_voters__gte=list_min_voters())
        .order_by("-n_voters", "-n_ballots", key_field)[: max_clusters()]
    )
    return {row[key_field]: row for row in rows}


def _minute_counts(ballots, kind: str, keys: list[str]) -> dict[str, list[tuple[datetime, int]]]:
    key_field = KEY_FIELD[kind]
    rows = (
        ballots.filter(**{f"{key_field}__in": keys})
        .annotate(minute=TruncMinute("cast_at", tzinfo=UTC))
        .values(key_field, "minute")
        .annotate(n=Count("id"))
        .order_by(key_field, "minute")
    )
    counts: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for row in rows:
        counts[row[key_field]].append((row["minute"], row["n"]))
    return counts


def _other_concentration(ballots, kind: str, keys: list[str]) -> dict[str, int]:
    """Per cluster, the most voters sharing one value of the other dimension."""
    key_field, other = KEY_FIELD[kind], OTHER_FIELD[kind]
    rows = (
        ballots.filter(**{f"{key_field}__in": keys})
        .exclude(**{other: ""})
        .values(key_field, other)
        .annotate(n=Count("voter", distinct=True))
        .order_by()
    )
    largest: dict[str, int] = defaultdict(int)
    for row in rows:
        largest[row[key_field]] = max(largest[row[key_field]], row["n"])
    return largest


def _ip_counts(ballots, kind: str, keys: list[str]) -> dict[str, list[IpCount]]:
    key_field = KEY_FIELD[kind]
    rows = (
        ballots.filter(**{f"{key_field}__in": keys}, client_ip__isnull=False)
        .values(key_field, "client_ip")
        .annotate(n_ballots=Count("id"), n_voters=Count("voter", distinct=True))
        .order_by(key_field, "-n_voters", "-n_ballots", "client_ip")
    )
    counts: dict[str, list[IpCount]] = defaultdict(list)
    for row in rows:
        counts[row[key_field]].append(IpCount(row["client_ip"], row["n_ballots"], row["n_voters"]))
    return counts


def _cluster_voters(ballots, kind: str, keys: list[str]) -> dict[str, list[tuple[int, datetime]]]:
    """Per cluster, its voters with the time their account was created."""
    key_field = KEY_FIELD[kind]
    rows = (
        ballots.filter(**{f"{key_field}__in": keys})
        .values_list(key_field, "voter_id", "voter__date_joined")
        .distinct()
        .order_by()
    )
    voters: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for key, voter, joined in rows:
        voters[key].append((voter, joined))
    return voters


def _country_mismatches(ballots, kind: str, keys: list[str], lookup: CountryLookup) -> dict[str, int]:
    """Per cluster, the voters with a declared country who cast one of its ballots
    from a network the GeoIP database places in another country. Rows are one per
    (cluster, voter, network); each network is looked up once."""
    key_field = KEY_FIELD[kind]
    rows = (
        ballots.filter(**{f"{key_field}__in": keys})
        .exclude(voter__country="")
        .exclude(client_network="")
        .values_list(key_field, "voter_id", "voter__country", "client_network")
        .distinct()
        .order_by()
    )
    network_country: dict[str, str] = {}
    mismatched: dict[str, set[int]] = defaultdict(set)
    for key, voter, declared, network in rows:
        if network not in network_country:
            network_country[network] = lookup.country_of(network)
        found = network_country[network]
        if found and found != declared:
            mismatched[key].add(voter)
    return {key: len(voters) for key, voters in mismatched.items()}


def _first_ballot_of(ballots, totals: dict[str, dict[str, dict]]) -> dict[int, datetime]:
    """When each voter of a listed cluster first voted in the poll (from anywhere)."""
    in_clusters = Q(pk__in=[])
    for kind, per_key in totals.items():
        if per_key:
            in_clusters |= Q(**{f"{KEY_FIELD[kind]}__in": list(per_key)})
    voters = ballots.filter(in_clusters).values("voter_id")
    rows = ballots.filter(voter_id__in=voters).values("voter_id").annotate(first=Min("cast_at")).order_by()
    return {row["voter_id"]: row["first"] for row in rows}


def _with_statuses(poll: Poll, clusters: list[Cluster]) -> list[Cluster]:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    ballots = Ballot.objects.filter(poll=poll)
    for kind in KINDS:
        keys = [c.key for c in clusters if c.kind == kind]
        if not keys:
            continue
        key_field = KEY_FIELD[kind]
        rows = (
            ballots.filter(**{f"{key_field}__in": keys})
            .values(key_field)
            .annotate(**{status: Count("id", filter=Q(status=status)) for status in BallotStatus.values})
            .order_by()
        )
        for row in rows:
            counts[(kind, row[key_field])] = {status: row[status] for status in BallotStatus.values}
    return [replace(c, statuses=counts.get((c.kind, c.key), {})) for c in clusters]


# ------------------------------------------------------------------ figures and score


def _cluster(
    *,
    kind: str,
    key: str,
    total: dict,
    minutes: list[tuple[datetime, int]],
    others: int,
    ips: list[IpCount],
    voters: list[tuple[int, datetime]],
    first_ballot: dict[int, datetime],
) -> Cluster:
    n_voters, n_ballots = total["n_voters"], total["n_ballots"]
    window = burst_window_minutes()
    burst_ballots = busiest_window(minutes, timedelta(minutes=window))
    young = new_account_age()
    new_accounts = sum(
        1 for voter, joined in voters if voter in first_ballot and first_ballot[voter] - joined < young
    )
    signup_burst = busiest_window(((joined, 1) for _, joined in voters), signup_window(), inclusive=True)
    shared_fingerprint = n_voters if kind == FINGERPRINT else others
    shared_network = n_voters if kind == NETWORK else others
    top_ip_voters = ips[0].voters if ips else 0
    components = {
        "new": new_accounts / n_voters,
        "signup": signup_burst / n_voters,
        "shared": (shared_fingerprint if kind == NETWORK else shared_network) / n_voters,
        "burst": burst_ballots / n_ballots,
        "one_ip": top_ip_voters / n_voters,
    }
    score = cluster_score(components, voters=n_voters)
    return Cluster(
        kind=kind,
        key=key,
        ballots=n_ballots,
        voters=n_voters,
        ips=total["n_ips"],
        first_cast_at=total["first"],
        last_cast_at=total["last"],
        burst=round(burst_ballots / window, 2),
        burst_ballots=burst_ballots,
        new_accounts=new_accounts,
        signup_burst=signup_burst,
        shared_fingerprint=shared_fingerprint,
        shared_network=shared_network,
        top_ips=tuple(ips[:TOP_IPS]),
        components={name: round(value, 3) for name, value in components.items()},
        score=score,
        flagged=score >= score_threshold() and n_voters >= min_cluster_voters(),
    )


def cluster_score(components: dict[str, float], *, voters: int) -> float:
    """The weighted sum of the components, damped for small clusters; in [0, 1]."""
    weights = score_weights()
    total_weight = sum(weights.values()) or 1.0
    weighted = sum(weights[name] * min(1.0, max(0.0, components.get(name, 0.0))) for name in weights)
    size = min(1.0, voters / max(1, min_cluster_voters()))
    return round(size * weighted / total_weight, 3)


def busiest_window(
    events: Iterable[tuple[datetime, int]], width: timedelta, *, inclusive: bool = False
) -> int:
    """The largest sum of counts of events within any window of ``width``.

    With minute buckets, ``inclusive=False`` makes a 10-minute window hold ten
    buckets (start to start + 9 min); ``inclusive=True`` counts events at most
    ``width`` apart, for exact times such as account creation.
    """
    ordered = sorted(events, key=lambda event: event[0])
    best = running = start = 0
    for moment, count in ordered:
        running += count
        while moment - ordered[start][0] > width or (not inclusive and moment - ordered[start][0] == width):
            running -= ordered[start][1]
            start += 1
        best = max(best, running)
    return best
