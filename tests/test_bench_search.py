"""bench/search.py builds its cards and measures on a tiny size. Proves the script works; times nothing."""

import pytest

from bench import search as bench_search
from boards import search
from boards.models import Comment, Task


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_search_bench_builds_and_measures(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_search, "RESULTS", tmp_path / "search.txt")
    built = bench_search.build(20_000)
    assert built["cards"] == Task.objects.count() == 20_000
    assert built["comments"] == Comment.objects.count() > 0
    # The bench user's cards are found; the other workspace's never.
    found = search.search_cards(built["user"], bench_search.WORDS[0])
    assert found.hits and all(hit.project.key.startswith("B") for hit in found.hits)
    rows = bench_search.measure(built["user"], reps=1)
    text = bench_search.write(built, rows, 20_000)
    assert "interpreter:" in text and (tmp_path / "search.txt").exists()
