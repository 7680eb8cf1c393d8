"""Demo polls for `make run`: what a visitor should find on a fresh machine."""

import io
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.demo import demo_accounts_seed
from polls.models import Option, Poll, PollKind, PollState, ResultsVisibility, VotingMethod

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

    polls = [city, single, design, closed]
    if stdout is not None:
        stdout.write(f"Demo polls: {', '.join(poll.slug for poll in polls)}")
    return polls
