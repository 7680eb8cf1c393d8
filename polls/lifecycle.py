"""The agency side of a poll's life: create, edit, options, schedule, close, cancel.

Every function here is a write by agency staff. Each one checks, in this order, that
the actor is a member of the poll's agency (``not_found`` otherwise: an agency never
learns about another agency's polls), that the role may write (``permission_denied``),
that MFA is on where DESIGN.md asks for it (``mfa_required``), that the poll's state
allows the change (``poll_frozen`` / ``invalid_transition``) and that the data is valid
(``invalid``). Only then does it write, in one transaction together with its audit log
entry. The poll row is locked for the duration (``SELECT ... FOR UPDATE``) so that,
say, adding an option cannot interleave with scheduling: the freeze holds under
concurrency. Publishing is a separate concern and lives elsewhere.
"""

import io
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.duration import duration_iso_string
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_countries import countries
from PIL import Image

from accounts.models import Agency, Role, User
from accounts.selectors import ROLE_RANK, membership_of
from accounts.services import audit_record
from accounts.verification import VerificationLevel
from polls.errors import PollChangeRefused
from polls.models import (
    MAX_OPTIONS,
    MAX_VOTES_PER_PERIOD,
    Option,
    Poll,
    PollKind,
    PollState,
    PollStatus,
    VotingMethod,
)

# Text that says what a poll is about; it may be corrected until the poll is published.
POLL_TEXT_FIELDS = ("title", "description")
# The rules voters rely on: they change only while the poll is a draft.
POLL_RULE_FIELDS = (
    "slug",
    "kind",
    "method",
    "min_choices",
    "max_choices",
    "votes_per_period",
    "period",
    "least_verification",
    "least_account_age",
    "allowed_countries",
    "blocked_countries",
    "opens_at",
    "closes_at",
    "timezone",
    "results_visibility",
)
POLL_FIELDS = POLL_TEXT_FIELDS + POLL_RULE_FIELDS

OPTION_COMMON_FIELDS = ("label", "description", "position")
OPTION_METADATA_FIELDS = {
    PollKind.CITY: ("country", "latitude", "longitude", "population"),
    PollKind.SINGLE: ("artist", "track", "preview_url"),
    PollKind.DESIGN: (),
    PollKind.OTHER: (),
}
OPTION_FIELDS = (
    *OPTION_COMMON_FIELDS,
    *OPTION_METADATA_FIELDS[PollKind.CITY],
    *OPTION_METADATA_FIELDS[PollKind.SINGLE],
)

MAX_LEAST_ACCOUNT_AGE = timedelta(days=3650)
# Fans vote with a verified address at least; "none" would be a rule nobody can meet.
VOTER_LEVELS = (VerificationLevel.EMAIL, VerificationLevel.PHONE, VerificationLevel.TRUSTED)

# Design images: what a browser shows everywhere, small enough to serve to many fans.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 4096
IMAGE_EXTENSION_OF_FORMAT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}

SLUG_BASE_LENGTH = 60
# Words the agency pages use in their own paths next to poll slugs.
RESERVED_SLUGS = frozenset({"new"})
COORDINATE_STEP = Decimal("0.00001")


class PollDataInvalid(PollChangeRefused):
    """``400 invalid`` naming each offending field, as DESIGN.md's ``fields``."""

    def __init__(self, fields: Mapping[str, Any], detail: str = ""):
        super().__init__("invalid", detail or _("The poll data is not valid."))
        self.fields = {
            name: [str(message) for message in (messages if isinstance(messages, list) else [messages])]
            for name, messages in fields.items()
        }

    def as_body(self) -> dict:
        return {**super().as_body(), "fields": self.fields}


# ------------------------------------------------------------------ who may act


def check_member(*, actor: User, agency: Agency, least: Role) -> None:
    """Raise ``not_found`` for a non-member and ``permission_denied`` below ``least``."""
    membership = membership_of(user=actor, agency=agency)
    if membership is None:
        raise PollChangeRefused("not_found", _("Not found."))
    if ROLE_RANK[Role(membership.role)] < ROLE_RANK[least]:
        raise PollChangeRefused("permission_denied", _("Your role may only read this agency's polls."))


