from django.core.management.base import BaseCommand

from accounts.demo import DEMO_FAN_EMAIL, DEMO_OWNER_EMAIL, DEMO_PASSWORD, demo_accounts_seed


class Command(BaseCommand):
    help = "Create the demo agency, owner and fan (idempotent) and print their logins."

    def handle(self, *args, **options):
        self.stdout.write("Seeding demo accounts…")
        demo_accounts_seed()
        for seeder in self._more_seeders():
            seeder(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for both: {DEMO_PASSWORD})"))
        self.stdout.write(f"  fan:          {DEMO_FAN_EMAIL}")
        self.stdout.write(f"  agency owner: {DEMO_OWNER_EMAIL}")

    def _more_seeders(self):
        """Other apps add their demo data by offering ``demo.seed(stdout=...)``."""
        try:
            from polls.demo import seed
        except ImportError:
            return []
        return [seed]
