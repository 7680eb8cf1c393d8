"""What the session behind a request proved about its user: that it passed a second
factor, and when it last proved a credential.

Having an authenticator is not using it: a session signed in with a password alone
must not pass an MFA gate. allauth records every authentication step of a session
(password, login code, social login, MFA, reauthentication, each with its time) in
the session itself; ``allauth.account.authentication.get_authentication_records``
reads them back.

Services are called with a user, not a request (by pages, by the API and by tests), so
the request's user object carries what its session proved, as ``session_assurance``:
``accounts.middleware.SessionAssuranceMiddleware`` marks the user of a browser session
and ``accounts.authentication.XSessionTokenAuthentication`` the user of an app's
``X-Session-Token``. A user object no session marked (a worker, a management command,
a plain query) has proved nothing, so every gate that asks refuses it: this fails
closed. ``accounts.permissions.check_agency_action`` is the one place that asks.
"""

import time
from dataclasses import dataclass
from types import SimpleNamespace

from allauth.account import app_settings as allauth_account_settings
from allauth.account.authentication import get_authentication_records

ATTRIBUTE = "session_assurance"
# allauth's record of a passed second factor (TOTP, WebAuthn, a recovery code, or a
# passkey sign-in, which is a security key with user verification).
MFA_METHOD = "mfa"


@dataclass(frozen=True)
class SessionAssurance:
    mfa_used: bool = False
    # Epoch seconds of the session's latest credential proof (sign-in or reauthentication).
    authenticated_at: float | None = None

    @classmethod
    def from_records(cls, records: list[dict]) -> "SessionAssurance":
        times = [record["at"] for record in records if isinstance(record.get("at"), int | float)]
        return cls(
            mfa_used=any(record.get("method") == MFA_METHOD for record in records),
            authenticated_at=max(times, default=None),
        )

    def authenticated_within(self, seconds: float) -> bool:
        return self.authenticated_at is not None and time.time() - self.authenticated_at <= seconds


NOTHING_PROVED = SessionAssurance()


def assurance_attach(user, session):
    """Mark ``user`` with what ``session`` recorded about them; returns the user."""
    if getattr(user, "is_authenticated", False):
        records = get_authentication_records(SimpleNamespace(session=session), user)
        setattr(user, ATTRIBUTE, SessionAssurance.from_records(records))
    return user


def assurance_of(user) -> SessionAssurance:
    return getattr(user, ATTRIBUTE, None) or NOTHING_PROVED


def reauthentication_timeout() -> int:
    """Seconds a sign-in or reauthentication counts as recent (allauth's
    ``ACCOUNT_REAUTHENTICATION_TIMEOUT``, 300 by default)."""
    return allauth_account_settings.REAUTHENTICATION_TIMEOUT
