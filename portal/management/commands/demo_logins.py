from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, example_logins


class Command(BaseCommand):
    help = "Print the demo logins to try first (the same list seed_demo prints)."
    requires_system_checks = []

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_logins only runs with DEBUG on: it is for demo data.")
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD})")
        for email, who in example_logins():
            self.stdout.write(f"  {email:<40} {who}")
