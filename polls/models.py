"""Polls, their options, ballots and the choices on each ballot.

Invariants that must hold under concurrency are database constraints. Every unique
constraint on ballots includes the poll, so ballots can be sharded by poll.
"""

import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Lookup, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.models import Agency
from accounts.timezones import validate_time_zone
from accounts.verification import VerificationLevel
from polls.content_languages import CONTENT_LANGUAGES, LANGUAGE_CODE_PATTERN

# The most ballots one account may cast per period; slots are tried one by one.
MAX_VOTES_PER_PERIOD = 20
MAX_OPTIONS = 200


class PollKind(models.TextChoices):
    CITY = "city", _("Tour city")
    SINGLE = "single", _("Next single")
    DESIGN = "design", _("Merchandise design")
    OTHER = "other", _("Other")


class VotingMethod(models.TextChoices):
    SINGLE = "single", _("Pick one")
    MULTIPLE = "multiple", _("Pick several")
    RANKED = "ranked", _("Rank in order")


class Period(models.TextChoices):
    ONCE = "once", _("Once for the whole poll")
    DAILY = "daily", _("Every day")


class ResultsVisibility(models.TextChoices):
    LIVE = "live", _("Live while open")
    AFTER_CLOSE = "after_close", _("After the poll closes")
    ON_PUBLISH = "on_publish", _("When published")


class PollState(models.TextChoices):
    """What the agency decided. The public status also follows the clock."""

    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHED = "published", _("Published")
    CANCELLED = "cancelled", _("Cancelled")


class PollStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    PUBLISHED = "published", _("Published")
    CANCELLED = "cancelled", _("Cancelled")


@models.JSONField.register_lookup
class KeysWithin(Lookup):
    """``translations__keys_within=[codes]``: a JSON object whose keys are all among
    ``codes``. Used by check constraints, so the codes are written into the SQL (they
    are checked against a strict pattern first)."""

    lookup_name = "keys_within"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        codes = list(self.rhs)
        if not all(LANGUAGE_CODE_PATTERN.match(code) for code in codes):
            raise ValueError(f"not language codes: {codes}")
        array = ", ".join(f"'{code}'" for code in codes)
        sql = f"(jsonb_typeof({lhs}) = 'object' AND ({lhs} - ARRAY[{array}]::text[]) = '{{}}'::jsonb)"
        return sql, (*params, *params)

    def as_sqlite(self, compiler, connection):
        # The embedded demo's database: no subquery may stand in a CHECK, so the known
        # keys are removed and what is left must be the empty object.
        lhs, params = self.process_lhs(compiler, connection)
        codes = list(self.rhs)
        if not all(LANGUAGE_CODE_PATTERN.match(code) for code in codes):
            raise ValueError(f"not language codes: {codes}")
        paths = ", ".join(f"'$.\"{code}\"'" for code in codes)
        sql = f"(json_type({lhs}) = 'object' AND json_remove({lhs}, {paths}) = '{{}}')"
        return sql, (*params, *params)


def new_voter_tag_secret() -> str:
    return secrets.token_hex(32)


