"""bench/column.py builds its columns and measures on tiny sizes. Proves the script works; times nothing."""

from argparse import Namespace

import pytest

from bench import column as bench_column
from boards.models import Task
from boards.web import column_all


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_column_bench_builds_and_measures(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_column, "RESULTS", tmp_path / "column.txt")
    monkeypatch.setattr(column_all, "CHUNK", 25)  # several chunks in this process (the server keeps its own)
    # Two servers: one timed, one for its memory.
    args = Namespace(cards=120, sizes=[120], reps=1, server="gunicorn", browser_reps=0)
    built = bench_column.build([120])
    assert Task.objects.filter(task_status_id=built[120][1]).count() == 120
    results = bench_column.measure(built, args.cards, args.sizes, args.reps, args.server)
    # Both paths gave the column's cards after the board's first 50, in order (measure() checks it).
    assert results["timing"]["same_cards"] and results["timing"]["pages"]["requests"] == 2
    queries = results["queries"][120]
    assert queries["show_all"] == 5 + 3 and queries["pages"] > queries["show_all"] and queries["expected"] == 70
    assert set(results["memory"]) == {120} and results["memory"][120]["cards"] == 70
    text = bench_column.write(results, args)
    assert "interpreter:" in text and "target: whole column" in text
    assert (tmp_path / "column.txt").read_text() == text
