"""Descriptions are rendered when written and stored; pages show the stored HTML."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from boards import services
from boards.demo import seed_demo
from boards.models import Task
from boards.text import RENDERER_VERSION, render_markdown
from tests.boards.test_admin import task_form

pytestmark = pytest.mark.django_db


def stored(task: Task) -> tuple[str, int]:
    return Task.objects.values_list("description_html", "description_renderer").get(pk=task.pk)


def make_stale(*tasks: Task) -> None:
    """Rows as an older renderer (or migration 0006, before it ran) left them."""
    Task.objects.filter(pk__in=[task.pk for task in tasks]).update(
        description_html="<p>old</p>", description_renderer=RENDERER_VERSION - 1
    )


class TestRenderedOnWrite:
    def test_create_and_edit(self, project, columns, owner):
        task = services.create_task(
            project=project, status_id=columns["todo"].pk, title="t", reporter=owner, description="**a**"
        )
        assert stored(task) == ("<p><strong>a</strong></p>\n", RENDERER_VERSION)
        services.update_task(project=project, task_id=task.pk, version=task.version, description="- [ ] b")
        assert stored(task) == (render_markdown("- [ ] b"), RENDERER_VERSION)
        assert "checkbox" in stored(task)[0]

    def test_an_edit_of_other_fields_keeps_the_html(self, project, columns, owner, task):
        services.update_task(project=project, task_id=task.pk, version=1, description="*x*")
        make_stale(task)  # so a re-render would show
        services.update_task(project=project, task_id=task.pk, version=2, title="Renamed")
        services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
        assert stored(task) == ("<p>old</p>", RENDERER_VERSION - 1)

    def test_plain_save_from_a_shell(self, task):
        task.description = "# Title"
        task.save()
        assert stored(task) == ("<h1>Title</h1>\n", RENDERER_VERSION)
        task.description = "`code`"
        task.save(update_fields=["description"])
        assert stored(task) == ("<p><code>code</code></p>\n", RENDERER_VERSION)

    def test_bulk_create(self, project, columns):
        services.bulk_create_tasks(
            project=project,
            tasks=[Task(task_status_id=columns["todo"].pk, title=f"t{i}", description=f"_{i}_") for i in range(3)],
        )
        assert sorted(Task.objects.values_list("description_html", "description_renderer")) == [
            (f"<p><em>{i}</em></p>\n", RENDERER_VERSION) for i in range(3)
        ]

    def test_seed_demo(self):
        seed_demo(projects=1, tasks=20)
        assert not Task.objects.exclude(description_renderer=RENDERER_VERSION).exists()

    def test_bulk_update_renders(self, task):
        task.description = "~~gone~~"
        Task.objects.bulk_update([task], ["description"])
        assert stored(task) == ("<p><del>gone</del></p>\n", RENDERER_VERSION)

    def test_update_without_the_html_is_refused(self, task):
        with pytest.raises(TypeError, match="cannot change description"):
            Task.objects.filter(pk=task.pk).update(description="unrendered")
        assert Task.objects.get(pk=task.pk).description == ""

    def test_admin_edit(self, admin_client, project, columns, task):
        url = reverse("admin:boards_task_change", args=[task.pk])
        response = admin_client.post(url, task_form(project, columns["todo"], title=task.title, description="*admin*"))
        assert response.status_code == 302
        assert stored(task) == ("<p><em>admin</em></p>\n", RENDERER_VERSION)


class TestShownAsStored:
    def test_card_page_and_dialog_show_the_stored_html(self, owner_client, project, task):
        services.update_task(project=project, task_id=task.pk, version=1, description="**real**")
        # What the page shows comes from the row, not from rendering the text on the way out.
        Task.objects.filter(pk=task.pk).update(description_html="<p>as stored</p>")
        url = reverse("card", args=[project.pk, task.pk])
        for headers in ({}, {"HX-Request": "true"}):
            page = owner_client.get(url, headers=headers).content.decode()
            assert '<div class="markdown description"><p>as stored</p></div>' in page
            assert "<strong>real</strong>" not in page

    def test_a_stale_edit_shows_the_saved_version_as_stored(self, owner_client, project, task):
        services.update_task(project=project, task_id=task.pk, version=1, description="theirs")
        Task.objects.filter(pk=task.pk).update(description_html="<p>their stored html</p>")
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]),
            {"version": 1, "title": "mine", "description": "mine"},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 409
        assert '<div class="markdown"><p>their stored html</p></div>' in response.content.decode()


class TestRenderDescriptionsCommand:
    def run(self, *args: str) -> str:
        out = StringIO()
        call_command("render_descriptions", *args, stdout=out)
        return out.getvalue()

    def test_renders_stale_rows_only(self, project, columns, owner):
        tasks = [
            services.create_task(
                project=project, status_id=columns["todo"].pk, title=f"t{i}", reporter=owner, description=f"**{i}**"
            )
            for i in range(5)
        ]
        make_stale(*tasks[:3])
        assert "Rendered 3 description(s)" in self.run("--batch-size", "2")
        for i, task in enumerate(tasks):
            assert stored(task) == (f"<p><strong>{i}</strong></p>\n", RENDERER_VERSION)
        assert "Rendered 0 description(s)" in self.run()
        assert "Rendered 5 description(s)" in self.run("--all")


@pytest.mark.django_db(transaction=True)  # DDL after the rows' deferred constraint checks
class TestMigration:
    def test_0006_renders_the_existing_descriptions(self, project, columns, owner):
        texts = ["", "plain", "**bold**", "| a |\n|---|\n| 1 |", "[" * 5_000]
        tasks = [
            services.create_task(
                project=project, status_id=columns["todo"].pk, title=f"t{i}", reporter=owner, description=text
            )
            for i, text in enumerate(texts)
        ]
        executor = MigrationExecutor(connection)
        executor.migrate([("boards", "0005_event_arrivals_index")])  # drops the columns, keeps the text
        try:
            executor.loader.build_graph()
            executor.migrate([("boards", "0006_task_description_html")])
        finally:
            executor.loader.build_graph()
            executor.migrate(executor.loader.graph.leaf_nodes())  # and whatever comes after 0006
        for task, text in zip(tasks, texts, strict=True):
            assert stored(task) == (render_markdown(text), RENDERER_VERSION)
