"""python -m bench.run [--quick] [--only NAME ...]: every measurement, results in bench/results/.

Runs against a database of its own: the name in DATABASE_URL with `_bench` appended (created and
migrated when missing), because each measurement empties the domain tables and builds its data.
"""

import argparse
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

NAMES = ["first_task", "operations", "board", "home", "recalc", "concurrency", "live", "serving"]
# Run only when asked (--only soak): half an hour at the full sizes. Also `python -m bench.soak`.
OPTIONAL = ["soak"]


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "tasktrack"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure_environment() -> str:
    """Production-like settings (DEBUG off, no query log) for this process and the servers it starts."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench needs PostgreSQL: set DATABASE_URL=postgres://…")
    url = bench_database_url(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return url


def setup_standalone() -> None:
    """What a measurement run on its own (python -m bench.<name>) needs before it starts: the
    production-like environment, its _bench database migrated, Django set up, the static files'
    manifest (DEBUG is off: pages need it)."""
    ensure_database(configure_environment())
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)


def run(names: list[str], sizes, *, out: Path | None = None, command: str = "python -m bench.run") -> list:
    """Run the named measurements with django set up; write the results; return the sections."""
    from django.db import connection

    from bench import report
    from bench.harness import Section

    modules = {
        "first_task": "bench.first_task",
        "operations": "bench.operations",
        "board": "bench.board_page",
        "home": "bench.home_page",
        "recalc": "bench.recalc",
        "concurrency": "bench.concurrency",
        "live": "bench.live",
        "serving": "bench.serving",
        "soak": "bench.soak",
    }
    import importlib

    started = time.perf_counter()
    meta = {
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": report.machine(),
        "sizes": vars(sizes),
    }
    sections = []
    for name in names:
        print(f"bench: {name} …", flush=True)
        t0 = time.perf_counter()
        try:
            section = importlib.import_module(modules[name]).run(sizes)
        except Exception as error:  # noqa: BLE001 - one failed measurement must not lose the others
            traceback.print_exc()
            section = Section(name, f"{name} (failed)", [])
            section.check("ran to the end", False, f"{type(error).__name__}: {error}")
        if section is not None:
            sections.append(section)
            for row in section.rows:
                print("   ", " | ".join(str(cell) for cell in row), flush=True)
        print(f"bench: {name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        meta["postgresql"] = cursor.fetchone()[0]
    meta["seconds"] = time.perf_counter() - started
    report.write(sections, meta=meta, out=out or report.RESULTS)
    return sections


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--only",
        action="append",
        choices=NAMES + OPTIONAL,
        metavar="NAME",
        help=f"one of {', '.join(NAMES + OPTIONAL)}",
    )
    parser.add_argument("--out", type=Path, help="results directory (default bench/results)")
    parser.add_argument("--readme", action="store_true", help="only rewrite README.md from latest.json")
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: put the sections measured again into bench/results in place of the old ones",
    )
    args = parser.parse_args(argv)
    if args.update and not args.only:
        parser.error("--update needs --only NAME: the sections to measure again")
    if args.readme:
        from bench import report

        report.rewrite(args.out or report.RESULTS)
        return 0

    url = configure_environment()
    ensure_database(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.conf import settings

    if not settings.DEBUG:
        call_command("collectstatic", verbosity=0, interactive=False)

    from bench.harness import FULL, QUICK

    command = "python -m bench.run" + (" --quick" if args.quick else "")
    command += "".join(f" --only {name}" for name in args.only or [])
    partial = args.quick or args.only
    out = args.out or (Path(__file__).resolve().parent / "results" / ("scratch" if partial else ""))
    run(args.only or NAMES, QUICK if args.quick else FULL, out=out, command=command)
    if args.update:
        from bench import report

        merge(out, report.RESULTS)
        out = report.RESULTS
    print(f"bench: results in {out}")
    return 0


def merge(measured: Path, results: Path) -> None:
    """Replace the sections of results/latest.json that `measured` holds, each noted with its run."""
    import json

    from bench import report

    new = json.loads((measured / "latest.json").read_text())
    payload = json.loads((results / "latest.json").read_text())
    by_name = {section["name"]: section for section in payload["sections"]}
    for section in new["sections"]:
        section["notes"].append(
            f"Measured again with `{new['command']}` at {new['started_at']} (load average at the start "
            f"{new['machine']['load_average_at_start']}); the other sections come from the run above."
        )
        by_name[section["name"]] = section
    payload["sections"] = [by_name[name] for name in NAMES + OPTIONAL if name in by_name]
    (results / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    report.rewrite(results)


if __name__ == "__main__":
    sys.exit(main())
