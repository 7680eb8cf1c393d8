"""Demo polls for `make run`: what a visitor should find on a fresh machine."""

import hashlib
import io
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.demo import demo_accounts_seed
from accounts.models import User
from polls.ballots import ballot_build, ballot_choices_build
from polls.checkpoints import checkpoint_create
from polls.models import (
    Ballot,
    BallotChoice,
    Option,
    Poll,
    PollKind,
    PollState,
    ResultsVisibility,
    VotingMethod,
)
from polls.receipts import receipt_new
from polls.snapshots import snapshot_build
from polls.tally import tally_refresh, tally_status_change

TOUR_CITIES = [
    ("Seoul", "KR", 37.5665, 126.9780, 9_586_000),
    ("Tokyo", "JP", 35.6762, 139.6503, 14_090_000),
    ("São Paulo", "BR", -23.5505, -46.6333, 11_450_000),
    ("Madrid", "ES", 40.4168, -3.7038, 3_332_000),
    ("Jakarta", "ID", -6.2088, 106.8456, 10_560_000),
    ("Mexico City", "MX", 19.4326, -99.1332, 9_209_000),
]
SINGLES = [
    ("Neon Hearts", "LUMEN", "Neon Hearts"),
    ("Midnight Subway", "LUMEN", "Midnight Subway"),
    ("Paper Planes", "LUMEN", "Paper Planes"),
    ("Afterglow", "LUMEN", "Afterglow"),
]
DESIGNS = [
    ("Comet hoodie", "#5b21b6", "#f59e0b"),
    ("Ocean tee", "#0e7490", "#f8fafc"),
    ("Sunset cap", "#b42318", "#fde68a"),
]


def design_image(label: str, background: str, accent: str) -> ContentFile:
    """A small PNG drawn here, so the demo needs no files from outside."""
    image = Image.new("RGB", (320, 320), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 60, 260, 260), outline=accent, width=18)
    draw.polygon([(160, 90), (190, 170), (160, 230), (130, 170)], fill=accent)
    draw.text((16, 290), label, fill=accent)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name=f"{label.lower().replace(' ', '-')}.png")


def _poll(slug: str, **fields) -> tuple[Poll, bool]:
    return Poll.objects.get_or_create(slug=slug, defaults=fields)


@transaction.atomic
def seed(*, stdout=None) -> list[Poll]:
    accounts = demo_accounts_seed()
    now = timezone.now()
    common = {"agency": accounts.agency, "created_by": accounts.owner, "state": PollState.SCHEDULED}

    city, created = _poll(
        "lumen-world-tour-next-city",
        kind=PollKind.CITY,
        title="LUMEN World Tour: where do we stop next?",
        description="Pick the city for the next stop of the LUMEN world tour. One vote a day, days in Seoul time.",
        timezone="Asia/Seoul",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=14),
        period="daily",
        votes_per_period=1,
        results_visibility=ResultsVisibility.LIVE,
        **common,
    )
    if created:
        for position, (label, country, lat, lon, population) in enumerate(TOUR_CITIES):
            Option.objects.create(
                poll=city,
                label=label,
                position=position,
                country=country,
                latitude=lat,
                longitude=lon,
                population=population,
            )

    single, created = _poll(
        "lumen-next-single",
        kind=PollKind.SINGLE,
        method=VotingMethod.RANKED,
        min_choices=1,
        max_choices=3,
        title="Rank LUMEN's next single",
        description="Rank up to three songs, favourite first. Counted by instant runoff.",
        timezone="Asia/Tokyo",
        opens_at=now - timedelta(hours=6),
        closes_at=now + timedelta(days=7),
        results_visibility=ResultsVisibility.ON_PUBLISH,
        **common,
    )
    if created:
        for position, (label, artist, track) in enumerate(SINGLES):
            Option.objects.create(poll=single, label=label, position=position, artist=artist, track=track)

    design, created = _poll(
        "lumen-tour-merch-design",
        kind=PollKind.DESIGN,
        method=VotingMethod.MULTIPLE,
        min_choices=1,
        max_choices=2,
        title="Which tour merch should we make?",
        description="Choose up to two designs. Three votes a day.",
        timezone="Europe/Madrid",
        opens_at=now - timedelta(days=2),
        closes_at=now + timedelta(days=1),
        period="daily",
        votes_per_period=3,
        results_visibility=ResultsVisibility.AFTER_CLOSE,
        **common,
    )
    if created:
        for position, (label, background, accent) in enumerate(DESIGNS):
            option = Option(poll=design, label=label, position=position)
            option.image.save(f"{label}.png", design_image(label, background, accent), save=False)
            option.save()

    closed, created = _poll(
        "lumen-fanclub-name",
        kind=PollKind.OTHER,
        title="Name the official fan club",
        description="This poll has closed; results come with publication.",
        timezone="UTC",
        opens_at=now - timedelta(days=20),
        closes_at=now - timedelta(days=5),
        results_visibility=ResultsVisibility.ON_PUBLISH,
        **common,
    )
    if created:
        for position, label in enumerate(["Lumies", "Sparks", "Lanterns"]):
            Option.objects.create(poll=closed, label=label, position=position)

    if not city.ballots.exists():
        crowd = demo_voters("city-fan", 90, joined_days_ago=60)
        ballots_insert(
            city, crowd, lambda i, ids: [ids[i % 7 % len(ids)]], network=lambda i: f"100.{64 + i}.{i}.0"
        )
        # An account farm: 24 accounts made minutes before voting, one /24, one device.
        farm = demo_voters("farm", 24, joined_days_ago=0)
        ballots_insert(
            city, farm, lambda i, ids: [ids[-1]], network=lambda i: "203.0.113.0", fingerprint="f" * 64
        )
    if not single.ballots.exists():
        fans = demo_voters("single-fan", 60, joined_days_ago=90)
        ballots_insert(
            single, fans, lambda i, ids: [ids[i % 4], ids[(i + 1) % 4]], network=lambda i: f"100.{i}.8.0"
        )

    published = _published_demo_poll(common, now)
    polls = [city, single, design, closed, published]
    if stdout is not None:
        stdout.write(f"Demo polls: {', '.join(poll.slug for poll in polls)}")
    return polls


