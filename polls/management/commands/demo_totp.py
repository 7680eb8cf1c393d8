import time

from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DemoRefused, demo_totp_codes


class Command(BaseCommand):
    help = "Print the demo staff accounts' current TOTP codes (local demo only), for trying the demo without an authenticator app."

    def handle(self, *args, **options):
        try:
            codes = demo_totp_codes()
        except DemoRefused as refused:
            raise CommandError(str(refused)) from None
        if not codes:
            raise CommandError(
                "No demo staff account has an authenticator yet: run `manage.py seed_demo` first."
            )
        for email, code in sorted(codes.items()):
            self.stdout.write(f"{email}: {code}")
        self.stdout.write(f"(valid for {30 - int(time.time()) % 30} more seconds, once each)")
