"""Receivers that keep stored voter cards (accounts/voter_cards.py) in step with the
accounts they describe: any change to a user or their addresses makes their cards
stale; signing in stores one, signing out drops it."""

from allauth.account.models import EmailAddress
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from accounts.voter_cards import card_version_bump, voter_card_forget, voter_card_store


@receiver(post_save, sender=User, dispatch_uid="voter-card-user-saved")
def user_saved(sender, instance: User, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # signing in changes nothing a vote reads
    card_version_bump(instance.pk)


@receiver(post_save, sender=EmailAddress, dispatch_uid="voter-card-address-saved")
@receiver(post_delete, sender=EmailAddress, dispatch_uid="voter-card-address-deleted")
def address_changed(sender, instance: EmailAddress, **kwargs) -> None:
    card_version_bump(instance.user_id)


@receiver(user_logged_in, dispatch_uid="voter-card-login")
def signed_in(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        voter_card_store(session_key=session.session_key, user=user)


@receiver(user_logged_out, dispatch_uid="voter-card-logout")
def signed_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        voter_card_forget(session_key=session.session_key)
