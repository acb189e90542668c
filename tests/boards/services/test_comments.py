"""Comments: counts exact, who may do what, refusals, history, mentions and the live push."""

import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import ValidationError
from django.db import close_old_connections

from boards import history, services
from boards.models import Comment, Mention, Task, TaskEvent
from boards.queries import ReadOnly
from tests.factories import MembershipFactory, UserFactory
from tests.support.live_support import open_socket, receive_until, session_cookie

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="Discuss", reporter=owner)


def add(project, card, author, body="Looks good"):
    return services.add_comment(project=project, task_id=card.pk, body=body, author=author)


def stored(card) -> Task:
    return Task.objects.get(pk=card.pk)


class TestAddComment:
    def test_renders_counts_and_records(self, project, card, editor):
        comment = add(project, card, editor, "**Bold** <script>alert(1)</script> [x](javascript:alert(1))")
        assert "<strong>Bold</strong>" in comment.body_html
        assert "<script" not in comment.body_html and "javascript:" not in comment.body_html
        task = stored(card)
        assert task.comment_count == 1
        assert task.version == card.version  # a comment does not bump the card's version
        event = TaskEvent.objects.filter(task_id=card.pk).latest("seq")
        assert event.kind == TaskEvent.Kind.COMMENTED
        assert event.data["comment_id"] == comment.pk
        assert event.data["excerpt"].startswith("**Bold**")
        sentence = history.describe(event)  # escaped where shown, as every sentence is
        assert sentence.endswith("commented “**Bold** <script>alert(1)</script> [x](javascript:alert(1))”")

    def test_counts_stay_exact_over_adds_and_deletes(self, project, card, editor, owner):
        comments = [add(project, card, editor, f"n{i}") for i in range(5)]
        services.delete_comment(project=project, task_id=card.pk, comment_id=comments[0].pk, actor=editor)
        services.delete_comment(project=project, task_id=card.pk, comment_id=comments[1].pk, actor=owner)
        assert stored(card).comment_count == 3 == Comment.objects.filter(task=card).count()

    @pytest.mark.parametrize("body", ["", "   \n\t ", None])
    def test_empty_is_refused(self, project, card, editor, body):
        with pytest.raises(ValidationError, match="cannot be empty"):
            add(project, card, editor, body)
        assert stored(card).comment_count == 0

    def test_too_long_is_refused_with_the_limit(self, project, card, editor):
        add(project, card, editor, "x" * 10_000)
        with pytest.raises(ValidationError, match="10,000 characters \\(this one has 10,001\\)"):
            add(project, card, editor, "x" * 10_001)
        assert stored(card).comment_count == 1

    def test_archived_card_is_refused(self, project, card, editor):
        services.archive_task(project=project, task_id=card.pk)
        with pytest.raises(services.Conflict, match="This card is archived: unarchive it to comment"):
            add(project, card, editor)
        assert Comment.objects.count() == 0

    def test_deleted_card_is_refused(self, project, card, editor):
        services.delete_task(project=project, task_id=card.pk)
        with pytest.raises(Task.DoesNotExist, match="someone deleted it"):
            add(project, card, editor)

    def test_card_of_another_project_is_not_found(self, project, card, editor, application):
        from tests.factories import make_project

        other = make_project(application, name="Other", key="OTH")
        with pytest.raises(Task.DoesNotExist):
            services.add_comment(project=other, task_id=card.pk, body="hi", author=editor)

    def test_archived_project_is_refused(self, project, card, editor, owner):
        services.archive_project(project=project, actor=owner)
        project.refresh_from_db()
        with pytest.raises(ReadOnly):
            add(project, card, editor)

    def test_rolled_back_comment_publishes_nothing(self, project, card, editor, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
            add(project, card, editor, "")
        assert callbacks == []
        with django_capture_on_commit_callbacks() as callbacks:
            add(project, card, editor)
        assert len(callbacks) == 1


class TestEditComment:
    def test_author_edits_and_history_keeps_the_new_text(self, project, card, editor):
        comment = add(project, card, editor, "first")
        edited = services.edit_comment(
            project=project, task_id=card.pk, comment_id=comment.pk, body="*second*", actor=editor
        )
        assert edited.body_html == "<p><em>second</em></p>\n"
        assert edited.edited_at is not None
        event = TaskEvent.objects.filter(task_id=card.pk).latest("seq")
        assert (event.kind, event.data["excerpt"]) == (TaskEvent.Kind.COMMENT_EDITED, "*second*")
        assert "edited a comment" in history.describe(event)
        assert stored(card).comment_count == 1

    def test_unchanged_text_records_nothing(self, project, card, editor):
        comment = add(project, card, editor, "same")
        before = TaskEvent.objects.count()
        services.edit_comment(project=project, task_id=card.pk, comment_id=comment.pk, body=" same ", actor=editor)
        assert TaskEvent.objects.count() == before

    def test_only_the_author_edits_even_an_owner_cannot(self, project, card, editor, owner):
        comment = add(project, card, editor, "mine")
        with pytest.raises(ReadOnly, match="only your own"):
            services.edit_comment(project=project, task_id=card.pk, comment_id=comment.pk, body="theirs", actor=owner)
        assert Comment.objects.get(pk=comment.pk).body == "mine"

    def test_a_comment_of_another_card_is_not_found(self, project, columns, card, editor, owner):
        other = services.create_task(project=project, status_id=columns["todo"].pk, title="Other", reporter=owner)
        comment = add(project, other, editor)
        with pytest.raises(Comment.DoesNotExist):
            services.edit_comment(project=project, task_id=card.pk, comment_id=comment.pk, body="x", actor=editor)

    def test_edit_on_archived_card_is_refused(self, project, card, editor):
        comment = add(project, card, editor)
        services.archive_task(project=project, task_id=card.pk)
        with pytest.raises(services.Conflict, match="archived"):
            services.edit_comment(project=project, task_id=card.pk, comment_id=comment.pk, body="x", actor=editor)


class TestDeleteComment:
    def test_author_deletes_and_history_quotes_it(self, project, card, editor):
        comment = add(project, card, editor, "gone soon")
        services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=editor)
        event = TaskEvent.objects.filter(task_id=card.pk).latest("seq")
        assert (event.kind, event.data["comment_id"]) == (TaskEvent.Kind.COMMENT_DELETED, comment.pk)
        assert history.describe(event).endswith("deleted a comment “gone soon”")
        assert not Comment.objects.filter(pk=comment.pk).exists()

    def test_owner_deletes_anyones(self, project, card, editor, owner):
        comment = add(project, card, editor)
        services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=owner)
        event = TaskEvent.objects.filter(task_id=card.pk).latest("seq")
        assert "deleted someone's comment" in history.describe(event)

    def test_owner_check_works_without_a_role_on_the_project(self, project, card, editor, owner):
        comment = add(project, card, editor)
        assert not hasattr(project, "role")
        services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=owner)
        assert stored(card).comment_count == 0

    def test_editor_cannot_delete_someone_elses(self, project, card, editor, owner, application):
        other_editor = MembershipFactory(application=application, role="editor").user
        comment = add(project, card, editor)
        with pytest.raises(ReadOnly, match="only your own"):
            services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=other_editor)
        assert stored(card).comment_count == 1

    def test_deleting_twice_counts_once(self, project, card, editor):
        comment = add(project, card, editor)
        services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=editor)
        with pytest.raises(Comment.DoesNotExist, match="no longer exists"):
            services.delete_comment(project=project, task_id=card.pk, comment_id=comment.pk, actor=editor)
        assert stored(card).comment_count == 0


