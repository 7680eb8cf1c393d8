from django.core.management.base import BaseCommand

from accounts.demo import DEMO_FAN_EMAIL, DEMO_OWNER_EMAIL, DEMO_PASSWORD, demo_accounts_seed
from polls.demo import seed as seed_polls


class Command(BaseCommand):
    help = "Create the demo agency, owner, fan and polls (idempotent) and print the logins."

    def handle(self, *args, **options):
        self.stdout.write("Seeding demo accounts…")
        demo_accounts_seed()
        seed_polls(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for both: {DEMO_PASSWORD})"))
        self.stdout.write(f"  fan:          {DEMO_FAN_EMAIL}")
        self.stdout.write(f"  agency owner: {DEMO_OWNER_EMAIL}")
