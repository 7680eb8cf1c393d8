"""Artists, the fans who follow them, and open calls where fans propose and support
options for a future poll.

Rules that must hold under concurrency are constraints: one follow per fan and artist,
one proposal per call and deduplication key (a city's GeoNames id, a normalised text,
an image's digest), one support per fan and proposal, and at most
``max_supports_per_fan`` supports per fan in a call (a unique slot below the cap, as
ballots do with ``votes_per_period``).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency
from accounts.verification import VerificationLevel
from polls.models import Option, Poll, PollKind

# The most supports one fan may give in one call (the per-call cap is at most this).
MAX_SUPPORTS_PER_FAN = 20
MAX_PROPOSAL_TEXT = 200


def artist_image_path(artist: "Artist", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"artists/{secrets.token_hex(8)}.{extension}"


class Artist(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="artists")
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    bio = models.CharField(_("short bio"), max_length=500, blank=True)
    image = models.ImageField(
        upload_to=artist_image_path, blank=True, validators=[FileExtensionValidator(["png", "jpg", "webp"])]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Follow(models.Model):
    """A fan follows an artist; only counts ever leave the service toward agencies."""

    fan = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artist", "fan"], name="participation_follow_once")]
        indexes = [models.Index(fields=["fan", "-created_at"], name="participation_follow_fan")]

    def __str__(self) -> str:
        return f"{self.fan_id} follows {self.artist_id}"


class OpenCall(models.Model):
    """A call for suggestions on an artist: fans propose and support until it closes.
    Its rules read like a poll's, so ``polls.eligibility`` judges both."""

    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="calls")
    question = models.CharField(_("question"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(max_length=16, choices=PollKind.choices)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    max_supports_per_fan = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(MAX_SUPPORTS_PER_FAN)]
    )
    least_verification = models.CharField(
        max_length=16, choices=VerificationLevel.choices, default=VerificationLevel.EMAIL
    )
    least_account_age = models.DurationField(default=timedelta(0))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opens_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="participation_call_closes_after_opening"
            ),
            models.CheckConstraint(
                condition=Q(max_supports_per_fan__gte=1, max_supports_per_fan__lte=MAX_SUPPORTS_PER_FAN),
                name="participation_call_supports_range",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PollKind.values), name="participation_call_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.question

    # polls.eligibility reads these of a poll; calls are not limited by country.
    allowed_countries: tuple = ()
    blocked_countries: tuple = ()

    def is_open_at(self, moment) -> bool:
        return self.opens_at <= moment < self.closes_at

    @property
    def is_open(self) -> bool:
        return self.is_open_at(timezone.now())


class HiddenReason(models.TextChoices):
    """Why the agency hid a proposal; the public call page counts them by reason."""

    DUPLICATE = "duplicate", _("Duplicate")
    OFF_TOPIC = "off_topic", _("Off topic")
    NOT_FEASIBLE = "not_feasible", _("Not feasible")
    OFFENSIVE = "offensive", _("Offensive or abusive")
    PERSONAL_DATA = "personal_data", _("Personal data")
    SPAM = "spam", _("Spam or manipulation")


class ProposalState(models.TextChoices):
    VISIBLE = "visible", _("Visible")
    HIDDEN = "hidden", _("Hidden")
    MERGED = "merged", _("Merged into another")


def proposal_image_path(proposal: "Proposal", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"proposals/{proposal.call_id}/{secrets.token_hex(8)}.{extension}"


class Proposal(models.Model):
    call = models.ForeignKey(OpenCall, on_delete=models.PROTECT, related_name="proposals")
    proposer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=MAX_PROPOSAL_TEXT)
    # "city:<geoname id>", "text:<normalised text>" or "image:<sha256 of the pixels>":
    # one proposal however it is typed.
    dedupe_key = models.CharField(max_length=300)
    # city (from GeoNames, never typed by the fan)
    geoname_id = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    latitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    longitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    population = models.PositiveBigIntegerField(null=True, blank=True)
    # design
    image = models.ImageField(upload_to=proposal_image_path, blank=True)
    state = models.CharField(max_length=16, choices=ProposalState.choices, default=ProposalState.VISIBLE)
    hidden_reason = models.CharField(max_length=32, choices=HiddenReason.choices, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    client_network = models.CharField(max_length=64, blank=True)
    client_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "dedupe_key"], name="participation_proposal_once"),
            models.CheckConstraint(
                condition=Q(state__in=ProposalState.values), name="participation_proposal_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state=ProposalState.HIDDEN) | ~Q(hidden_reason=""),
                name="participation_proposal_hidden_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(state=ProposalState.MERGED) | Q(merged_into__isnull=False),
                name="participation_proposal_merged_has_target",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Support(models.Model):
    """A fan backs a proposal. Proposing counts as the proposer's first support.

    (proposal, voter) is unique: one support per fan and proposal. (call, voter, slot)
    is unique and the service only tries slots below the call's cap, so racing requests
    cannot exceed it. The field names follow ``Ballot`` (``voter``, ``cast_at``,
    ``client_*``) so that the fraud signals score supports exactly as they score votes.
    """

    call = models.ForeignKey(OpenCall, on_delete=models.PROTECT, related_name="+")
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="supports")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    slot = models.PositiveSmallIntegerField()
    cast_at = models.DateTimeField(default=timezone.now)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    client_network = models.CharField(max_length=64, blank=True)
    client_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "voter"], name="participation_support_once"),
            models.UniqueConstraint(fields=["call", "voter", "slot"], name="participation_support_slot"),
            models.CheckConstraint(
                condition=Q(slot__lt=MAX_SUPPORTS_PER_FAN), name="participation_support_slot_range"
            ),
        ]
        indexes = [models.Index(fields=["call", "cast_at"], name="participation_support_call")]

    def __str__(self) -> str:
        return f"{self.voter_id} supports {self.proposal_id}"


class Promotion(models.Model):
    """A proposal that became an option of a (new, draft) poll."""

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="promotion")
    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="+")
    option = models.ForeignKey(Option, null=True, on_delete=models.SET_NULL, related_name="+")
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.proposal_id} -> {self.poll_id}"
