from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "polls.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from accounts.data_rights import personal_data_register
        from polls.notifications.services import notifications_erase, notifications_export

        # A fan's download and account deletion include their notifications.
        personal_data_register(name="notifications", export=notifications_export, erase=notifications_erase)
