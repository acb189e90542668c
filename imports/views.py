"""The import's pages: upload, preview (choose and confirm), progress."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from imports import forms, parsers, queries, services
from imports.models import ImportJob
from tasktrack.uploads import accepts_uploads


class HtmxHttpRequest(HttpRequest):
    """For type hints: django_htmx.middleware.HtmxMiddleware adds .htmx to every request."""

    htmx: HtmxDetails


@accepts_uploads("IMPORT_MAX_BYTES")
@login_required
@require_http_methods(["GET", "POST"])
def import_start(request: HtmxHttpRequest, application_id: int) -> HttpResponse:
    membership = queries.owner_membership(request.user, application_id)
    status = 200
    if request.method == "POST":
        form = forms.UploadForm(request.POST, request.FILES)
        if hasattr(request, "upload_refused"):  # skipped while it streamed in (tasktrack.uploads)
            form.is_valid()
            form.errors.clear()
            form.add_error(None, forms.too_large())
        elif form.is_valid():
            data = form.cleaned_data
            job = services.start_import(
                application=membership.application,
                actor=request.user,
                kind=data["kind"],
                file_name=data["file"].name,
                source=data["source"],
            )
            return redirect("import_preview", job.pk)
        status = 422
    else:
        form = forms.UploadForm()
    context = {"application": membership.application, "form": form, "max_cards": parsers.max_cards()}
    return render(request, "imports/start.html", context, status=status)


def _read(job: ImportJob) -> dict:
    """What the preview shows of the stored file (checked at upload: it parses)."""
    if job.kind == ImportJob.Kind.TRELLO:
        board = parsers.parse_trello(job.source)
        return {"board": board, "name": forms.suggested_name(job, board.name)}
    return {"table": parsers.read_csv(job.source), "name": forms.suggested_name(job)}


@login_required
@require_http_methods(["GET", "POST"])
def import_preview(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = queries.job_for(request.user, job_id, with_source=True)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("import_progress", job.pk)
    read = _read(job)
    kwargs = {"job": job, "board": read.get("board"), "table": read.get("table")}
    status = 200
    if request.method == "POST":
        form = forms.PreviewForm(request.POST, **kwargs)
        if form.is_valid():
            try:
                services.queue_import(
                    job=job,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    key=form.cleaned_data["key"],
                    options=form.options(),
                )
                return redirect("import_progress", job.pk)
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, messages in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                else:
                    form.add_error(None, error.messages)
        status = 422
    else:
        initial = {"name": read["name"], "key": forms.suggested_key(read["name"])}
        form = forms.PreviewForm(initial=initial, **kwargs)
    table = read.get("table")
    context = {
        "job": job,
        "form": form,
        "board": read.get("board"),
        "table": table,
        "sample": table.rows[: parsers.PREVIEW_ROWS] if table else [],
    }
    return render(request, "imports/preview.html", context, status=status)


@login_required
@require_GET
def import_progress(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = services.fail_if_stopped(queries.job_for(request.user, job_id))
    template = "imports/progress.html#progress" if request.htmx else "imports/progress.html"
    return render(request, template, {"job": job})
