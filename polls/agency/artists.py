"""The agency's artists: create and edit them, and say which artist a poll is about.

Each write checks who may act first (a manager or owner of the agency), then the data,
then writes in one transaction with its audit entry. Images are re-encoded from their
pixels like design options (``polls.images``)."""

import secrets
from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import Agency, Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.agency.rules import poll_locked
from polls.errors import PollChangeRefused, PollDataInvalid
from polls.images import check_design_image, image_without_metadata
from polls.models import Poll, PollState
from polls.participation.models import Artist
from voting.errors import Code

ARTIST_FIELDS = ("name", "slug", "bio")


def _artist_snapshot(artist: Artist) -> dict:
    return {
        "id": artist.pk,
        "name": artist.name,
        "slug": artist.slug,
        "bio": artist.bio,
        "image": artist.image.name if artist.image else "",
    }


def _apply(artist: Artist, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(ARTIST_FIELDS))
    if unknown:
        raise PollDataInvalid(dict.fromkeys(unknown, _("Unknown field.")))
    problems: dict[str, list[str]] = {}
    for name in ARTIST_FIELDS:
        if name not in data:
            continue
        value = data[name]
        value = value.strip() if isinstance(value, str) else ""
        setattr(artist, name, value)
    if not artist.name:
        problems["name"] = [_("This field is required.")]
    elif len(artist.name) > Artist._meta.get_field("name").max_length:
        problems["name"] = [_("Too long.")]
    if len(artist.bio) > Artist._meta.get_field("bio").max_length:
        problems["bio"] = [_("At most %(n)s characters.") % {"n": 500}]
    if artist.slug and (slugify(artist.slug) != artist.slug or len(artist.slug) > 80):
        problems["slug"] = [_("Use lowercase letters, digits and hyphens.")]
    if problems:
        raise PollDataInvalid(problems)


def _attach_image(artist: Artist, image) -> None:
    extension = check_design_image(image)
    artist.image = ContentFile(image_without_metadata(image), name=f"artist.{extension}")


def _save(artist: Artist, *, given_slug: bool) -> None:
    """Save; a slug made from the name gets a random ending (tried again on the rare
    collision), a given one taken meanwhile is a field error."""
    for _attempt in range(3):
        if not given_slug:
            base = slugify(artist.name)[:60].strip("-") or "artist"
            artist.slug = f"{base}-{secrets.token_hex(2)}"
        try:
            with transaction.atomic():
                artist.save()
            return
        except IntegrityError:
            # The slug is the only unique column of an artist.
            if given_slug:
                break
    raise PollDataInvalid({"slug": _("This address is not available.")})


def artist_create(
    *, agency: Agency, actor: User, data: Mapping[str, Any], image=None, ip_address: str | None = None
) -> Artist:
    """Add an artist to the agency. ``data``: ``name`` (required), ``slug`` (made from
    the name when empty), ``bio``. Raises ``not_found``, ``permission_denied``, ``invalid``."""
    check_agency_action(user=actor, agency=agency, least=Role.MANAGER)
    artist = Artist(agency=agency)
    _apply(artist, data)
    if image is not None:
        _attach_image(artist, image)
    given_slug = bool(artist.slug)
    if given_slug and Artist.objects.filter(slug=artist.slug).exists():
        raise PollDataInvalid({"slug": _("This address is not available.")})
    with transaction.atomic():
        _save(artist, given_slug=given_slug)
        audit_record(
            agency=agency,
            actor=actor,
            action="artist.create",
            target=artist,
            after=_artist_snapshot(artist),
            ip_address=ip_address,
        )
    return artist


def artist_update(
    *, artist: Artist, actor: User, data: Mapping[str, Any], image=None, ip_address: str | None = None
) -> Artist:
    """Change an artist's name, slug, bio or image. Raises as ``artist_create``."""
    check_agency_action(user=actor, agency=artist.agency, least=Role.MANAGER)
    before = _artist_snapshot(artist)
    artist = Artist.objects.get(pk=artist.pk)
    _apply(artist, data)
    if not artist.slug:
        raise PollDataInvalid({"slug": _("This field is required.")})
    if image is not None:
        _attach_image(artist, image)
    if Artist.objects.filter(slug=artist.slug).exclude(pk=artist.pk).exists():
        raise PollDataInvalid({"slug": _("This address is not available.")})
    with transaction.atomic():
        _save(artist, given_slug=True)
        audit_record(
            agency=artist.agency,
            actor=actor,
            action="artist.update",
            target=artist,
            before=before,
            after=_artist_snapshot(artist),
            ip_address=ip_address,
        )
    return artist


def poll_artist_set(*, poll: Poll, artist: Artist | None, actor: User, ip_address: str | None = None) -> Poll:
    """Say which of the agency's artists a poll is about (None: no artist). Allowed
    until the poll is published or cancelled. Raises ``not_found`` (the poll or the
    artist is not this agency's), ``permission_denied``, ``poll_frozen``."""
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER)
    if artist is not None and artist.agency_id != poll.agency_id:
        raise PollChangeRefused(Code.NOT_FOUND, _("No such artist."))
    with transaction.atomic():
        poll = poll_locked(poll)
        if poll.state in (PollState.PUBLISHED, PollState.CANCELLED):
            raise PollChangeRefused(Code.POLL_FROZEN, _("A published or cancelled poll keeps its artist."))
        before = poll.artist_id
        poll.artist = artist
        poll.save(update_fields=["artist", "updated_at"])
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="poll.artist",
            target=poll,
            before={"artist": before},
            after={"artist": artist.pk if artist else None},
            ip_address=ip_address,
        )
    return poll