class TestMentions:
    @pytest.fixture
    def ana(self, application):
        return MembershipFactory(application=application, role="editor", user__username="ana").user

    def test_members_are_recorded_once_and_others_never(self, project, card, editor, ana):
        stranger = UserFactory(username="stranger")
        comment = add(project, card, editor, "@ANA and @stranger, see `@ana` and @nobody")
        assert list(Mention.objects.values_list("user", "task", "comment", "mentioned_by")) == [
            (ana.pk, card.pk, comment.pk, editor.pk)
        ]
        services.edit_comment(project=project, task_id=card.pk, comment_id=comment.pk, body="@ana again", actor=editor)
        assert Mention.objects.count() == 1
        assert not Mention.objects.filter(user=stranger).exists()

    def test_self_mentions_are_not_recorded(self, project, card, ana):
        add(project, card, ana, "note to @ana")
        assert not Mention.objects.exists()

    def test_description_mentions(self, project, columns, card, editor, ana, owner):
        edit = {"project": project, "task_id": card.pk, "actor": editor}
        services.update_task(**edit, version=card.version, description="for @ana")
        assert list(Mention.objects.values_list("user", "comment", "mentioned_by")) == [(ana.pk, None, editor.pk)]
        services.update_task(**edit, version=card.version + 1, description="@ana!")
        assert Mention.objects.count() == 1
        created = services.create_task(
            project=project, status_id=columns["todo"].pk, title="New", description="hi @ana", reporter=owner
        )
        assert Mention.objects.filter(task=created, user=ana, comment=None, mentioned_by=owner).exists()

    def test_text_without_mentions_costs_no_query(self, project, card, editor, django_assert_num_queries):
        from boards.models import Project

        with django_assert_num_queries(0):
            services.record_mentions(project=project, task=card, html="<p>mail me at a@b.c</p>", actor=editor)
        assert isinstance(project, Project)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_pool")
