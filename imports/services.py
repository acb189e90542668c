"""Writes of an import: keep the uploaded file, queue the job, and run it in the worker.

The import itself (run_import) writes the whole board in one transaction: the project with its
columns, labels, cards (boards.services.bulk_create_tasks, which numbers them, keeps the counts
and records their history) and comments. So a failure at any card leaves nothing: no project,
no card, no counts row. The progress bar still moves while that transaction runs, because the
progress is written by a second thread, which Django gives a database connection of its own, and
whose short UPDATEs of the job's row commit at once (Progress). The worker reports after each
chunk of cards; the job's row is only written by the import's transaction at its very end, after
the last progress report, so the two never wait on each other.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from boards import services as boards_services
from boards import text
from boards.models import Application, Comment, Label, Membership, Project, Task
from boards.services.locks import advisory_lock_is_held, holding_advisory_lock
from boards.services.projects import check_owner, clean_project_key, clean_project_name
from imports import parsers
from imports.models import ImportJob

log = logging.getLogger(__name__)

CHUNK = 1000  # cards per bulk insert, and per progress report
Status = ImportJob.Status
NOT_DRAFT = "This import was already confirmed: follow its progress instead."
FAILED = "The import failed on our side; nothing was imported. Try again, or tell us if it keeps failing."
STOPPED = "The worker running this import stopped before it finished; nothing was imported. Try again."
# The advisory lock a worker holds on its connection while it runs an import (key: the job's id).
# A worker that dies loses its connection and the lock with it: that is how a page tells an
# import still running from one that never will finish.
IMPORT_LOCKS = 0x1A9047


def parse(job: ImportJob) -> parsers.Board:
    """The job's file read with the options chosen on the preview page; ValidationError if bad."""
    if job.kind == ImportJob.Kind.TRELLO:
        return parsers.parse_trello(job.source, categories=job.options.get("categories") or {})
    mapping = job.options.get("mapping") or parsers.guess_mapping(parsers.read_csv(job.source).header)
    return parsers.parse_csv(job.source, mapping=mapping)


def start_import(*, application: Application, actor, kind: str, file_name: str, source: str) -> ImportJob:
    """Keep an uploaded file that parsed and checked (the caller parsed it) for its preview."""
    with transaction.atomic():
        check_owner(actor, application.pk)
        return ImportJob.objects.create(
            application=application, created_by=actor, kind=kind, file_name=file_name[:255], source=source
        )


def queue_import(*, job: ImportJob, actor, name: str, key: str, options: dict) -> ImportJob:
    """Confirm a previewed import: check it once more with its options, then queue it.

    The job is queued in this transaction (procrastinate on the same connection): no job without
    the confirmation, no confirmation without its job."""
    from imports import tasks  # the task module imports this one

    errors = {}
    for field, clean in (("name", clean_project_name), ("key", clean_project_key)):
        try:
            options[field] = clean(name if field == "name" else key)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        check_owner(actor, locked.application_id)
        if locked.status != Status.DRAFT:
            raise ValidationError(NOT_DRAFT)
        if Project.objects.filter(application_id=locked.application_id, key=options["key"]).exists():
            raise ValidationError({"key": f"{options['key']} is taken in this workspace."})
        locked.options = options
        board = parse(locked)
        locked.status, locked.phase, locked.total = Status.QUEUED, "Waiting for a worker", len(board.cards)
        locked.save(update_fields=["options", "status", "phase", "total"])
        tasks.import_board.defer(job_id=locked.pk)
    return locked


