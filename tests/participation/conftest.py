from datetime import timedelta

import pytest
from django.utils import timezone

from polls.models import PollKind
from polls.participation.models import Artist, OpenCall


@pytest.fixture
def artist(agency):
    return Artist.objects.create(agency=agency, name="Nova", slug="nova", bio="A band.")


def open_call(artist, *, kind=PollKind.CITY, **kwargs) -> OpenCall:
    now = timezone.now()
    values = {
        "question": "Which city should the tour add?",
        "kind": kind,
        "opens_at": now - timedelta(hours=1),
        "closes_at": now + timedelta(days=7),
        "max_supports_per_fan": 3,
    }
    values.update(kwargs)
    return OpenCall.objects.create(artist=artist, **values)


@pytest.fixture
def city_call(artist):
    return open_call(artist)


@pytest.fixture
def song_call(artist):
    return open_call(artist, kind=PollKind.SINGLE, question="Which b-side should be the next single?")
