"""The development instance's staff account (admin / admin), so `make run` opens the admin too."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import services

USERNAME = "admin"
PASSWORD = "admin"  # development only, like the demo user's: the command refuses with DEBUG off


class Command(BaseCommand):
    help = "Create the staff superuser admin / admin when it does not exist (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("dev_admin makes a superuser with a known password: DEBUG only. Use createsuperuser.")
        _, created = services.ensure_staff_account(username=USERNAME, password=PASSWORD)
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Created the staff account: log in to /admin/ as {USERNAME} / {PASSWORD}")
            )
        else:
            self.stdout.write(f"The staff account {USERNAME} exists already; its password is left as it is.")
