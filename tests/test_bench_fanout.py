"""bench/fanout.py runs end to end at a few sockets. Proves the script works and its correctness
checks hold (every socket got every event once, the other board nothing); times nothing."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="the bench starts a redis-server of its own")
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="the bench needs DATABASE_URL (PostgreSQL)")
def test_the_fanout_bench_runs_at_a_few_sockets(tmp_path):
    out = tmp_path / "fanout.txt"
    command = [sys.executable, "-m", "bench.fanout", "--sockets", "3,6", "--moves", "3", "--pause", "0.05"]
    command += ["--pgstat-wait", "0", "--baseline", "none", "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, timeout=200, capture_output=True)
    text = out.read_text()
    assert "interpreter:" in text and "load average" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("ours ")]
    assert [row[1] for row in rows] == ["3", "6", "3", "6"]  # delivery, then work per event
    delivery = rows[:2]
    assert all(row[9:12] == ["0", "0", "0"] for row in delivery)  # missing, duplicated, leaked
    assert "one text per role and event: yes" in text
    assert "target: p95 delivery under 250 ms at 6 sockets:" in text
