"""7. Live push latency: bench/live_latency.py belongs to the live-boards work; run it when present."""

import importlib.util

from bench.harness import Section

TITLE = "Live push latency"


def run(sizes) -> Section | None:
    if importlib.util.find_spec("bench.live_latency") is None:
        section = Section("live", TITLE, [])
        section.notes.append("Not measured: bench/live_latency.py (from the live-boards work) is not on main yet.")
        return section
    from bench import live_latency

    return live_latency.run(sizes)
