"""Importing a board end to end: upload, preview, queue, the real worker, the board it leaves."""

import datetime as dt
import threading
from collections import Counter
from contextlib import contextmanager

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from aggregates.models import ProjectTaskStatusAgg
from boards.models import Comment, Label, Membership, Project, Task, TaskEvent
from imports import services
from imports.models import ImportJob
from tests.factories import MembershipFactory, UserFactory
from tests.support.queue import queued, run_queued_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_empty_queue")]

CSV = (
    "Summary,Details,Status,Tags,Deadline,Owner,Prio\n"
    'Write intro,First **draft**,To do,"docs, web",2026-12-24,carol@example.com,high\n'
    "Fix login,,In progress,bug,,nobody@example.com,\n"
    'Ship it,"Two\nlines",Done,web,2026-12-31T17:00:00+01:00,carol,urgent\n'
    "Plan Q1,,To do,,,,low\n"
)


def upload(client, application, content: bytes, kind: str, name: str = "board.json"):
    return client.post(
        reverse("import_start", args=[application.pk]),
        {"kind": kind, "file": SimpleUploadedFile(name, content)},
    )


def nothing_created(application) -> None:
    assert not Project.objects.filter(application=application).exists()
    assert not Task.objects.exists()
    assert not ProjectTaskStatusAgg.objects.exists()
    assert queued("imports.import_board") == []


def recount(project) -> dict[str, int]:
    live = Counter(Task.objects.live().filter(project=project).values_list("task_status__category", flat=True))
    return {f"{category}_tasks": live[category] for category in ("todo", "active", "review", "issue", "done")} | {
        "total_tasks": sum(live.values())
    }


def stored_counts(project) -> dict[str, int]:
    row = ProjectTaskStatusAgg.objects.get(project=project)
    return {name: getattr(row, name) for name in recount(project)}


def import_trello(client, application, trello_bytes, **choices) -> ImportJob:
    response = upload(client, application, trello_bytes, "trello")
    assert response.status_code == 302, response.content.decode()
    job = ImportJob.objects.get()
    data = {"name": "Shed", "key": "SHED", **{f"category_{i}": c for i, c in enumerate(DEFAULT_CATEGORIES)}}
    data.update(choices)
    response = client.post(reverse("import_preview", args=[job.pk]), data)
    assert response.status_code == 302, response.content.decode()
    return job


DEFAULT_CATEGORIES = ["todo", "active", "review", "issue", "done"]


def import_trello_confirm(client, job: ImportJob) -> None:
    data = {"name": "Shed", "key": "SHED", **{f"category_{i}": c for i, c in enumerate(DEFAULT_CATEGORIES)}}
    assert client.post(reverse("import_preview", args=[job.pk]), data).status_code == 302


