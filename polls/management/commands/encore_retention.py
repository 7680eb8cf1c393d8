from django.core.management.base import BaseCommand

from polls.retention import retention_apply


class Command(BaseCommand):
    help = (
        "Reduce raw client IPs older than RAW_IP_RETENTION_DAYS (ballots, audit log, user sessions); "
        "drop stored answers older than 24 h."
    )

    def handle(self, *args, **options):
        report = retention_apply()
        self.stdout.write(
            f"{report.addresses_reduced} ballot addresses reduced to their network, "
            f"{report.answers_deleted} stored answers deleted, "
            f"{report.audit_addresses_dropped} audit log addresses dropped, "
            f"{report.session_addresses_reduced} session addresses reduced to their network, "
            f"{report.sessions_forgotten} ended sessions forgotten"
        )
