"""python -m bench.orm_reads: the two reads issue 12 took back from raw SQL to the ORM, against
their raw SQL (as it stood at 8818105), turn by turn in one process.

get_project_for runs on every request and board_state after every write. The question the issue
asks: does going back to the ORM make a difference a user can feel? So each is timed alone (per
call) and inside the whole request that uses it (a move and a board page over HTTP, with the
view's read swapped), interleaved so machine noise hits all alike, in three forms: the plain
ORM queryset (compiled on every call, as at 7d1c596), the same queryset compiled once
(boards.compiled, what the code runs now), and the raw SQL of 8818105.
Results in bench/results/orm_reads.txt.
"""

import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.run import configure_environment, ensure_database

OUT = Path(__file__).resolve().parent / "results" / "orm_reads.txt"
CALLS = 2000
REQUESTS = 300


def raw_readers():
    """The raw SQL both reads used before issue 12, built once, rows sliced into model instances."""
    from django.db import connection

    from aggregates.models import ProjectTaskStatusAgg
    from boards.models import Application, Membership, Project, TaskStatus
    from boards.queries import BoardState

    def fields(model):
        return list(model._meta.concrete_fields)

    def columns(alias, model):
        return ", ".join(f'{alias}."{f.column}"' for f in fields(model))

    def instance(model, values):
        return model.from_db(connection.alias, [f.attname for f in fields(model)], values)

    def split(row, *models):
        parts, at = [], 0
        for model in models:
            width = len(fields(model))
            values = row[at : at + width]
            at += width
            parts.append(None if values[0] is None else instance(model, values))
        return parts, row[at:]

    project_sql = (
        f"SELECT {columns('p', Project)}, {columns('ap', Application)}, "
        f"{columns('a', ProjectTaskStatusAgg)}, {columns('d', TaskStatus)}, m.role "
        f"FROM {Project._meta.db_table} p "
        f"JOIN {Application._meta.db_table} ap ON ap.id = p.application_id "
        f"JOIN {Membership._meta.db_table} m ON m.application_id = p.application_id AND m.user_id = %s "
        f"LEFT JOIN {ProjectTaskStatusAgg._meta.db_table} a ON a.project_id = p.id "
        f"LEFT JOIN {TaskStatus._meta.db_table} d ON d.id = p.derived_status_id "
        "WHERE p.id = %s"
    )
    state_sql = (
        f"SELECT {columns('s', TaskStatus)}, {columns('p', Project)}, {columns('a', ProjectTaskStatusAgg)} "
        f"FROM {TaskStatus._meta.db_table} s "
        f"JOIN {Project._meta.db_table} p ON p.id = s.project_id "
        f"LEFT JOIN {ProjectTaskStatusAgg._meta.db_table} a ON a.project_id = p.id "
        "WHERE s.project_id = %s ORDER BY s.position, s.id"
    )

    def get_project_for(user, project_id, *, edit=False):
        with connection.cursor() as cursor:
            cursor.execute(project_sql, [user.pk, int(project_id)])
            row = cursor.fetchone()
        (project, application, counts, derived), (role,) = split(
            row, Project, Application, ProjectTaskStatusAgg, TaskStatus
        )
        project.application, project.status_aggregation, project.derived_status = application, counts, derived
        project.role = role
        return project

    def board_state(project_id):
        with connection.cursor() as cursor:
            cursor.execute(state_sql, [project_id])
            rows = cursor.fetchall()
        states = []
        project = None
        for row in rows:
            (column, project_row, counts), _ = split(row, TaskStatus, Project, ProjectTaskStatusAgg)
            if project is None:
                project, project.status_aggregation = project_row, counts
            column.project = project
            states.append(column)
        project.derived_status = next((c for c in states if c.pk == project.derived_status_id), None)
        return BoardState(project, states)

    return get_project_for, board_state


READS = ("get_project_for", "board_state")


