"""Rendering one card description, before and after issue 17: CPU time of the worst inputs.

Each input is one unit repeated to n characters. Renderers, each followed by the same nh3 clean:
- python-markdown, as the app used it before (fenced_code, tables, sane_lists), when installed
  (it is no longer in requirements.txt: `pip install Markdown==3.11.3` to compare);
- markdown-it-py (CommonMark + tables + strikethrough), linear but pure Python, when installed;
- boards.text.render_markdown, what the app runs now (cmark-gfm, within its bounds).
A renderer is not run at the next size once one render took more than --budget / 4 seconds
(quadratic: the next would take four times as long); such cells read "skipped". The headline,
'[' at the largest size (the input issue 17 reports), is measured for every renderer regardless.

    python -m bench.markdown [--sizes 2500,5000,10000,20000] [--budget 20] [--out PATH]

Writes bench/results/markdown.txt. Needs no database.
"""

import argparse
import gc
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "markdown.txt"
UNITS = ["[", "[](", "![[", "*", "_", "`", "\\", "<", "> ", "- [ ] a\n", "a|b\n-|-\n", "**_* ", "&#", "[a](<b"]


def renderers() -> dict:
    sys.path.insert(0, str(ROOT))
    from boards import text

    def clean(html: str) -> str:
        return text.nh3.clean(
            html, tags=text.ALLOWED_TAGS, attributes=text.ALLOWED_ATTRIBUTES, url_schemes=text.URL_SCHEMES
        )

    found = {}
    try:
        import markdown

        found["python-markdown"] = lambda source: clean(
            markdown.markdown(source, extensions=["fenced_code", "tables", "sane_lists"])
        )
    except ImportError:
        pass
    try:
        from markdown_it import MarkdownIt

        parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
        found["markdown-it-py"] = lambda source: clean(parser.render(source))
    except ImportError:
        pass
    found["boards.text (now)"] = text.render_markdown
    return found


def cpu_seconds(render, source: str) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        render(source)
        return time.process_time() - start
    finally:
        gc.enable()


def versions() -> str:
    names = ["Markdown", "markdown-it-py", "cmarkgfm", "nh3"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def run(sizes: list[int], budget: float, out: Path, units: list[str] = UNITS) -> str:
    found = renderers()
    lines = [
        "Rendering one card description: CPU seconds per render (time.process_time), one unit repeated to n chars.",
        f"interpreter: {sys.executable} — Python {sys.version.split()[0]} ({platform.python_implementation()})",
        f"packages: {versions()}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average at start "
        f"{' '.join(f'{load:.1f}' for load in os.getloadavg())} (a shared machine: CPU time, not wall time)",
        f"cells 'skipped': the previous size took over {budget / 4:g} s; quadratic, this one would take 4x",
        "",
    ]
    headline = "[" * max(sizes)
    lines.append(f"headline, '[' * {max(sizes)} (the input issue 17 reports):")
    for name, render in found.items():
        lines.append(f"  {name}: {cpu_seconds(render, headline):.4f} s")
        print(lines[-1], flush=True)
    lines.append("")
    width = max(len(name) for name in found)
    header = f"{'input':<14} {'renderer':<{width}} " + " ".join(f"{f'n={size}':>11}" for size in sizes)
    lines += [header, "-" * len(header)]
    for unit in units:
        for name, render in found.items():
            cells, stop = [], False
            for size in sizes:
                if stop:
                    cells.append(f"{'skipped':>11}")
                    continue
                seconds = cpu_seconds(render, (unit * (size // len(unit) + 1))[:size])
                cells.append(f"{seconds:>11.4f}")
                stop = seconds > budget / 4
            lines.append(f"{unit!r:<14} {name:<{width}} " + " ".join(cells))
            print(lines[-1], flush=True)
        lines.append("")
    report = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2500,5000,10000,20000")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds one render may take (20)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    run([int(size) for size in args.sizes.split(",")], args.budget, args.out)


if __name__ == "__main__":
    main()