def has_mfa(user: User) -> bool:
    """MFA is on when the user has a TOTP or WebAuthn authenticator (recovery codes
    alone are a fallback, not a second factor)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, types=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def check_mfa(*, actor: User) -> None:
    if not has_mfa(actor):
        raise PollChangeRefused(
            "mfa_required",
            _("Turn on two-factor authentication (an authenticator app or a security key) first."),
        )


def _locked(poll: Poll) -> Poll:
    """The poll's row, locked until the end of the caller's transaction."""
    return Poll.objects.select_for_update().select_related("agency").get(pk=poll.pk)


# ------------------------------------------------------------------ snapshots for the audit log


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "code"):  # a django_countries Country
        return value.code
    return value


def _field_value(instance, name: str) -> Any:
    if name in ("allowed_countries", "blocked_countries"):
        # A descriptor that iterates as Country objects, not a list.
        return sorted(getattr(country, "code", country) for country in getattr(instance, name))
    if name == "country":
        value = getattr(instance, name)
        return (value.code or "") if hasattr(value, "code") else str(value or "")
    if name == "image":
        return instance.image.name if instance.image else ""
    return getattr(instance, name)


def poll_snapshot(poll: Poll, fields: tuple[str, ...] = ("state", *POLL_FIELDS)) -> dict:
    return {name: _jsonable(_field_value(poll, name)) for name in fields}


def option_snapshot(option: Option, fields: tuple[str, ...] = (*OPTION_FIELDS, "image")) -> dict:
    return {"id": option.pk, **{name: _jsonable(_field_value(option, name)) for name in fields}}


# ------------------------------------------------------------------ poll rules


def _normalized_poll_value(name: str, value: Any) -> Any:
    if name in ("allowed_countries", "blocked_countries"):
        return sorted({str(code).upper() for code in (value or [])})
    if name in ("title", "description", "slug") and isinstance(value, str):
        return value.strip()
    return value


def _poll_problems(poll: Poll) -> dict[str, list[str]]:
    """Field errors of a poll's own data, options aside; empty when consistent."""
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    try:
        poll.clean_fields(exclude=["agency", "created_by", "voter_tag_secret", "slug", "state"])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                add(name, message)
    for name in ("allowed_countries", "blocked_countries"):
        unknown = [code for code in _field_value(poll, name) if code not in countries]
        if unknown:
            add(name, _("Unknown country codes: %(codes)s.") % {"codes": ", ".join(unknown)})
    if set(_field_value(poll, "allowed_countries")) & set(_field_value(poll, "blocked_countries")):
        add("blocked_countries", _("A country cannot be both allowed and blocked."))
    if poll.least_verification not in VOTER_LEVELS:
        add("least_verification", _("Choose email, phone or trusted."))
    if not isinstance(poll.least_account_age, timedelta) or not (
        timedelta(0) <= poll.least_account_age <= MAX_LEAST_ACCOUNT_AGE
    ):
        add("least_account_age", _("Between 0 and 3650 days."))
    for name in ("opens_at", "closes_at"):
        moment = getattr(poll, name)
        if isinstance(moment, datetime) and timezone.is_naive(moment):
            add(name, _("Give a date and time with its time zone."))
    if "opens_at" not in problems and "closes_at" not in problems and poll.closes_at <= poll.opens_at:
        add("closes_at", _("The poll must close after it opens."))
    if "min_choices" not in problems and poll.min_choices < 1:
        add("min_choices", _("At least 1."))
    if "min_choices" not in problems and "max_choices" not in problems:
        if poll.max_choices < poll.min_choices:
            add("max_choices", _("Cannot be below the minimum."))
        if poll.max_choices > MAX_OPTIONS:
            add("max_choices", _("At most %(n)s.") % {"n": MAX_OPTIONS})
        if poll.method == VotingMethod.SINGLE and (poll.min_choices, poll.max_choices) != (1, 1):
            add("max_choices", _("A pick-one poll takes exactly one choice."))
    if "votes_per_period" not in problems and not 1 <= poll.votes_per_period <= MAX_VOTES_PER_PERIOD:
        add("votes_per_period", _("Between 1 and %(n)s.") % {"n": MAX_VOTES_PER_PERIOD})
    return problems


def _check_slug(slug: str, *, poll: Poll | None = None) -> None:
    if (
        not slug
        or slug in RESERVED_SLUGS
        or slugify(slug) != slug
        or len(slug) > Poll._meta.get_field("slug").max_length
    ):
        raise PollDataInvalid({"slug": _("Use lowercase letters, digits and hyphens.")})
    taken = Poll.objects.filter(slug=slug)
    if poll is not None:
        taken = taken.exclude(pk=poll.pk)
    if taken.exists():
        raise PollDataInvalid({"slug": _("This address is taken.")})


