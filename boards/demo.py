"""Demo and benchmark data: a workspace with people, projects and cards in every column."""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from boards import services
from boards.models import Application, Membership, Project, Task

PEOPLE = [("ana", "Ana"), ("bo", "Bo"), ("chen", "Chen"), ("dara", "Dara")]
VERBS = ["Fix", "Design", "Write", "Review", "Ship", "Measure", "Refactor", "Document", "Test", "Plan"]
THINGS = [
    "login page",
    "billing export",
    "search index",
    "onboarding email",
    "API rate limits",
    "mobile layout",
    "release notes",
    "error pages",
    "audit log",
    "dark mode",
    "CSV import",
    "backups",
]


@dataclass
class SeedResult:
    application: Application
    tasks: int
    created_user: bool


def seed_demo(
    *, projects: int = 3, tasks_per_project: int = 300, only_if_empty: bool = False, seed: int = 7
) -> SeedResult | None:
    """The demo user, a workspace, and `projects` projects of `tasks_per_project` cards each."""
    if only_if_empty and Project.objects.exists():
        return None
    rng = random.Random(seed)
    User = get_user_model()
    with transaction.atomic():
        demo, created_user = User.objects.get_or_create(username="demo", defaults={"first_name": "Demo"})
        if created_user:
            demo.set_password("demo")
            demo.save(update_fields=["password"])
        people = [demo]
        for username, first_name in PEOPLE:
            person, made = User.objects.get_or_create(username=username, defaults={"first_name": first_name})
            if made:
                person.set_unusable_password()
                person.save(update_fields=["password"])
            people.append(person)
        application = Application.objects.create(name="Demo workspace")
        Membership.objects.create(application=application, user=demo, role=Membership.Role.OWNER)
        for person in people[1:]:
            Membership.objects.create(application=application, user=person, role=Membership.Role.EDITOR)
    total = 0
    keys = iter(["WEB", "OPS", "MOB"] + [f"P{n}" for n in range(1, projects + 1)])
    names = iter(["Website", "Operations", "Mobile app"] + [f"Project {n}" for n in range(1, projects + 1)])
    taken = set(Project.objects.filter(application=application).values_list("key", flat=True))
    for _ in range(projects):
        key = next(k for k in keys if k not in taken)
        project = services.create_project(application=application, name=next(names), key=key)
        total += _fill(project, tasks_per_project, people, rng)
    return SeedResult(application=application, tasks=total, created_user=created_user)


def _fill(project: Project, count: int, people, rng: random.Random) -> int:
    columns = list(project.task_statuses.order_by("position"))
    now = timezone.now()
    weights = [5, 3, 2, 1, 4][: len(columns)] or [1]
    tasks = []
    for index in range(count):
        column = rng.choices(columns, weights=weights)[0]
        tasks.append(
            Task(
                project=project,
                task_status=column,
                title=f"{rng.choice(VERBS)} {rng.choice(THINGS)} #{index + 1}",
                assignee=rng.choice([*people, None]),
                reporter=rng.choice(people),
                position=float(index * services.RANK_STEP),
                archived_at=now - timedelta(days=rng.randint(1, 30)) if rng.random() < 0.05 else None,
            )
        )
    return services.bulk_create_tasks(project=project, tasks=tasks)
