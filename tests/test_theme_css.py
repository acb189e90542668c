"""The stylesheets' colour themes: app.css writes each colour once, as light-dark(light, dark), and
the root's color-scheme picks one (the system's, or the toggle's choice); every custom property a
stylesheet uses is defined; the charts' colours stand out from the page (WCAG 1.4.11).
tests/e2e/test_theme.py checks the text contrast in Chromium with axe-core."""

import re
from pathlib import Path

STATIC_CSS = Path(__file__).resolve().parents[1] / "static" / "css"
APP_CSS = (STATIC_CSS / "app.css").read_text()
PROPERTY = re.compile(r"^\s*(--[\w-]+):\s*(.+?);\s*$", re.MULTILINE)
LIGHT_DARK = re.compile(r"^light-dark\((.+), (.+)\)$")


def root() -> str:
    start = APP_CSS.index(":root {") + len(":root {")
    return APP_CSS[start : APP_CSS.index("}", start)]


def theme(which: int) -> dict[str, str]:
    """The custom properties of the root as one theme sees them (0 light, 1 dark)."""
    declared = {}
    for name, value in PROPERTY.findall(root()):
        pair = LIGHT_DARK.match(value)
        declared[name] = pair.group(which + 1) if pair else value
    return declared


def test_the_root_follows_the_system_unless_the_toggle_chose():
    assert re.search(r"color-scheme:\s*light dark;", root())
    assert ':root[data-theme="light"] { color-scheme: light; }' in APP_CSS
    assert ':root[data-theme="dark"] { color-scheme: dark; }' in APP_CSS
    # Nothing else sets the colours per theme: each is written once.
    assert "prefers-color-scheme" not in APP_CSS
    assert APP_CSS.count("data-theme") == 2


def test_each_colour_is_written_once_and_differs_between_the_themes():
    pairs = [value for _, value in PROPERTY.findall(root()) if value.startswith("light-dark(")]
    assert len(pairs) > 30
    assert all(LIGHT_DARK.match(value) for value in pairs)
    light, dark = theme(0), theme(1)
    assert [name for name in light if light[name] != dark[name]]
    assert [value for value in pairs if LIGHT_DARK.match(value).group(1) == LIGHT_DARK.match(value).group(2)] == []


def test_every_custom_property_used_is_defined():
    light = theme(0)
    for path in sorted(STATIC_CSS.glob("*.css")):
        used = set(re.findall(r"var\((--[\w-]+)", path.read_text()))
        assert used - set(light) == set(), path.name


def luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted([luminance(first), luminance(second)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_is_the_wcag_ratio():
    assert round(contrast("#ffffff", "#000000"), 2) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


def test_chart_colours_stand_out_from_the_page_in_both_themes():
    for colours in [theme(0), theme(1)]:
        charts = {
            name: value for name, value in colours.items() if name.startswith("--chart-") and name != "--chart-grid"
        }
        assert len(charts) == 7
        # Graphics need 3:1 against what is next to them (WCAG 1.4.11); the areas are drawn at
        # 85 % opacity, hence the margin.
        faint = {name: round(contrast(value, colours["--bg"]), 2) for name, value in charts.items()}
        assert {name: ratio for name, ratio in faint.items() if ratio < 3.3} == {}


def test_every_label_colour_has_its_rule_and_white_text_passes_aa():
    from boards.models import LABEL_COLOURS

    for colour, name in LABEL_COLOURS:
        assert f".label-{colour[1:]} {{ background: {colour}; }}" in APP_CSS, name
        assert contrast(colour, "#ffffff") >= 4.5, name
