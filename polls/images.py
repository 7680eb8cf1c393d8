"""Design images: checked to be real PNG, JPEG or WebP within the limits, and
re-encoded from their pixels so that no metadata reaches a public page."""

import io
import zlib

from django.utils.translation import gettext as _
from PIL import Image

from polls.errors import PollDataInvalid

# Design images: what a browser shows everywhere, small enough to serve to many fans.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 4096
IMAGE_EXTENSION_OF_FORMAT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# What Pillow raises on a file it cannot read or decode (a truncated JPEG, a PNG with a
# corrupt compressed stream): the uploader's mistake, a 400, never a 500.
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError)


def _not_an_image() -> PollDataInvalid:
    return PollDataInvalid({"image": _("This file is not a PNG, JPEG or WebP image.")})


def check_design_image(image) -> str:
    """Return the file extension of a real PNG, JPEG or WebP image within the limits.

    The browser's content type and the file name are not trusted: Pillow reads the
    header, verifies the data and, once the size is known to be within the limits,
    decodes every pixel (``verify`` alone passes a truncated JPEG or a PNG whose
    compressed stream is garbled). Raises PollChangeRefused ``invalid``.
    """
    if image.size > MAX_IMAGE_BYTES:
        raise PollDataInvalid({"image": _("The image must be at most 5 MB.")})
    try:
        image.seek(0)
        with Image.open(image) as picture:
            image_format = picture.format
            width, height = picture.size
            picture.verify()
    except UNREADABLE as error:
        raise _not_an_image() from error
    finally:
        image.seek(0)
    if image_format not in IMAGE_EXTENSION_OF_FORMAT:
        raise _not_an_image()
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise PollDataInvalid(
            {"image": _("The image must be at most %(n)s by %(n)s pixels.") % {"n": MAX_IMAGE_SIDE}}
        )
    try:
        with Image.open(image) as picture:
            picture.load()
    except UNREADABLE as error:
        raise _not_an_image() from error
    finally:
        image.seek(0)
    return IMAGE_EXTENSION_OF_FORMAT[image_format]


def image_without_metadata(image) -> bytes:
    """The image re-encoded from its pixels alone: photos from phones carry EXIF
    (GPS position, device, time) that a public page must not hand out.

    For an image ``check_design_image`` accepted; one that still cannot be decoded
    raises PollChangeRefused ``invalid`` (inside the caller's transaction: nothing is
    written)."""
    try:
        return _reencoded(image)
    except UNREADABLE as error:
        raise _not_an_image() from error


def _reencoded(image) -> bytes:
    image.seek(0)
    with Image.open(image) as picture:
        picture.load()
        image_format = picture.format
        pixels = Image.frombytes(picture.mode, picture.size, picture.tobytes())
        if picture.mode == "P" and "transparency" not in picture.info:
            pixels.putpalette(picture.getpalette())
        elif picture.mode == "P":
            pixels = picture.convert("RGBA")
    out = io.BytesIO()
    options = {"quality": 90} if image_format in ("JPEG", "WEBP") else {}
    pixels.save(out, format=image_format, **options)
    return out.getvalue()


# Widths of the smaller copies served to the fan pages (srcset): a phone's column at two
# or three device pixels per CSS pixel, and a grid cell on a wide screen.
RENDITION_WIDTHS = (480, 960)
RENDITION_QUALITY = 80


def design_renditions(data: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, WebP bytes) of the image scaled down to each rendition width
    narrower than the image itself, narrowest first. ``data`` is an image
    ``image_without_metadata`` made, so it decodes. WebP is smaller than PNG or JPEG at
    the same look and every browser that reads srcset shows it."""
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        width, height = picture.size
        has_alpha = picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info)
        source = picture.convert("RGBA" if has_alpha else "RGB")
    renditions = []
    for target in RENDITION_WIDTHS:
        if target >= width:
            break
        scaled_height = max(1, round(height * target / width))
        out = io.BytesIO()
        source.resize((target, scaled_height), Image.Resampling.LANCZOS).save(
            out, format="WEBP", quality=RENDITION_QUALITY, method=4
        )
        renditions.append((target, scaled_height, out.getvalue()))
    return renditions


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size