class Poll(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="polls")
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=PollKind.choices)
    method = models.CharField(max_length=16, choices=VotingMethod.choices, default=VotingMethod.SINGLE)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # The language of title, description and option labels; the board and the signed
    # results carry those, so a recount never depends on a reader's language.
    language = models.CharField(_("language"), max_length=10, default="en")
    # {"ko": {"title": ..., "description": ...}}: shown to readers of that language only.
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    results_visibility = models.CharField(
        max_length=16, choices=ResultsVisibility.choices, default=ResultsVisibility.AFTER_CLOSE
    )
    min_choices = models.PositiveSmallIntegerField(default=1)
    max_choices = models.PositiveSmallIntegerField(default=1)
    votes_per_period = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_VOTES_PER_PERIOD)]
    )
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.ONCE)
    least_verification = models.CharField(
        max_length=16, choices=VerificationLevel.choices, default=VerificationLevel.EMAIL
    )
    least_account_age = models.DurationField(default=timedelta(0))
    allowed_countries = CountryField(multiple=True, blank=True)
    blocked_countries = CountryField(multiple=True, blank=True)

    # The artist the poll is about (polls.participation): its followers hear of it.
    artist = models.ForeignKey(
        "participation.Artist", null=True, blank=True, on_delete=models.SET_NULL, related_name="polls"
    )
    state = models.CharField(max_length=16, choices=PollState.choices, default=PollState.DRAFT)
    closed_early_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Key of the HMAC that turns a voter into a tag on the bulletin board.
    voter_tag_secret = models.CharField(max_length=64, default=new_voter_tag_secret, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["closes_at", "id"]
        indexes = [models.Index(fields=["state", "opens_at", "closes_at"], name="polls_poll_state_times")]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="polls_poll_closes_after_opening"
            ),
            models.CheckConstraint(condition=Q(min_choices__gte=1), name="polls_poll_min_choices_positive"),
            models.CheckConstraint(
                condition=Q(max_choices__gte=F("min_choices")), name="polls_poll_max_not_below_min"
            ),
            models.CheckConstraint(
                condition=~Q(method=VotingMethod.SINGLE) | Q(min_choices=1, max_choices=1),
                name="polls_poll_single_method_picks_one",
            ),
            models.CheckConstraint(
                condition=Q(votes_per_period__gte=1, votes_per_period__lte=MAX_VOTES_PER_PERIOD),
                name="polls_poll_votes_per_period_range",
            ),
            models.CheckConstraint(condition=Q(kind__in=PollKind.values), name="polls_poll_kind_valid"),
            models.CheckConstraint(
                condition=Q(method__in=VotingMethod.values), name="polls_poll_method_valid"
            ),
            models.CheckConstraint(condition=Q(period__in=Period.values), name="polls_poll_period_valid"),
            models.CheckConstraint(condition=Q(state__in=PollState.values), name="polls_poll_state_valid"),
            models.CheckConstraint(
                condition=Q(results_visibility__in=ResultsVisibility.values),
                name="polls_poll_visibility_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state=PollState.PUBLISHED) | Q(published_at__isnull=False),
                name="polls_poll_published_has_time",
            ),
            models.CheckConstraint(
                condition=Q(language__in=CONTENT_LANGUAGES), name="polls_poll_language_known"
            ),
            models.CheckConstraint(
                condition=Q(translations__keys_within=CONTENT_LANGUAGES),
                name="polls_poll_translation_languages_known",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    # -- time and status -------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_closes_at(self) -> datetime:
        if self.closed_early_at and self.closed_early_at < self.closes_at:
            return self.closed_early_at
        return self.closes_at

    def status_at(self, moment: datetime) -> PollStatus:
        if self.state == PollState.DRAFT:
            return PollStatus.DRAFT
        if self.state == PollState.CANCELLED:
            return PollStatus.CANCELLED
        if self.state == PollState.PUBLISHED:
            return PollStatus.PUBLISHED
        if moment < self.opens_at:
            return PollStatus.SCHEDULED
        if moment < self.effective_closes_at:
            return PollStatus.OPEN
        return PollStatus.CLOSED

    @property
    def status(self) -> PollStatus:
        return self.status_at(timezone.now())

    @property
    def is_frozen(self) -> bool:
        """Options and rules may change only while the poll is a draft."""
        return self.state != PollState.DRAFT

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def period_of(self, moment: datetime) -> date:
        """The allowance period a ballot cast at ``moment`` counts against: the
        poll's local calendar day for daily polls, the opening day for once polls."""
        if self.period == Period.DAILY:
            return self.local_day(moment)
        return self.local_day(self.opens_at)


def design_image_path(option: "Option", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"designs/{option.poll_id}/{secrets.token_hex(8)}.{extension}"


class Option(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(_("label"), max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    description = models.TextField(blank=True)
    # {"ko": {"label": ..., "description": ...}}; the label above, in the poll's language,
    # is what ballots, the board and recounts name (by id).
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    # city
    country = CountryField(blank=True)
    latitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    longitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    population = models.PositiveBigIntegerField(null=True, blank=True)
    # single
    artist = models.CharField(max_length=200, blank=True)
    track = models.CharField(max_length=200, blank=True)
    preview_url = models.URLField(blank=True)
    # design
    image = models.ImageField(
        upload_to=design_image_path,
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp"])],
    )
    # Set with the image at upload (polls/agency/options.py), read by the fan pages: the
    # stored size gives <img> its width and height (no layout shift while it loads),
    # and the smaller renditions ([{"name", "width", "height"}], narrowest first) its
    # srcset, so that a phone downloads a 480-pixel WebP, not a 4,096-pixel original.
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_renditions = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "label"], name="polls_option_label_unique_in_poll"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="polls_option_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="polls_option_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(translations__keys_within=CONTENT_LANGUAGES),
                name="polls_option_translation_languages_known",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def image_srcset(self) -> str:
        """The ``srcset`` of the design image: its renditions and the original, each with
        its width; empty when the image has no renditions (then ``src`` alone serves)."""
        if not self.image or not self.image_renditions or not self.image_width:
            return ""
        storage = self.image.storage
        candidates = [f"{storage.url(r['name'])} {r['width']}w" for r in self.image_renditions]
        return ", ".join([*candidates, f"{self.image.url} {self.image_width}w"])

    @property
    def image_files(self) -> list[str]:
        """Every stored file of the design image (original and renditions)."""
        if not self.image:
            return []
        return [self.image.name, *(r["name"] for r in self.image_renditions)]


class BallotStatus(models.TextChoices):
    COUNTED = "counted", _("Counted")
    QUARANTINED = "quarantined", _("Quarantined")
    INVALIDATED = "invalidated", _("Invalidated")


class VoterStatus(models.TextChoices):
    """What a voter is told about their own ballot (receipt, my votes, the poll page).

    ``recorded`` until the poll's results are published, whatever review did: a farm
    holding its receipts must not watch its ballots turn quarantined or invalidated
    live, and move networks. Once published, the ballot's status and reason, which the
    bulletin board shows anyway."""

    RECORDED = "recorded", _("Recorded")
    COUNTED = BallotStatus.COUNTED.value, BallotStatus.COUNTED.label
    QUARANTINED = BallotStatus.QUARANTINED.value, BallotStatus.QUARANTINED.label
    INVALIDATED = BallotStatus.INVALIDATED.value, BallotStatus.INVALIDATED.label


class Ballot(models.Model):
    """One vote. Its (poll, voter, period, slot) is unique and its slot is below the
    poll's ``votes_per_period``, so no account can exceed the allowance, even with
    many requests racing: the losers hit the unique index and are refused."""

    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="ballots")
    # Every index on ballot tables includes the poll (the distribution column of a future
    # Citus cluster); the voter's and the receipt's look-ups use composite indexes below.
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ballots", db_index=False
    )
    period = models.DateField()
    slot = models.PositiveSmallIntegerField()
    day = models.DateField(help_text=_("Local calendar day of the poll when cast."))
    cast_at = models.DateTimeField(default=timezone.now)
    receipt_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=BallotStatus.choices, default=BallotStatus.COUNTED)
    status_reason = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    client_network = models.CharField(max_length=64, blank=True)
    # SHA-256 of what the client says about itself (user agent, languages, and an
    # app's X-Client-Fingerprint): one value across many accounts is a farm signal.
    client_fingerprint = models.CharField(max_length=64, blank=True)
    # Set once by the tally refresher when this ballot enters the live counters.
    tallied = models.BooleanField(default=False)
    # The first checkpoint that committed to this ballot (null until one does).
    checkpoint = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["poll", "voter", "period", "slot"], name="polls_ballot_one_per_slot"
            ),
            models.UniqueConstraint(fields=["poll", "receipt_hash"], name="polls_ballot_receipt_unique"),
            models.CheckConstraint(
                condition=Q(slot__lt=MAX_VOTES_PER_PERIOD), name="polls_ballot_slot_in_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BallotStatus.values), name="polls_ballot_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=BallotStatus.COUNTED) | ~Q(status_reason=""),
                name="polls_ballot_not_counted_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["poll", "id"], name="polls_ballot_poll_id"),
            models.Index(fields=["voter", "poll", "-cast_at"], name="polls_ballot_voter_poll_time"),
            # A receipt is checked by its hash alone; the poll rides along in the index.
            models.Index(fields=["receipt_hash", "poll"], name="polls_ballot_receipt_poll"),
            # The refresher and the checkpointer find their work through these, so
            # the cost is the size of the backlog, not of the poll.
            models.Index(fields=["poll", "id"], condition=Q(tallied=False), name="polls_ballot_untallied"),
            models.Index(
                fields=["poll", "id"], condition=Q(checkpoint__isnull=True), name="polls_ballot_unchecked"
            ),
        ]

    def __str__(self) -> str:
        return f"ballot {self.pk} in {self.poll_id}"

    @property
    def voter_status(self) -> VoterStatus:
        """The status shown to the voter (``VoterStatus``); reads ``self.poll``."""
        if self.poll.state != PollState.PUBLISHED:
            return VoterStatus.RECORDED
        return VoterStatus(self.status)

    @property
    def voter_reason(self) -> str:
        """The reason shown to the voter: none until the results are published."""
        return "" if self.voter_status == VoterStatus.RECORDED else self.status_reason


