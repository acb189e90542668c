"""8. Serving HTTP: the same move workload against one daphne, a daphne per core, and gunicorn."""

from bench.concurrency import COLUMNS, build, drift, drift_detail, row, run_moves
from bench.drivers import http_available
from bench.harness import Section, ratio, summary
from bench.servers import Server

TITLE = "Serving HTTP: daphne vs gunicorn, same workload"
ROUNDS = 2  # turns per server; a smoke run (a few seconds) takes one
KINDS = ("daphne", "daphne-workers", "gunicorn")


def run(sizes) -> Section:
    section = Section("serving", TITLE, COLUMNS)
    if not http_available():
        section.notes.append("Not measured: the board's move endpoint has not landed on main yet.")
        return section
    project_id = build(sizes)
    # Alternate the servers in rounds, so a burst of noise on the machine hits all of them.
    results: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    turns = ROUNDS if sizes.seconds >= 10 else 1
    for _ in range(turns):
        for kind in KINDS:
            with Server(kind) as server:
                results[kind].append(
                    run_moves(server, project_id, clients=sizes.clients, seconds=sizes.seconds / turns)
                )
    after = drift(project_id)
    merged = {}
    for kind, rounds in results.items():
        latencies = [value for r in rounds for value in r.pop("latencies")]
        seconds = sum(r["seconds"] for r in rounds)
        merged[kind] = {
            "server": rounds[0]["server"],
            "clients": sizes.clients,
            "seconds": seconds,
            "throughput": sum(r["throughput"] * r["seconds"] for r in rounds) / seconds,
            "errors": sum(r["errors"] for r in rounds),
            **({"latency": summary(latencies)} if latencies else {}),
        }
        section.rows.append(row(merged[kind], after))
    section.raw = {"merged": merged, "rounds": results, "drift": after}
    section.notes.append(
        f"The servers take turns, {turns} round(s) each; figures are over all rounds. Throughput against "
        f"one daphne: a daphne per core {ratio(merged['daphne-workers']['throughput'], merged['daphne']['throughput'])}"
        f", gunicorn {ratio(merged['gunicorn']['throughput'], merged['daphne']['throughput'])}."
    )
    section.notes.append(recommendation(merged["daphne-workers"], merged["gunicorn"]))
    errors = {kind: merged[kind]["errors"] for kind in KINDS}
    section.check(
        "0 errors on every server", sum(errors.values()) == 0, ", ".join(f"{k} {n}" for k, n in errors.items())
    )
    section.check("0 drift", after["cells"] == 0 and after["derived_status_ok"], drift_detail(after))
    return section


def recommendation(daphne: dict, gunicorn: dict) -> str:
    """The default server, chosen from this run's figures: daphne per core against gunicorn."""
    d_rate, g_rate = daphne["throughput"], gunicorn["throughput"]
    d_p95 = daphne.get("latency", {}).get("p95", float("inf"))
    g_p95 = gunicorn.get("latency", {}).get("p95", float("inf"))
    figures = (
        f"a daphne per core {d_rate:,.0f} moves/s (p95 {d_p95:,.0f} ms), "
        f"gunicorn {g_rate:,.0f} moves/s (p95 {g_p95:,.0f} ms)"
    )
    if g_rate >= 1.2 * d_rate and g_p95 <= d_p95:
        return (
            f"**Default from these figures: gunicorn for HTTP beside daphne for WebSockets** ({figures}). "
            "The price is a second server and a proxy route sending /ws/ to daphne."
        )
    return (
        f"**Default from these figures: a daphne per core for everything (`python -m tasktrack.serve`)** "
        f"({figures}). gunicorn is not clearly faster (it needs >= 1.2x the throughput at no worse p95 to "
        "earn a second server and a proxy route for /ws/), so one server for HTTP and WebSockets stays "
        "the simpler default. One daphne process alone is bound to one core: Python runs one thread at a "
        "time per process."
    )