def slug_for_title(title: str) -> str:
    """A free slug from the title: ``next-tour``, then ``next-tour-2``...

    Titles with no Latin letters or digits (Korean, Japanese) slugify to nothing;
    they get ``poll-`` and a short random suffix instead.
    """
    base = slugify(title)[:SLUG_BASE_LENGTH].strip("-")
    if not base:
        return f"poll-{secrets.token_hex(4)}"
    taken = set(Poll.objects.filter(slug__startswith=base).values_list("slug", flat=True)) | RESERVED_SLUGS
    if base not in taken:
        return base
    for number in range(2, 100):
        if f"{base}-{number}" not in taken:
            return f"{base}-{number}"
    return f"{base}-{secrets.token_hex(4)}"


def _apply_poll_data(poll: Poll, data: Mapping[str, Any]) -> dict[str, Any]:
    """Set the given fields on the poll; return those whose value changed."""
    unknown = sorted(set(data) - set(POLL_FIELDS))
    if unknown:
        raise PollDataInvalid(dict.fromkeys(unknown, _("Unknown field.")))
    changed = {}
    for name, raw in data.items():
        value = _normalized_poll_value(name, raw)
        if _normalized_poll_value(name, _field_value(poll, name)) != value:
            changed[name] = value
            setattr(poll, name, value)
    # Switching to pick-one implies one choice unless the caller said otherwise.
    if poll.method == VotingMethod.SINGLE and not {"min_choices", "max_choices"} & set(data):
        poll.min_choices = poll.max_choices = 1
    return changed


def poll_create(
    *, agency: Agency, actor: User, data: Mapping[str, Any], ip_address: str | None = None
) -> Poll:
    """Create a draft poll for the agency.

    ``data`` holds parsed values: ``title``, ``kind``, ``opens_at`` and ``closes_at``
    (aware datetimes) are required; any other of ``POLL_FIELDS`` is optional. Without a
    ``slug`` one is made from the title. Needs a manager or owner.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``invalid``.
    """
    check_member(actor=actor, agency=agency, least=Role.MANAGER)
    missing = [name for name in ("title", "kind", "opens_at", "closes_at") if data.get(name) in (None, "")]
    if missing:
        raise PollDataInvalid(dict.fromkeys(missing, _("This field is required.")))
    poll = Poll(agency=agency, created_by=actor, state=PollState.DRAFT)
    _apply_poll_data(poll, data)
    problems = _poll_problems(poll)
    if problems:
        raise PollDataInvalid(problems)
    given_slug = bool(poll.slug)
    if given_slug:
        _check_slug(poll.slug)
    for _attempt in range(3):
        if not given_slug:
            poll.slug = slug_for_title(poll.title)
        try:
            with transaction.atomic():
                poll.save()
                audit_record(
                    agency=agency,
                    actor=actor,
                    action="poll.create",
                    target=poll,
                    after=poll_snapshot(poll),
                    ip_address=ip_address,
                )
            return poll
        except IntegrityError:
            # Only a concurrent creation taking the same slug gets here; anything else
            # is a bug that must not pass as "slug taken".
            if not Poll.objects.filter(slug=poll.slug).exists():
                raise
            poll.pk = None
            if given_slug:
                break
    raise PollDataInvalid({"slug": _("This address is taken.")})