class BallotChoice(models.Model):
    """One option on a ballot; ``rank`` is 1 for the first preference (ranked polls)
    and 1 for every pick otherwise."""

    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="+")
    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="choices", db_index=False)
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="+", db_index=False)
    rank = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["rank", "id"]
        indexes = [
            # A ballot's choices (prefetching), and the choices of an option (its PROTECT
            # check), each with the poll.
            models.Index(fields=["ballot", "poll"], name="polls_choice_ballot_poll"),
            models.Index(fields=["option", "poll"], name="polls_choice_option_poll"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["poll", "ballot", "option"], name="polls_choice_option_once"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="polls_choice_rank_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.option_id} (rank {self.rank})"


class IdempotentAnswer(models.Model):
    """The first answer to a vote sent with an ``Idempotency-Key``, kept whole (receipt
    included) for 24 hours so that a retry gets it again instead of an error."""

    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "voter", "key"], name="polls_idempotent_answer_unique"),
        ]

    def __str__(self) -> str:
        return f"answer to {self.key}"


class PollTally(models.Model):
    """Live totals of one poll, kept by the tally refresher (polls/tally.py)."""

    poll = models.OneToOneField(Poll, on_delete=models.CASCADE, primary_key=True, related_name="tally")
    ballots = models.PositiveIntegerField(default=0, help_text=_("Counted ballots."))
    invalidated = models.JSONField(default=dict, help_text=_("Invalidated ballots by reason."))
    quarantined = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"tally of {self.poll_id}"


