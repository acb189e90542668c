"""Demo and benchmark data: a workspace with people, projects and cards in every column."""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from boards import services
from boards.models import Application, Membership, Project, Task

WORKSPACE = "Demo workspace"
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
    projects: int
    tasks: int
    created_user: bool


def seed_demo(*, projects: int = 3, tasks: int = 600, only_if_empty: bool = False, seed: int = 7) -> SeedResult | None:
    """The demo user, a workspace, and `projects` projects sharing `tasks` cards, in one transaction.

    Run again, it adds another workspace rather than touching the first one.
    """
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
        earlier = Application.objects.filter(name__startswith=WORKSPACE).count()
        application = Application.objects.create(name=WORKSPACE if not earlier else f"{WORKSPACE} {earlier + 1}")
        Membership.objects.create(application=application, user=demo, role=Membership.Role.OWNER)
        for person in people[1:]:
            Membership.objects.create(application=application, user=person, role=Membership.Role.EDITOR)
        keys = ["WEB", "OPS", "MOB", *(f"P{n}" for n in range(4, projects + 1))]
        names = ["Website", "Operations", "Mobile app", *(f"Project {n}" for n in range(4, projects + 1))]
        total = 0
        for index in range(projects):
            project = services.create_project(application=application, name=names[index], key=keys[index])
            share = tasks // projects + (1 if index < tasks % projects else 0)
            total += _fill(project, share, people, rng)
    return SeedResult(application=application, projects=projects, tasks=total, created_user=created_user)


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
