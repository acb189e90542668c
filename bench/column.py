"""python -m bench.column [--cards 2000] [--sizes 500,2000,10000]: a whole column, "Show all" against
walking it in 50-card "Show more" pages, through a real HTTP server.

Builds one project per size with that many cards in its first column (every card dressed as on
the board bench: labels, priority, due date, counters), in a database of its own (DATABASE_URL's
name + `_bench`). Starts a server of one process (gunicorn's sync worker by default, or daphne),
so its memory is one process's. Both paths start where the board page stops (its first 50 cards):

- show all: GET the column's "Show all" stream (htmx, boards.web.column_all) after the board's
  cursor, read to its last byte;
- pages: GET "Show more" (htmx, views.column_more) after the board's cursor, then after each
  page's cursor until the column ends, one request at a time on one keep-alive connection, as the
  browser does.

Time: total from the first request to the last byte, p50 and p95 over --reps turns, the two paths
interleaved turn by turn. Queries: counted in this process through the test client (the same
views). Memory: for each size a fresh server, warmed up on a small column, then its peak RSS
(VmHWM) before and after a whole column; and, in this process, tracemalloc's peak while the
stream is read chunk by chunk, against the same bytes held whole (what a response built in one
piece holds). Results in bench/results/column.txt.
"""

import argparse
import http.client
import os
import platform
import re
import sys
import time
import tracemalloc
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "column.txt"
HTMX = {"HX-Request": "true"}


def configure() -> None:
    from bench.run import setup_standalone

    setup_standalone()


def build(sizes: list[int]) -> dict[int, tuple[int, int]]:
    """A project per size, `size` dressed cards in its first column (1 in 50 archived, as the
    other benches build them: the column shows the live ones); {size: (project id, column id)}."""
    from django.db import connection

    from bench import data

    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    built = {}
    for size in sizes:
        [project_id] = data.build_projects(
            application, projects=1, tasks_per_project=0, reporter=user, prefix=f"C{size}"
        )
        column_id = data.columns_of(project_id)[0].pk
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO boards_task (project_id, task_status_id, title, description, assignee_id, reporter_id, "
                "position, archived_at, created_at, updated_at, version, number) "
                "SELECT %(project)s, %(column)s, 'Column card ' || g, '', CASE WHEN g %% 3 = 0 THEN %(user)s END, "
                "%(user)s, g * 1024.0, NULL, now(), now(), 1, g FROM generate_series(1, %(n)s) g",
                {"project": project_id, "column": column_id, "user": user.pk, "n": size},
            )
            cursor.execute(
                "UPDATE boards_cardnumbersequence SET last_number = %s WHERE project_id = %s", [size, project_id]
            )
        built[size] = (project_id, column_id)
    ids = [project_id for project_id, _ in built.values()]
    data.fill_aggregates(ids)
    data.dress_cards(ids)
    data.analyze()
    return built


