"""Refusing throwaway addresses, the cheapest tool of account farms."""

from disposable_email_domains import blocklist
from django.utils.translation import gettext as _


def is_disposable_domain(domain: str) -> bool:
    """True for a listed domain or any subdomain of one (x.mailinator.com too)."""
    labels = domain.lower().strip(".").split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


def disposable_domain_error(email: str) -> str | None:
    domain = email.rsplit("@", 1)[-1]
    if is_disposable_domain(domain):
        return _(
            "Addresses at %(domain)s are disposable and cannot be used on Encore. "
            "Please sign up with an address you keep."
        ) % {"domain": domain}
    return None
