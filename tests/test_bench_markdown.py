"""bench/markdown.py runs end to end on a tiny size. Proves the script works; times nothing."""

import sys

from bench import markdown


def test_writes_a_table_with_the_interpreter(tmp_path):
    out = tmp_path / "markdown.txt"
    report = markdown.run([100, 200], budget=1.0, out=out, units=["[", "> "])
    assert out.read_text() == report
    assert f"interpreter: {sys.executable}" in report
    assert "headline, '[' * 200" in report
    assert "boards.text (now)" in report
    rows = [line for line in report.splitlines() if line.startswith(("'['", "'> '"))]
    assert len(rows) == 2 * len(markdown.renderers())