class TestTrelloImport:
    def test_the_fixture_imports_exactly(self, owner_client, owner, application, trello_bytes):
        ana = UserFactory(username="ana")
        MembershipFactory(application=application, user=ana, role=Membership.Role.EDITOR)
        UserFactory(username="bo_trello")  # a user of the site, not of this workspace: never matched

        response = upload(owner_client, application, trello_bytes, "trello")
        job = ImportJob.objects.get()
        preview = " ".join(owner_client.get(response["Location"]).content.decode().split())
        assert 'value="Garden shed rebuild"' in preview  # the board's name suggested
        assert "8 card(s), 5 label(s), 5 checklist item(s), 3 comment(s)" in preview
        assert "The archived list “Old ideas”: its 1 card(s) come in archived" in preview
        for name in ["Backlog", "Doing", "Code review", "Blocked", "Done"]:
            assert f"<td>{name}</td>" in preview
        assert ' value="issue" selected' in preview  # Blocked guessed as an issue column

        data = {"name": "Shed", "key": "SHED", **{f"category_{i}": c for i, c in enumerate(DEFAULT_CATEGORIES)}}
        assert owner_client.post(reverse("import_preview", args=[job.pk]), data).status_code == 302
        (queued_job,) = queued("imports.import_board")
        assert queued_job.args == {"job_id": job.pk}
        run_queued_jobs()

        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE, job.error
        project = job.project
        assert (project.name, project.key, project.application_id) == ("Shed", "SHED", application.pk)
        columns = list(project.task_statuses.order_by("position").values_list("name", "category"))
        assert columns == [
            ("Backlog", "todo"),
            ("Doing", "active"),
            ("Code review", "review"),
            ("Blocked", "issue"),
            ("Done", "done"),
        ]
        labels = {label.name: label.colour for label in Label.objects.filter(project=project)}
        assert labels == {
            "Urgent": "#b91c1c",  # red
            "Design": "#0e7490",  # sky -> Cyan
            "Green": "#047857",  # no name: named for its colour
            "Later": "#7c3aed",  # purple_dark -> Violet
            "Misc": "#374151",  # no colour -> Grey
        }
        label_id = {name: pk for pk, name in Label.objects.filter(project=project).values_list("pk", "name")}

        cards = {task.title: task for task in Task.objects.filter(project=project).select_related("task_status")}
        assert set(cards) == {
            "Buy timber",
            "Clear the site",
            "Pour foundation",
            "Check level",
            "Rain delay",
            "Draw plans",
            "Paint it pink",
            "Greenhouse",
        }
        backlog = Task.objects.live().filter(project=project, task_status__name="Backlog").order_by("position")
        assert [task.title for task in backlog] == ["Clear the site", "Buy timber"]  # Trello's pos, not file order

        timber = cards["Buy timber"]
        assert timber.description == "Spruce, **treated**.\n\n**Checklist**\n\n- [x] Measure\n- [ ] Order"
        assert (timber.checklist_done, timber.checklist_total) == (1, 2)
        assert "<strong>treated</strong>" in timber.description_html
        assert timber.description_html.count('type="checkbox"') == 2
        assert timber.due_at == dt.datetime(2026, 12, 5, 15, 30, tzinfo=dt.UTC)
        assert timber.due_date == dt.date(2026, 12, 5)
        assert sorted(timber.label_ids) == sorted([label_id["Urgent"], label_id["Green"]])
        assert timber.assignee == ana
        assert timber.reporter == owner
        assert timber.comment_count == 2

        foundation = cards["Pour foundation"]
        assert foundation.task_status.name == "Doing"
        assert foundation.description == "**Materials**\n\n- [x] Gravel\n- [x] Cement\n\n**Tools**\n\n- [ ] Mixer"
        assert (foundation.checklist_done, foundation.checklist_total) == (2, 3)
        assert foundation.label_ids == [label_id["Later"]]
        assert foundation.assignee is None
        assert foundation.comment_count == 1

        assert cards["Clear the site"].assignee is None  # bo_trello is no member of the workspace
        assert sorted(cards["Check level"].label_ids) == sorted([label_id["Design"], label_id["Misc"]])
        assert cards["Check level"].description_html.strip() == "<p>Use the <em>long</em> level.</p>"
        assert cards["Rain delay"].task_status.name == "Blocked"
        assert cards["Draw plans"].task_status.name == "Done"
        assert cards["Draw plans"].due_date is None

        pink, greenhouse = cards["Paint it pink"], cards["Greenhouse"]
        assert pink.archived_at is not None and pink.task_status.name == "Backlog"
        assert greenhouse.archived_at is not None and greenhouse.task_status.name == "Backlog"
        assert greenhouse.label_ids == [label_id["Design"]]

        numbers = sorted(task.number for task in cards.values())
        assert numbers == list(range(1, 9))

        comments = list(Comment.objects.filter(task=timber).order_by("created_at"))
        assert [(c.author, c.body) for c in comments] == [
            (ana, "Ordered from the yard."),
            (owner, "*Originally by Bo Berg:*\n\nToo expensive?"),
        ]
        assert comments[0].created_at == dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
        assert "<em>Originally by Bo Berg:</em>" in comments[1].body_html
        (mixer,) = Comment.objects.filter(task=foundation)
        assert (mixer.author, mixer.body) == (owner, "*Originally by Bo Berg:*\n\nRent a mixer.")

        expected = {
            "todo_tasks": 2,
            "active_tasks": 1,
            "review_tasks": 1,
            "issue_tasks": 1,
            "done_tasks": 1,
            "total_tasks": 6,
        }
        assert stored_counts(project) == recount(project) == expected
        call_command("recalc_aggregates", "--check")  # exits 1 on any drift
        assert TaskEvent.objects.filter(project=project, kind=TaskEvent.Kind.CREATED).count() == 8
        assert job.source == ""  # imported: the file is not kept

    def test_categories_chosen_on_the_preview_are_used(self, owner_client, application, trello_bytes):
        job = import_trello(owner_client, application, trello_bytes, category_2="active", category_3="todo")
        run_queued_jobs()
        job.refresh_from_db()
        categories = list(job.project.task_statuses.order_by("position").values_list("category", flat=True))
        assert categories == ["todo", "active", "active", "todo", "done"]
        assert stored_counts(job.project) == recount(job.project)
        assert recount(job.project)["active_tasks"] == 2

    def test_a_failure_while_writing_leaves_nothing(self, owner_client, application, trello_bytes, monkeypatch):
        job = import_trello(owner_client, application, trello_bytes)

        def broken(*args, **kwargs):
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(services, "_write_comments", broken)  # after the cards went in
        run_queued_jobs()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.FAILED
        assert job.error == services.FAILED
        nothing_created(application)

    def test_a_key_taken_meanwhile_fails_the_import_cleanly(self, owner_client, application, trello_bytes):
        job = import_trello(owner_client, application, trello_bytes)
        Project.objects.create(application=application, name="Other", key="SHED")
        run_queued_jobs()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.FAILED
        assert "SHED is taken" in job.error
        assert list(Project.objects.values_list("name", flat=True)) == ["Other"]
        assert not Task.objects.exists()


