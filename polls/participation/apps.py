from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipationConfig(AppConfig):
    name = "polls.participation"
    label = "participation"
    verbose_name = _("Participation")

    def ready(self) -> None:
        from accounts.data_rights import personal_data_register
        from polls.participation.personal_data import participation_erase, participation_export

        # A fan's download and account deletion include their follows, proposals and
        # supports (accounts never imports polls: polls plugs its part in).
        personal_data_register(name="participation", export=participation_export, erase=participation_erase)
