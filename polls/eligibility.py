"""Who may vote in a poll: verification level, account age at opening, country."""

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.verification import VerificationLevel, level_rank
from accounts.voter_cards import VoterCard
from polls.errors import PollRuleError, VoteRefused
from polls.models import Ballot, Poll, PollState
from voting.errors import Code


def check_voter_eligible(*, poll: Poll, voter: VoterCard) -> None:
    """Raise VoteRefused naming the first rule the voter fails; return if eligible.

    ``email_unverified`` when the address is not verified (the fan can fix that);
    otherwise ``not_eligible`` with a ``reason``: ``verification_level``,
    ``account_too_new``, ``country_unknown`` or ``country``.
    """
    level = voter.level
    if level == VerificationLevel.NONE:
        raise VoteRefused(Code.EMAIL_UNVERIFIED, _("Verify your email address before voting."))
    if level_rank(level) < level_rank(poll.least_verification):
        raise VoteRefused(
            Code.NOT_ELIGIBLE,
            _("This poll is open to accounts with the level “%(level)s” or above.")
            % {"level": VerificationLevel(poll.least_verification).label},
            reason="verification_level",
        )
    if poll.least_account_age and voter.joined > poll.opens_at - poll.least_account_age:
        days = max(1, round(poll.least_account_age.total_seconds() / 86400))
        raise VoteRefused(
            Code.NOT_ELIGIBLE,
            ngettext(
                "Your account must have been created at least %(days)s day before the poll opened.",
                "Your account must have been created at least %(days)s days before the poll opened.",
                days,
            )
            % {"days": days},
            reason="account_too_new",
        )
    allowed = {country.code for country in poll.allowed_countries}
    blocked = {country.code for country in poll.blocked_countries}
    if not (allowed or blocked):
        return
    country = voter.country
    if not country:
        raise VoteRefused(
            Code.NOT_ELIGIBLE,
            _("This poll is limited by country. Set your country in your profile first."),
            reason="country_unknown",
        )
    if (allowed and country not in allowed) or country in blocked:
        raise VoteRefused(
            Code.NOT_ELIGIBLE, _("This poll is not open to voters in your country."), reason="country"
        )


def check_country_change(*, user, country: str) -> None:
    """One of ``COUNTRY_CHANGE_CHECKS`` (accounts asks it without importing polls):
    a fan whose ballots stand in an open poll limited by country keeps the country they
    voted with until the last such poll closes. Otherwise voting, changing country and
    voting again would reach polls of two countries with one account.

    Raises PollRuleError (``country_change_locked``, reason ``open_ballots``).
    """
    now = timezone.now()
    open_country_limited = (
        Poll.objects.filter(state=PollState.SCHEDULED, opens_at__lte=now, closes_at__gt=now)
        .filter(Q(closed_early_at__isnull=True) | Q(closed_early_at__gt=now))
        .exclude(allowed_countries="", blocked_countries="")
    )
    polls = list(open_country_limited.filter(pk__in=Ballot.objects.filter(voter=user).values("poll_id")))
    if not polls:
        return
    last_close = max(poll.effective_closes_at for poll in polls)
    raise PollRuleError(
        Code.COUNTRY_CHANGE_LOCKED,
        _(
            "You voted in a poll open to some countries only, and it is still open. "
            "You can change your country once it closes (%(date)s)."
        )
        % {"date": formats.date_format(timezone.localtime(last_close), "DATE_FORMAT")},
        reason="open_ballots",
    )
