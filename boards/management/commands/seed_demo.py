"""Build the demo board, or a large data set for benchmarks, with exact counts."""

import time

from django.core.management.base import BaseCommand, CommandError

from boards.demo import HISTORY_DAYS, PLAYED_CARDS, seed_demo


class Command(BaseCommand):
    help = "Create the demo user (demo / demo), a workspace and projects full of cards."

    def add_arguments(self, parser):
        parser.add_argument("--projects", type=int, default=3, help="projects to create (default 3)")
        parser.add_argument("--tasks", type=int, default=600, help="cards in all, spread over the projects (600)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any project exists")
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help=f"days of history played for the first {PLAYED_CARDS} cards of each project; 0 for none, "
            f"the fastest for large data sets ({HISTORY_DAYS})",
        )

    def handle(self, *args, projects, tasks, if_empty, history_days, **options):
        if projects < 1 or tasks < 0 or not 0 <= history_days <= 3650:
            raise CommandError("--projects must be at least 1, --tasks at least 0, --history-days 0 to 3650.")
        started = time.monotonic()
        result = seed_demo(projects=projects, tasks=tasks, only_if_empty=if_empty, history_days=history_days)
        if result is None:
            self.stdout.write("There are projects already; --if-empty leaves them alone.")
            return
        if result.created_user:
            self.stdout.write(self.style.SUCCESS("Created the demo user: log in as demo / demo"))
        else:
            self.stdout.write("The demo user exists already; it owns this new workspace too.")
        self.stdout.write(
            f"Workspace “{result.application.name}”: {result.projects} project(s), {result.tasks} card(s) "
            f"in {time.monotonic() - started:.1f} s."
        )
