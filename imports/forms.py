"""The import's forms: the upload (the file read and checked at once) and the preview's choices."""

import re
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from boards.forms import StrictForm
from boards.models import Category
from imports import parsers
from imports.models import ImportJob


def too_large() -> ValidationError:
    limit = settings.IMPORT_MAX_BYTES
    size = f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    return ValidationError(f"The file is larger than {size}, the most an import takes.")


class UploadForm(StrictForm):
    """A Trello export or a CSV file, parsed and checked here: a bad one never gets further."""

    kind = forms.ChoiceField(
        choices=ImportJob.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Say what kind of file this is."},
    )
    file = forms.FileField(
        error_messages={"required": "Choose a file to import.", "empty": "This file is empty."},
        allow_empty_file=False,
    )

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None or not data.get("kind"):
            return data
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise too_large()
        text = parsers.decode(upload.read())
        if data["kind"] == ImportJob.Kind.TRELLO:
            data["board"] = parsers.parse_trello(text)
        else:
            data["table"] = parsers.read_csv(text)
        data["source"] = text
        return data


def suggested_key(name: str) -> str:
    """A project key from a name: its initials, or its first letters ("Web site" -> WS)."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    initials = "".join(word[0] for word in words).upper()
    return (initials if len(initials) >= 2 else "".join(words).upper())[:10] or "IMP"


def suggested_name(job: ImportJob, board_name: str = "") -> str:
    return (board_name or PurePath(job.file_name).stem or "Imported board")[:100]


CATEGORY_CHOICES = Category.choices


class PreviewForm(StrictForm):
    """The new project's name and key; for Trello each column's category, for CSV the mapping."""

    name = forms.CharField(max_length=100, error_messages={"required": "The new project needs a name."})
    key = forms.CharField(max_length=10, error_messages={"required": "The new project needs a key, such as WEB."})

    def __init__(self, *args, job: ImportJob, board: parsers.Board | None = None, table=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.board = board
        self.table = table
        if board is not None:
            for index, column in enumerate(board.columns):
                self.fields[f"category_{index}"] = forms.ChoiceField(
                    choices=CATEGORY_CHOICES, initial=column.category, label=column.name
                )
        if table is not None:
            guessed = parsers.guess_mapping(table.header)
            choices = [
                ("", "(none)"),
                *((str(i), header or f"Column {i + 1}") for i, header in enumerate(table.header)),
            ]
            for name, label in parsers.CSV_FIELDS:
                initial = guessed[name]
                self.fields[f"map_{name}"] = forms.ChoiceField(
                    choices=choices, required=False, label=label, initial="" if initial is None else str(initial)
                )

    def category_fields(self):
        return [(self[f"category_{index}"], column) for index, column in enumerate(self.board.columns)]

    def mapping_fields(self):
        return [self[f"map_{name}"] for name, _ in parsers.CSV_FIELDS]

    def options(self) -> dict:
        """What the import needs beyond the file, from the cleaned data."""
        data = self.cleaned_data
        if self.board is not None:
            return {
                "categories": {column.key: data[f"category_{index}"] for index, column in enumerate(self.board.columns)}
            }
        return {
            "mapping": {
                name: (int(data[f"map_{name}"]) if data[f"map_{name}"] != "" else None)
                for name, _ in parsers.CSV_FIELDS
            }
        }
