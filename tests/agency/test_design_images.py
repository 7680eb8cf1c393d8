"""Design images whose header is fine but whose pixels cannot be decoded (a truncated
JPEG, a PNG with a corrupt compressed stream) are refused as ``400 invalid`` with a
field error, and nothing is written: no option, no file, no audit entry."""

import io
import struct
import zlib
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import AuditLogEntry
from polls.agency import options
from polls.errors import PollDataInvalid
from tests.helpers import AGENCY_API, draft_without_options, png_bytes, session_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def noisy(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, format=image_format)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = noisy("JPEG")
    return data[: len(data) // 2]


def png_with_a_corrupt_stream() -> bytes:
    """A PNG whose IDAT chunk has a valid CRC around garbled zlib data: the header and
    Pillow's verify() pass, decoding the pixels fails."""
    data = noisy("PNG")
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    body = bytearray(data[start + 4 : start + 4 + length])
    for index in range(10, len(body) - 10):
        body[index] ^= 0x5A
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + bytes(body)) & 0xFFFFFFFF)
    return data[: start + 4] + bytes(body) + crc + data[start + 8 + length :]


BROKEN = {"truncated.jpg": truncated_jpeg, "corrupt.png": png_with_a_corrupt_stream}


@pytest.mark.parametrize("name", list(BROKEN))
def test_an_image_that_cannot_be_decoded_is_refused_with_400_and_nothing_written(
    manager_client, agency, settings, name
):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile(name, BROKEN[name](), content_type="image/png")

    response = manager_client.post(
        f"{AGENCY_API}/polls/{poll.slug}/options/", {"label": "Tee", "image": upload}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "image" in response.json()["fields"]
    assert not poll.options.exists()
    assert not AuditLogEntry.objects.exists()
    assert not any(settings.MEDIA_ROOT.rglob("*.*"))


@pytest.mark.parametrize("name", list(BROKEN))
def test_replacing_an_image_with_one_that_cannot_be_decoded_keeps_the_old_one(agency, manager, name):
    poll = draft_without_options(agency, kind="design")
    actor = session_user(manager)
    good = SimpleUploadedFile("good.png", png_bytes(), content_type="image/png")
    option = options.option_add(poll=poll, actor=actor, data={"label": "Tee"}, image=good)
    option.poll = poll
    broken = SimpleUploadedFile(name, BROKEN[name](), content_type="image/png")

    with pytest.raises(PollDataInvalid) as refusal:
        options.option_update(option=option, actor=actor, data={}, image=broken)

    assert "image" in refusal.value.fields
    option.refresh_from_db()
    assert option.image.storage.exists(option.image.name)
    assert option.image.name.endswith(".png")


def test_the_page_shows_a_field_error_for_an_image_that_cannot_be_decoded(manager_client, agency):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("cut.jpg", truncated_jpeg(), content_type="image/jpeg")

    response = manager_client.post(
        f"/agency/{agency.slug}/polls/{poll.slug}/options/", {"label": "Tee", "image": upload}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "not a PNG, JPEG or WebP image" in response.content.decode()
    assert not poll.options.exists()
