from django.core.management.base import BaseCommand

from polls.retention import retention_apply


class Command(BaseCommand):
    help = "Reduce raw client IPs older than RAW_IP_RETENTION_DAYS to networks; drop stored answers older than 24 h."

    def handle(self, *args, **options):
        report = retention_apply()
        self.stdout.write(
            f"{report.addresses_reduced} ballot addresses reduced to their network, "
            f"{report.answers_deleted} stored answers deleted"
        )