class Http:
    """One keep-alive connection of a logged-in user, as a browser tab holds it."""

    def __init__(self, port: int, session: str):
        self.port, self.session = port, session
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, htmx: bool = True) -> bytes:
        headers = {"Cookie": f"sessionid={self.session}", **(HTMX if htmx else {})}
        self.connection.request("GET", path, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise AssertionError(f"GET {path} answered {response.status}: {body[:300]!r}")
        return body

    def close(self) -> None:
        self.connection.close()


CARD = re.compile(rb'<article class="card" id="card-(\d+)"')
MORE = re.compile(rb'hx-get="([^"]*/cards/\?[^"]*after=[^"]+)"')
STREAM = re.compile(rb'data-stream="([^"]+)"')


def _unescape(url: bytes) -> str:
    return url.decode().replace("&amp;", "&")


def board_links(http: Http, project_id: int) -> tuple[str, str]:
    """The board's "Show more" and "Show all" URLs for its first column (its cursor after 50 cards)."""
    page = http.get(f"/projects/{project_id}/", htmx=False)
    return _unescape(MORE.search(page).group(1)), _unescape(STREAM.search(page).group(1))


def show_all(http: Http, url: str) -> dict:
    body = http.get(url)
    return {"requests": 1, "bytes": len(body), "ids": [int(pk) for pk in CARD.findall(body)]}


def pages(http: Http, url: str) -> dict:
    requests, size, ids = 0, 0, []
    while url:
        body = http.get(url)
        requests += 1
        size += len(body)
        ids += [int(pk) for pk in CARD.findall(body)]
        found = MORE.search(body)
        url = _unescape(found.group(1)) if found else ""
    return {"requests": requests, "bytes": size, "ids": ids}


def timed(walk, *args) -> tuple[float, dict]:
    from bench.harness import clock, since

    start = clock()
    result = walk(*args)
    return since(start), result


def queries_of(client, walk_urls) -> int:
    """Queries the views ran for these requests, in this process (the server's own are not visible)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        for url in walk_urls:
            response = client.get(url, headers=HTMX)
            assert response.status_code == 200, (url, response.status_code)
            if response.streaming:
                b"".join(response.streaming_content)
            else:
                response.content  # noqa: B018
    return len(captured.captured_queries)


def page_urls(client, first: str) -> list[str]:
    urls, url = [], first
    while url:
        urls.append(url)
        found = MORE.search(client.get(url, headers=HTMX).content)
        url = _unescape(found.group(1)) if found else ""
    return urls


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def serving_pid(server) -> int:
    """The process that runs the views: gunicorn's one worker, or daphne itself."""
    if server.kind != "gunicorn":
        return server.process.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as children:
            pids = [int(pid) for pid in children.read().split()]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def one_process_server(kind: str):
    from bench.servers import Server

    class OneProcess(Server):
        @property
        def label(self) -> str:
            return "gunicorn (WSGI, 1 sync worker)" if self.kind == "gunicorn" else "daphne (ASGI, one process)"

        def command(self) -> list[str]:
            command = super().command()
            if self.kind == "gunicorn":
                command[command.index("--workers") + 1] = "1"
            return command

    return OneProcess(kind)


def stream_tracemalloc(client, url: str) -> tuple[int, int]:
    """tracemalloc peak (bytes) reading the stream chunk by chunk, and holding the same bytes whole."""
    response = client.get(url, headers=HTMX)
    parts = iter(response.streaming_content)
    tracemalloc.start()
    for _ in parts:
        pass
    streamed = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    response.close()
    response = client.get(url, headers=HTMX)
    tracemalloc.start()
    whole = b"".join(response.streaming_content)
    held = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del whole
    response.close()
    return streamed, held


# In the page: walk the column as a user would, until its last card is in the DOM. "pages" clicks
# Show more and waits for htmx to settle its answer, again until the column ends; "all" clicks
# Show all and waits until the column holds every card and the region below it is empty.
BROWSER_WALK = """async ({mode, column, expected}) => {
  const list = document.getElementById(`column-${column}-cards`);
  const start = performance.now();
  if (mode === "all") {
    const done = () => list.children.length >= expected && !document.querySelector(`#column-${column}-more a`);
    const finished = new Promise((resolve) => {
      const observer = new MutationObserver(() => { if (done()) { observer.disconnect(); resolve(); } });
      observer.observe(list.parentNode, {childList: true, subtree: true});
    });
    document.querySelector(`#column-${column}-more a.more-all`).click();
    await finished;
  } else {
    // Click Show more once htmx has processed it (it takes the new region in when it settles:
    // its htmx-added class is gone), until the region comes back without it.
    const region = () => document.getElementById(`column-${column}-more`);
    const ready = () => new Promise((resolve) => {
      const check = () => {
        const more = region();
        if (more && !more.classList.contains("htmx-added")) resolve(more.querySelector("a.more:not(.more-all)"));
        else setTimeout(check, 1);
      };
      check();
    });
    let link = await ready();
    while (link) {
      link.click();
      while (document.contains(link)) await new Promise((resolve) => setTimeout(resolve, 1));
      link = await ready();
    }
  }
  return {ms: performance.now() - start, cards: list.children.length};
}"""


def browser_walks(port: int, session: str, project_id: int, column_id: int, expected: int, reps: int) -> dict:
    """Chromium (Playwright, /usr/bin/chromium): time until the column's last card is in the DOM."""
    from playwright.sync_api import sync_playwright

    from bench.harness import interleave, summary
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{port}"}])
        page = context.new_page()

        def walk(mode: str) -> float:
            page.goto(f"http://127.0.0.1:{port}/projects/{project_id}/")
            page.wait_for_load_state("load")
            got = page.evaluate(BROWSER_WALK, {"mode": mode, "column": column_id, "expected": expected})
            if got["cards"] != expected:
                raise AssertionError(f"{mode}: {got['cards']} cards in the DOM, not {expected}")
            return got["ms"]

        samples = interleave({"show_all": lambda: walk("all"), "pages": lambda: walk("pages")}, reps)
        browser.close()
    return {name: summary(values) for name, values in samples.items()}


def measure(built: dict, cards: int, sizes: list[int], reps: int, kind: str, browser_reps: int = 0) -> dict:
    from django.conf import settings
    from django.test import Client

    from bench import data
    from bench.harness import interleave, summary
    from boards.models import Task

    user = data.bench_user()
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    results: dict = {"timing": {}, "memory": {}, "server": ""}

    # Queries and what each path returns, in this process.
    for size in sorted({cards, *sizes}):
        project_id, column_id = built[size]
        board = client.get(f"/projects/{project_id}/").content
        more_url, all_url = _unescape(MORE.search(board).group(1)), _unescape(STREAM.search(board).group(1))
        expected = list(
            Task.objects.live().filter(task_status_id=column_id).order_by("position", "pk").values_list("pk", flat=True)
        )[50:]
        urls = page_urls(client, more_url)
        results.setdefault("queries", {})[size] = {
            "show_all": queries_of(client, [all_url]),
            "pages": queries_of(client, urls),
            "requests": len(urls),
            "expected": len(expected),
        }
        streamed, held = stream_tracemalloc(client, all_url)
        results.setdefault("tracemalloc", {})[size] = {"streamed": streamed, "held": held}

    # Time, turn by turn, on one server.
    with one_process_server(kind) as server:
        results["server"] = server.label
        http = Http(server.port, session)
        project_id, column_id = built[cards]
        more_url, all_url = board_links(http, project_id)
        expected = list(
            Task.objects.live().filter(task_status_id=column_id).order_by("position", "pk").values_list("pk", flat=True)
        )[50:]
        checks = {"show_all": show_all(http, all_url), "pages": pages(http, more_url)}  # also warms the server up
        for name, got in checks.items():
            if got["ids"] != expected:
                raise AssertionError(f"{name} gave {len(got['ids'])} cards, not the column's {len(expected)} in order")
        samples = interleave(
            {
                "show_all": lambda: timed(show_all, http, all_url)[0],
                "pages": lambda: timed(pages, http, more_url)[0],
            },
            reps,
        )
        http.close()
        if browser_reps:
            results["browser"] = browser_walks(
                server.port, session, project_id, column_id, len(expected) + 50, browser_reps
            )
        results["timing"] = {
            "cards": cards,
            "column": len(expected) + 50,
            **{
                name: {**summary(values), **{k: checks[name][k] for k in ("requests", "bytes")}}
                for name, values in samples.items()
            },
            "same_cards": True,
        }

    # Server memory: a fresh server per size, warmed up on the smallest column first.
    smallest = built[min(sizes)]
    for size in sizes:
        project_id, _ = built[size]
        with one_process_server(kind) as server:
            http = Http(server.port, session)
            pid = serving_pid(server)
            warm_more, warm_all = board_links(http, smallest[0])
            for _ in range(2):
                show_all(http, warm_all)
                pages(http, warm_more)
            more_url, all_url = board_links(http, project_id)
            before = peak_rss_kb(pid)
            for _ in range(2):
                got = show_all(http, all_url)
            after_all = peak_rss_kb(pid)
            for _ in range(2):
                pages(http, more_url)
            after_pages = peak_rss_kb(pid)
            http.close()
        results["memory"][size] = {
            "before_kb": before,
            "show_all_kb": after_all - before,
            "pages_kb": after_pages - after_all,
            "cards": len(got["ids"]),
            "bytes": got["bytes"],
        }
        print(f"  memory at {size:,}: peak RSS +{(after_all - before) / 1024:.1f} MB after show all", flush=True)
    return results


def write(results: dict, args) -> str:
    from django.db import connection

    from bench.harness import ms
    from boards.web import column_all

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    timing = results["timing"]
    ours, base = timing["show_all"], timing["pages"]
    speedup = base["median"] / ours["median"]
    sizes_text = ",".join(str(size) for size in args.sizes)
    lines = [
        f"python -m bench.column --cards {args.cards} --sizes {sizes_text} --reps {args.reps} --server {args.server}"
        f" --browser-reps {args.browser_reps}"
        f"  at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); PostgreSQL {server_version}; "
        f"{os.cpu_count()} cores; load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"server: {results['server']} on 127.0.0.1; "
        f"chunk {column_all.CHUNK} cards, at most {column_all.LIMIT:,} a request",
        "",
        f"Whole column of {timing['column']:,} cards, the {timing['column'] - 50:,} after the board's first 50, "
        f"{args.reps} turns each, interleaved:",
        f"{'path':34} {'p50 ms':>8} {'p95 ms':>8} {'requests':>9} {'KB':>8} {'queries':>8}",
    ]
    queries = results["queries"][args.cards]
    for name, label, row in (
        ("show_all", "show all (one streamed answer)", ours),
        ("pages", "Show more, 50-card pages", base),
    ):
        lines.append(
            f"{label:34} {ms(row['median']):>8} {ms(row['p95']):>8} {row['requests']:>9} "
            f"{row['bytes'] / 1024:>8,.0f} {queries[name]:>8}"
        )
    lines.append(f"ratio (pages p50 / show all p50): {speedup:.1f}x; both gave the same cards in the column's order")
    if "browser" in results:
        shown = results["browser"]
        lines += [
            "",
            f"In Chromium (headless, /usr/bin/chromium), {args.browser_reps} turns each: from the click to the",
            "column's last card in the DOM (Show all: streamed in; pages: Show more clicked until the column",
            "ends, each answer settled by htmx before the next click):",
            f"{'path':34} {'p50 ms':>8} {'p95 ms':>8}",
            f"{'show all':34} {ms(shown['show_all']['median']):>8} {ms(shown['show_all']['p95']):>8}",
            f"{'Show more, 50-card pages':34} {ms(shown['pages']['median']):>8} {ms(shown['pages']['p95']):>8}",
            f"ratio: {shown['pages']['median'] / shown['show_all']['median']:.1f}x",
        ]
    lines += [
        "",
        "Queries at every size (the views, counted in this process; the session and user included):",
        f"{'cards':>8} {'show all':>9} {'pages':>7} {'page requests':>14}",
    ]
    for size, row in sorted(results["queries"].items()):
        lines.append(f"{size:>8,} {row['show_all']:>9} {row['pages']:>7} {row['requests']:>14}")
    lines += [
        "",
        "Memory: the serving process's peak RSS (VmHWM) growth over a warmed-up server, for one whole column",
        "(twice), and tracemalloc's peak in this process while the stream is read chunk by chunk, against",
        "the same answer held whole (what a response rendered in one piece holds):",
        f"{'cards':>8} {'answer KB':>10} {'RSS +KB show all':>17} {'RSS +KB pages':>14} "
        f"{'tracemalloc streamed KB':>24} "
        f"{'held whole KB':>14}",
    ]
    for size in args.sizes:
        memory, traced = results["memory"][size], results["tracemalloc"][size]
        lines.append(
            f"{size:>8,} {memory['bytes'] / 1024:>10,.0f} {memory['show_all_kb']:>17,} {memory['pages_kb']:>14,} "
            f"{traced['streamed'] / 1024:>24,.0f} {traced['held'] / 1024:>14,.0f}"
        )
    largest, smallest = max(args.sizes), min(args.sizes)
    traced = results["tracemalloc"]
    flat_traced = traced[largest]["streamed"] < 2 * traced[smallest]["streamed"] + 512 * 1024
    rss_growth = results["memory"][largest]["show_all_kb"]
    lines += [
        "",
        f"target: whole column >= 2x faster than 50-card pages: "
        f"{'met' if speedup >= 2 else 'NOT met'} ({speedup:.1f}x)",
        f"target: server memory flat ({smallest:,} to {largest:,} cards): "
        f"{'met' if flat_traced and rss_growth < 8 * 1024 else 'NOT met'} (tracemalloc peak "
        f"{traced[smallest]['streamed'] / 1024:,.0f} KB at {smallest:,}, "
        f"{traced[largest]['streamed'] / 1024:,.0f} KB at "
        f"{largest:,}; peak RSS +{rss_growth:,} KB at {largest:,})",
        "",
        "show all: boards.web.column_all, one request answered in chunks of cards, each chunk one indexed keyset",
        "query rendered with the board's card_face, its connection back in the pool before it is sent.",
        "pages: views.column_more, the board's Show more followed page after page (50 cards a request).",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000, help="the column timed against its pages")
    parser.add_argument(
        "--sizes", type=lambda text: [int(n) for n in text.split(",")], default=[500, 2000, 10_000], help="memory sizes"
    )
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--server", choices=["gunicorn", "daphne"], default="gunicorn")
    parser.add_argument("--browser-reps", type=int, default=0, help="also time it in Chromium, this many turns")
    args = parser.parse_args()
    configure()
    print(f"building columns of {sorted({args.cards, *args.sizes})} cards…", flush=True)
    built = build(sorted({args.cards, *args.sizes}))
    results = measure(built, args.cards, args.sizes, args.reps, args.server, args.browser_reps)
    print(write(results, args))


if __name__ == "__main__":
    main()
