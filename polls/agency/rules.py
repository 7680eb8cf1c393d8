"""What an agency sets on a poll and its options: the fields, their limits, and the
row lock that serialises changes to one poll.

Every change by agency staff locks the poll's row (``SELECT ... FOR UPDATE``) for its
transaction, so that, say, adding an option cannot interleave with scheduling: the
freeze holds under concurrency.
"""

from datetime import timedelta
from decimal import Decimal

from accounts.verification import VerificationLevel
from polls.models import Poll, PollKind

# Text that says what a poll is about, its language and its translations; it may be
# corrected until the poll is published.
POLL_TEXT_FIELDS = ("title", "description", "language", "translations")
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

OPTION_COMMON_FIELDS = ("label", "description", "position", "translations")
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

SLUG_BASE_LENGTH = 60
# The random ending of a slug made from a title (hex digits = 2 x bytes).
SLUG_SUFFIX_BYTES = 3
# Words the agency pages use in their own paths next to poll slugs.
RESERVED_SLUGS = frozenset({"new"})
COORDINATE_STEP = Decimal("0.00001")


def poll_locked(poll: Poll) -> Poll:
    """The poll's row, locked until the end of the caller's transaction."""
    return Poll.objects.select_for_update().select_related("agency").get(pk=poll.pk)
