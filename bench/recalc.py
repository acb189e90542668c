"""5. recalc_aggregates and recalc_aggregates --check over many projects: seconds, tasks per second."""

from contextlib import suppress
from io import StringIO

from django.core.management import CommandError, call_command, get_commands
from django.db import connection

from aggregates.counts import count_live_tasks
from aggregates.models import COUNT_FIELDS, ProjectTaskStatusAgg
from bench import data
from bench.harness import Section, clock, interleave, ratio, since, summary

TITLE = "recalc_aggregates: rebuild and --check"
AGG_TABLE = ProjectTaskStatusAgg._meta.db_table


def _damage(every: int = 10) -> int:
    """Zero the counts of every `every`-th project (untimed), so the rebuild has real work."""
    zero = ", ".join(f"{field} = 0" for field in ["total_tasks", *COUNT_FIELDS.values()])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {AGG_TABLE} SET {zero} WHERE project_id %% %s = 0", [every])
        return cursor.rowcount


def naive_recalc(project_ids: list[int], *, check: bool) -> int:
    """One GROUP BY per project, compared (and rewritten) row by row: the loop a script would write."""
    drifted = 0
    rows = {row.pk: row for row in ProjectTaskStatusAgg.objects.all()}
    for project_id in project_ids:
        found = count_live_tasks([project_id])[project_id]
        row = rows.get(project_id)
        if row is not None and row.as_counts() == found:
            continue
        drifted += 1
        if not check:
            ProjectTaskStatusAgg.objects.filter(pk=project_id).update(
                total_tasks=sum(found.values()), **{COUNT_FIELDS[c]: n for c, n in found.items()}
            )
    return drifted


def _command(*args) -> float:
    start = clock()
    with suppress(SystemExit, CommandError):  # --check may report drift by failing
        call_command("recalc_aggregates", *args, stdout=StringIO(), stderr=StringIO())
    return since(start) / 1000


def run(sizes) -> Section:
    section = Section("recalc", TITLE, ["projects", "tasks", "variant", "seconds (median)", "tasks/s", "ratio"])
    if "recalc_aggregates" not in get_commands():
        section.notes.append("Not measured: the recalc_aggregates command has not landed on main yet.")
        return section
    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    per_project = sizes.recalc_tasks // sizes.recalc_projects
    ids = data.build_projects(
        application, projects=sizes.recalc_projects, tasks_per_project=per_project, reporter=user, prefix="R"
    )
    data.fill_aggregates(ids)
    data.analyze()
    tasks = per_project * len(ids)

    def rebuild() -> float:
        _damage()
        return _command()

    def check() -> float:
        return _command("--check")

    def naive_rebuild() -> float:
        _damage()
        start = clock()
        naive_recalc(ids, check=False)
        return since(start) / 1000

    def naive_check() -> float:
        start = clock()
        naive_recalc(ids, check=True)
        return since(start) / 1000

    reps = max(2, min(5, sizes.reps))
    samples = interleave(
        {"rebuild": rebuild, "check": check, "naive rebuild": naive_rebuild, "naive check": naive_check},
        {"rebuild": reps, "check": reps, "naive rebuild": 1 if tasks >= 1_000_000 else 2, "naive check": 1},
    )
    # The last rebuild ran after the last damage: every row must be exact again.
    _damage()
    _command()
    expected = count_live_tasks(ids)
    rows = {row.pk: row.as_counts() for row in ProjectTaskStatusAgg.objects.filter(pk__in=ids)}
    assert rows == expected, "recalc_aggregates left rows that differ from a recount"
    stats = {name: summary(values) for name, values in samples.items()}
    section.raw = stats
    for name, label, baseline in (
        ("rebuild", "recalc_aggregates", "naive rebuild"),
        ("naive rebuild", "per-project GROUP BY loop", None),
        ("check", "recalc_aggregates --check", "naive check"),
        ("naive check", "per-project GROUP BY loop, check", None),
    ):
        seconds = stats[name]["median"]
        section.rows.append(
            [
                f"{len(ids):,}",
                f"{tasks:,}",
                label,
                f"{seconds:.2f}",
                f"{tasks / seconds:,.0f}",
                ratio(stats[baseline]["median"], seconds) + " faster" if baseline else "",
            ]
        )
    section.check(
        f"rebuild under 3 s for {tasks:,} tasks", stats["rebuild"]["median"] < 3, f"{stats['rebuild']['median']:.2f} s"
    )
    section.check(
        f"--check under 2 s for {tasks:,} tasks", stats["check"]["median"] < 2, f"{stats['check']['median']:.2f} s"
    )
    section.notes.append(
        "Wall-clock seconds of call_command in-process. Before each rebuild every tenth project's row is "
        "zeroed (untimed), so the rebuild has rows to fix. The baseline is the loop a script would "
        "write: one GROUP BY per project, then an UPDATE where the row differs."
    )
    return section
