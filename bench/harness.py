"""Timing, statistics and the shape of a benchmark section."""

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

# A variant times its own core and returns milliseconds; setup and cleanup stay outside.
Variant = Callable[[], float]


@dataclass
class Sizes:
    first_task: list[int]
    operations: list[int]
    board: list[int]
    home_projects: int
    home_tasks: int
    recalc_projects: int
    recalc_tasks: int
    clients: int
    seconds: float
    reps: int  # repetitions of a fast measurement; slow baselines run fewer
    soak_minutes: float = 30  # bench/soak.py, only with --only soak


FULL = Sizes(
    first_task=[1_000, 10_000, 100_000],
    operations=[1_000, 100_000],
    board=[100, 1_000, 10_000],
    home_projects=500,
    home_tasks=1_000_000,
    recalc_projects=10_000,
    recalc_tasks=1_000_000,
    clients=8,
    seconds=20,
    reps=30,
)
QUICK = Sizes(
    first_task=[1_000, 10_000],
    operations=[1_000, 10_000],
    board=[100, 1_000],
    home_projects=50,
    home_tasks=50_000,
    recalc_projects=1_000,
    recalc_tasks=100_000,
    clients=4,
    seconds=4,
    reps=10,
    soak_minutes=2,
)
TINY = Sizes(  # the smoke test: proves the scripts run, measures nothing worth reading
    first_task=[50],
    operations=[20, 60],
    board=[10, 30],
    home_projects=3,
    home_tasks=90,
    recalc_projects=5,
    recalc_tasks=100,
    clients=2,
    seconds=1,
    reps=2,
    soak_minutes=0.1,
)


@dataclass
class Check:
    target: str
    met: bool
    detail: str


@dataclass
class Section:
    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    def check(self, target: str, met: bool, detail: str) -> None:
        self.checks.append(Check(target, bool(met), detail))

    def as_dict(self) -> dict:
        return asdict(self)


def clock() -> float:
    return time.perf_counter()


def since(start: float) -> float:
    """Milliseconds since `start`."""
    return (time.perf_counter() - start) * 1000


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, no interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p95": percentile(samples, 95),
        "min": min(samples),
        "max": max(samples),
    }


def interleave(variants: dict[str, Variant], reps: dict[str, int] | int) -> dict[str, list[float]]:
    """Run the variants in turns (rotating who goes first), so machine noise hits them alike."""
    counts = reps if isinstance(reps, dict) else dict.fromkeys(variants, reps)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for turn in range(max(counts.values())):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            if len(samples[name]) < counts[name]:
                samples[name].append(variants[name]())
    return samples


def ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:,.1f}x" if fast > 0 else "n/a"