class TestCsvImport:
    def test_mapped_columns_import(self, owner_client, owner, application):
        carol = UserFactory(username="carol", email="Carol@Example.com")
        MembershipFactory(application=application, user=carol, role=Membership.Role.EDITOR)
        response = upload(owner_client, application, CSV.encode(), "csv", "plan.csv")
        assert response.status_code == 302
        job = ImportJob.objects.get()
        preview = " ".join(owner_client.get(response["Location"]).content.decode().split())
        assert "4 row(s)" in preview
        assert "<td>Write intro</td>" in preview  # the first rows shown
        assert '<option value="0" selected>Summary</option>' in preview  # guessed from the header

        mapping = {"title": "0", "description": "1", "column": "2", "labels": "3", "due": "4"}
        mapping |= {"assignee": "5", "priority": "6"}
        data = {"name": "Plan", "key": "pln"} | {f"map_{field}": index for field, index in mapping.items()}
        response = owner_client.post(reverse("import_preview", args=[job.pk]), data)
        assert response.status_code == 302
        run_queued_jobs()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE, job.error
        project = job.project
        assert project.key == "PLN"
        columns = list(project.task_statuses.order_by("position").values_list("name", "category"))
        assert columns == [("To do", "todo"), ("In progress", "active"), ("Done", "done")]
        labels = dict(Label.objects.filter(project=project).values_list("name", "pk"))
        assert set(labels) == {"docs", "web", "bug"}
        cards = {task.title: task for task in Task.objects.filter(project=project).select_related("task_status")}
        intro = cards["Write intro"]
        assert (intro.task_status.name, intro.description, intro.priority) == ("To do", "First **draft**", 3)
        assert intro.label_ids == [labels["docs"], labels["web"]]
        assert (intro.due_date, intro.due_at, intro.assignee) == (dt.date(2026, 12, 24), None, carol)
        login = cards["Fix login"]
        assert (login.task_status.name, login.assignee, login.priority, login.due_date) == (
            "In progress",
            None,
            0,
            None,
        )
        ship = cards["Ship it"]
        assert ship.description == "Two\nlines"
        assert ship.due_at == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)
        assert (ship.assignee, ship.priority) == (carol, 4)
        todo = Task.objects.filter(project=project, task_status__name="To do").order_by("position")
        assert [task.title for task in todo] == ["Write intro", "Plan Q1"]  # the file's order
        assert (
            stored_counts(project)
            == recount(project)
            == {
                "todo_tasks": 2,
                "active_tasks": 1,
                "review_tasks": 0,
                "issue_tasks": 0,
                "done_tasks": 1,
                "total_tasks": 4,
            }
        )


