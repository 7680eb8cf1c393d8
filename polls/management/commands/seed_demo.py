from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_FAN_EMAIL, DEMO_OWNER_EMAIL, DEMO_PASSWORD, demo_accounts_seed
from polls.demo import seed as seed_polls


class Command(BaseCommand):
    help = "Create the demo agency, owner, fan and polls (idempotent) and print the logins."

    def handle(self, *args, **options):
        if not settings.LOCAL_DEMO:
            # The demo owner's password is printed here and in README.md: an agency
            # owner anyone can sign in as must never exist on a real deployment.
            why = ["ENCORE_ENV=production"] if settings.PRODUCTION else settings.OFF_EMBEDDED_DEFAULTS
            raise CommandError(
                "seed_demo runs only on the local demo's embedded defaults: it creates accounts "
                f"whose password is public. Refused here because {'; '.join(why)}."
            )
        self.stdout.write("Seeding demo accounts…")
        demo_accounts_seed()
        seed_polls(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for both: {DEMO_PASSWORD})"))
        self.stdout.write(f"  fan:          {DEMO_FAN_EMAIL}")
        self.stdout.write(f"  agency owner: {DEMO_OWNER_EMAIL}")
