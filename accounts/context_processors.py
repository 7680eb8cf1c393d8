from accounts.verification import VerificationLevel, verification_level_of


def verification(request) -> dict:
    """The signed-in user's verification level, lazily, for the header banner."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def level():
        if not hasattr(request, "_verification_level"):
            request._verification_level = verification_level_of(user)
        return request._verification_level

    return {
        "verification_level": level,
        "email_unverified": lambda: level() == VerificationLevel.NONE,
    }
