"""Demo and benchmark data: a workspace with people, projects and cards in every column.

The demo's cards live through ninety days of history (created, started, reviewed, done, archived)
played through the same services as the pages, under boards.clock.frozen_at, so the insights
charts show flow on first run instead of one spike at today.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from boards import clock, services
from boards.models import LABEL_COLOURS, Application, Category, Label, Membership, Priority, Project, Task

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

# Each demo project's labels: (name, colour name in LABEL_COLOURS).
LABELS = [("Bug", "Red"), ("Feature", "Blue"), ("Design", "Violet"), ("Chore", "Grey"), ("Customer", "Green")]
PRIORITY_WEIGHTS = {Priority.NONE: 5, Priority.LOW: 2, Priority.MEDIUM: 3, Priority.HIGH: 2, Priority.URGENT: 1}
CHECKLIST = "Steps:\n\n- [x] Reproduce\n- [x] Agree on the fix\n- [ ] Write the change\n- [ ] Test it\n- [ ] Ship it\n"

# The demo plays this much history through the services, so the insights charts have a story.
HISTORY_DAYS = 90
PLAYED_CARDS = 200  # per project; the rest of a large data set is a backlog inserted in bulk
# Within a day, the steps happen in this order, this many hours before the same time of day as now.
STEP_HOURS = {"create": 8, Category.ACTIVE: 6, Category.REVIEW: 5, Category.ISSUE: 4, Category.DONE: 3, "archive": 2}


@dataclass
class SeedResult:
    application: Application
    projects: int
    tasks: int
    created_user: bool


def seed_demo(
    *, projects: int = 3, tasks: int = 600, only_if_empty: bool = False, seed: int = 7, history_days: int = HISTORY_DAYS
) -> SeedResult | None:
    """The demo user, a workspace, and `projects` projects sharing `tasks` cards, in one transaction.

    Run again, it adds another workspace rather than touching the first one. The first
    PLAYED_CARDS cards of each project live through `history_days` days of history; with 0, every
    card is inserted in bulk as it is now.
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
            project.demo_label_ids = _labels(project)
            share = tasks // projects + (1 if index < tasks % projects else 0)
            total += _fill(project, share, people, rng, plan_seed=f"{seed}:{index}", history_days=history_days)
    return SeedResult(application=application, projects=projects, tasks=total, created_user=created_user)


@dataclass(frozen=True)
class Step:
    workdays_ago: int  # 0 is the last working day up to today
    action: str  # "create", "archive", or the category of the column the card moves to
    card: int  # the card's index in the plan


# A card's way across the board: the column it moves to, the working days it waits before, and
# the chance that it stays where it is instead (not started, stuck in progress, ...).
FLOW = (
    (Category.ACTIVE, (1, 8), 0.25),
    (Category.REVIEW, (1, 5), 0.1),
    (Category.DONE, (1, 3), 0.05),
)
DETOUR = (Category.ISSUE, Category.ACTIVE, Category.REVIEW)  # review found a problem


def plan_history(cards: int, rng: random.Random, workdays: int) -> list[Step]:
    """Each card's life, in working days: created, then maybe started, reviewed, sent back by an
    issue, done and archived, a day or more apart. A step that would fall after today never happens."""
    steps = []
    for card in range(cards):
        day = rng.randrange(workdays)
        steps.append(Step(day, "create", card))
        for category, wait, stays in FLOW:
            if rng.random() < stays:
                break
            if category == Category.DONE and rng.random() < 0.15:
                day = _detour(steps, card, day, rng)
                if day < 0:
                    break
            day -= rng.randint(*wait)
            if day < 0:
                break
            steps.append(Step(day, category, card))
        else:
            day -= rng.randint(3, 12)
            if day >= 0 and rng.random() < 0.4:
                steps.append(Step(day, "archive", card))
    return steps


def _detour(steps: list[Step], card: int, day: int, rng: random.Random) -> int:
    """Issue, back to work, back to review; -1 when the card is still on its way (or blocked)."""
    for category in DETOUR:
        day -= rng.randint(1, 3)
        if day < 0:
            return -1
        steps.append(Step(day, category, card))
        if category == Category.ISSUE and rng.random() < 0.3:
            return -1  # blocked: it stays in the issue column
    return day


