import time

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current TOTP code shared by the demo's directors and office admin."
    # A code lives 30 s: print it at once, without the system checks' few seconds.
    requires_system_checks = []

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_totp only runs with DEBUG on: it is for demo data.")
        now = time.time()
        counter = int(now) // app_settings.TOTP_PERIOD
        code = format_hotp_value(hotp_value(DEMO_TOTP_SECRET, counter))
        remaining = app_settings.TOTP_PERIOD - int(now) % app_settings.TOTP_PERIOD
        self.stdout.write(code)
        if options["verbosity"] >= 1:
            self.stderr.write(f"valid for another {remaining} s")