def demo_voters(prefix: str, count: int, *, joined_days_ago: int) -> list[User]:
    """Verified demo accounts without a usable password (they never sign in)."""
    unusable = make_password(None)
    joined = timezone.now() - timedelta(days=joined_days_ago, minutes=30)
    emails = [f"{prefix}-{n}@encore.example" for n in range(count)]
    User.objects.bulk_create(
        [
            User(email=email, password=unusable, date_joined=joined + timedelta(seconds=n))
            for n, email in enumerate(emails)
        ],
        ignore_conflicts=True,
    )
    users = list(User.objects.filter(email__in=emails).order_by("email"))
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users],
        ignore_conflicts=True,
    )
    return users


def ballots_insert(poll: Poll, voters: list[User], picks, *, network, fingerprint: str = "") -> None:
    """Ballots as ballot_cast writes them, in bulk: demo seeding must stay quick."""
    ids = list(poll.options.values_list("pk", flat=True))
    start = max(poll.opens_at, timezone.now() - timedelta(hours=3))
    ballots = []
    for index, voter in enumerate(voters):
        moment = start + timedelta(seconds=37 * index)
        ip = network(index).rsplit(".", 1)[0] + f".{10 + index % 200}"
        ballots.append(
            ballot_build(
                poll=poll,
                voter=voter,
                moment=moment,
                receipt=receipt_new(),
                client_ip=ip,
                client_fingerprint=fingerprint or hashlib.sha256(voter.email.encode()).hexdigest(),
            )
        )
    created = Ballot.objects.bulk_create(ballots)
    BallotChoice.objects.bulk_create(
        [
            choice
            for index, ballot in enumerate(created)
            for choice in ballot_choices_build(poll=poll, ballot=ballot, option_ids=picks(index, ids))
        ]
    )


def _published_demo_poll(common: dict, now) -> Poll:
    """A published poll with a few hundred ballots, some invalidated with reasons,
    checkpoints taken while it was open, and signed results."""
    poll, created = _poll(
        "lumen-encore-song",
        kind=PollKind.SINGLE,
        title="Which song should close the LUMEN concert?",
        description="The fans chose the encore song of the Seoul concert.",
        timezone="Asia/Seoul",
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=1),
        results_visibility=ResultsVisibility.ON_PUBLISH,
        **common,
    )
    if not created:
        return poll
    for position, (label, artist, track) in enumerate(SINGLES):
        Option.objects.create(poll=poll, label=label, position=position, artist=artist, track=track)
    weights = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]  # a spread that is not a round number
    fans = demo_voters("encore-fan", 280, joined_days_ago=120)
    ballots_insert(
        poll, fans[:150], lambda i, ids: [ids[weights[i % 10]]], network=lambda i: f"100.{i % 60}.{i}.0"
    )
    checkpoint_create(poll=poll)
    ballots_insert(
        poll, fans[150:], lambda i, ids: [ids[weights[(i * 3) % 10]]], network=lambda i: f"100.{i % 50}.9.0"
    )
    farm = demo_voters("encore-farm", 30, joined_days_ago=0)
    ballots_insert(
        poll, farm, lambda i, ids: [ids[1]], network=lambda i: "198.51.100.0", fingerprint="e" * 64
    )
    duplicates = list(poll.ballots.order_by("id").values_list("id", flat=True)[:4])
    with transaction.atomic():
        tally_status_change(
            poll=poll,
            ballot_ids=list(poll.ballots.filter(voter__in=farm).values_list("id", flat=True)),
            status="invalidated",
            reason="bot_network",
        )
        tally_status_change(poll=poll, ballot_ids=duplicates, status="invalidated", reason="duplicate_person")
    Poll.objects.filter(pk=poll.pk).update(
        closes_at=now - timedelta(days=1), opens_at=now - timedelta(days=10)
    )
    poll.refresh_from_db()
    with transaction.atomic():
        snapshot = snapshot_build(poll=poll)
        Poll.objects.filter(pk=poll.pk).update(state=PollState.PUBLISHED, published_at=snapshot.created_at)
    tally_refresh(poll=poll)
    poll.refresh_from_db()
    return poll
