"""gunicorn config for `python -m bench.writes --profile`: each worker under cProfile from
its 5th request to worker_exit, its stats in $WRITES_PROFILE_DIR/<pid>.pstats. Also the summary
of those stats by whose code the time is in (ours, Django, psycopg, gunicorn, ...)."""

import cProfile
import os
import re
from collections import defaultdict
from pathlib import Path

_profiler = cProfile.Profile()
WARM_UP = 5  # requests each worker serves before the profile starts: imports, first compiles
_served = [0]


def pre_request(worker, req):
    _served[0] += 1
    if _served[0] == WARM_UP:
        _profiler.enable()


def worker_exit(server, worker):
    _profiler.disable()
    _profiler.dump_stats(os.path.join(os.environ["WRITES_PROFILE_DIR"], f"{os.getpid()}.pstats"))


# psycopg functions whose own time is a C call blocking on PostgreSQL (its answer, or the send).
PSYCOPG_WAITS = {"wait", "_execute_send", "_exec_command"}
# Builtins whose time is waiting, named by who called them.
WAITS = {"select", "poll", "epoll", "accept", "wait", "recv", "recv_into", "sendall", "send", "read", "write"}


def owner(filename: str, root: Path) -> str:
    """Whose code a file is: ours (package), django (subpackage), psycopg, gunicorn, a library, stdlib."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        rest = path.split("site-packages/", 1)[1].split("/")
        package = rest[0]
        if package == "django":
            sub = rest[1] if len(rest) > 2 else ""
            if sub == "contrib" and len(rest) > 3:
                sub = f"contrib.{rest[2]}"
            return f"django {sub}".strip()
        if package.startswith(("psycopg", "psycopg_pool")):
            return "psycopg"
        return package.split(".")[0]
    if path.startswith(str(root) + "/"):
        return "ours " + path[len(str(root)) + 1 :].split("/")[0].removesuffix(".py")
    if path.startswith("~") or path.startswith("<"):
        return "builtin"
    return "stdlib " + Path(path).stem


def _family(category: str) -> str:
    return category.split()[0] if category.split()[0] in {"ours", "django", "stdlib"} else category


def summarise(stats, *, label: str, root: Path) -> str:
    """Time per request by owner: each function's own time (tottime), a builtin's given to its
    callers' owners; waits (select, recv, PostgreSQL, ...) kept apart by whose call waited."""
    moves = sum(
        nc
        for (filename, _l, name), (_cc, nc, *_rest) in stats.stats.items()
        if name == "__call__" and filename.endswith("django/core/handlers/wsgi.py")
    )
    by_category: dict[str, float] = defaultdict(float)
    waits: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, callers) in stats.stats.items():
        category = owner(filename, root)
        if category == "psycopg" and name in PSYCOPG_WAITS:
            waits[f"PostgreSQL: psycopg {name}"] += tottime
            continue
        if category != "builtin":
            by_category[category] += tottime
            continue
        quoted = re.search(r"'([^']+)'", name)
        method = quoted.group(1) if quoted else name.strip("{}<>").split()[-1].split(".")[-1]
        total_from_callers = sum(c[2] for c in callers.values()) or 1
        for caller, (_c, _n, caller_tt, _cct) in callers.items():
            share = tottime * caller_tt / total_from_callers
            who = _family(owner(caller[0], root))
            if method in WAITS:
                waits[f"{method} from {who}"] += share
            else:
                by_category[owner(caller[0], root)] += share
    idle = sum(
        v
        for k, v in waits.items()
        if k.split(" from ")[0] in {"select", "poll", "epoll", "accept"} and k.endswith("gunicorn")
    )
    busy = sum(by_category.values())
    per = 1000 / (moves or 1)
    families: dict[str, float] = defaultdict(float)
    for category, seconds in by_category.items():
        families[_family(category)] += seconds
    lines = [
        f"== {label}: {moves:,} profiled moves; CPU-side time in the workers {busy * per:.2f} ms/move "
        f"(waits listed apart; waiting for a connection {idle * per:.2f} ms/move)",
        "",
        f"{'whose code':34} {'ms/move':>8} {'share':>6}",
    ]
    for family, seconds in sorted(families.items(), key=lambda kv: -kv[1]):
        lines.append(f"{family:34} {seconds * per:>8.2f} {seconds / busy * 100:>5.1f}%")
    lines += ["", "in detail (own time, a builtin's given to its caller's package):", ""]
    for category, seconds in sorted(by_category.items(), key=lambda kv: -kv[1])[:30]:
        lines.append(f"  {category:32} {seconds * per:>8.2f} {seconds / busy * 100:>5.1f}%")
    lines += ["", "waits (a blocking call, by whose code made it):", ""]
    for key, seconds in sorted(waits.items(), key=lambda kv: -kv[1])[:10]:
        lines.append(f"  {key:32} {seconds * per:>8.2f}")
    lines += ["", "cumulative time per move of the largest calls of ours, Django's and psycopg's:", ""]
    rows = []
    for (filename, line, name), (_cc, nc, _tt, cumtime, _callers) in stats.stats.items():
        category = owner(filename, root)
        if category.startswith(("ours", "django", "psycopg")):
            rows.append((cumtime, nc, f"{category}: {name} ({Path(filename).name}:{line})"))
    for cumtime, nc, where in sorted(rows, reverse=True)[:45]:
        lines.append(f"  {cumtime * per:>7.2f} ms  {nc / (moves or 1):>6.1f} calls  {where}")
    return "\n".join(lines) + "\n"
