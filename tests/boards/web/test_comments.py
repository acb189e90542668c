"""Comment pages and partials: plain forms and htmx, refusals with the text kept, permissions,
mentions linked, the autocomplete endpoint, the CSV export, and fixed query counts."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards import services
from boards.models import Comment, Task
from tests.boards.conftest import HX, add_tasks
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def add_url(project, task):
    return reverse("comment_add", args=[project.pk, task.pk])


def comment(project, task, author, body="Hello"):
    return services.add_comment(project=project, task_id=task.pk, body=body, author=author)


class TestAdd:
    def test_plain_form_redirects_to_the_card_with_the_comment(self, owner_client, project, task):
        response = owner_client.post(add_url(project, task), {"body": "First **word**", "context": "page"})
        stored = Comment.objects.get()
        assert response.status_code == 303
        assert response["Location"] == f"{task.get_absolute_url()}#comment-{stored.pk}"
        page = owner_client.get(response["Location"]).content.decode()
        assert "Comment added." in page
        assert f'id="comment-{stored.pk}"' in page and "First <strong>word</strong>" in page

    def test_htmx_in_the_dialog_answers_the_section_and_the_card_face(self, owner_client, project, task):
        response = owner_client.post(add_url(project, task), {"body": "Ship it", "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith(f'<section class="comments" id="card-{task.pk}-comments"')
        assert "Ship it" in html
        assert f'id="card-{task.pk}"' in html and 'hx-swap-oob="true"' in html
        assert 'aria-label="1 comment">💬 1</span>' in html
        assert Task.objects.get(pk=task.pk).comment_count == 1

    def test_comments_show_newest_last_with_author_and_time(self, owner_client, project, task, owner, editor):
        comment(project, task, editor, "older")
        comment(project, task, owner, "newer")
        page = owner_client.get(task.get_absolute_url()).content.decode()
        assert page.index("older") < page.index("newer")
        assert 'class="avatar ' in page and "<time datetime=" in page

    @pytest.mark.parametrize(
        ("body", "message"),
        [("", "cannot be empty"), ("  \n ", "cannot be empty"), ("y" * 10_001, "Keep a comment to 10,000 characters")],
    )
    def test_refused_text_comes_back_in_the_form(self, owner_client, project, task, body, message):
        response = owner_client.post(add_url(project, task), {"body": body, "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 422
        assert message in html and 'role="alert"' in html
        assert body.strip()[:50] in html
        plain = owner_client.post(add_url(project, task), {"body": body, "context": "page"})
        assert plain.status_code == 422 and message in plain.content.decode()
        assert Comment.objects.count() == 0

    def test_archived_card_is_refused_clearly(self, owner_client, project, task):
        services.archive_task(project=project, task_id=task.pk)
        response = owner_client.post(add_url(project, task), {"body": "too late", "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 409
        assert "This card is archived: unarchive it to comment." in html
        assert "too late" in html  # kept, to copy
        assert Comment.objects.count() == 0

    def test_deleted_card_is_refused_clearly(self, owner_client, project, task):
        services.delete_task(project=project, task_id=task.pk)
        response = owner_client.post(add_url(project, task), {"body": "hello?", "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 404
        assert f'id="card-{task.pk}-comment-message"' in html
        assert "someone deleted it" in html
        assert response["HX-Retarget"] == f"#card-{task.pk}-comment-message"

    def test_hostile_markdown_is_cleaned(self, owner_client, project, task):
        body = '<img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a> <script>alert(2)</script>'
        owner_client.post(add_url(project, task), {"body": body})
        page = owner_client.get(task.get_absolute_url()).content.decode()
        shown = page.split('<div class="markdown comment-body">')[1].split("</div>")[0]
        assert "<img" not in shown and "javascript:" not in shown and "<script" not in shown
        assert "<script>alert(2)" not in page and "<img src=x" not in page

    def test_viewer_reads_but_cannot_comment(self, viewer_client, project, task, owner):
        comment(project, task, owner, "for everyone")
        page = viewer_client.get(task.get_absolute_url()).content.decode()
        assert "for everyone" in page and 'class="comment-form"' not in page and "comment-tools" not in page
        assert viewer_client.post(add_url(project, task), {"body": "me too"}).status_code == 403
        assert Comment.objects.count() == 1

    def test_outsider_gets_404(self, outsider_client, project, task):
        assert outsider_client.post(add_url(project, task), {"body": "hi"}).status_code == 404
        assert Comment.objects.count() == 0

    def test_get_is_not_allowed(self, owner_client, project, task):
        assert owner_client.get(add_url(project, task)).status_code == 405


class TestEditAndDelete:
    def test_author_edits(self, editor_client, project, task, editor):
        mine = comment(project, task, editor, "tpyo")
        url = reverse("comment_update", args=[project.pk, task.pk, mine.pk])
        response = editor_client.post(url, {"body": "typo", "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 200 and "typo" in html and "(edited)" in html
        assert Comment.objects.get(pk=mine.pk).body == "typo"

    def test_only_the_author_sees_edit_and_may_edit(self, owner_client, project, task, editor):
        theirs = comment(project, task, editor, "theirs")
        page = owner_client.get(task.get_absolute_url()).content.decode()
        assert f'id="comment-{theirs.pk}-editor"' not in page and f'id="comment-{theirs.pk}-delete"' in page
        url = reverse("comment_update", args=[project.pk, task.pk, theirs.pk])
        assert owner_client.post(url, {"body": "mine now"}, headers=HX).status_code == 403
        assert Comment.objects.get(pk=theirs.pk).body == "theirs"

    def test_refused_edit_keeps_the_text_and_the_editor_open(self, editor_client, project, task, editor):
        mine = comment(project, task, editor, "short")
        url = reverse("comment_update", args=[project.pk, task.pk, mine.pk])
        response = editor_client.post(url, {"body": "z" * 10_001, "context": "dialog"}, headers=HX)
        html = response.content.decode()
        assert response.status_code == 422 and "10,000" in html
        assert f'id="comment-{mine.pk}-editor" data-draft open' in html and "z" * 100 in html

    def test_owner_deletes_anyones_editor_only_their_own(self, client, project, task, editor, application):
        theirs = comment(project, task, editor, "bye")
        other = MembershipFactory(application=application, role="editor").user
        client.force_login(other)
        url = reverse("comment_delete", args=[project.pk, task.pk, theirs.pk])
        assert client.post(url, {"context": "dialog"}, headers=HX).status_code == 403
        client.force_login(Task.objects.get(pk=task.pk).reporter)  # the owner
        response = client.post(url, {"context": "dialog"}, headers=HX)
        assert response.status_code == 200 and "No comments yet." in response.content.decode()
        assert Task.objects.get(pk=task.pk).comment_count == 0

    def test_deleting_a_gone_comment_is_a_clear_404(self, editor_client, project, task, editor):
        mine = comment(project, task, editor)
        url = reverse("comment_delete", args=[project.pk, task.pk, mine.pk])
        assert editor_client.post(url, {"context": "page"}).status_code == 303
        response = editor_client.post(url, {"context": "dialog"}, headers=HX)
        assert response.status_code == 404 and "This comment no longer exists" in response.content.decode()

    def test_comment_of_another_card_is_404(self, editor_client, project, columns, task, editor, owner):
        other = services.create_task(project=project, status_id=columns["todo"].pk, title="Other", reporter=owner)
        mine = comment(project, other, editor)
        url = reverse("comment_update", args=[project.pk, task.pk, mine.pk])
        assert editor_client.post(url, {"body": "moved?"}, headers=HX).status_code == 404


class TestMentionsOnThePage:
    def test_members_are_linked_and_others_are_not(self, owner_client, project, task, owner, application):
        ana = MembershipFactory(application=application, role="editor", user__username="ana").user
        UserFactory(username="zed")
        comment(project, task, owner, "ping @ana and @zed, not `@ana`")
        services.update_task(project=project, task_id=task.pk, version=task.version, description="cc @Ana")
        page = owner_client.get(task.get_absolute_url()).content.decode()
        members = reverse("members", args=[application.pk])
        link = f'<a class="mention" href="{members}#member-{ana.pk}"'
        assert page.count(link) == 2  # the comment and the description
        assert "@zed" in page and ">@zed</a>" not in page
        assert "<code>@ana</code>" in page


class TestMentionCandidates:
    def url(self, project, q):
        return reverse("mention_candidates", args=[project.pk]) + f"?q={q}"

    def test_members_by_prefix_bounded_to_ten(self, owner_client, project, application):
        for i in range(12):
            MembershipFactory(application=application, role="editor", user__username=f"sam{i:02}")
        UserFactory(username="samwise")  # not a member
        data = json.loads(owner_client.get(self.url(project, "SAM")).content)
        names = [member["username"] for member in data["members"]]
        assert names == [f"sam{i:02}" for i in range(10)]
        assert set(data["members"][0]) == {"username", "name"}

    def test_outsider_gets_404_and_viewer_may_read(self, outsider_client, client, viewer, project):
        assert outsider_client.get(self.url(project, "a")).status_code == 404
        client.force_login(viewer)
        assert client.get(self.url(project, "a")).status_code == 200

    @pytest.mark.parametrize("q", ["%25", "<script>", "a" * 151, "x%00"])
    def test_hostile_prefix_is_refused_or_harmless(self, owner_client, project, q):
        response = owner_client.get(self.url(project, q))
        assert response.status_code in (200, 400)
        if response["Content-Type"] == "application/json":  # NUL is refused before any view (400, text)
            assert json.loads(response.content)["members"] == []


class TestExport:
    def test_comment_events_quote_the_comment_with_formulas_escaped(self, owner_client, project, task, owner):
        comment(project, task, owner, '=HYPERLINK("http://evil")\nsecond line')
        response = owner_client.get(reverse("export_events", args=[project.pk]))
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0][-1] == "comment"
        commented = [row for row in rows if row[2] == "commented"]
        assert commented[0][-1] == '\'=HYPERLINK("http://evil") second line'
        assert all(row[-1] == "" for row in rows[1:] if row[2] != "commented")


def count_queries(client, url, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **kwargs).status_code == 200
    return len(captured)


class TestQueryCounts:
    def test_board_costs_the_same_with_comments_on_every_card(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 20)
        url = reverse("board", args=[project.pk])
        before = count_queries(owner_client, url)
        for task in Task.objects.filter(project=project):
            comment(project, task, owner, "@nobody said hi")
        assert count_queries(owner_client, url) == before == 8  # the pinned board (tests/boards/web/test_views.py)

    def test_card_dialog_costs_the_same_for_1_and_30_comments(self, owner_client, project, task, owner, editor):
        comment(project, task, editor, "one @" + owner.username)
        url = task.get_absolute_url()
        one = count_queries(owner_client, url, headers=HX)
        for i in range(29):
            comment(project, task, editor if i % 2 else owner, f"more {i}")
        assert count_queries(owner_client, url, headers=HX) == one