def plain_readers() -> dict:
    """Both reads as plain querysets, compiled on every call (as at 7d1c596)."""
    from django.db.models import F

    from boards.models import Project, TaskStatus
    from boards.queries import BoardState

    def get_project_for(user, project_id, *, edit=False):
        return (
            Project.objects.filter(pk=project_id, application__memberships__user=user)
            .annotate(role=F("application__memberships__role"))
            .select_related("application", "status_aggregation", "derived_status")
            .first()
        )

    def board_state(project_id):
        columns = list(
            TaskStatus.objects.filter(project_id=project_id)
            .select_related("project", "project__status_aggregation")
            .order_by("position", "pk")
        )
        project = columns[0].project
        for column in columns:
            column.project = project
        project.derived_status = next((c for c in columns if c.pk == project.derived_status_id), None)
        return BoardState(project, columns)

    return {"get_project_for": get_project_for, "board_state": board_state}


def main() -> None:
    ensure_database(configure_environment())
    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)  # DEBUG is off: pages need the manifest
    from bench import data
    from bench.drivers import HttpDriver, Picker
    from bench.harness import clock, interleave, ms, since, summary
    from boards import queries
    from boards.live import fragments
    from boards.web import views

    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    project_id = data.build_projects(application, projects=1, tasks_per_project=1000, reporter=user, prefix="R")[0]
    data.fill_aggregates([project_id])
    data.analyze()
    variants = {
        "plain ORM": plain_readers(),
        "compiled ORM": {"get_project_for": queries.get_project_for, "board_state": queries.board_state},
        "raw SQL": dict(zip(READS, raw_readers(), strict=True)),
    }

    # Same answers first: a faster read that reads something else proves nothing.
    def answer(name, read):
        found = read(user, project_id) if name == "get_project_for" else read(project_id).project
        counts = tuple(sorted(found.status_aggregation.as_counts().items()))
        return found.pk, counts, found.derived_status_id, getattr(found, "role", None)

    for name in READS:
        answers = {label: answer(name, reads[name]) for label, reads in variants.items()}
        assert len(set(answers.values())) == 1, answers

    def timed(call, *args):
        def once():
            start = clock()
            call(*args)
            return since(start)

        return once

    samples = {}
    for name in READS:
        args = (user, project_id) if name == "get_project_for" else (project_id,)
        samples[f"{name} (per call)"] = interleave(
            {label: timed(reads[name], *args) for label, reads in variants.items()}, CALLS
        )

    driver = HttpDriver(queries.Project.objects.get(pk=project_id), user)
    picker = Picker(project_id, seed=12)
    board_url = reverse("board", args=[project_id])

    def use(reads):
        """Point the views and the live fragments at one variant of both reads."""
        views.get_project_for = reads["get_project_for"]
        for module in (queries, fragments):
            if hasattr(module, "board_state"):
                module.board_state = reads["board_state"]

    def move(reads):
        def once():
            use(reads)
            task_id, status_id = picker.live_task()
            target = picker.other_column(status_id)
            start = clock()
            driver.move(task_id, target, None)
            return since(start)

        return once

    def board(reads):
        def once():
            use(reads)
            start = clock()
            response = driver.client.get(board_url)
            assert response.status_code == 200
            return since(start)

        return once

    samples["move request"] = interleave({label: move(reads) for label, reads in variants.items()}, REQUESTS)
    samples["board page"] = interleave({label: board(reads) for label, reads in variants.items()}, REQUESTS // 3)
    use(variants["compiled ORM"])

    with open("/proc/loadavg") as load:
        loadavg = load.read().split()[:3]
    labels = list(variants)
    lines = [
        f"python -m bench.orm_reads at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); load average {loadavg}",
        "project: 1,000 cards; the three forms interleaved turn by turn in one process",
        "p50 ms, and in brackets against raw SQL",
        "",
        f"{'read':<30}" + "".join(f"{label:>22}" for label in labels),
    ]
    for name, by_label in samples.items():
        p50 = {label: summary(by_label[label])["median"] for label in labels}
        cells = [f"{ms(p50[label])} ({p50[label] / p50['raw SQL']:.2f}x)" for label in labels]
        lines.append(f"{name:<30}" + "".join(f"{cell:>22}" for cell in cells))
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
