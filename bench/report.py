"""bench/results/latest.json and README.md from the sections of one run."""

import json
import os
import platform
from pathlib import Path

from bench.harness import Section

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
            memory_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def write(sections: list[Section], *, meta: dict, out: Path = RESULTS, preamble: str = "") -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "sections": [section.as_dict() for section in sections]}
    (out / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (out / "README.md").write_text(markdown(sections, meta=meta, preamble=preamble))


def _table(columns: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(sections: list[Section], *, meta: dict, preamble: str = "") -> str:
    box = meta["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run `{meta['command']}` at {meta['started_at']} (took {meta['seconds']:.0f} s) on "
        f"{box['cores']} cores, {box['memory_gb']} GB memory, Python {box['python']}, "
        f"PostgreSQL {meta.get('postgresql', '?')}; load average at the start {box['load_average_at_start']}.",
        "",
        "Every figure is measured side by side with its baseline in the same run, turn by turn, so the "
        "ratios hold on a noisy machine even where the absolute times do not.",
        "",
    ]
    if preamble:
        lines += [preamble.strip(), ""]
    checks = [(section, check) for section in sections for check in section.checks]
    if checks:
        lines += ["## Targets", ""]
        lines += _table(
            ["measurement", "target", "met", "measured"],
            [[s.title, c.target, "yes" if c.met else "**no**", c.detail] for s, c in checks],
        )
        lines.append("")
    for number, section in enumerate(sections, start=1):
        lines += [f"## {number}. {section.title}", ""]
        if section.rows:
            lines += _table(section.columns, section.rows)
            lines.append("")
        lines += [note + "\n" for note in section.notes]
    return "\n".join(lines).rstrip() + "\n"