class TestBadFiles:
    @pytest.mark.parametrize(
        ("content", "kind", "message"),
        [
            (b"{not json", "trello", "This is not valid JSON (line 1, column 2"),
            (b"[1, 2, 3]", "trello", "not a Trello board export"),
            (b'{"name": "x", "cards": []}', "trello", "The export has no list of “lists”"),
            (
                b'{"lists": [{"id": "L", "name": "A"}], "cards": [{"id": "c", "idList": "L"}]}',
                "trello",
                "Card 1 has no “name” text.",
            ),
            (
                b'{"lists": [{"id": "L", "name": "A"}], "cards": [{"id": "c", "name": "Go", "idList": "L", '
                b'"due": "next tuesday"}]}',
                "trello",
                "Card 1 (“Go”): the due date “next tuesday” is not a date.",
            ),
            (b"\xff\xfe\x00\x01binary", "trello", "This is not a text file"),
            (b"title\n", "csv", "has a header but no rows"),
            (b"a,b\n1,2,3\n", "csv", "Line 2: 3 values under a header of 2 columns."),
        ],
    )
    def test_refused_at_upload_with_a_clear_error(self, owner_client, application, content, kind, message):
        response = upload(owner_client, application, content, kind)
        assert response.status_code == 422
        assert message in response.content.decode()
        assert not ImportJob.objects.exists()
        nothing_created(application)

    def test_too_many_cards(self, owner_client, application, settings):
        settings.IMPORT_MAX_CARDS = 2
        cards = ",".join(f'{{"id": "c{n}", "name": "C{n}", "idList": "L"}}' for n in range(3))
        content = f'{{"lists": [{{"id": "L", "name": "A"}}], "cards": [{cards}]}}'.encode()
        response = upload(owner_client, application, content, "trello")
        assert response.status_code == 422
        assert "The board has 3 cards; an import takes at most 2." in response.content.decode()
        assert not ImportJob.objects.exists()

    def test_too_large(self, owner_client, application, settings, trello_bytes):
        settings.IMPORT_MAX_BYTES = 100
        response = upload(owner_client, application, trello_bytes, "trello")
        assert response.status_code == 422
        assert "The file is larger than 100 bytes, the most an import takes." in response.content.decode()
        assert not ImportJob.objects.exists()
        nothing_created(application)

    def test_csv_without_a_title_column(self, owner_client, application):
        upload(owner_client, application, CSV.encode(), "csv")
        job = ImportJob.objects.get()
        response = owner_client.post(
            reverse("import_preview", args=[job.pk]), {"name": "P", "key": "P", "map_title": ""}
        )
        assert response.status_code == 422
        assert "Choose the CSV column that holds the cards&#x27; titles" in response.content.decode()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DRAFT
        nothing_created(application)

    def test_csv_with_a_bad_date_lists_its_line(self, owner_client, application):
        content = b"title,due\nOne,2026-01-01\nTwo,31/12/2026\nThree,soon\n"
        upload(owner_client, application, content, "csv")
        job = ImportJob.objects.get()
        data = {"name": "P", "key": "P", "map_title": "0", "map_due": "1"}
        response = owner_client.post(reverse("import_preview", args=[job.pk]), data)
        assert response.status_code == 422
        page = response.content.decode()
        assert "Line 3: the due date “31/12/2026” is not a date" in page
        assert "Line 4: the due date “soon” is not a date" in page
        nothing_created(application)


