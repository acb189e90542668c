"""The stylesheets' colour themes: app.css lists the dark values twice (for a chosen dark theme and
for the system's when nothing was chosen), and the two lists must stay the same; every custom
property a stylesheet uses is defined; the charts' colours stand out from the page (WCAG 1.4.11).
tests/e2e/test_theme.py checks the text contrast in Chromium with axe-core."""

import re
from pathlib import Path

STATIC_CSS = Path(__file__).resolve().parents[1] / "static" / "css"
APP_CSS = (STATIC_CSS / "app.css").read_text()
PROPERTY = re.compile(r"^\s*(--[\w-]+):\s*(.+?);\s*$", re.MULTILINE)


def block(css: str, selector: str) -> dict[str, str]:
    """The custom properties (and color-scheme) declared in the first rule with this selector."""
    start = css.index(selector + " {") + len(selector) + 2
    body = css[start : css.index("}", start)]
    declared = dict(PROPERTY.findall(body))
    declared["color-scheme"] = re.search(r"color-scheme:\s*(\w+);", body).group(1)
    return declared


def test_the_chosen_and_the_system_dark_theme_are_the_same_list():
    chosen = block(APP_CSS, ':root[data-theme="dark"]')
    media = APP_CSS[APP_CSS.index("@media (prefers-color-scheme: dark)") :]
    system = block(media, ':root:not([data-theme="light"])')
    assert chosen == system
    assert chosen["color-scheme"] == "dark"
    assert len(chosen) > 30


def test_the_dark_theme_overrides_only_properties_of_the_light_one():
    light = block(APP_CSS, ":root")
    dark = block(APP_CSS, ':root[data-theme="dark"]')
    assert light["color-scheme"] == "light"
    assert set(dark) <= set(light)
    # Each listed value differs from the light one (equal ones are inherited, not repeated).
    assert [name for name in dark if dark[name] == light[name]] == []


def test_every_custom_property_used_is_defined():
    light = block(APP_CSS, ":root")
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
    light = block(APP_CSS, ":root")
    for theme in [light, {**light, **block(APP_CSS, ':root[data-theme="dark"]')}]:
        charts = {
            name: value for name, value in theme.items() if name.startswith("--chart-") and name != "--chart-grid"
        }
        assert len(charts) == 7
        # Graphics need 3:1 against what is next to them (WCAG 1.4.11); the areas are drawn at
        # 85 % opacity, hence the margin.
        faint = {name: round(contrast(value, theme["--bg"]), 2) for name, value in charts.items()}
        assert {name: ratio for name, ratio in faint.items() if ratio < 3.3} == {}


def test_every_label_colour_has_its_rule_and_white_text_passes_aa():
    from boards.models import LABEL_COLOURS

    for colour, name in LABEL_COLOURS:
        assert f".label-{colour[1:]} {{ background: {colour}; }}" in APP_CSS, name
        assert contrast(colour, "#ffffff") >= 4.5, name
