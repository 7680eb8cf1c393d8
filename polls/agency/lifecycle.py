"""The agency side of a poll's life: create, edit, schedule, close, cancel.

Every function here is a write by agency staff. Each one checks, in this order, that
the actor is a member of the poll's agency (``not_found`` otherwise: an agency never
learns about another agency's polls), that the role may write (``permission_denied``),
that MFA is on and this session used it where DESIGN.md asks for it (``mfa_required``,
``mfa_not_used``), that the poll's state allows the change (``poll_frozen`` /
``invalid_transition``) and that the data is valid (``invalid``). Only then does it
write, in one transaction together with its audit log entry. The poll row is locked for the duration (``SELECT ... FOR UPDATE``) so that,
say, adding an option cannot interleave with scheduling: the freeze holds under
concurrency. Who may act is asked of ``accounts.permissions``; options are in
``polls.agency.options`` and publishing in ``polls.agency.publishing``.
"""

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import Agency, Role, User
from accounts.permissions import acting_user, check_agency_action
from accounts.services import audit_record
from polls.agency.audit_snapshots import field_value, poll_snapshot, state_snapshot
from polls.agency.options import option_problems
from polls.agency.rules import (
    MAX_LEAST_ACCOUNT_AGE,
    POLL_FIELDS,
    POLL_RULE_FIELDS,
    RESERVED_SLUGS,
    SLUG_BASE_LENGTH,
    SLUG_SUFFIX_BYTES,
    VOTER_LEVELS,
    poll_locked,
)
from polls.content_languages import (
    POLL_TRANSLATED_FIELDS,
    check_language,
    language_name,
    translations_cleaned,
)
from polls.errors import PollChangeRefused, PollDataInvalid
from polls.models import MAX_OPTIONS, MAX_VOTES_PER_PERIOD, Poll, PollState, PollStatus, VotingMethod
from voting.errors import Code


def _normalized_poll_value(name: str, value: Any) -> Any:
    if name in ("allowed_countries", "blocked_countries"):
        return sorted({str(code).upper() for code in (value or [])})
    if name in ("title", "description", "slug") and isinstance(value, str):
        return value.strip()
    if name == "translations":
        cleaned, problems = translations_cleaned(value, fields=POLL_TRANSLATED_FIELDS)
        if problems:
            raise PollDataInvalid(problems)
        return cleaned
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
        unknown = [code for code in field_value(poll, name) if code not in countries]
        if unknown:
            add(name, _("Unknown country codes: %(codes)s.") % {"codes": ", ".join(unknown)})
    if set(field_value(poll, "allowed_countries")) & set(field_value(poll, "blocked_countries")):
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
    if poll.language in (poll.translations or {}):
        add(
            "translations",
            _("%(language)s is the poll's own language: its text goes in the title and description.")
            % {"language": language_name(poll.language)},
        )
    return problems


def _slug_unavailable() -> PollDataInvalid:
    # One answer for every reason (a reserved word, a poll of this agency, a public poll,
    # another agency's draft): the answer must not tell whose the address is.
    return PollDataInvalid(
        {
            "slug": _(
                "This address is not available. Choose another, or leave it empty for one made from the title."
            )
        }
    )


def _check_slug(slug: str, *, poll: Poll | None = None) -> None:
    """An explicit slug: well formed, not reserved, not held by any poll. See
    docs/decisions/poll-slugs-leak-nothing.md for what the refusal may and may not say."""
    if not slug or slugify(slug) != slug or len(slug) > Poll._meta.get_field("slug").max_length:
        raise PollDataInvalid({"slug": _("Use lowercase letters, digits and hyphens.")})
    taken = Poll.objects.filter(slug=slug)
    if poll is not None:
        taken = taken.exclude(pk=poll.pk)
    if slug in RESERVED_SLUGS or taken.exists():
        raise _slug_unavailable()


def slug_for_title(title: str) -> str:
    """A slug made from the title with a random ending: ``next-tour-3f9a1c``.

    Slugs are unique across agencies, so "``next-tour``, else ``next-tour-2``" would
    tell an agency that someone holds ``next-tour``, another agency's unannounced draft
    included. A random ending every time tells nothing, and makes the address of a
    draft impossible to guess from its title. Titles with no Latin letters or digits
    (Korean, Japanese) slugify to nothing: ``poll-`` and a random ending. The caller
    retries on the (unlikely) collision.
    """
    base = slugify(title)[:SLUG_BASE_LENGTH].strip("-")
    if not base:
        return f"poll-{secrets.token_hex(4)}"
    return f"{base}-{secrets.token_hex(SLUG_SUFFIX_BYTES)}"


def _apply_poll_data(poll: Poll, data: Mapping[str, Any]) -> dict[str, Any]:
    """Set the given fields on the poll; return those whose value changed."""
    unknown = sorted(set(data) - set(POLL_FIELDS))
    if unknown:
        raise PollDataInvalid(dict.fromkeys(unknown, _("Unknown field.")))
    changed = {}
    if "language" in data:
        check_language(data["language"])
    for name, raw in data.items():
        value = _normalized_poll_value(name, raw)
        if _normalized_poll_value(name, field_value(poll, name)) != value:
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
    check_agency_action(user=actor, agency=agency, least=Role.MANAGER)
    missing = [name for name in ("title", "kind", "opens_at", "closes_at") if data.get(name) in (None, "")]
    if missing:
        raise PollDataInvalid(dict.fromkeys(missing, _("This field is required.")))
    poll = Poll(agency=agency, created_by=acting_user(actor), state=PollState.DRAFT)
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
    raise _slug_unavailable()


