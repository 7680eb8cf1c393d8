"""Options of a draft poll: add, change, remove, with their kind's metadata and, for
design polls, an image. Each write checks who may act, locks the poll, refuses once
the poll is scheduled (``poll_frozen``), and is audited in the same transaction."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import Role, User
from accounts.permissions import check_agency_action
from accounts.services import audit_record
from polls.agency.audit_snapshots import option_snapshot
from polls.agency.images import check_design_image, design_renditions, image_size, image_without_metadata
from polls.agency.rules import (
    COORDINATE_STEP,
    OPTION_COMMON_FIELDS,
    OPTION_FIELDS,
    OPTION_METADATA_FIELDS,
    poll_locked,
)
from polls.content_languages import OPTION_TRANSLATED_FIELDS, language_name, translations_cleaned
from polls.errors import PollChangeRefused, PollDataInvalid
from polls.models import MAX_OPTIONS, Option, Poll, PollKind, design_image_path
from voting.errors import Code


def option_problems(kind: str, option: Option) -> dict[str, list[str]]:
    """Field errors of an option's label and kind-specific metadata."""
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    try:
        option.clean_fields(exclude=["poll", "image", "latitude", "longitude", "country"])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                add(name, message)
    if kind == PollKind.CITY:
        if not option.country:
            add("country", _("This field is required."))
        elif str(option.country).upper() not in countries:
            add("country", _("Unknown country code."))
        for name, bound in (("latitude", 90), ("longitude", 180)):
            value = getattr(option, name)
            if value is None:
                add(name, _("This field is required."))
            elif not -bound <= value <= bound:
                add(name, _("Between -%(n)s and %(n)s.") % {"n": bound})
    elif kind == PollKind.SINGLE:
        for name in ("artist", "track"):
            if not getattr(option, name).strip():
                add(name, _("This field is required."))
        if option.preview_url:
            try:
                URLValidator(schemes=["http", "https"])(option.preview_url)
            except ValidationError:
                add("preview_url", _("Give an http or https address."))
    elif kind == PollKind.DESIGN and not option.image:
        add("image", _("A design needs an image."))
    return problems


