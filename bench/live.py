"""7. Live push latency: bench/live_latency.py belongs to the live-boards work; run it when present.

Its interface is its own, so it runs as `python -m bench.live_latency` in a subprocess on the
bench database, and its output goes into the report as it printed it.
"""

import importlib.util
import json
import os
import subprocess
import sys

from bench.harness import Section
from bench.servers import ROOT, database_url

TITLE = "Live push latency (bench/live_latency.py)"


def run(sizes) -> Section:
    section = Section("live", TITLE, [])
    if importlib.util.find_spec("bench.live_latency") is None:
        section.notes.append("Not measured: bench/live_latency.py (from the live-boards work) is not on main yet.")
        return section
    args = [sys.executable, "-m", "bench.live_latency"]
    env = {**os.environ, "DATABASE_URL": database_url()}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = (done.stdout + done.stderr).strip().splitlines()[-40:]
    section.raw = {"returncode": done.returncode, "output": output}
    section.check("bench/live_latency.py ran", done.returncode == 0, f"exit status {done.returncode}")
    if done.returncode == 0:
        from bench import live_latency

        result = json.loads((live_latency.SMOKE_RESULTS if live_latency.SMOKE else live_latency.RESULTS).read_text())
        latency = result["from_http_response"]
        missing = result["deliveries_missing"]
        figures = f"p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms"
        section.check("p95 under 250 ms", latency["p95_ms"] < 250, figures)
        section.check("every event delivered", missing == 0, f"{missing} of {result['deliveries_expected']:,} missing")
    section.notes.append("Output of `python -m bench.live_latency`:\n\n```\n" + "\n".join(output) + "\n```")
    return section
