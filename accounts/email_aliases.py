"""One inbox, one account: the spellings of an address that reach the same mailbox.

``fan+1@example.com`` and ``fan+2@example.com`` land in ``fan@example.com``'s inbox at
most providers, and Gmail ignores dots as well (``f.a.n@gmail.com``). Account farms
use exactly this to make many verified accounts from one mailbox. The *canonical form*
of an address drops the ``+tag`` (at every domain) and, at providers known to ignore
them, the dots; ``User.canonical_email`` holds it under a unique constraint, so one
canonical form is one account. See docs/decisions/email-aliases.md.
"""

# Providers that deliver "f.a.n" to "fan", and the one domain their addresses share.
DOT_INSENSITIVE_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    """The canonical form of an address: lower case, no ``+tag``, no dots at Gmail.

    >>> canonical_email("F.a.n+Encore@GoogleMail.com")
    'fan@gmail.com'
    """
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    domain = domain.rstrip(".")
    untagged = local.split("+", 1)[0]
    if untagged:  # "+only@x" has no base to fall back on: keep it whole
        local = untagged
    if domain in DOT_INSENSITIVE_DOMAINS:
        local = local.replace(".", "")
        domain = DOT_INSENSITIVE_DOMAINS[domain]
    return f"{local}@{domain}"


def account_of_address(address: str, *, exclude_user_id: int | None = None):
    """The account whose address has the same canonical form, or None."""
    from accounts.models import User

    accounts = User.objects.filter(canonical_email=canonical_email(address))
    if exclude_user_id is not None:
        accounts = accounts.exclude(pk=exclude_user_id)
    return accounts.only("pk", "email").first()