class Progress:
    """Writes the job's progress from a thread of its own: Django gives each thread its own
    connection, so these UPDATEs commit at once, outside the import's transaction."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-{job_id}-progress")

    def report(self, **fields) -> None:
        # Waited for: the reports land in order, and none is left running when the import's
        # transaction writes the job's row at its end.
        self._thread.submit(self._write, fields).result()

    def _write(self, fields: dict) -> None:
        ImportJob.objects.filter(pk=self.job_id).update(**fields)

    def close(self) -> None:
        self._thread.submit(connections.close_all).result()  # the thread's connection back to the pool
        self._thread.shutdown()


def run_import(job_id: int) -> None:
    """Import a queued job's board (the worker's task); a job not waiting is left alone."""
    with holding_advisory_lock(IMPORT_LOCKS, job_id):
        _run_import(job_id)


def fail_if_stopped(job: ImportJob) -> ImportJob:
    """A running job whose worker no longer holds its lock is failed, for the page to say so."""
    if job.status == Status.RUNNING and not advisory_lock_is_held(IMPORT_LOCKS, job.pk):
        # Only a queued job is ever taken up, so a running one found unlocked stays stopped.
        ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.FAILED, phase="Failed", error=STOPPED, finished_at=timezone.now(), source=""
        )
        job.refresh_from_db()
    return job


def _run_import(job_id: int) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(skip_locked=True).filter(pk=job_id, status=Status.QUEUED).first()
        if job is None:
            return
        job.status, job.phase = Status.RUNNING, "Reading the file"
        job.save(update_fields=["status", "phase"])
    progress = Progress(job.pk)
    try:
        board = parse(job)
        progress.report(phase="Creating the board", done=0, total=len(board.cards))
        with transaction.atomic():
            project = write_board(job=job, board=board, progress=progress)
            job.status, job.project, job.phase = Status.DONE, project, "Done"
            job.done = job.total = len(board.cards)
            job.finished_at = timezone.now()
            job.source = ""  # imported: the file is no longer needed
            job.save()
    except ValidationError as error:
        _fail(job, " ".join(error.messages))
    except PermissionDenied as error:  # no longer an owner of the workspace
        _fail(job, str(error))
    except Exception:
        log.exception("import %s failed", job.pk)
        _fail(job, FAILED)
        raise
    finally:
        progress.close()


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.FAILED, phase="Failed", error=message, finished_at=timezone.now(), source=""
    )


DRAFTS_KEPT = dt.timedelta(days=1)


def forget_drafts(*, now: dt.datetime | None = None) -> int:
    """Delete uploads never confirmed within DRAFTS_KEPT (each holds its whole file); how many."""
    cutoff = (now or timezone.now()) - DRAFTS_KEPT
    deleted, _ = ImportJob.objects.filter(status=Status.DRAFT, created_at__lt=cutoff).delete()
    return deleted


def _members(application_id: int) -> dict[str, int]:
    """The workspace's members by lowered username and e-mail: imported people match only them."""
    users = get_user_model().objects.filter(
        pk__in=Membership.objects.filter(application_id=application_id).values("user_id")
    )
    found: dict[str, int] = {}
    for pk, username, email in users.values_list("pk", Lower("username"), Lower("email")):
        found.setdefault(username, pk)
        if email:
            found.setdefault(email, pk)
    return found


def _first_match(keys: Sequence[str], members: dict[str, int]) -> int | None:
    return next((members[key] for key in keys if key in members), None)


def write_board(*, job: ImportJob, board: parsers.Board, progress: Progress | None = None) -> Project:
    """The board as a new project of the job's workspace. Call inside atomic()."""
    actor = job.created_by
    check_owner(actor, job.application_id)
    project = boards_services.create_project(
        application=job.application,
        name=job.options["name"],
        key=job.options["key"],
        actor=actor,
        columns=[(column.name, column.category) for column in board.columns],
    )
    column_ids = dict(
        zip(
            [column.key for column in board.columns],
            project.task_statuses.order_by("position").values_list("pk", flat=True),
            strict=True,
        )
    )
    labels = Label.objects.bulk_create(
        Label(project=project, name=label.name, colour=label.colour) for label in board.labels
    )
    label_ids = {imported.key: label.pk for imported, label in zip(board.labels, labels, strict=True)}
    members = _members(job.application_id)
    now = timezone.now()
    done = 0
    for start in range(0, len(board.cards), CHUNK):
        chunk = board.cards[start : start + CHUNK]
        positions: dict[str, int] = {}
        tasks = []
        for card in chunk:
            rank = positions[card.column] = positions.get(card.column, start) + 1
            tasks.append(
                Task(
                    task_status_id=column_ids[card.column],
                    title=card.title,
                    description=card.description,
                    position=float(rank * boards_services.RANK_STEP),
                    archived_at=now if card.archived else None,
                    due_date=card.due_date,
                    due_at=card.due_at,
                    label_ids=[label_ids[key] for key in card.labels],
                    priority=card.priority,
                    assignee_id=_first_match(card.assignee_keys, members),
                    reporter=actor,
                    comment_count=len(card.comments),
                )
            )
        boards_services.bulk_create_tasks(project=project, tasks=tasks, actor=actor)
        _write_comments(chunk, tasks, members, actor)
        done += len(chunk)
        if progress:
            progress.report(phase=f"Writing cards: {done:,} of {len(board.cards):,}", done=done)
    return project


def _write_comments(cards: Sequence[parsers.ImportedCard], tasks: Sequence[Task], members, actor) -> None:
    comments = []
    for card, task in zip(cards, tasks, strict=True):
        for imported in card.comments:
            author_id = _first_match(imported.author_keys, members)
            body = imported.text
            if author_id is None:
                body = f"*Originally by {imported.author_name}:*\n\n{body}"
                author_id = getattr(actor, "pk", None)
            comments.append(
                Comment(
                    task_id=task.pk,
                    author_id=author_id,
                    body=body[: parsers.COMMENT_MAX],
                    body_html=text.render_markdown(body[: parsers.COMMENT_MAX]),
                    created_at=imported.at,
                )
            )
    Comment.objects.bulk_create(comments, batch_size=2000)
