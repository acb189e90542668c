"""2. Create, move across columns, move within a column, archive: time and queries per operation."""

from collections import Counter

from aggregates.counts import count_live_tasks
from aggregates.models import ProjectTaskStatusAgg
from bench import data, naive
from bench.drivers import Picker, capture_queries, count_queries, describe, driver_for
from bench.harness import Section, clock, interleave, ms, ratio, since, summary
from boards.models import Project

TITLE = "Task operations: time and SQL queries per operation"
OPERATIONS = ["create", "move across columns", "move within a column", "archive"]


def _actions(driver, picker: Picker):
    """Each operation as a callable that picks its target (untimed) and returns the timed call."""

    def create():
        status_id = picker.rng.choice(picker.columns)
        return lambda: driver.create(status_id)

    def move_across():
        task_id, status_id = picker.live_task()
        target = picker.other_column(status_id)
        after_id, _ = picker.live_task(target)
        return lambda: driver.move(task_id, target, after_id)

    def move_within():
        task_id, status_id = picker.live_task()
        after_id = task_id
        while after_id == task_id:  # always below another card: the same queries every time
            after_id, _ = picker.live_task(status_id)
        return lambda: driver.move(task_id, status_id, after_id)

    def archive():
        task_id, _ = picker.live_task()
        return lambda: driver.archive(task_id)

    return dict(zip(OPERATIONS, [create, move_across, move_within, archive], strict=True))


def run(sizes) -> Section:
    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    built = {
        n: data.build_projects(application, projects=1, tasks_per_project=n, reporter=user, prefix=f"O{n}")[0]
        for n in sizes.operations
    }
    data.fill_aggregates(list(built.values()))
    data.analyze()
    section = Section(
        "operations",
        TITLE,
        ["operation", "tasks", "p50 ms", "p95 ms", "queries", "recount-per-write p50 ms", "recount / ours"],
    )
    queries: dict[str, dict[int, Counter]] = {op: {} for op in OPERATIONS}
    p50s: dict[str, dict[int, float]] = {op: {} for op in OPERATIONS}
    via = ""
    for n, project_id in built.items():
        project = Project.objects.get(pk=project_id)
        driver = driver_for(project, user)
        via = driver.via
        picker = Picker(project_id, seed=n)
        actions = _actions(driver, picker)
        for op, prepare in actions.items():

            def ours(prepare=prepare) -> float:
                call = prepare()
                start = clock()
                call()
                return since(start)

            def recount(prepare=prepare, project_id=project_id) -> float:
                call = prepare()
                start = clock()
                call()
                naive.recount_row(project_id)
                return since(start)

            samples = interleave({"ours": ours, "recount": recount}, sizes.reps)
            counted = Counter(count_queries(prepare()) for _ in range(3))
            if n == max(sizes.operations):
                section.raw[f"{op}: queries"] = [describe(sql) for sql in capture_queries(prepare())]
            queries[op][n] = counted
            stats = {name: summary(values) for name, values in samples.items()}
            section.raw[f"{op} @ {n}"] = {**stats, "queries": dict(counted)}
            p50s[op][n] = stats["ours"]["median"]
            section.rows.append(
                [
                    op,
                    f"{n:,}",
                    ms(stats["ours"]["median"]),
                    ms(stats["ours"]["p95"]),
                    "/".join(str(q) for q in sorted(counted)),
                    ms(stats["recount"]["median"]),
                    ratio(stats["recount"]["median"], stats["ours"]["median"]),
                ]
            )
        row = ProjectTaskStatusAgg.objects.get(pk=project_id)
        assert row.as_counts() == count_live_tasks([project_id])[project_id], "counts drifted during the benchmark"
    largest = max(sizes.operations)
    for op in OPERATIONS:
        counts_by_size = {n: sorted(c) for n, c in queries[op].items()}
        equal = len({tuple(v) for v in counts_by_size.values()}) == 1
        most = max(q for c in counts_by_size.values() for q in c)
        section.check(f"{op}: same queries at every size", equal, str(counts_by_size))
        # Round one's target was 10; each write now also queues its fan-out job (jobs.receivers).
        section.check(f"{op}: <= 11 queries", most <= 11, f"{most} queries")
        p50 = p50s[op][largest]
        section.check(f"{op}: p50 under 10 ms at {largest:,} tasks", p50 < 10, f"{ms(p50)} ms")
    section.notes.append(
        f"Driven via {via}. Queries counted with CaptureQueriesContext over the whole request "
        "(session and user lookups included) on separate runs, so the capture does not slow the timed "
        "ones. 'recount-per-write' is the same operation followed by rewriting the counts row from a "
        "GROUP BY over the project's tasks, instead of applying the delta: the cost that grows with N."
    )
    for op in OPERATIONS:
        labels = section.raw.get(f"{op}: queries", [])
        section.notes.append(f"Queries of one {op} at {largest:,} tasks ({len(labels)}): " + " · ".join(labels))
    return section
