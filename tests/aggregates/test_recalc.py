import io

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from aggregates import counts, recalc
from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Category, Project, Task
from tests.factories import make_project
from tests.support.helpers import DERIVED_RULES, assert_counts_exact

pytestmark = pytest.mark.django_db


def fill(project, owner, **per_category):
    columns = {c.category: c for c in project.task_statuses.order_by("-position")}
    tasks = [
        Task(title=f"{category} {i}", task_status=columns[category], reporter=owner, position=float(i))
        for category, n in per_category.items()
        for i in range(n)
    ]
    services.bulk_create_tasks(project=project, tasks=tasks)


def run(*args) -> str:
    out = io.StringIO()
    call_command("recalc_aggregates", *args, stdout=out)
    return out.getvalue()


def corrupt(project, **fields):
    """Write wrong counts straight to the row, keeping its total constraint satisfied."""
    row = ProjectTaskStatusAgg.objects.get(pk=project.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    row.total_tasks = sum(row.as_counts().values())
    row.save()


@pytest.fixture
def projects(application, owner):
    made = []
    for index, spread in enumerate([{"todo": 3, "done": 2}, {"issue": 1, "active": 4}, {}, {"review": 2}]):
        project = make_project(application, name=f"P{index}", key=f"R{index}")
        fill(project, owner, **spread)
        made.append(project)
    return made


class TestCheck:
    def test_exact_counts_pass(self, projects):
        assert "All 4 project(s) match" in run("--check")

    def test_lists_every_difference_and_exits_1(self, projects):
        a, b, c, d = projects
        corrupt(a, todo_tasks=7)
        ProjectTaskStatusAgg.objects.filter(pk=b.pk).delete()
        Project.objects.filter(pk=c.pk).update(derived_status=c.task_statuses.get(category=Category.DONE))
        before = list(ProjectTaskStatusAgg.objects.order_by("pk").values())
        out = io.StringIO()
        with pytest.raises(CommandError, match="3 of 4 project") as raised:
            call_command("recalc_aggregates", "--check", stdout=out)
        assert raised.value.returncode == 1
        lines = out.getvalue().splitlines()
        assert len(lines) == 3
        assert lines[0].startswith(f"project {a.pk}: counts stored≠expected todo 7≠3")
        assert lines[1] == f"project {b.pk}: no counts row (expected {{'todo': 0, 'active': 4, 'review': 0, " + (
            "'issue': 1, 'done': 0})"
        )
        assert lines[2].startswith(f"project {c.pk}: derived status")
        assert list(ProjectTaskStatusAgg.objects.order_by("pk").values()) == before  # nothing changed

    def test_only_given_projects(self, projects):
        a, b, *_ = projects
        corrupt(a, todo_tasks=9)
        assert "All 1 project(s) match" in run("--check", "--project", str(b.pk))
        with pytest.raises(CommandError):
            run("--check", "--project", str(a.pk), str(b.pk))

    def test_unknown_project_refused(self, projects):
        with pytest.raises(CommandError, match="No project with id 999999"):
            run("--project", "999999")

    def test_check_never_counts_in_python(self, projects, django_assert_num_queries):
        ids = recalc.project_ids()
        with django_assert_num_queries(2) as captured:  # one per batch
            assert recalc.check(ids, batch_size=2) == []
        assert all("GROUP BY" in query["sql"] for query in captured.captured_queries)


class TestRebuild:
    def test_repairs_counts_missing_rows_and_statuses(self, projects):
        a, b, c, d = projects
        corrupt(a, todo_tasks=0, done_tasks=9)
        ProjectTaskStatusAgg.objects.filter(pk__in=[b.pk, d.pk]).delete()
        Project.objects.filter(pk=c.pk).update(derived_status=None)
        out = run()
        assert "Rebuilt 4 project(s): 2 missing row(s) created, 1 row(s) corrected, 1 derived status(es) corrected" in (
            out
        )
        assert_counts_exact(*projects)
        assert "All 4 project(s) match" in run("--check")

    def test_only_given_projects(self, projects):
        a, b, *_ = projects
        corrupt(a, todo_tasks=0)
        corrupt(b, active_tasks=0)
        run("--project", str(a.pk))
        assert_counts_exact(a)
        assert ProjectTaskStatusAgg.objects.get(pk=b.pk).active_tasks == 0

    def test_exact_rows_are_not_rewritten(self, projects):
        stamps = dict(ProjectTaskStatusAgg.objects.values_list("pk", "updated_at"))
        result = recalc.rebuild(recalc.project_ids(), batch_size=3)
        assert (result.projects, result.created, result.fixed, result.statuses_fixed) == (4, [], [], 0)
        assert dict(ProjectTaskStatusAgg.objects.values_list("pk", "updated_at")) == stamps

    def test_set_based_queries_per_batch(self, projects, django_assert_num_queries):
        a, b, c, d = projects
        corrupt(a, todo_tasks=0)
        ProjectTaskStatusAgg.objects.filter(pk=b.pk).delete()
        ids = recalc.project_ids()
        # Per batch one comparison. A batch with drift then: savepoint, insert the missing rows
        # with the counts the comparison found, lock the wrong ones, recount them, statuses,
        # release. [a, b] drifted, [c, d] exact.
        with django_assert_num_queries(2 + 6) as captured:
            result = recalc.rebuild(ids, batch_size=2)
        assert (result.created, result.fixed) == ([b.pk], [a.pk])
        assert sum("GROUP BY" in query["sql"] for query in captured.captured_queries) == 3  # 2 checks, 1 recount
        assert_counts_exact(*projects)

    def test_created_rows_drop_their_bootstrap_key(self, projects, django_capture_on_commit_callbacks):
        a = projects[0]
        key = counts.INIT_KEY.format(project_id=a.pk)
        cache.set(key, {"todo": 99, "active": 0, "review": 0, "issue": 0, "done": 0})
        ProjectTaskStatusAgg.objects.filter(pk=a.pk).delete()
        with django_capture_on_commit_callbacks(execute=True):
            recalc.rebuild([a.pk])
        assert cache.get(key) is None
        assert_counts_exact(a)

    @pytest.mark.parametrize(("spread", "category"), DERIVED_RULES)
    def test_sql_rule_matches_python_rule(self, application, owner, spread, category):
        project = make_project(application)
        fill(project, owner, **spread)
        assert counts.derive_category({**dict.fromkeys(Category.values, 0), **spread}) == category
        Project.objects.filter(pk=project.pk).update(derived_status=None)
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
        recalc.rebuild([project.pk])
        project.refresh_from_db()
        assert project.derived_status.category == category
        assert_counts_exact(project)


class TestProgressBar:
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def test_only_on_a_terminal(self, projects, capsys):
        call_command("recalc_aggregates", "--check", stdout=io.StringIO())
        assert "4/4" not in capsys.readouterr().err
        call_command("recalc_aggregates", "--check", stdout=self.Terminal())
        assert "4/4" in capsys.readouterr().err
