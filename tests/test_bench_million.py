"""bench/million.py builds its project and measures on a tiny size. Proves the script works and its
data holds the invariants; times nothing."""

import sys

import pytest

from aggregates.counts import count_live_tasks
from aggregates.models import ProjectTaskStatusAgg
from bench import million
from boards import insights
from boards.models import CardNumberSequence, Project, ProjectSequence, Task, TaskEvent


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_million_bench_builds_and_measures(tmp_path):
    args = million.parser().parse_args(["--cards", "600", "--reps", "2", "--out", str(tmp_path)])
    text = million.run(args)

    project = Project.objects.select_related("status_aggregation").get()
    cards = Task.objects.filter(project=project)
    assert cards.count() == 600
    # Every card is dressed and numbered 1..600; numbers the measured writes took are never given again.
    assert not cards.filter(label_ids__len=0).exists() and not cards.filter(due_date=None).exists()
    assert sorted(cards.values_list("number", flat=True)) == list(range(1, 601))
    assert CardNumberSequence.objects.get(project=project).last_number >= 600
    # The counts row is exact, and the history has no gaps: 1..last_seq, each card created once.
    assert ProjectTaskStatusAgg.objects.get(pk=project.pk).as_counts() == count_live_tasks([project.pk])[project.pk]
    seqs = sorted(TaskEvent.objects.filter(project=project).values_list("seq", flat=True))
    assert (
        seqs == list(range(1, len(seqs) + 1)) == list(range(1, ProjectSequence.objects.get(pk=project.pk).last_seq + 1))
    )
    assert TaskEvent.objects.filter(project=project, kind="created").count() == 600
    # The event log replayed from a year ago matches today's counts (the flow diagram rebuilds from it).
    flow = insights.cumulative_flow(project, insights.MAX_DAYS)
    assert flow[-1][1] == project.status_aggregation.as_counts()
    assert sum(flow[0][1].values()) < sum(flow[-1][1].values())
    # The report: every measurement with its baseline, the targets, the machine.
    written = (tmp_path / "million.txt").read_text()
    assert written.startswith(text)
    assert sys.executable in text and "cores" in text and "load average" in text
    for label in ("board page", "first task", "recalc_aggregates --project", "insights, first view", "search: "):
        assert label in text
    assert text.count("- ") >= 5 and "targets:" in text

    # --reuse finds the project and builds nothing.
    again = million.run(
        million.parser().parse_args(["--cards", "600", "--reps", "1", "--reuse", "--out", str(tmp_path)])
    )
    assert "built by an earlier run" in again
    assert Project.objects.count() == 1
