"""The benchmark harness runs end to end on tiny sizes. Proves the scripts work; times nothing."""

import json
import sys

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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_soak_runs_a_few_seconds_and_reports_its_must_holds(tmp_path):
    from bench import soak

    figures = soak.soak(soak.plan_for(TINY), tmp_path / "soak.txt")

    text = (tmp_path / "soak.txt").read_text()
    assert sys.executable in text and "duration 0.1 min" in text and "cores" in text
    assert text.count("s+ ") == 3 * figures["slices"]  # latency, connections and memory lines per slice
    checks = {target: (met, detail) for target, met, detail in figures["checks"]}
    assert len(checks) == 5
    # Memory growth over six seconds proves nothing; everything else must hold even at this size.
    for target, (met, detail) in checks.items():
        if not target.startswith("memory"):
            assert met, f"{target}: {detail}"
    seen = {name for piece in figures["latency"] for name in piece}
    assert {"board", "move"} <= seen
    assert sum(figures["live"]["expected"]) > 0