class OptionTally(models.Model):
    """Votes per option among counted ballots (first preferences for ranked polls)."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="+")
    votes = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "option"], name="polls_option_tally_unique"),
            models.CheckConstraint(condition=Q(votes__gte=0), name="polls_option_tally_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.option_id}: {self.votes}"


class RankingTally(models.Model):
    """Counted ballots per distinct ranking (ranked polls): the input of instant runoff,
    a few rows per poll however many ballots there are."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    ranking = models.CharField(max_length=400, help_text=_("Option ids in order, comma-separated."))
    ballots = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "ranking"], name="polls_ranking_tally_unique"),
            models.CheckConstraint(condition=Q(ballots__gte=0), name="polls_ranking_tally_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.ranking}: {self.ballots}"


class Checkpoint(models.Model):
    """A published commitment, while the poll is open, to every ballot so far."""

    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="checkpoints")
    seq = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(help_text=_("Ballots committed to so far, in all."))
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["poll", "seq"]
        constraints = [models.UniqueConstraint(fields=["poll", "seq"], name="polls_checkpoint_seq_unique")]

    def __str__(self) -> str:
        return f"checkpoint {self.seq} of {self.poll_id}"


class ResultSnapshot(models.Model):
    """The frozen, signed results of a published poll and its bulletin board."""

    poll = models.OneToOneField(Poll, on_delete=models.PROTECT, primary_key=True, related_name="snapshot")
    created_at = models.DateTimeField(default=timezone.now)
    results = models.JSONField()
    board_json = models.TextField(help_text=_("The exact bytes (UTF-8) of the JSON download."))
    # Built once at publishing, so a download never parses the board again.
    board_csv = models.TextField(help_text=_("The exact bytes (UTF-8) of the CSV download."))
    board_digest = models.CharField(max_length=64)
    signature = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"results of {self.poll_id}"


