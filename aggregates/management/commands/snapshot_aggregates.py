import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from aggregates.snapshots import take_daily_snapshots


class Command(BaseCommand):
    help = "Take today's per-category snapshot of every project (run daily, late; safe to repeat)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to file the snapshot under, YYYY-MM-DD (default: today).")

    def handle(self, *args, date=None, **options):
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date must look like 2026-01-31, not “{date}”.") from None
        count = take_daily_snapshots(day)
        self.stdout.write(f"Snapshot of {count} project(s) taken.")
