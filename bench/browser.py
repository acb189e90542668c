"""python -m bench.browser [--cards N] [--loads L]: what a user feels in Chromium, old page against new.

Builds one project of N dressed cards (labels, priority, due date, checklist, comment and
attachment counts on every card: bench.data.dress_cards) in the bench database (DATABASE_URL's
name + `_bench`). Serves it twice side by side, each by a daphne of its own against that same
database: "new" from this work tree, "old" from a `git worktree` of BASELINE (the board as it was
before this round, with its own collected static files), made in /tmp and removed after. Then, in
Debian's Chromium driven by Playwright, L turns, the two pages alternating turn by turn (who goes
first rotates), each turn on each page:

- usable: navigation start until the board can be dragged and is on screen. The marker exists
  in both pages: board.js binds SortableJS on every card list in its DOMContentLoaded handler
  (each list gets data-sortable); a window listener for DOMContentLoaded runs after every document
  one, checks that every list is bound, and the time is taken after the next frame
  (requestAnimationFrame, then a task: the frame with the bound board has been produced).
- dialog: a click on a card's title until the card dialog is open with its content, next frame.
- filter: a key typed into the board's filter box (its keydown's timestamp) until the redrawn
  board region is in the page, next frame (the box's debounce included, as the user feels it).

Bytes per card: the served page's card faces (each <article class="card">), their average size,
and the whole page divided by its cards. Results in bench/results/browser.txt.
"""

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "browser.txt"
BASELINE = "0f2074d"  # main before this round: the per-card ⋯ menu
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
FILTER_KEY = "7"  # "Bench task N": about a third of the titles have a 7, every column redrawn

# Installed before any page script: marks the moment the board is bound and painted.
MARKER = """
window.__bench = {};
window.addEventListener("DOMContentLoaded", function () {
  var lists = document.querySelectorAll("#board-columns .cards");
  window.__bench.lists = lists.length;
  window.__bench.bound = Array.prototype.every.call(lists, function (l) { return l.dataset.sortable === "1"; });
  window.__bench.dcl = performance.now();
  requestAnimationFrame(function () {
    setTimeout(function () { window.__bench.usable = performance.now(); }, 0);
  });
});
"""

OPEN_DIALOG = """
(index) => new Promise((resolve) => {
  var links = document.querySelectorAll("#board-columns .card-title a");
  var link = links[Math.min(index, links.length - 1)];
  var dialog = document.getElementById("card-dialog");
  var body = document.getElementById("card-dialog-body");
  var start = performance.now();
  var observer = new MutationObserver(function () {
    if (!dialog.open || !body.querySelector(".card-detail")) return;
    observer.disconnect();
    requestAnimationFrame(function () {
      setTimeout(function () { resolve(performance.now() - start); }, 0);
    });
  });
  observer.observe(dialog, { attributes: true, childList: true, subtree: true });
  link.click();
})
"""

WATCH_FILTER = """
() => {
  var board = document.getElementById("board");
  var old = document.getElementById("board-columns");
  window.__filter = {};
  document.getElementById("filter-q").addEventListener("keydown", function (e) {
    window.__filter.start = e.timeStamp;
  }, { once: true });
  var observer = new MutationObserver(function () {
    var now = document.getElementById("board-columns");
    if (!now || now === old) return;
    observer.disconnect();
    requestAnimationFrame(function () {
      setTimeout(function () { window.__filter.done = performance.now(); }, 0);
    });
  });
  observer.observe(board, { childList: true, subtree: true });
  document.getElementById("filter-q").focus();
}
"""


# The server's share of the dialog and the filter: request sent to first byte (resource timing).
SERVER_WAITS = """
(key) => {
  var entries = performance.getEntriesByType("resource");
  function wait(test) {
    var found = entries.filter(function (e) { return test(e.name); }).pop();
    return found ? found.responseStart - found.requestStart : null;
  }
  return {
    dialog_wait: wait(function (name) { return /\\/cards\\/\\d+\\/$/.test(name.split("?")[0]); }),
    filter_wait: wait(function (name) { return name.indexOf("q=" + key) >= 0; }),
  };
}
"""


def configure() -> None:
    from bench.run import setup_standalone

    setup_standalone()


def build(cards: int) -> tuple[int, str]:
    """The project of `cards` dressed cards; returns its id and a session cookie of its owner."""
    from django.test import Client

    from bench import data

    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    project_id = data.build_projects(application, projects=1, tasks_per_project=cards, reporter=user, prefix="W")[0]
    data.fill_aggregates([project_id])
    data.dress_cards([project_id])
    data.analyze()
    client = Client()
    client.force_login(user)
    return project_id, client.cookies["sessionid"].value


