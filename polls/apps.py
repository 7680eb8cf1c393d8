from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PollsConfig(AppConfig):
    name = "polls"
    verbose_name = _("Polls")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.data_rights import personal_data_register
        from polls.models import Option, Poll
        from polls.personal_data import ballots_erase, ballots_export
        from polls.selectors import poll_cache_forget

        # A fan's download and account deletion include their ballots (accounts never
        # imports polls: polls plugs its part in).
        personal_data_register(name="ballots", export=ballots_export, erase=ballots_erase)

        # A save in this process drops its cached copy at once; other processes' copies
        # expire within POLL_CACHE_SECONDS.
        def poll_changed(sender, instance, **kwargs) -> None:
            poll_cache_forget(slug=instance.slug if isinstance(instance, Poll) else None)

        for model in (Poll, Option):
            post_save.connect(poll_changed, sender=model, dispatch_uid=f"poll-cache-{model.__name__}-saved")
            post_delete.connect(
                poll_changed, sender=model, dispatch_uid=f"poll-cache-{model.__name__}-deleted"
            )
