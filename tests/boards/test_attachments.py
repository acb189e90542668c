"""Attachments: services (counts, history, files after commit), sniffing, downloads, limits."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from boards import services
from boards.models import Attachment, Task, TaskEvent
from tests.boards.conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ATTACHMENT_MAX_BYTES = 200_000
    yield settings.MEDIA_ROOT


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 Mpixels in a few kB
    return out.getvalue()


def upload(name="a.txt", content=b"hello", content_type="text/plain"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


class TestAddAndRemove:
    def test_add_counts_records_and_stores(self, project, task, owner, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload(), actor=owner)
        assert len(callbacks) == 1
        card = Task.objects.get(pk=task.pk)
        assert (card.attachment_count, card.version) == (1, task.version + 1)
        assert stored(attachment.file.name) and not attachment.thumbnail
        assert (attachment.content_type, attachment.is_image, attachment.size) == ("application/octet-stream", False, 5)
        event = TaskEvent.objects.filter(task_id=task.pk).latest("seq")
        assert (event.kind, event.data["attachment"]["name"]) == (TaskEvent.Kind.ATTACHED, "a.txt")

    def test_remove_deletes_the_files_after_commit(self, project, task, owner, django_capture_on_commit_callbacks):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload("i.png", png()))
        names = [attachment.file.name, attachment.thumbnail.name]
        assert all(stored(name) for name in names)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.remove_attachment(project=project, attachment_id=attachment.pk, actor=owner)
        assert all(stored(name) for name in names)  # not before the commit
        for callback in callbacks:
            callback()
        assert not any(stored(name) for name in names)
        card = Task.objects.get(pk=task.pk)
        assert (card.attachment_count, card.version) == (0, task.version + 2)
        assert TaskEvent.objects.filter(task_id=task.pk).latest("seq").kind == TaskEvent.Kind.DETACHED

    def test_a_rolled_back_delete_keeps_the_files(self, project, task):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload())
        with pytest.raises(RuntimeError), transaction.atomic():
            services.remove_attachment(project=project, attachment_id=attachment.pk)
            raise RuntimeError
        assert stored(attachment.file.name)
        assert Task.objects.get(pk=task.pk).attachment_count == 1

    def test_deleting_the_card_deletes_its_files(self, project, task, django_capture_on_commit_callbacks):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload("i.png", png()))
        with django_capture_on_commit_callbacks(execute=True):
            services.delete_task(project=project, task_id=task.pk)
        assert not Attachment.objects.exists()
        assert not stored(attachment.file.name) and not stored(attachment.thumbnail.name)

    def test_deleting_the_project_deletes_its_files(self, project, task, owner, django_capture_on_commit_callbacks):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload())
        with django_capture_on_commit_callbacks(execute=True):
            services.delete_project(project=project, actor=owner)
        assert not Attachment.objects.exists()
        assert not stored(attachment.file.name)

    def test_archived_card_refuses_uploads(self, project, task):
        services.archive_task(project=project, task_id=task.pk)
        with pytest.raises(ValidationError, match="archived"):
            services.add_attachment(project=project, task_id=task.pk, upload=upload())
        assert not Attachment.objects.exists()

    def test_too_large_is_refused(self, project, task):
        with pytest.raises(ValidationError, match="larger than"):
            services.add_attachment(project=project, task_id=task.pk, upload=upload(content=b"x" * 200_001))


class TestSniffing:
    def test_png_named_html_is_an_image_and_html_named_png_is_not(self, project, task):
        fake = services.add_attachment(
            project=project, task_id=task.pk, upload=upload("x.png", b"<html><script>", "image/png")
        )
        real = services.add_attachment(project=project, task_id=task.pk, upload=upload("x.html", png(), "text/html"))
        assert (fake.content_type, fake.is_image, bool(fake.thumbnail)) == ("application/octet-stream", False, False)
        assert (real.content_type, real.is_image, bool(real.thumbnail)) == ("image/png", True, True)
        assert (real.width, real.height) == (64, 48)
        with default_storage.open(real.thumbnail.name) as thumb:
            assert Image.open(thumb).format == "WEBP"

    def test_a_decompression_bomb_is_a_plain_file(self, project, task):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload("bomb.png", bomb()))
        assert (attachment.content_type, attachment.is_image, bool(attachment.thumbnail)) == (
            "application/octet-stream",
            False,
            False,
        )

    def test_pdf_by_magic(self, project, task):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload("r", b"%PDF-1.7\n..."))
        assert attachment.content_type == "application/pdf"


class TestViews:
    def post_file(self, client, project, task, name, content, **extra):
        url = reverse("attachment_add", args=[project.pk, task.pk])
        return client.post(url, {"file": SimpleUploadedFile(name, content), "context": "dialog"}, **extra)

    def test_upload_and_download(self, editor_client, project, task):
        response = self.post_file(editor_client, project, task, "shot.png", png(), headers=HX)
        assert response.status_code == 200
        assert "shot.png" in response.content.decode()
        attachment = Attachment.objects.get()
        response = editor_client.get(reverse("attachment", args=[project.pk, attachment.token]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == png()
        thumb = editor_client.get(reverse("attachment_thumbnail", args=[project.pk, attachment.token]))
        assert (thumb.status_code, thumb["Content-Type"]) == (200, "image/webp")

    def test_html_named_png_downloads_as_octet_stream(self, editor_client, project, task):
        self.post_file(editor_client, project, task, "evil.png", b"<html><script>alert(1)</script>")
        attachment = Attachment.objects.get()
        response = editor_client.get(reverse("attachment", args=[project.pk, attachment.token]))
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_bomb_upload_is_no_500(self, editor_client, project, task):
        response = self.post_file(editor_client, project, task, "bomb.png", bomb())
        assert response.status_code == 303
        assert Attachment.objects.get().is_image is False

    def test_without_javascript_redirects(self, editor_client, project, task):
        response = self.post_file(editor_client, project, task, "a.txt", b"hi")
        assert response.status_code == 303 and response["Location"] == task.get_absolute_url()

    def test_size_limit_while_streaming(self, editor_client, project, task, media):
        response = self.post_file(editor_client, project, task, "big.bin", b"x" * 200_001, headers=HX)
        assert response.status_code == 422
        assert "larger than" in response.content.decode()
        assert not Attachment.objects.exists()
        assert not [path for path in media.rglob("*") if path.is_file()]

    def test_files_are_refused_on_other_routes(self, editor_client, project, task):
        url = reverse("card_update", args=[project.pk, task.pk])
        response = editor_client.post(
            url, {"title": "t", "version": task.version, "file": SimpleUploadedFile("a", b"x")}
        )
        assert response.status_code in (303, 200)  # the file part is skipped, the rest of the form works

    def test_viewer_downloads_but_cannot_upload(self, viewer_client, project, task):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload())
        response = viewer_client.get(reverse("attachment", args=[project.pk, attachment.token]))
        assert response.status_code == 200
        response = self.post_file(viewer_client, project, task, "a.txt", b"hi")
        assert response.status_code == 403
        assert Attachment.objects.count() == 1

    def test_outsider_gets_404(self, outsider_client, project, task):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload("i.png", png()))
        for name in ("attachment", "attachment_thumbnail"):
            assert outsider_client.get(reverse(name, args=[project.pk, attachment.token])).status_code == 404
        assert self.post_file(outsider_client, project, task, "a.txt", b"hi").status_code == 404

    def test_token_of_another_project_is_404(self, owner_client, project, task, owner, application):
        from tests.factories import make_project

        other = make_project(application)
        other_card = services.create_task(
            project=other, status_id=other.task_statuses.first().pk, title="x", reporter=owner
        )
        attachment = services.add_attachment(project=other, task_id=other_card.pk, upload=upload())
        assert owner_client.get(reverse("attachment", args=[project.pk, attachment.token])).status_code == 404

    def test_remove(self, editor_client, project, task, django_capture_on_commit_callbacks):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload())
        with django_capture_on_commit_callbacks(execute=True):
            response = editor_client.post(reverse("attachment_remove", args=[project.pk, attachment.pk]), headers=HX)
        assert response.status_code == 200
        assert not Attachment.objects.exists() and not stored(attachment.file.name)
        assert Task.objects.get(pk=task.pk).attachment_count == 0

    def test_card_detail_lists_attachments(self, viewer_client, project, task):
        services.add_attachment(project=project, task_id=task.pk, upload=upload("i.png", png()))
        page = viewer_client.get(task.get_absolute_url()).content.decode()
        assert "i.png" in page and "attachment-thumb" in page and "Upload" not in page


def test_add_and_remove_cost_a_fixed_number_of_queries(project, task, django_assert_num_queries):
    # The card's read, then in the transaction: its lock, the INSERT, the card's UPDATE, the event
    # and its queued job (+2: the savepoint and release that the test's transaction turns BEGIN and
    # COMMIT into).
    with django_assert_num_queries(8):
        attachment = services.add_attachment(project=project, task_id=task.pk, upload=upload())
    # Where the file is, then: the card's lock, the attachment, its DELETE, the card's UPDATE, the
    # event and its job.
    with django_assert_num_queries(9):
        services.remove_attachment(project=project, attachment_id=attachment.pk)


def test_the_card_detail_reads_its_attachments_with_one_query(viewer_client, project, task):
    url = reverse("card", args=[project.pk, task.pk])
    viewer_client.get(url, headers=HX)  # warm the session
    counts = []
    for files in (0, 1, 5):
        while Task.objects.get(pk=task.pk).attachment_count < files:
            services.add_attachment(project=project, task_id=task.pk, upload=upload("i.png", png()))
        with CaptureQueriesContext(connection) as captured:
            assert viewer_client.get(url, headers=HX).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[1] == counts[0] + 1 and counts[2] == counts[1]