class Server:
    """A daphne serving the code of `root` against the bench database, on a port of its own."""

    def __init__(self, root: Path):
        from bench.servers import database_url

        self.root = root
        self.env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(root)}
        self.env.update({"DB_POOL_MIN": "1", "DB_POOL_MAX": "4", "LOG_LEVEL": "WARNING"})
        self.process = None
        self.log = None

    def __enter__(self) -> "Server":
        from tests.support import ports

        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        with ports.listening_socket() as listener:
            self.port = listener.getsockname()[1]
            self.process = subprocess.Popen(
                [str(BIN / "daphne"), "--fd", str(listener.fileno()), "tasktrack.asgi:application"],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                pass_fds=[listener.fileno()],
            )
        deadline = time.monotonic() + 60
        while not ports.answers_http(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"daphne in {self.root} did not start: {self.log.read()[-2000:]!r}")
            time.sleep(0.2)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Baseline:
    """A git worktree of BASELINE in /tmp with its static files collected; removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="tasktrack-baseline-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(self.path), BASELINE], cwd=ROOT, check=True)
        env = {**os.environ, "PYTHONPATH": str(self.path)}
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=self.path, env=env, check=True
        )
        return self.path

    def __exit__(self, *exc) -> None:
        subprocess.run(["git", "worktree", "remove", "--force", str(self.path)], cwd=ROOT, check=False)
        shutil.rmtree(self.path.parent, ignore_errors=True)


CARD = re.compile(rb'<article class="card".*?</article>', re.S)


def page_bytes(html: bytes) -> dict:
    faces = CARD.findall(html)
    return {
        "page": len(html),
        "cards": len(faces),
        "per_card": sum(map(len, faces)) / max(1, len(faces)),
        "page_per_card": len(html) / max(1, len(faces)),
    }


def one_turn(page, board_url: str, turn: int) -> dict:
    """One load of the board, one dialog opening, one filter keystroke: their times in ms."""
    page.goto(board_url, wait_until="load")
    page.wait_for_function("window.__bench && window.__bench.usable !== undefined")
    marks = page.evaluate(
        """() => {
          var nav = performance.getEntriesByType("navigation")[0];
          var paint = performance.getEntriesByName("first-contentful-paint")[0];
          return Object.assign({}, window.__bench, {
            ttfb: nav.responseStart, response: nav.responseEnd,
            fcp: paint ? paint.startTime : null,
            cards: document.querySelectorAll("#board-columns .card").length,
          });
        }"""
    )
    if not marks["bound"] or not marks["lists"]:
        raise AssertionError(f"{board_url}: the card lists were not bound at DOMContentLoaded: {marks}")
    dialog = page.evaluate(OPEN_DIALOG, turn * 7)
    page.evaluate("document.getElementById('card-dialog').close()")
    page.evaluate(WATCH_FILTER)
    page.keyboard.press(FILTER_KEY)
    page.wait_for_function("window.__filter.done !== undefined", timeout=30_000)
    filtered = page.evaluate("window.__filter.done - window.__filter.start")
    shown = page.evaluate("document.querySelectorAll('#board-columns .card').length")
    waits = page.evaluate(SERVER_WAITS, FILTER_KEY)
    return {**marks, "dialog": dialog, "filter": filtered, "filtered_cards": shown, **waits}


def measure(cards: int, loads: int) -> dict:
    """Both pages, turn by turn; returns the samples and what was checked."""
    from playwright.sync_api import sync_playwright

    project_id, session = build(cards)
    path = f"/projects/{project_id}/"
    samples: dict[str, list[dict]] = {"old": [], "new": []}
    sizes = {}
    with Baseline() as old_root, Server(old_root) as old, Server(ROOT) as new, sync_playwright() as playwright:
        servers = {"old": old, "new": new}
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = {}
        for name, server in servers.items():
            # The page forbids eval (CSP): Playwright's wait_for_function needs it.
            context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
            context.add_init_script(MARKER)
            pages[name] = context.new_page()
            response = context.request.get(server.url + path)
            if response.status != 200:
                raise AssertionError(f"{name}: GET {path} answered {response.status}")
            sizes[name] = page_bytes(response.body())
            one_turn(pages[name], server.url + path, 0)  # warm: static files cached, code paths imported
        names = list(servers)
        for turn in range(loads):
            for name in names[turn % 2 :] + names[: turn % 2]:
                samples[name].append(one_turn(pages[name], servers[name].url + path, turn))
        browser.close()
    return {"project": project_id, "samples": samples, "sizes": sizes, "cards": cards, "loads": loads}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def report(result: dict, command: str) -> str:
    from django.db import connection

    from bench.harness import ms

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    load = os.getloadavg()
    samples, sizes = result["samples"], result["sizes"]
    lines = [
        f"# Browser: a {result['cards']:,}-card board in Chromium, the page before this round against now",
        "",
        f"command:     {command}",
        f"when:        {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"python:      {sys.executable} {platform.python_version()}",
        f"postgresql:  {pg}",
        f"cores:       {os.cpu_count()}; load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"loads:       {result['loads']} per page, alternating turn by turn (old = {BASELINE}, new = this tree)",
        "",
        f"{'measure':<34}{'old p50':>10}{'old p95':>10}{'new p50':>10}{'new p95':>10}{'old/new':>9}",
    ]
    figures = {}
    for key, label in (
        ("usable", "usable (drag bound, painted) ms"),
        ("dcl", "DOMContentLoaded done ms"),
        ("fcp", "first contentful paint ms"),
        ("response", "HTML received (responseEnd) ms"),
        ("dialog", "card dialog open ms"),
        ("filter", "filter key to redrawn board ms"),
        ("dialog_wait", "  of which server wait ms (dialog)"),
        ("filter_wait", "  of which server wait ms (filter)"),
    ):
        row = {}
        for name in ("old", "new"):
            values = [s[key] for s in samples[name] if s[key] is not None]
            row[name] = (percentile(values, 50), percentile(values, 95)) if values else (0.0, 0.0)
        figures[key] = row
        ratio = row["old"][0] / row["new"][0] if row["new"][0] else 0.0
        lines.append(
            f"{label:<34}{ms(row['old'][0]):>10}{ms(row['old'][1]):>10}{ms(row['new'][0]):>10}"
            f"{ms(row['new'][1]):>10}{ratio:>8.1f}x"
        )
    old_b, new_b = sizes["old"], sizes["new"]
    lines += [
        f"{'card face bytes (average)':<34}{old_b['per_card']:>10,.0f}{'':>10}{new_b['per_card']:>10,.0f}{'':>10}"
        f"{old_b['per_card'] / new_b['per_card']:>8.1f}x",
        f"{'page bytes / cards on it':<34}{old_b['page_per_card']:>10,.0f}{'':>10}{new_b['page_per_card']:>10,.0f}"
        f"{'':>10}{old_b['page_per_card'] / new_b['page_per_card']:>8.1f}x",
        f"{'page KB (cards on it)':<34}{old_b['page'] / 1024:>10,.0f}{'(' + str(old_b['cards']) + ')':>10}"
        f"{new_b['page'] / 1024:>10,.0f}{'(' + str(new_b['cards']) + ')':>10}",
        "",
        "targets:",
    ]
    usable_new, usable_old = figures["usable"]["new"][0], figures["usable"]["old"][0]
    checks = [
        ("usable p50 under 1 s", usable_new < 1000, f"{ms(usable_new)} ms"),
        ("usable at least 3x better than old", usable_old >= 3 * usable_new, f"{usable_old / usable_new:.1f}x"),
        (
            "card face bytes halved or better",
            new_b["per_card"] * 2 <= old_b["per_card"],
            f"{old_b['per_card']:,.0f} -> {new_b['per_card']:,.0f} B",
        ),
        ("dialog p50 under 150 ms", figures["dialog"]["new"][0] < 150, f"{ms(figures['dialog']['new'][0])} ms"),
        ("filter p50 under 300 ms", figures["filter"]["new"][0] < 300, f"{ms(figures['filter']['new'][0])} ms"),
        (
            "same cards on both pages",
            all(s["cards"] == samples["old"][0]["cards"] for s in samples["old"] + samples["new"]),
            f"{samples['new'][0]['cards']} cards, {samples['new'][0]['filtered_cards']} after the filter",
        ),
    ]
    lines += [f"  [{'met' if met else 'MISSED'}] {name}: {detail}" for name, met, detail in checks]
    lines += [
        "",
        "How: two daphne processes (one per page) against the same bench database, one Chromium",
        "(Playwright, headless, 1400x900, a context per page, static files cached after a first warm",
        "load). Times are from the page's own clock (performance.now): navigation start to the first",
        "frame after DOMContentLoaded with every card list bound for dragging (board.js, the same in",
        "both pages); a title click to the open dialog with the card's content; a keydown in the",
        "filter box to the redrawn board region (the box's debounce counts: 300 ms old, 100 ms new).",
        "'server wait' is the request's time from sent to first byte (resource timing): the server's",
        'share. Card face bytes: the average <article class="card"> of the served page, every card',
        "dressed (labels, priority, due date, checklist, comment and attachment counts).",
        "",
    ]
    result["checks"] = checks
    result["figures"] = figures
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    configure()
    result = measure(args.cards, args.loads)
    text = report(result, "python -m bench.browser " + " ".join(argv if argv is not None else sys.argv[1:]))
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
