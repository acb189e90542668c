"""The size limit of uploaded files, applied while they stream in.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE leaves files out, and any POST's files are parsed by the
first middleware that reads request.POST. So this handler, first in FILE_UPLOAD_HANDLERS, lets
files through only to a view that declares a limit (accepts_uploads) and up to that limit: a
larger file is skipped as it arrives (never stored whole) and the request marked, so the view can
say why.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.urls import Resolver404, resolve

LIMIT_ATTRIBUTE = "upload_limit_setting"


def accepts_uploads(setting: str):
    """Mark a view as taking files of up to settings.<setting> bytes (read per request)."""

    def mark(view):
        setattr(view, LIMIT_ATTRIBUTE, setting)
        return view

    return mark


def upload_limit(request) -> int:
    """The bytes a file posted to this request's view may have: 0 for views that take none."""
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return 0
    setting = getattr(view, LIMIT_ATTRIBUTE, None)
    return int(getattr(settings, setting)) if setting else 0


class LimitedUploadHandler(FileUploadHandler):
    """Skips a file over the view's limit; sets request.upload_refused to its name."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = upload_limit(request) if request is not None else 0
        self.received = 0

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        if self.limit <= 0:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self):
        if self.request is not None:
            self.request.upload_refused = self.file_name
        raise SkipFile()
