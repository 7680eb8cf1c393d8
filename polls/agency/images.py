"""Design images of options. The checks and the re-encoding live in ``polls.images``,
where fans' design proposals (polls.participation) use them too without reaching into
the agency package."""

from polls.images import (
    IMAGE_EXTENSION_OF_FORMAT,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    RENDITION_QUALITY,
    RENDITION_WIDTHS,
    UNREADABLE,
    check_design_image,
    design_renditions,
    image_size,
    image_without_metadata,
)

__all__ = [
    "IMAGE_EXTENSION_OF_FORMAT",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "RENDITION_QUALITY",
    "RENDITION_WIDTHS",
    "UNREADABLE",
    "check_design_image",
    "design_renditions",
    "image_size",
    "image_without_metadata",
]
