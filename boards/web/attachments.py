"""Files on cards: upload (editors), remove (editors), download and thumbnails (every member).

Downloads stream from storage through Django, never from a public URL: the project is looked up
for the user first (404 outside their workspaces). Everything is sent with the content type
sniffed at upload and `X-Content-Type-Options: nosniff`; only sniffed images are shown inline,
every other file is a download (Content-Disposition: attachment), whatever its name says.
"""

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from boards import forms, queries, services
from boards.live import fragments
from boards.models import Attachment, Project, Task
from boards.services.attachments import too_large
from boards.web.views import HtmxHttpRequest, _detail_context, _done, _fragments, _get_card, write_view
from tasktrack.uploads import accepts_uploads


def _answer(request, project: Project, task_id: int, where: str, text: str) -> HttpResponse:
    """The card's detail refreshed (and its face on the board, from the dialog); 303 without htmx."""
    task = _get_card(project, task_id)
    if not request.htmx:
        return _done(request, text, task)
    context = {**_detail_context(project, task, in_dialog=where == "dialog"), "saved_message": text}
    parts = [render_to_string("boards/card.html#detail", context, request)]
    if where == "dialog":
        # `labels` (the project's label map) is the card face's; until _card_context gives it, none.
        parts.append(fragments.part("card", {"labels": {}, **context}, oob=True))
    return _fragments(*parts)


@accepts_uploads("ATTACHMENT_MAX_BYTES")
@write_view
def attachment_add(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-attachments-message"
    if hasattr(request, "upload_refused"):  # skipped while it streamed in (tasktrack.uploads)
        raise too_large()
    form = forms.AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    upload = form.cleaned_data["file"]
    attachment = services.add_attachment(project=project, task_id=task_id, upload=upload, actor=request.user)
    return _answer(request, project, task_id, form.cleaned_data["context"], f"Attached “{attachment.name}”.")


@write_view
def attachment_remove(request: HtmxHttpRequest, project: Project, attachment_id: int) -> HttpResponse:
    form = forms.AttachmentRemoveForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    try:
        attachment = services.remove_attachment(project=project, attachment_id=attachment_id, actor=request.user)
    except Attachment.DoesNotExist as error:
        raise Task.DoesNotExist(*error.args) from None
    return _answer(request, project, attachment.task_id, form.cleaned_data["context"], f"Removed “{attachment.name}”.")


def _file_response(name: str, *, content_type: str, filename: str, inline: bool) -> FileResponse:
    try:
        stream = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("This file is missing from storage.") from None
    response = FileResponse(stream, as_attachment=not inline, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # A file's token never names another file: the browser may keep it, for this user only.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def attachment_download(request: HtmxHttpRequest, project_id: int, file_token: str) -> FileResponse:
    """The file as uploaded: inline for a sniffed image, else a download."""
    project = queries.get_project_for(request.user, project_id)
    attachment = queries.attachment(project, file_token)
    if attachment is None:
        raise Http404("No such file.")
    return _file_response(
        attachment.file.name,
        content_type=attachment.content_type,
        filename=attachment.name,
        inline=attachment.is_image,
    )


@require_GET
def attachment_thumbnail(request: HtmxHttpRequest, project_id: int, file_token: str) -> FileResponse:
    """An image's WebP thumbnail."""
    project = queries.get_project_for(request.user, project_id)
    attachment = queries.attachment(project, file_token)
    if attachment is None or not attachment.thumbnail:
        raise Http404("No such thumbnail.")
    return _file_response(attachment.thumbnail.name, content_type="image/webp", filename="thumbnail.webp", inline=True)