def working_days(today: date, days: int = HISTORY_DAYS) -> list[int]:
    """The calendar days ago (0 is today) of the weekdays among the last `days` days, latest first."""
    return [ago for ago in range(days) if (today - timedelta(days=ago)).weekday() < 5]


def _fill(project: Project, count: int, people, rng: random.Random, *, plan_seed: str, history_days: int) -> int:
    """A played history for the first PLAYED_CARDS cards, the rest as a backlog from when the
    history starts. The plan has its own seed: the same history whatever the backlog's size."""
    days = working_days(timezone.localdate(), history_days)
    played = min(count, PLAYED_CARDS) if days else 0
    if played:
        _play(project, plan_history(played, random.Random(plan_seed), len(days)), days, people, rng)
    if count > played:
        with clock.frozen_at(timezone.now() - timedelta(days=history_days)):
            _backlog(project, count - played, people, rng, first=played)
    return count


def _labels(project: Project) -> list[int]:
    colours = {name: value for value, name in LABEL_COLOURS}
    labels = Label.objects.bulk_create(
        [Label(project=project, name=name, colour=colours[colour]) for name, colour in LABELS]
    )
    return [label.pk for label in labels]


def _new_task(project: Project, column, index: int, people, rng: random.Random) -> Task:
    """A card with what a team's cards carry: some labels, a priority, for some a due date and a checklist."""
    label_ids = getattr(project, "demo_label_ids", None) or []
    due = rng.random() < 0.3
    return Task(
        project=project,
        task_status=column,
        title=f"{rng.choice(VERBS)} {rng.choice(THINGS)} #{index + 1}",
        assignee=rng.choice([*people, None]),
        reporter=rng.choice(people),
        position=float(index * services.RANK_STEP),
        priority=rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0],
        label_ids=sorted(rng.sample(label_ids, k=rng.choice([0, 0, 1, 1, 2]))) if label_ids else [],
        due_date=timezone.localdate() + timedelta(days=rng.randint(-5, 21)) if due else None,
        description=CHECKLIST if rng.random() < 0.15 else "",
    )


def _play(project: Project, steps: list[Step], days: list[int], people, rng: random.Random) -> None:
    """Run the steps day by day through the bulk services, the write clock set to each step's
    time, so cards, their archiving and their events carry the day they happened. `days` maps a
    step's working day to calendar days ago."""
    columns = {}
    for column in project.task_statuses.order_by("-position"):
        columns[column.category] = column  # the first column of each category
    now = timezone.now()
    ids: dict[int, int] = {}
    batches: dict[tuple[int, str], list[int]] = {}
    for step in steps:
        batches.setdefault((step.workdays_ago, step.action), []).append(step.card)
    for workday in range(len(days) - 1, -1, -1):
        for action, hours in STEP_HOURS.items():
            cards = batches.get((workday, action))
            if not cards:
                continue
            with clock.frozen_at(now - timedelta(days=days[workday], hours=hours)):
                if action == "create":
                    tasks = [_new_task(project, columns[Category.TODO], card, people, rng) for card in cards]
                    services.bulk_create_tasks(project=project, tasks=tasks)
                    ids.update(zip(cards, (task.pk for task in tasks), strict=True))
                elif action == "archive":
                    services.bulk_archive_tasks(project=project, task_ids=[ids[card] for card in cards])
                else:
                    services.bulk_move_tasks(
                        project=project, task_ids=[ids[card] for card in cards], status_id=columns[action].pk
                    )


def _backlog(project: Project, count: int, people, rng: random.Random, *, first: int) -> None:
    """Cards in every column, some archived, inserted in bulk (large data sets): one batch."""
    columns = list(project.task_statuses.order_by("position"))
    weights = [5, 3, 2, 1, 4][: len(columns)] or [1]
    tasks = []
    for index in range(first, first + count):
        task = _new_task(project, rng.choices(columns, weights=weights)[0], index, people, rng)
        task.archived_at = clock.now() if rng.random() < 0.05 else None
        tasks.append(task)
    services.bulk_create_tasks(project=project, tasks=tasks)
