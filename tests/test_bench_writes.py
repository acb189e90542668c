"""bench.writes runs end to end at a tiny size: ours and the baseline, the scale-out. Times nothing."""

import argparse

import pytest

from bench import writes


def args(tmp_path, **more):
    values = {
        "cards": 60,
        "seconds": 1,
        "rounds": 1,
        "clients": 2,
        "single": 3,
        "workers": "1,2",
        "out": tmp_path,
    }
    return argparse.Namespace(**{**values, **more})


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_writes_measures_ours_and_the_baseline(tmp_path):
    text = writes.measure(args(tmp_path))

    assert text == (tmp_path / "writes.txt").read_text()
    for line in ("create     ours", "create     baseline", "move       ours", "move       baseline"):
        assert line in text
    assert "0 errors: met" in text and "0 drift: met" in text
    assert "cores" in text and "load average" in text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_scaleout_reports_each_worker_count(tmp_path):
    text = writes.scaleout(args(tmp_path))

    rows = [line.split() for line in text.splitlines() if line.split()[:1] in (["1"], ["2"])]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all(row[5] == "0" for row in rows), text  # errors
    assert "drift after every run: 0" in text
