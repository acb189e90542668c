"""1. The first task in a project that has N tasks and no counts row (the bootstrap)."""

from django.core.cache import cache

from aggregates import counts
from bench import data, naive
from bench.harness import Section, clock, interleave, ms, ratio, since, summary
from boards import services
from boards.models import Project

TITLE = "First task in a project with N tasks and no counts row"


def run(sizes) -> Section:
    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    section = Section(
        "first_task",
        TITLE,
        ["tasks (N)", "ours: GROUP BY", "ours: cache warm", "audit: load all", "audit / ours", "audit / warm"],
    )
    built = {
        n: data.build_projects(application, projects=1, tasks_per_project=n, reporter=user, prefix=f"F{n}")[0]
        for n in sizes.first_task
    }
    data.fill_aggregates(list(built.values()))
    data.analyze()
    for n, project_id in built.items():
        samples = _measure(n, project_id, user, sizes)
        stats = {name: summary(values) for name, values in samples.items()}
        section.raw[str(n)] = stats
        ours, warm, audit = (stats[name]["median"] for name in ("ours", "warm", "audit"))
        section.rows.append([f"{n:,}", ms(ours), ms(warm), ms(audit), ratio(audit, ours), ratio(audit, warm)])
        # Leave the project as it should be.
        data.fill_aggregates([project_id])
        if n == max(sizes.first_task):
            section.check(f"under 100 ms at {n:,} tasks", ours < 100, f"{ms(ours)} ms median")
            section.check(f">= 30x faster than the audit at {n:,} tasks", audit / ours >= 30, ratio(audit, ours))
    section.notes.append(
        "Times are medians in ms of the whole first write (create_task, committed), including the "
        "bootstrap of the missing row. 'ours' counts with one GROUP BY; 'cache warm' finds the counts "
        "under project_agg_init:{id} and skips it; 'audit' loads every live task with its status "
        "(select_related) into Python and counts there, then creates the task."
    )
    return section


def _measure(n: int, project_id: int, user, sizes) -> dict[str, list[float]]:
    project = Project.objects.get(pk=project_id)
    status_id = data.columns_of(project_id)[0].pk
    expected = counts.count_live_tasks([project_id])[project_id]
    key = counts.INIT_KEY.format(project_id=project_id)
    data.drop_aggregate(project_id)

    def first_task(*, warm: bool, audit: bool = False) -> float:
        if warm:
            cache.set(key, expected, counts.INIT_TTL)
        else:
            cache.delete(key)
        start = clock()
        if audit:
            task = naive.audit_first_task(project=project, status_id=status_id, reporter=user)
        else:
            task = services.create_task(project=project, status_id=status_id, title="First", reporter=user)
        elapsed = since(start)
        row = counts.ProjectTaskStatusAgg.objects.get(pk=project_id).as_counts()
        assert row == {**expected, "todo": expected["todo"] + 1}, f"wrong counts after the first task: {row}"
        data.delete_tasks([task.pk])
        data.drop_aggregate(project_id)
        return elapsed

    slow_reps = max(2, sizes.reps // (5 if n >= 100_000 else 2))
    return interleave(
        {
            "ours": lambda: first_task(warm=False),
            "warm": lambda: first_task(warm=True),
            "audit": lambda: first_task(warm=False, audit=True),
        },
        {"ours": sizes.reps, "warm": sizes.reps, "audit": slow_reps},
    )
