"""The task operations, driven through the real URLs with a logged-in test client when the board's
write endpoints exist, through boards.services otherwise (the section says which)."""

import random

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from boards import services
from boards.models import Project, Task

HTMX = {"HX-Request": "true"}


def http_available() -> bool:
    try:
        reverse("card_move", args=[1, 1])
        reverse("card_create", args=[1, 1])
        reverse("card_archive", args=[1, 1])
    except NoReverseMatch:
        return False
    return True


class Driver:
    """create / move / archive one task; `via` says how."""

    via = "services"

    def __init__(self, project: Project, user):
        self.project = project
        self.user = user

    def create(self, status_id: int) -> None:
        services.create_task(project=self.project, status_id=status_id, title="Bench card", reporter=self.user)

    def move(self, task_id: int, status_id: int, after_id: int | None) -> None:
        services.move_task(project=self.project, task_id=task_id, status_id=status_id, after_id=after_id)

    def archive(self, task_id: int) -> None:
        services.archive_task(project=self.project, task_id=task_id)


class HttpDriver(Driver):
    via = "HTTP (Django test client, logged in, htmx requests)"

    def __init__(self, project: Project, user):
        super().__init__(project, user)
        self.client = Client()
        self.client.force_login(user)

    def _post(self, url: str, data: dict) -> None:
        response = self.client.post(url, data, headers=HTMX)
        if response.status_code != 200:
            raise AssertionError(f"POST {url} {data} answered {response.status_code}: {response.content[:300]!r}")

    def create(self, status_id: int) -> None:
        self._post(reverse("card_create", args=[self.project.pk, status_id]), {"title": "Bench card"})

    def move(self, task_id: int, status_id: int, after_id: int | None) -> None:
        data = {"status_id": status_id, **({"after_id": after_id} if after_id else {})}
        self._post(reverse("card_move", args=[self.project.pk, task_id]), data)

    def archive(self, task_id: int) -> None:
        self._post(reverse("card_archive", args=[self.project.pk, task_id]), {})


def driver_for(project: Project, user) -> Driver:
    return HttpDriver(project, user) if http_available() else Driver(project, user)


def count_queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


class Picker:
    """Random live tasks and columns of one project, for operations that need a target."""

    def __init__(self, project_id: int, seed: int = 1):
        self.rng = random.Random(seed)
        self.project_id = project_id
        self.columns = list(
            Project.objects.get(pk=project_id).task_statuses.order_by("position").values_list("pk", flat=True)
        )

    def live_task(self, status_id: int | None = None) -> tuple[int, int]:
        """(task id, its column) of a random live task; one random index query, not a full load."""
        tasks = Task.objects.live().filter(project_id=self.project_id)
        if status_id:
            tasks = tasks.filter(task_status_id=status_id)
        # Random by id range: uniform enough, and cheap at 100,000 tasks.
        bounds = list(tasks.order_by("pk").values_list("pk", flat=True)[:1]) + list(
            tasks.order_by("-pk").values_list("pk", flat=True)[:1]
        )
        pivot = self.rng.randint(bounds[0], bounds[1])
        found = tasks.filter(pk__gte=pivot).order_by("pk").values_list("pk", "task_status_id").first()
        return found or tasks.order_by("pk").values_list("pk", "task_status_id").first()

    def other_column(self, status_id: int) -> int:
        return self.rng.choice([c for c in self.columns if c != status_id])
