from django.core.management.base import BaseCommand, CommandError

from accounts.demo import (
    DEMO_FAN_EMAIL,
    DEMO_MANAGER_EMAIL,
    DEMO_OWNER_EMAIL,
    DEMO_PASSWORD,
    DemoAuthenticator,
    DemoRefused,
    check_demo_allowed,
    demo_accounts_seed,
)
from polls.demo import seed as seed_polls


class Command(BaseCommand):
    help = (
        "Create the demo agency, owner, second manager, fan and polls (idempotent) and print "
        "the logins with the staff's TOTP secrets."
    )

    def handle(self, *args, **options):
        try:
            check_demo_allowed()
        except DemoRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write("Seeding demo accounts…")
        accounts = demo_accounts_seed()
        seed_polls(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        self.stdout.write(f"  fan:            {DEMO_FAN_EMAIL}")
        self._staff("agency owner:  ", DEMO_OWNER_EMAIL, accounts.owner_totp)
        self._staff("second manager:", DEMO_MANAGER_EMAIL, accounts.manager_totp)
        self.stdout.write(
            "  Add a TOTP secret to an authenticator app (or paste the otpauth:// URI into one), then\n"
            "  sign in with the password and the app's 6-digit code: scheduling, closing, reviewing\n"
            "  and publishing need a session that used it. A request to invalidate many ballots\n"
            "  waits for the other staff member's approval (four eyes). No authenticator app at\n"
            "  hand? `.venv/bin/python manage.py demo_totp` prints the current codes."
        )

    def _staff(self, role: str, email: str, totp: DemoAuthenticator) -> None:
        self.stdout.write(f"  {role} {email}")
        self.stdout.write(f"    TOTP secret:    {totp.secret}")
        self.stdout.write(f"    otpauth URI:    {totp.otpauth_uri}")
        self.stdout.write(
            f"    recovery codes: {' '.join(totp.recovery_codes[:3])} (and more under /accounts/2fa/)"
        )