@pytest.mark.timeout(60)
class TestConcurrentAndLive:
    def test_concurrent_comments_count_exactly(self, project, columns, owner, editor):
        card = services.create_task(project=project, status_id=columns["todo"].pk, title="Busy", reporter=owner)
        errors = []

        def write(author, n):
            try:
                for i in range(n):
                    services.add_comment(project=project, task_id=card.pk, body=f"c{i}", author=author)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                close_old_connections()

        threads = [threading.Thread(target=write, args=(who, 10)) for who in (owner, editor, owner)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert Task.objects.get(pk=card.pk).comment_count == 30 == Comment.objects.filter(task=card).count()
        seqs = list(TaskEvent.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))

    def test_a_comment_pushes_the_card_face_with_its_count(self, project, columns, owner, editor):
        card = services.create_task(project=project, status_id=columns["todo"].pk, title="Live", reporter=owner)
        cookie = session_cookie(owner)

        async def scenario():
            socket, connected = await open_socket(project.pk, cookie=cookie)
            assert connected
            await receive_until(socket, "hello")
            await sync_to_async(services.add_comment)(project=project, task_id=card.pk, body="hey", author=editor)
            html = await receive_until(socket, 'data-kind="change"')
            assert f'id="card-{card.pk}"' in html
            assert 'aria-label="1 comment">💬 1</span>' in html
            await socket.disconnect()

        async_to_sync(scenario)()


class TestDeletingTheirPlace:
    def test_deleting_the_project_takes_comments_and_mentions_with_it(self, project, card, editor, owner):
        from django.db import connection

        MembershipFactory(application=project.application, role="editor", user__username="ana")
        add(project, card, editor, "hi @ana")
        services.update_task(project=project, task_id=card.pk, version=card.version, description="@ana", actor=owner)
        services.delete_project(project=project, actor=owner)
        assert not Comment.objects.exists() and not Mention.objects.exists()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no row left pointing at a deleted card

    def test_deleting_the_card_takes_them_too(self, project, card, editor, owner):
        MembershipFactory(application=project.application, role="editor", user__username="ana")
        add(project, card, editor, "hi @ana")
        services.delete_task(project=project, task_id=card.pk)
        assert not Comment.objects.exists() and not Mention.objects.exists()