class TestAccess:
    def test_another_workspace_answers_404(self, client, outsider, owner_client, application, trello_bytes):
        upload(owner_client, application, trello_bytes, "trello")
        job = ImportJob.objects.get()
        client.force_login(outsider)
        assert client.get(reverse("import_start", args=[application.pk])).status_code == 404
        assert upload(client, application, trello_bytes, "trello").status_code == 404
        assert client.get(reverse("import_preview", args=[job.pk])).status_code == 404
        assert client.post(reverse("import_preview", args=[job.pk]), {"name": "X", "key": "X"}).status_code == 404
        assert client.get(reverse("import_progress", args=[job.pk])).status_code == 404
        assert ImportJob.objects.get().status == ImportJob.Status.DRAFT

    @pytest.mark.parametrize("role", ["viewer", "editor"])
    def test_only_owners_import(self, client, application, trello_bytes, role, request):
        client.force_login(request.getfixturevalue(role))
        assert client.get(reverse("import_start", args=[application.pk])).status_code == 403
        assert upload(client, application, trello_bytes, "trello").status_code == 403
        assert not ImportJob.objects.exists()

    def test_the_workspace_page_offers_import_to_owners(self, owner_client, application):
        page = owner_client.get(reverse("workspace", args=[application.pk])).content.decode()
        assert reverse("import_start", args=[application.pk]) in page