def poll_update(*, poll: Poll, actor: User, data: Mapping[str, Any], ip_address: str | None = None) -> Poll:
    """Change a poll's text and, while it is a draft, its rules.

    Title and description may be corrected until the poll is published or cancelled;
    every other field only while the poll is a draft. Sending a frozen field with its
    current value is not a change. Needs a manager or owner.
    Raises PollChangeRefused: ``not_found``, ``permission_denied``, ``poll_frozen``,
    ``invalid``.
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER)
    with transaction.atomic():
        poll = poll_locked(poll)
        before = poll_snapshot(poll)
        changed = _apply_poll_data(poll, data)
        if not changed:
            return poll
        if poll.state in (PollState.PUBLISHED, PollState.CANCELLED):
            raise PollChangeRefused(Code.POLL_FROZEN, _("A published or cancelled poll cannot change."))
        frozen = sorted(set(changed) & set(POLL_RULE_FIELDS))
        if frozen and poll.is_frozen:
            raise PollChangeRefused(
                Code.POLL_FROZEN,
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
        for name, messages in option_problems(poll.kind, option).items():
            for message in messages:
                add("options", f"{option.label}: {name}: {message}")
    return problems


def _transition(
    *,
    poll: Poll,
    actor: User,
    action: str,
    refusal: str,
    allowed: Callable[[Poll, datetime], bool],
    apply: Callable[[Poll, datetime], list[str]],
    ip_address: str | None,
) -> Poll:
    """Move a poll through its life cycle: check who may act (manager with MFA), lock
    the poll, check that ``allowed`` holds now (``invalid_transition`` with
    ``refusal`` otherwise), ``apply`` the change (it returns the fields it set), save
    and audit, all in one transaction."""
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    with transaction.atomic():
        poll = poll_locked(poll)
        now = timezone.now()
        if not allowed(poll, now):
            raise PollChangeRefused(Code.INVALID_TRANSITION, refusal)
        before = state_snapshot(poll)
        changed = apply(poll, now)
        poll.save(update_fields=[*changed, "updated_at"])
        audit_record(
            agency=poll.agency,
            actor=actor,
            action=action,
            target=poll,
            before=before,
            after=state_snapshot(poll),
            ip_address=ip_address,
        )
    return poll


def poll_schedule(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Schedule a draft: it opens at ``opens_at`` and its options and rules freeze.

    Needs at least 2 valid options for the poll's kind, a closing time in the future
    and choice limits that fit the options. Needs a manager or owner with MFA.
    Raises AgencyActionRefused (``not_found``, ``permission_denied``,
    ``mfa_required``, ``agency_unverified``) or PollChangeRefused
    (``invalid_transition``, ``invalid``).
    """
    check_agency_action(user=actor, agency=poll.agency, least=Role.MANAGER, mfa=True)
    if not poll.agency.is_verified:
        # Fans trust a poll because an operator checked who runs it.
        raise PollChangeRefused(
            Code.AGENCY_UNVERIFIED, _("An operator must verify your agency before its polls can open.")
        )

    def schedule(poll: Poll, now: datetime) -> list[str]:
        problems = schedule_problems(poll, moment=now)
        if problems:
            raise PollDataInvalid(problems, _("This poll cannot be scheduled yet."))
        poll.state = PollState.SCHEDULED
        return ["state"]

    return _transition(
        poll=poll,
        actor=actor,
        action="poll.schedule",
        refusal=_("Only a draft can be scheduled."),
        allowed=lambda poll, now: poll.state == PollState.DRAFT,
        apply=schedule,
        ip_address=ip_address,
    )


def poll_close(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Close an open poll now, before its ``closes_at``.

    Needs a manager or owner with MFA. Raises AgencyActionRefused (``not_found``,
    ``permission_denied``, ``mfa_required``) or PollChangeRefused
    (``invalid_transition``).
    """

    def close(poll: Poll, now: datetime) -> list[str]:
        poll.closed_early_at = now
        return ["closed_early_at"]

    return _transition(
        poll=poll,
        actor=actor,
        action="poll.close",
        refusal=_("Only an open poll can be closed early."),
        allowed=lambda poll, now: poll.status_at(now) == PollStatus.OPEN,
        apply=close,
        ip_address=ip_address,
    )


def poll_cancel(*, poll: Poll, actor: User, ip_address: str | None = None) -> Poll:
    """Cancel a poll in any state before published. Ballots already cast are kept.

    Needs a manager or owner with MFA. Raises AgencyActionRefused (``not_found``,
    ``permission_denied``, ``mfa_required``) or PollChangeRefused
    (``invalid_transition``).
    """

    def cancel(poll: Poll, now: datetime) -> list[str]:
        poll.state = PollState.CANCELLED
        poll.cancelled_at = now
        return ["state", "cancelled_at"]

    return _transition(
        poll=poll,
        actor=actor,
        action="poll.cancel",
        refusal=_("Only a poll not yet published can be cancelled."),
        allowed=lambda poll, now: poll.state in (PollState.DRAFT, PollState.SCHEDULED),
        apply=cancel,
        ip_address=ip_address,
    )
