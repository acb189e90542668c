"""The benchmark harness runs end to end on tiny sizes. Proves the scripts work; times nothing."""

import json

import pytest

from bench import run
from bench.harness import TINY


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_measurement_runs_and_writes_results(tmp_path):
    sections = run.run(run.NAMES, TINY, out=tmp_path, command="pytest smoke")

    assert [section.name for section in sections] == run.NAMES
    results = json.loads((tmp_path / "latest.json").read_text())
    assert [section["name"] for section in results["sections"]] == run.NAMES
    assert results["machine"]["cores"] >= 1
    readme = (tmp_path / "README.md").read_text()
    assert "## 1. First task in a project" in readme
    by_name = {section.name: section for section in sections}
    # Each measured section has a row per size, and the correctness checks hold even at this size.
    assert len(by_name["first_task"].rows) == len(TINY.first_task)
    assert len(by_name["operations"].rows) == 4 * len(TINY.operations)
    assert len(by_name["board"].rows) == len(TINY.board)
    assert len(by_name["home"].rows) == 4  # counts and whole page, ours and the baseline
    for name in ("concurrency", "serving"):
        for check in by_name[name].checks:
            if check.target.startswith(("0 errors", "0 drift")):
                assert check.met, f"{name}: {check.target}: {check.detail}"


def test_bench_database_is_never_the_main_one():
    assert run.bench_database_url("postgres://u@h:5432/tasktrack").endswith("/tasktrack_bench")
    assert run.bench_database_url("postgres://u@h:5432/tasktrack_bench").endswith("/tasktrack_bench")