def _coordinate(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
        if not number.is_finite() or abs(number) > 1000:
            raise ValueError
        return number.quantize(COORDINATE_STEP)
    except InvalidOperation as error:
        raise ValueError from error


def _option_translations(value: Any, *, language: str) -> dict:
    cleaned, problems = translations_cleaned(value, fields=OPTION_TRANSLATED_FIELDS)
    if language in cleaned:
        problems.setdefault("translations", []).append(
            _("%(language)s is the poll's own language: its text goes in the label and description.")
            % {"language": language_name(language)}
        )
    if problems:
        raise PollDataInvalid(problems)
    return cleaned


def _apply_option_data(option: Option, kind: str, data: Mapping[str, Any], *, language: str) -> None:
    unknown = sorted(set(data) - set(OPTION_FIELDS))
    if unknown:
        raise PollDataInvalid(dict.fromkeys(unknown, _("Unknown field.")))
    allowed = set(OPTION_COMMON_FIELDS) | set(OPTION_METADATA_FIELDS.get(kind, ()))
    for name, value in data.items():
        if name not in allowed:
            continue  # metadata of another kind of poll: not kept
        if name in ("latitude", "longitude"):
            try:
                value = _coordinate(value)
            except ValueError:
                raise PollDataInvalid({name: _("Give a number.")}) from None
        elif name == "country":
            value = str(value or "").upper()
        elif name == "translations":
            value = _option_translations(value, language=language)
        elif isinstance(value, str):
            value = value.strip()
        elif value is None and name in ("description", "artist", "track", "preview_url"):
            value = ""
        setattr(option, name, value)


def _check_option_editable(poll: Poll) -> None:
    if poll.is_frozen:
        raise PollChangeRefused(Code.POLL_FROZEN, _("Options are frozen once a poll is scheduled."))


def _save_option(option: Option) -> None:
    """Save, turning a concurrent duplicate label into a field error."""
    try:
        with transaction.atomic():
            option.save()
    except IntegrityError:
        if Option.objects.filter(poll=option.poll, label=option.label).exclude(pk=option.pk).exists():
            raise PollDataInvalid({"label": _("Another option has this label.")}) from None
        raise


def _attach_image(option: Option, image, extension: str) -> None:
    """Give the option the image, its size and its smaller renditions. The renditions
    are written now, under names of their own (the original's is chosen when the option
    is saved); a rolled-back transaction leaves them behind unreferenced, as it does the
    original."""
    clean = image_without_metadata(image)
    # The stored name follows what the file is, not what the uploader called it.
    option.image = ContentFile(clean, name=f"design.{extension}")
    option.image_width, option.image_height = image_size(clean)
    storage = Option._meta.get_field("image").storage
    option.image_renditions = [
        {
            "name": storage.save(design_image_path(option, f"design-{width}w.webp"), ContentFile(data)),
            "width": width,
            "height": height,
        }
        for width, height, data in design_renditions(clean)
    ]


def _checked_image_extension(poll: Poll, image: UploadedFile | None) -> str:
    """The stored extension of a valid design image ("" without one). Called before the
    poll is locked: reading an image takes a while."""
    if image is None:
        return ""
    if poll.kind != PollKind.DESIGN:
        raise PollDataInvalid({"image": _("Only design polls take images.")})
    return check_design_image(image)


def _delete_files_on_commit(names: list[str]) -> None:
    storage = Option._meta.get_field("image").storage
    for name in names:
        transaction.on_commit(lambda name=name: storage.delete(name))


def option_add(
    *,
    poll: Poll,
    actor: User,
    data: Mapping[str, Any],
    image: UploadedFile | None = None,
    ip_address: str | None = None,
) -> Option:
    """Add an option to a draft poll.

    ``data``: ``label`` (required), ``description``, ``position`` and the metadata of
    the poll's kind (city: ``country``, ``latitude``, ``longitude``, ``population``;
    single: ``artist``, ``track``, ``preview_url``); a design option needs ``image``.
    Needs a manager or owner.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``poll_frozen``,
    ``invalid``.
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER)
    extension = _checked_image_extension(poll, image)
    with transaction.atomic():
        poll = poll_locked(poll)
        _check_option_editable(poll)
        if poll.options.count() >= MAX_OPTIONS:
            raise PollDataInvalid({"label": _("A poll has at most %(n)s options.") % {"n": MAX_OPTIONS}})
        option = Option(poll=poll)
        _apply_option_data(option, poll.kind, data, language=poll.language)
        if data.get("position") in (None, ""):
            last = poll.options.aggregate(last=Max("position"))["last"]
            option.position = 0 if last is None else last + 1
        if image is not None:
            _attach_image(option, image, extension)
        problems = option_problems(poll.kind, option)
        if poll.options.filter(label=option.label).exists():
            problems.setdefault("label", []).append(_("Another option has this label."))
        if problems:
            raise PollDataInvalid(problems)
        _save_option(option)
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="option.add",
            target=option,
            after={"poll": poll.slug, **option_snapshot(option)},
            ip_address=ip_address,
        )
    return option


def option_update(
    *,
    option: Option,
    actor: User,
    data: Mapping[str, Any],
    image: UploadedFile | None = None,
    ip_address: str | None = None,
) -> Option:
    """Change an option of a draft poll; a new ``image`` replaces a design's image.

    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``poll_frozen``,
    ``invalid``.
    """
    poll = option.poll
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER)
    extension = _checked_image_extension(poll, image)
    with transaction.atomic():
        poll = poll_locked(poll)
        _check_option_editable(poll)
        option = Option.objects.get(pk=option.pk)
        before = option_snapshot(option)
        old_files = option.image_files
        _apply_option_data(option, poll.kind, data, language=poll.language)
        if image is not None:
            _attach_image(option, image, extension)
        problems = option_problems(poll.kind, option)
        if poll.options.filter(label=option.label).exclude(pk=option.pk).exists():
            problems.setdefault("label", []).append(_("Another option has this label."))
        if problems:
            raise PollDataInvalid(problems)
        _save_option(option)
        if image is not None:
            _delete_files_on_commit(old_files)
        after = option_snapshot(option)
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="option.update",
            target=option,
            before={"poll": poll.slug, **{k: v for k, v in before.items() if v != after[k] or k == "id"}},
            after={"poll": poll.slug, **{k: v for k, v in after.items() if v != before[k] or k == "id"}},
            ip_address=ip_address,
        )
    return option


def option_remove(*, option: Option, actor: User, ip_address: str | None = None) -> None:
    """Remove an option from a draft poll (and its image, after commit).

    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``poll_frozen``.
    """
    poll = option.poll
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER)
    with transaction.atomic():
        poll = poll_locked(poll)
        _check_option_editable(poll)
        option = Option.objects.filter(pk=option.pk, poll=poll).first()
        if option is None:
            raise PollChangeRefused(Code.NOT_FOUND, _("Not found."))
        before = {"poll": poll.slug, **option_snapshot(option)}
        files = option.image_files
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="option.remove",
            target=option,
            before=before,
            ip_address=ip_address,
        )
        option.delete()
        _delete_files_on_commit(files)
