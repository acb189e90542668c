"""bench/api.py measures the API's card writes next to the page's on a tiny size. Proves the script
works (both drivers write, the results file names the interpreter); times nothing."""

import pytest

from bench import api as bench_api
from boards.models import Task


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_api_bench_measures_both_sides(tmp_path, monkeypatch, settings):
    settings.API_RATE_WRITE = settings.API_RATE_READ = 10**9
    settings.DEBUG = False
    monkeypatch.setattr(bench_api, "RESULTS", tmp_path / "api.txt")
    rows = bench_api.measure([50], reps=2)
    assert [row["op"] for row in rows] == bench_api.OPERATIONS
    for row in rows:
        assert row["page_queries"] > 0 and row["api_queries"] > 0 and row["api_p50"] > 0
    assert Task.objects.filter(title="Bench").count() == 3  # one untimed create and two timed, by the API
    text = bench_api.write(rows, "python -m bench.api --cards 50", (0.0, 0.0, 0.0))
    assert "interpreter:" in text and (tmp_path / "api.txt").read_text() == text