class TestProgress:
    def test_the_page_polls_until_done_then_links_the_board(
        self, owner_client, application, trello_bytes, django_assert_num_queries
    ):
        job = import_trello(owner_client, application, trello_bytes)
        url = reverse("import_progress", args=[job.pk])
        page = owner_client.get(url).content.decode()
        assert 'hx-trigger="every 1s"' in page
        assert "Waiting for a worker" in page and 'value="0"' in page
        ImportJob.objects.filter(pk=job.pk).update(status="running", done=4, phase="Writing cards: 4 of 8")
        with worker_running(job), django_assert_num_queries(3):  # user, the job, its worker's lock
            part = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert part.strip().startswith('<div id="import-progress"')
        assert "Writing cards: 4 of 8" in part and 'value="50"' in part
        ImportJob.objects.filter(pk=job.pk).update(status="queued", done=0)
        run_queued_jobs()
        part = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
        job.refresh_from_db()
        assert "hx-trigger" not in part  # finished: the polling stops
        assert 'value="100"' in part
        assert f'href="{job.project.get_absolute_url()}"' in part
        assert "Imported 8 card(s)" in part

    def test_an_import_whose_worker_died_says_so_and_stops_polling(self, owner_client, application, trello_bytes):
        job = import_trello(owner_client, application, trello_bytes)
        url = reverse("import_progress", args=[job.pk])
        ImportJob.objects.filter(pk=job.pk).update(status="running", done=4, phase="Writing cards: 4 of 8")
        with worker_running(job):  # alive: still importing
            assert "Writing cards: 4 of 8" in owner_client.get(url).content.decode()
            job.refresh_from_db()
            assert job.status == "running"
        # Its connection ended (the process was killed) with the job still running.
        part = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert "hx-trigger" not in part
        assert services.STOPPED in part
        job.refresh_from_db()
        assert (job.status, job.source) == ("failed", "")
        assert not Project.objects.filter(application=application).exists()
        # Should the queue run the job again (it never saw it end), it is left alone: no longer queued.
        run_queued_jobs()
        job.refresh_from_db()
        assert job.status == "failed" and not Project.objects.filter(application=application).exists()

    def test_the_worker_holds_the_lock_while_it_imports(self, owner_client, application, trello_bytes, monkeypatch):
        job = import_trello(owner_client, application, trello_bytes)
        held = []
        write_board = services.write_board

        def watched(**kwargs):
            held.append(_held_elsewhere(job.pk))
            return write_board(**kwargs)

        monkeypatch.setattr(services, "write_board", watched)
        run_queued_jobs()
        job.refresh_from_db()
        assert held == [True] and job.status == "done"
        assert not _held_elsewhere(job.pk)  # given back when done

    def test_progress_is_visible_before_the_import_commits(self, owner, application):
        """The reports commit on their own connection while the import's transaction is open."""
        from django.db import transaction

        job = ImportJob.objects.create(application=application, created_by=owner, kind="csv", status="running")
        progress = services.Progress(job.pk)
        seen = []

        def look():
            seen.append(ImportJob.objects.filter(pk=job.pk).values_list("done", flat=True).get())
            from django.db import connection

            connection.close()

        try:
            with transaction.atomic():
                Project.objects.create(application=application, name="Half", key="HALF")
                progress.report(done=5, phase="Writing cards: 5 of 10")
                reader = threading.Thread(target=look)
                reader.start()
                reader.join()
        finally:
            progress.close()
        assert seen == [5]

    def test_a_confirmed_import_cannot_be_confirmed_again(self, owner_client, application, trello_bytes):
        job = import_trello(owner_client, application, trello_bytes)
        response = owner_client.get(reverse("import_preview", args=[job.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("import_progress", args=[job.pk])
        with pytest.raises(Exception, match="already confirmed"):
            services.queue_import(job=job, actor=job.created_by, name="A", key="A", options={})
        assert len(queued("imports.import_board")) == 1


@contextmanager
def worker_running(job):
    """A worker at work on the job, as far as the page can tell: its lock held by a connection of
    another session, which ends (as a killed worker's does) when the block ends."""
    with psycopg.connect(**_conninfo(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services.IMPORT_LOCKS, job.pk])
        yield


def _held_elsewhere(job_id: int) -> bool:
    with psycopg.connect(**_conninfo(), autocommit=True) as other:
        (taken,) = other.execute("SELECT pg_try_advisory_lock(%s, %s)", [services.IMPORT_LOCKS, job_id]).fetchone()
    return not taken


def _conninfo() -> dict:
    database = connection.settings_dict
    return {
        "host": database["HOST"] or "127.0.0.1",
        "port": database["PORT"] or 5432,
        "user": database["USER"],
        "password": database["PASSWORD"] or None,
        "dbname": database["NAME"],
    }


class TestQueryCounts:
    def test_the_pages_cost_a_fixed_number_of_queries(
        self, owner_client, application, trello_bytes, django_assert_num_queries
    ):
        with django_assert_num_queries(2):  # user, membership with its workspace
            assert owner_client.get(reverse("import_start", args=[application.pk])).status_code == 200
        upload(owner_client, application, trello_bytes, "trello")
        job = ImportJob.objects.get()
        with django_assert_num_queries(2):  # user, the job with its file and workspace role
            assert owner_client.get(reverse("import_preview", args=[job.pk])).status_code == 200
        import_trello_confirm(owner_client, job)
        with django_assert_num_queries(2):  # user, the job with its workspace role
            assert owner_client.get(reverse("import_progress", args=[job.pk])).status_code == 200


class TestDrafts:
    def test_unconfirmed_uploads_are_forgotten_after_a_day(self, owner_client, application, trello_bytes):
        upload(owner_client, application, trello_bytes, "trello")
        upload(owner_client, application, trello_bytes, "trello")
        old, recent = ImportJob.objects.order_by("pk")
        import_trello_confirm(owner_client, recent)
        ImportJob.objects.filter(pk__in=[old.pk, recent.pk]).update(created_at=old.created_at - dt.timedelta(days=2))
        assert services.forget_drafts() == 1
        assert list(ImportJob.objects.values_list("pk", flat=True)) == [recent.pk]  # a queued one stays

    def test_a_failed_import_keeps_no_file(self, owner_client, application, trello_bytes):
        job = import_trello(owner_client, application, trello_bytes)
        Project.objects.create(application=application, name="Other", key="SHED")
        run_queued_jobs()
        job.refresh_from_db()
        assert (job.status, job.source) == (ImportJob.Status.FAILED, "")
