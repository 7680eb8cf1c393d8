"""Design images whose header is fine but whose pixels cannot be decoded (a truncated
JPEG, a PNG with a corrupt compressed stream) are refused as ``400 invalid`` with a
field error, and nothing is written: no option, no file, no audit entry."""

import io
import re
import struct
import zlib
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import AuditLogEntry
from polls.agency import options
from polls.errors import PollDataInvalid
from polls.models import Poll
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


def test_an_upload_stores_its_size_and_webp_renditions_narrower_than_itself(agency, manager):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("poster.png", png_bytes(size=(1200, 900)), content_type="image/png")

    option = options.option_add(poll=poll, actor=session_user(manager), data={"label": "Tee"}, image=upload)

    option.refresh_from_db()
    assert (option.image_width, option.image_height) == (1200, 900)
    assert [(r["width"], r["height"]) for r in option.image_renditions] == [(480, 360), (960, 720)]
    for rendition in option.image_renditions:
        with option.image.storage.open(rendition["name"]) as stored, Image.open(stored) as picture:
            assert (picture.format, picture.size) == ("WEBP", (rendition["width"], rendition["height"]))
    assert option.image_srcset.endswith(f"{option.image.url} 1200w")
    assert " 480w, " in option.image_srcset


def test_a_small_image_gets_no_rendition_wider_than_itself(agency, manager):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("small.png", png_bytes(size=(600, 600)), content_type="image/png")

    option = options.option_add(poll=poll, actor=session_user(manager), data={"label": "Tee"}, image=upload)

    assert [r["width"] for r in option.image_renditions] == [480]


@pytest.mark.django_db(transaction=True)
def test_replacing_or_removing_an_image_deletes_its_renditions_too(agency, manager):
    poll = draft_without_options(agency, kind="design")
    actor = session_user(manager)
    first = SimpleUploadedFile("a.png", png_bytes(size=(1000, 1000)), content_type="image/png")
    option = options.option_add(poll=poll, actor=actor, data={"label": "Tee"}, image=first)
    storage = option.image.storage
    old_files = option.image_files
    assert len(old_files) == 3 and all(storage.exists(name) for name in old_files)

    second = SimpleUploadedFile("b.png", png_bytes(size=(1000, 1000)), content_type="image/png")
    option = options.option_update(option=option, actor=actor, data={}, image=second)
    assert not any(storage.exists(name) for name in old_files)
    new_files = option.image_files
    assert all(storage.exists(name) for name in new_files)

    options.option_remove(option=option, actor=actor)
    assert not any(storage.exists(name) for name in new_files)
    assert not any(settings_media_files(storage))


def settings_media_files(storage):
    return [path for path in Path(storage.location).rglob("*") if path.is_file()]


def test_the_poll_page_sizes_and_lazy_loads_design_images(client, agency, manager):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("poster.png", png_bytes(size=(1200, 1200)), content_type="image/png")
    options.option_add(poll=poll, actor=session_user(manager), data={"label": "Tee"}, image=upload)
    now = timezone.now()
    Poll.objects.filter(pk=poll.pk).update(state="scheduled", opens_at=now - timedelta(hours=1))

    html = client.get(f"/polls/{poll.slug}/").content.decode()

    img = re.search(r"<img [^>]+>", html).group(0)
    for attribute in (
        'width="1200"',
        'height="1200"',
        'loading="lazy"',
        'decoding="async"',
        "srcset=",
        "sizes=",
    ):
        assert attribute in img, img
    assert 'class="option-list option-grid"' in html