class InvalidationRequestState(models.TextChoices):
    PENDING = "pending", _("Waiting for a second member")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")


class InvalidationRequest(models.Model):
    """A reviewer's request to change the status of some ballots of a poll. It waits for
    a second member's approval (four eyes) when it would leave more of the poll's
    ballots invalidated than the agency's threshold, or take ballots out of
    ``invalidated`` (polls/agency/review.py)."""

    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="invalidation_requests")
    status = models.CharField(max_length=16, choices=BallotStatus.choices)
    reason = models.CharField(max_length=64)
    ballot_ids = models.JSONField()
    size = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    state = models.CharField(
        max_length=16, choices=InvalidationRequestState.choices, default=InvalidationRequestState.PENDING
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    changed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=InvalidationRequestState.values), name="polls_invalidation_state_valid"
            ),
            # The second pair of eyes must be another person.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="polls_invalidation_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.size} ballots of {self.poll_id} ({self.reason})"


# ------------------------------------------------------------------ insight counters
# Folded by the tally refresher in the transaction that tallies the same ballots
# (polls/insight_counters.py), read by the agency's insight (polls/agency/insight.py).
# Their rows grow with time buckets, countries, networks and fingerprints, never
# with ballots as such; docs/insight.md explains each dimension.


class AccountAge(models.TextChoices):
    NEW = "new", _("New account")
    ESTABLISHED = "established", _("Established account")


class InsightTurnout(models.Model):
    """Ballots cast (whatever their status since) per 5-minute bucket of ``cast_at``,
    voter country (the voter's declared country when the ballot was folded, "" for
    unknown) and account age class at cast time."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField(help_text=_("Start of the 5-minute bucket (UTC)."))
    country = models.CharField(max_length=2, blank=True)
    account_age = models.CharField(max_length=16, choices=AccountAge.choices)
    ballots = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["poll", "bucket", "country", "account_age"], name="polls_insight_turnout_unique"
            ),
            models.CheckConstraint(condition=Q(ballots__gte=0), name="polls_insight_turnout_not_negative"),
            models.CheckConstraint(
                condition=Q(account_age__in=AccountAge.values), name="polls_insight_turnout_age_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.poll_id} {self.bucket:%Y-%m-%d %H:%M} {self.country or '-'}: {self.ballots}"


class InsightOptionHour(models.Model):
    """Votes per option per hour of ``cast_at`` among counted ballots, as the tally
    counts them (first preferences for ranked polls); kept right when review changes
    a ballot's status, so the series always sums to the option's tally."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text=_("Start of the hour (UTC)."))
    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="+")
    votes = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "hour", "option"], name="polls_insight_option_unique"),
            models.CheckConstraint(condition=Q(votes__gte=0), name="polls_insight_option_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.option_id} {self.hour:%Y-%m-%d %H}h: {self.votes}"


class ClientKind(models.TextChoices):
    NETWORK = "network", _("Network")
    FINGERPRINT = "fingerprint", _("Fingerprint")


class InsightClientHour(models.Model):
    """Ballots per hour, voter country and client network (/24 or /64) or client
    fingerprint: what tells a surge of interest (many networks and devices) from a
    farm (one of either). "" is the key of ballots without one."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text=_("Start of the hour (UTC)."))
    country = models.CharField(max_length=2, blank=True)
    kind = models.CharField(max_length=16, choices=ClientKind.choices)
    key = models.CharField(max_length=64, blank=True)
    ballots = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["poll", "hour", "country", "kind", "key"], name="polls_insight_client_unique"
            ),
            models.CheckConstraint(condition=Q(ballots__gte=0), name="polls_insight_client_not_negative"),
            models.CheckConstraint(condition=Q(kind__in=ClientKind.values), name="polls_insight_client_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.poll_id} {self.hour:%Y-%m-%d %H}h {self.country or '-'} {self.kind}: {self.ballots}"
