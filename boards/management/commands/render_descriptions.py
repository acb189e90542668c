"""Store freshly rendered HTML for card descriptions after the renderer changed."""

from django.core.management.base import BaseCommand, CommandError

from boards.descriptions import BATCH_SIZE, rerender_descriptions
from boards.models import Task
from boards.text import RENDERER_VERSION


class Command(BaseCommand):
    help = (
        "Re-render every card description not rendered by the current renderer "
        f"(version {RENDERER_VERSION}), in batches. Safe to run while the site is up."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", dest="force", action="store_true", help="re-render every description")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"cards per transaction ({BATCH_SIZE})")

    def handle(self, *args, force, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        rendered, skipped = rerender_descriptions(Task, batch_size=batch_size, force=force)
        self.stdout.write(f"Rendered {rendered} description(s) with renderer version {RENDERER_VERSION}.")
        if skipped:
            self.stdout.write(f"Skipped {skipped} card(s) being edited right now: run the command again.")
