"""SVG geometry for the insights page: plain data that templates/boards/insights.html draws.

No queries: the numbers come from boards.insights. Colours are names (a category, or "age"):
static/css/insights.css gives each one its value in the light and the dark theme.
"""

import datetime as dt
import math

from boards.models import Category

# Bottom to top of the diagram: the work that is finished sits at the bottom.
STACK = [Category.DONE, Category.REVIEW, Category.ISSUE, Category.ACTIVE, Category.TODO]


LABELS = dict(Category.choices)


WIDTH, HEIGHT = 960, 300


LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [step * n for n in range(math.ceil(top / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:g}"


def _frame(ticks: list[float], width: int = WIDTH, height: int = HEIGHT) -> dict:
    plot_h = height - TOP - BOTTOM
    top = ticks[-1]
    return {
        "width": width,
        "height": height,
        "left": LEFT,
        "right": width - RIGHT,
        "top": TOP,
        "bottom": height - BOTTOM,
        "label_y": height - BOTTOM + 18,
        "yticks": [{"y": round(TOP + plot_h * (1 - value / top), 1), "label": _fmt(value)} for value in ticks],
    }


def flow_chart(points: list[tuple[dt.date, dict]]) -> dict:
    """A stacked area chart of the cumulative flow, with axes and a legend."""
    totals = [sum(counts.values()) for _, counts in points]
    ticks = nice_ticks(max(totals, default=0))
    chart = _frame(ticks)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max(len(points) - 1, 1)

    def x(index: int) -> float:
        return round(LEFT + plot_w * index / span, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / ticks[-1]), 1)

    below = [0] * len(points)
    areas = []
    for category in STACK:
        above = [base + counts[category.value] for base, (_, counts) in zip(below, points, strict=True)]
        upper = [f"{x(i)},{y(v)}" for i, v in enumerate(above)]
        lower = [f"{x(i)},{y(v)}" for i, v in reversed(list(enumerate(below)))]
        areas.append({"points": " ".join(upper + lower), "color": category.value, "label": LABELS[category]})
        below = above
    step = max(1, round(len(points) / 6))
    chart["xticks"] = [
        {"x": x(i), "label": day.strftime("%b %-d")} for i, (day, _) in enumerate(points) if i % step == 0
    ]
    chart["areas"] = areas
    chart["legend"] = [
        {"x": LEFT + 8 + 96 * n, "color": category.value, "label": LABELS[category]}
        for n, category in enumerate(reversed(STACK))
    ]
    latest = points[-1][1] if points else {}
    chart["summary"] = ", ".join(f"{LABELS[c]} {latest.get(c.value, 0)}" for c in reversed(STACK))
    return chart


def bar_chart(labels: list[str], values: list[int], *, color: str = "active", width: int = 340) -> dict:
    """A bar chart (histograms, throughput) with axes."""
    ticks = nice_ticks(max(values, default=0))
    chart = _frame(ticks, width=width, height=200)
    plot_w, plot_h = width - LEFT - RIGHT, 200 - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    every = max(1, math.ceil(len(values) / 8))
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_h * value / ticks[-1]
        bars.append(
            {
                "x": round(LEFT + slot * index + slot * 0.1, 1),
                "y": round(TOP + plot_h - height, 1),
                "w": round(slot * 0.8, 1),
                "h": round(height, 1),
                "cx": round(LEFT + slot * (index + 0.5), 1),
                "label": label if index % every == 0 else "",
                "title": f"{label}: {value}",
            }
        )
    chart["bars"] = bars
    chart["color"] = color
    return chart
