"""bench/imports.py runs end to end on a small board. Proves the script works; times nothing."""

import sys

import pytest

from bench import imports
from boards.models import Application, Project, Task
from imports.models import ImportJob
from tests.support.queue import queued


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_empty_queue")
def test_imports_a_generated_board_and_reports_it(tmp_path):
    out = tmp_path / "imports.txt"
    report = imports.run(120, out)
    assert out.read_text() == report
    assert f"interpreter: {sys.executable}" in report
    assert "cards stored: 120; counts equal a recount: yes; recalc_aggregates --check: passed" in report
    assert "3 archived cards" in report  # every 50th: 0, 50, 100
    # It cleans up after itself: workspace, project, cards, its job and its queued import gone.
    assert not Application.objects.exists() and not Project.objects.exists() and not Task.objects.exists()
    assert not ImportJob.objects.exists()
    assert queued("imports.import_board") == []