def poll_update(*, poll: Poll, actor: User, data: Mapping[str, Any], ip_address: str | None = None) -> Poll:
    """Change a poll's text and, while it is a draft, its rules.

    Title and description may be corrected until the poll is published or cancelled;
    every other field only while the poll is a draft. Sending a frozen field with its
    current value is not a change. Needs a manager or owner.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``poll_frozen``,
    ``invalid``.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    with transaction.atomic():
        poll = _locked(poll)
        before = poll_snapshot(poll)
        changed = _apply_poll_data(poll, data)
        if not changed:
            return poll
        if poll.state in (PollState.PUBLISHED, PollState.CANCELLED):
            raise PollChangeRefused("poll_frozen", _("A published or cancelled poll cannot change."))
        frozen = sorted(set(changed) & set(POLL_RULE_FIELDS))
        if frozen and poll.is_frozen:
            raise PollChangeRefused(
                "poll_frozen",
                _("The rules of a scheduled poll are frozen: %(fields)s.") % {"fields": ", ".join(frozen)},
            )
        problems = _poll_problems(poll)
        if problems:
            raise PollDataInvalid(problems)
        if "slug" in changed:
            _check_slug(poll.slug, poll=poll)
        after = poll_snapshot(poll)
        poll.save()
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="poll.update",
            target=poll,
            before={name: before[name] for name in before if before[name] != after[name]},
            after={name: after[name] for name in after if before[name] != after[name]},
            ip_address=ip_address,
        )
    return poll


# ------------------------------------------------------------------ options


def check_design_image(image) -> str:
    """Return the file extension of a real PNG, JPEG or WebP image within the limits.

    The browser's content type and the file name are not trusted: Pillow reads the
    header and verifies the data. Raises PollChangeRefused ``invalid``.
    """
    if image.size > MAX_IMAGE_BYTES:
        raise PollDataInvalid({"image": _("The image must be at most 5 MB.")})
    try:
        image.seek(0)
        with Image.open(image) as picture:
            image_format = picture.format
            width, height = picture.size
            picture.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise PollDataInvalid({"image": _("This file is not a PNG, JPEG or WebP image.")}) from error
    finally:
        image.seek(0)
    if image_format not in IMAGE_EXTENSION_OF_FORMAT:
        raise PollDataInvalid({"image": _("This file is not a PNG, JPEG or WebP image.")})
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise PollDataInvalid(
            {"image": _("The image must be at most %(n)s by %(n)s pixels.") % {"n": MAX_IMAGE_SIDE}}
        )
    return IMAGE_EXTENSION_OF_FORMAT[image_format]


def _option_problems(kind: str, option: Option) -> dict[str, list[str]]:
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


def _apply_option_data(option: Option, kind: str, data: Mapping[str, Any]) -> None:
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
        elif isinstance(value, str):
            value = value.strip()
        elif value is None and name in ("description", "artist", "track", "preview_url"):
            value = ""
        setattr(option, name, value)


def _check_option_editable(poll: Poll) -> None:
    if poll.is_frozen:
        raise PollChangeRefused("poll_frozen", _("Options are frozen once a poll is scheduled."))


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
    # The stored name follows what the file is, not what the uploader called it.
    option.image = ContentFile(_without_metadata(image), name=f"design.{extension}")


def _without_metadata(image) -> bytes:
    """The image re-encoded from its pixels alone: photos from phones carry EXIF
    (GPS position, device, time) that a public page must not hand out."""
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


def _delete_file_on_commit(name: str) -> None:
    if not name:
        return
    storage = Option._meta.get_field("image").storage
    transaction.on_commit(lambda: storage.delete(name))


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
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    if image is not None and poll.kind != PollKind.DESIGN:
        raise PollDataInvalid({"image": _("Only design polls take images.")})
    # Checked before the poll is locked: reading an image takes a while.
    extension = check_design_image(image) if image is not None else ""
    with transaction.atomic():
        poll = _locked(poll)
        _check_option_editable(poll)
        if poll.options.count() >= MAX_OPTIONS:
            raise PollDataInvalid({"label": _("A poll has at most %(n)s options.") % {"n": MAX_OPTIONS}})
        option = Option(poll=poll)
        _apply_option_data(option, poll.kind, data)
        if data.get("position") in (None, ""):
            last = poll.options.aggregate(last=Max("position"))["last"]
            option.position = 0 if last is None else last + 1
        if image is not None:
            _attach_image(option, image, extension)
        problems = _option_problems(poll.kind, option)
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
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    if image is not None and poll.kind != PollKind.DESIGN:
        raise PollDataInvalid({"image": _("Only design polls take images.")})
    # Checked before the poll is locked: reading an image takes a while.
    extension = check_design_image(image) if image is not None else ""
    with transaction.atomic():
        poll = _locked(poll)
        _check_option_editable(poll)
        option = Option.objects.get(pk=option.pk)
        before = option_snapshot(option)
        old_image = option.image.name if option.image else ""
        _apply_option_data(option, poll.kind, data)
        if image is not None:
            _attach_image(option, image, extension)
        problems = _option_problems(poll.kind, option)
        if poll.options.filter(label=option.label).exclude(pk=option.pk).exists():
            problems.setdefault("label", []).append(_("Another option has this label."))
        if problems:
            raise PollDataInvalid(problems)
        _save_option(option)
        if image is not None:
            _delete_file_on_commit(old_image)
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
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    with transaction.atomic():
        poll = _locked(poll)
        _check_option_editable(poll)
        option = Option.objects.filter(pk=option.pk, poll=poll).first()
        if option is None:
            raise PollChangeRefused("not_found", _("Not found."))
        before = {"poll": poll.slug, **option_snapshot(option)}
        image_name = option.image.name if option.image else ""
        audit_record(
            agency=poll.agency,
            actor=actor,
            action="option.remove",
            target=option,
            before=before,
            ip_address=ip_address,
        )
        option.delete()
        _delete_file_on_commit(image_name)


# ------------------------------------------------------------------ life cycle


def _transition_audit(*, poll: Poll, actor: User, action: str, before: dict, ip_address: str | None) -> None:
    audit_record(
        agency=poll.agency,
        actor=actor,
        action=action,
        target=poll,
        before=before,
        after=_state_snapshot(poll),
        ip_address=ip_address,
    )


def _state_snapshot(poll: Poll) -> dict:
    return {
        "state": poll.state,
        "status": str(poll.status),
        "closed_early_at": _jsonable(poll.closed_early_at),
        "cancelled_at": _jsonable(poll.cancelled_at),
    }


def schedule_problems(poll: Poll, *, moment: datetime) -> dict[str, list[str]]:
    """Why a draft cannot be scheduled yet; empty when it can."""
    problems = _poll_problems(poll)

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    options = list(poll.options.all())
    if len(options) < 2:
        add("options", _("A poll needs at least 2 options."))
    if poll.closes_at <= moment:
        add("closes_at", _("The closing time must be in the future."))
    fits = 1 <= poll.min_choices <= poll.max_choices <= len(options)
    if poll.method != VotingMethod.SINGLE and len(options) >= 2 and not fits:
        add(
            "max_choices",
            _("Choices must satisfy 1 ≤ minimum ≤ maximum ≤ number of options (%(n)s).")
            % {"n": len(options)},
        )
    for option in options:
        for name, messages in _option_problems(poll.kind, option).items():
            for message in messages:
                add("options", f"{option.label}: {name}: {message}")
    return problems


def poll_schedule(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Schedule a draft: it opens at ``opens_at`` and its options and rules freeze.

    Needs at least 2 valid options for the poll's kind, a closing time in the future
    and choice limits that fit the options. Needs a manager or owner with MFA.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``agency_unverified``, ``invalid_transition``, ``invalid``.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    check_mfa(actor=actor)
    if not poll.agency.is_verified:
        # Fans trust a poll because an operator checked who runs it.
        raise PollChangeRefused(
            "agency_unverified", _("An operator must verify your agency before its polls can open.")
        )
    with transaction.atomic():
        poll = _locked(poll)
        if poll.state != PollState.DRAFT:
            raise PollChangeRefused("invalid_transition", _("Only a draft can be scheduled."))
        problems = schedule_problems(poll, moment=timezone.now())
        if problems:
            raise PollDataInvalid(problems, _("This poll cannot be scheduled yet."))
        before = _state_snapshot(poll)
        poll.state = PollState.SCHEDULED
        poll.save(update_fields=["state", "updated_at"])
        _transition_audit(
            poll=poll, actor=actor, action="poll.schedule", before=before, ip_address=ip_address
        )
    return poll


def poll_close(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Close an open poll now, before its ``closes_at``.

    Needs a manager or owner with MFA.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``invalid_transition``.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    check_mfa(actor=actor)
    with transaction.atomic():
        poll = _locked(poll)
        now = timezone.now()
        if poll.status_at(now) != PollStatus.OPEN:
            raise PollChangeRefused("invalid_transition", _("Only an open poll can be closed early."))
        before = _state_snapshot(poll)
        poll.closed_early_at = now
        poll.save(update_fields=["closed_early_at", "updated_at"])
        _transition_audit(poll=poll, actor=actor, action="poll.close", before=before, ip_address=ip_address)
    return poll


def poll_cancel(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Cancel a poll in any state before published. Ballots already cast are kept.

    Needs a manager or owner with MFA.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``mfa_required``,
    ``invalid_transition``.
    """
    check_member(actor=actor, agency=poll.agency, least=Role.MANAGER)
    check_mfa(actor=actor)
    with transaction.atomic():
        poll = _locked(poll)
        if poll.state not in (PollState.DRAFT, PollState.SCHEDULED):
            raise PollChangeRefused(
                "invalid_transition", _("Only a poll not yet published can be cancelled.")
            )
        before = _state_snapshot(poll)
        poll.state = PollState.CANCELLED
        poll.cancelled_at = timezone.now()
        poll.save(update_fields=["state", "cancelled_at", "updated_at"])
        _transition_audit(poll=poll, actor=actor, action="poll.cancel", before=before, ip_address=ip_address)
    return poll
