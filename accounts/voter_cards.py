"""What a vote needs to know about the signed-in account, without reading the account.

A ``VoterCard`` holds the facts the vote rules read (account id, verification level,
country, when the account was created, language). The vote service builds one from
the user (one query, for the verified address). The lean vote path (``voting.lean``)
instead reads a card kept in Redis under the app session's token, in the same round
trip as the session check and the rate-limit counters, so a vote costs no query for
the account.

A stored card is only ever a cache of the account: it carries the account's *card
version*, and any change to the user or their addresses bumps that version
(``card_version_bump``, after commit), so a card written before the change is never
used again. Cards also expire (``VOTER_CARD_SECONDS``) and die with their session.
"""

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from accounts.verification import VerificationLevel, verification_level_of
from voting.ratelimits import COUNT_LUA

logger = logging.getLogger("encore.cache")


@dataclass(frozen=True)
class VoterCard:
    user_id: int
    level: str
    country: str
    joined: datetime
    language: str = ""
    version: int = 0

    # The vote rules ask these of a voter, as they would of a User.
    @property
    def pk(self) -> int:
        return self.user_id

    def as_json(self) -> str:
        data = asdict(self)
        data["joined"] = self.joined.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "VoterCard":
        data = json.loads(text)
        data["joined"] = datetime.fromisoformat(data["joined"])
        return cls(**data)


def voter_card_of(user, *, version: int = 0, email_verified: bool | None = None) -> VoterCard:
    """The card of a user, read from the database (one query for the address, unless
    ``email_verified`` is given)."""
    if isinstance(user, VoterCard):
        return user
    level = verification_level_of(user, email_verified=email_verified)
    return VoterCard(
        user_id=user.pk,
        level=str(level if user.is_authenticated else VerificationLevel.NONE),
        country=(user.country.code or "") if user.country else "",
        joined=user.date_joined,
        language=user.preferred_language or "",
        version=version,
    )


# ------------------------------------------------------------------ stored cards (Redis)


def card_store_available() -> bool:
    return bool(settings.REDIS_URL)


def card_key(session_key: str) -> str:
    return f"{settings.LEAN_KEY_PREFIX}vc:{session_key}"


def card_version_key_prefix() -> str:
    return f"{settings.LEAN_KEY_PREFIX}vcv:"


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def voter_card_store(*, session_key: str, user) -> VoterCard | None:
    """Keep the user's card under the session's token for the lean vote path, and
    return it (the facts were just read: a caller may vote with it).

    The version is read before the facts, so a change racing with this write leaves a
    card whose version is already old: never used, never wrong.
    """
    if not card_store_available() or not session_key or not user.is_authenticated:
        return None
    try:
        connection = _redis()
        version = int(connection.get(card_version_key_prefix() + str(user.pk)) or 0)
    except Exception:
        logger.warning("voter card not stored: cache unavailable", exc_info=True)
        return None
    card = voter_card_of(user, version=version)
    try:
        connection.set(card_key(session_key), card.as_json(), ex=settings.VOTER_CARD_SECONDS)
    except Exception:
        logger.warning("voter card not stored: cache unavailable", exc_info=True)
    return card


def voter_cards_store_many(sessions: list[tuple[str, object]]) -> None:
    """Store the cards of many (session key, user) pairs at once, as signing in each
    would: for seeding the demo and the benchmark."""
    from allauth.account.models import EmailAddress

    if not card_store_available() or not sessions:
        return
    users = [user for _key, user in sessions]
    verified = set(
        EmailAddress.objects.filter(user__in=users, verified=True).values_list("user_id", flat=True)
    )
    connection = _redis()
    versions = connection.mget([card_version_key_prefix() + str(user.pk) for user in users])
    pipeline = connection.pipeline(transaction=False)
    for (session_key, user), version in zip(sessions, versions, strict=True):
        card = voter_card_of(user, version=int(version or 0), email_verified=user.pk in verified)
        pipeline.set(card_key(session_key), card.as_json(), ex=settings.VOTER_CARD_SECONDS)
    pipeline.execute()


def voter_card_forget(*, session_key: str) -> None:
    if not card_store_available() or not session_key:
        return
    try:
        _redis().delete(card_key(session_key))
    except Exception:
        logger.warning("voter card not deleted: cache unavailable", exc_info=True)


def card_version_bump(user_id: int) -> None:
    """Make every stored card of the user stale, once the change is committed."""
    if not card_store_available():
        return

    def bump() -> None:
        try:
            key = card_version_key_prefix() + str(user_id)
            connection = _redis()
            connection.incr(key)
            connection.expire(key, settings.VOTER_CARD_SECONDS * 2)
        except Exception:
            # Cards expire after VOTER_CARD_SECONDS: that bounds how long one can be stale.
            logger.warning("voter card version not bumped: cache unavailable", exc_info=True)

    transaction.on_commit(bump)


# ------------------------------------------------------------------ the lean vote's gate

# KEYS: the card, the session in the cache. ARGV[1]: prefix of the card version keys;
# then key, limit, period of each rate-limit rule, where ACCOUNT_PLACEHOLDER in a key
# stands for the card's account id. Answers {0} (no usable card: take the full path),
# {1, card} or {2, card, seconds to wait}.
GATE_LUA = (
    COUNT_LUA
    + """
local card = redis.call('GET', KEYS[1])
if not card then return {0} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
local id = string.match(card, '"user_id":(%d+)')
local version = string.match(card, '"version":(%d+)')
if not id or (redis.call('GET', ARGV[1] .. id) or '0') ~= version then return {0} end
for i = 2, #ARGV, 3 do
  local key = string.gsub(ARGV[i], '@ID@', id)
  local wait = count(key, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))
  if wait > 0 then return {2, card, wait} end
end
return {1, card}
"""
)
ACCOUNT_PLACEHOLDER = "@ID@"


def voter_card_gate(*, session_key: str, counters: list[str]) -> tuple[VoterCard, int] | None:
    """In one Redis round trip: the session's stored card, if the session still exists
    and the card is current, and the rate-limit counters of the vote (``counters``,
    as ``voting.ratelimits.scope_counters`` gives them) counted for its account.
    Returns (card, seconds to wait or 0), or None when the full path must answer (no
    card, a stale one, or Redis unavailable)."""
    from django.conf import settings as django_settings
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.core.cache import caches

    try:
        connection = _redis()
        script = getattr(connection, "_encore_gate_script", None)
        if script is None:
            script = connection.register_script(GATE_LUA)
            connection._encore_gate_script = script
        session_cache_key = caches[django_settings.SESSION_CACHE_ALIAS].make_key(KEY_PREFIX + session_key)
        answer = script(
            keys=[card_key(session_key), str(session_cache_key)],
            args=[card_version_key_prefix(), *counters],
        )
    except Exception:
        logger.warning("lean vote gate unavailable", exc_info=True)
        return None
    if not answer or int(answer[0]) == 0:
        return None
    card = VoterCard.from_json(answer[1])
    return card, int(answer[2]) if int(answer[0]) == 2 else 0
