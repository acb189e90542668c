"""No code outside boards/services/ (bulk.py, ranks.py) writes tasks in bulk: update(), bulk_create() and
bulk_update() fire no signals, so only a service that applies the delta itself may call them.
Nor may any code change column categories in bulk, for the same reason."""

import ast
import re
from pathlib import Path

import pytest

from boards.models import COUNTED_FIELDS

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {ROOT / "boards" / "services" / "bulk.py", ROOT / "boards" / "services" / "ranks.py"}
SKIP_DIRS = {".venv", "venv", "node_modules", ".git", "staticfiles", "tests", "__pycache__"}
BULK_METHODS = {"update", "bulk_create", "bulk_update"}
# Ways to reach tasks: the model, its related managers, apps.get_model("boards", "Task").
TASK_NAMES = {"Task"}
TASK_ATTRIBUTES = {"tasks", "assigned_tasks", "reported_tasks"}
# Benchmark data is built with raw SQL on purpose, in a *_bench database of its own, and its
# counts are then written by bench.data.fill_aggregates: raw SQL is checked everywhere else.
RAW_SQL_ALLOWED = {"bench"}
RAW_TASK_WRITE = re.compile(r"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+\"?boards_task\b", re.IGNORECASE)


def recategorises_columns(call: ast.Call) -> bool:
    """TaskStatus update(category=…) / bulk_update(…, ["category"]): the counts of its cards would
    stay in the old category (aggregates.signals moves them only on save())."""
    receiver = call.func.value
    on_columns = any(
        (isinstance(n, ast.Name) and n.id == "TaskStatus")
        or (isinstance(n, ast.Attribute) and n.attr == "task_statuses")
        for n in ast.walk(receiver)
    )
    named = {k.arg for k in call.keywords} | {
        n.value for a in call.args[1:] for n in ast.walk(a) if isinstance(n, ast.Constant)
    }
    return on_columns and "category" in named


# What a card's face counts beside the board's counts, kept by their services with an F() update
# or an array_remove under the card's lock: no counted field among them (models.COUNTED_FIELDS).
FACE_COUNTERS = {"comment_count", "attachment_count", "label_ids"}
assert not FACE_COUNTERS & COUNTED_FIELDS


def changes_only_uncounted_fields(call: ast.Call) -> bool:
    """update(comment_count=…): names every field it writes, all of them face counters."""
    return call.func.attr == "update" and bool(call.keywords) and all(k.arg in FACE_COUNTERS for k in call.keywords)


def mentions_tasks(node: ast.AST, task_vars: set[str]) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and (child.id in TASK_NAMES or child.id in task_vars):
            return True
        if isinstance(child, ast.Attribute) and child.attr in TASK_ATTRIBUTES:
            return True
        if isinstance(child, ast.Constant) and child.value == "Task":
            return True
    return False


def bulk_task_writes(source: str, filename: str = "<snippet>", *, raw_sql: bool = True) -> list[str]:
    """Each place in `source` that writes tasks without their signals, as "file:line what"."""
    tree = ast.parse(source, filename)
    # Names bound to task querysets (qs = Task.objects.filter(...)), followed to a fixpoint.
    task_vars: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and mentions_tasks(node.value, task_vars):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in task_vars:
                        task_vars.add(target.id)
                        changed = True
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in BULK_METHODS
            and mentions_tasks(node.func.value, task_vars)
            and not changes_only_uncounted_fields(node)
        ):
            found.append(f"{filename}:{node.lineno} .{node.func.attr}() on tasks")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"update", "bulk_update"}
            and recategorises_columns(node)
        ):
            found.append(f"{filename}:{node.lineno} .{node.func.attr}() changes column categories")
        if (
            raw_sql
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and RAW_TASK_WRITE.search(node.value)
        ):
            found.append(f"{filename}:{node.lineno} raw SQL writes boards_task")
    return found


def python_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIP_DIRS.intersection(relative.parts[:-1]) or path in ALLOWED:
            continue
        yield path


def test_no_bulk_task_writes_outside_services():
    files = list(python_files())
    assert ROOT / "boards" / "admin.py" in files and ROOT / "aggregates" / "recalc.py" in files
    found = [
        hit
        for path in files
        for hit in bulk_task_writes(
            path.read_text(),
            str(path.relative_to(ROOT)),
            raw_sql=not RAW_SQL_ALLOWED.intersection(path.relative_to(ROOT).parts),
        )
    ]
    assert found == [], "use boards.services (bulk_move_tasks, bulk_archive_tasks, bulk_create_tasks): " + "; ".join(
        found
    )


@pytest.mark.parametrize(
    "snippet",
    [
        "Task.objects.filter(project=p).update(archived_at=None)",
        "Task.objects.bulk_create(tasks)",
        "Task._default_manager.bulk_update(tasks, ['task_status'])",
        "project.tasks.update(task_status=column)",
        "column.tasks.all().update(archived_at=now)",
        "user.assigned_tasks.update(title='x')",
        "qs = Task.objects.live()\nlater = qs.filter(x=1)\nlater.update(title='x')",
        "apps.get_model('boards', 'Task').objects.update(title='x')",
        "cursor.execute('UPDATE boards_task SET archived_at = now()')",
        'cursor.execute("insert into boards_task (title) values (%s)", ["x"])',
        "TaskStatus.objects.filter(project=p).update(category='done')",
        "project.task_statuses.bulk_update(columns, ['name', 'category'])",
        "Task.objects.filter(pk=1).update(comment_count=1, archived_at=None)",
        "Task.objects.filter(pk=1).update(**fields)",
    ],
)
def test_scanner_catches(snippet):
    assert bulk_task_writes(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "TaskStatus.objects.bulk_update(columns, ['position'])",
        "TaskStatus.objects.filter(pk=1).update(name='x')",
        "TaskStatus.objects.bulk_create(columns)",
        "services.bulk_create_tasks(project=p, tasks=tasks)",
        "settings.update({'a': 1})",
        "super().update(**kwargs)",
        "cursor.execute('UPDATE boards_taskstatus SET position = 1')",
        "counts.update(other)",
        "Task.objects.filter(pk=1).update(comment_count=F('comment_count') + 1)",
    ],
)
def test_scanner_lets_pass(snippet):
    assert bulk_task_writes(snippet) == []
