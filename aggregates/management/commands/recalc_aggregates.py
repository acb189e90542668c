"""manage.py recalc_aggregates [--check] [--project ID ...]: thin; the work is aggregates.recalc."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aggregates import recalc
from boards.models import Project


class Command(BaseCommand):
    help = "Rebuild every project's task counts and derived status from the tasks, or --check them."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; list differing projects, exit 1.")
        parser.add_argument("--project", type=int, nargs="+", metavar="ID", help="Only these projects.")
        parser.add_argument("--batch-size", type=int, default=recalc.BATCH_SIZE, help="Projects per statement.")

    def handle(self, *args, check=False, project=None, batch_size=recalc.BATCH_SIZE, **options):
        try:
            ids = recalc.project_ids(project)
        except Project.DoesNotExist as error:
            raise CommandError(str(error)) from None
        with tqdm(total=len(ids), unit="project", disable=not self.stdout.isatty()) as bar:
            if check:
                drifts = recalc.check(ids, batch_size=batch_size, on_batch=bar.update)
            else:
                result = recalc.rebuild(ids, batch_size=batch_size, on_batch=bar.update)
        if check:
            for drift in drifts:
                self.stdout.write(drift.describe())
            if drifts:
                raise CommandError(f"{len(drifts)} of {len(ids)} project(s) differ from a recount.", returncode=1)
            self.stdout.write(self.style.SUCCESS(f"All {len(ids)} project(s) match a recount."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {result.projects} project(s): {len(result.created)} missing row(s) created, "
                f"{len(result.fixed)} row(s) corrected, {result.statuses_fixed} derived status(es) corrected."
            )
        )
