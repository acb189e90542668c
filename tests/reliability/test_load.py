"""Load: several processes of mixed users against one daphne, random valid and invalid requests.

0 server errors, 0 drift, and viewers and non-members change nothing.
"""

import json
import subprocess
import sys
import time

import pytest
from django.urls import NoReverseMatch, reverse

from boards import services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.reliability.conftest import ROOT, server_errors
from tests.reliability.loadgen import HUGE_ID
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

SECONDS = 5


def url_exists(name: str) -> bool:
    try:
        reverse(name, args=[1, 1])
    except NoReverseMatch:
        return False
    return True


def snapshot(*projects) -> list[tuple]:
    return list(
        Task.objects.filter(project__in=projects)
        .order_by("pk")
        .values_list("pk", "title", "task_status_id", "position", "archived_at", "version", "description")
    )


def actions_for(role: str, *, project, read_only, foreign, foreign_column, columns) -> list[dict]:
    member = role != "outsider"
    writer = role in ("owner", "editor")
    ok_or_hidden = {200} if member else {404}
    board = project.get_absolute_url()
    title = f"{role}-{{n}}"
    admin_form = {"project": str(project.pk), "task_status": str(columns[0]), "title": title, "position": "0"}
    actions = [
        {"name": "home", "method": "GET", "url": "/", "allowed": {200}},
        {"name": "board", "method": "GET", "url": board, "allowed": ok_or_hidden},
        {
            "name": "foreign board",
            "method": "GET",
            "url": foreign.get_absolute_url(),
            "allowed": {404} if member else {200},
        },
        {"name": "card", "method": "GET", "url": f"{board}cards/{{task}}/", "allowed": {200, 404} if member else {404}},
        {"name": "huge ids", "method": "GET", "url": f"/projects/{HUGE_ID}/cards/{HUGE_ID}/", "allowed": {404}},
        {"name": "negative id", "method": "GET", "url": "/projects/-1/", "allowed": {404}},
        {"name": "post to a page", "method": "POST", "url": board, "data": {}, "allowed": {405}},
        {"name": "login page", "method": "GET", "url": "/login/", "allowed": {302}},
        {"name": "insights", "method": "GET", "url": f"{board}insights/", "allowed": ok_or_hidden},
        {"name": "export", "method": "GET", "url": f"{board}export/tasks.csv", "allowed": ok_or_hidden},
        {"name": "archived", "method": "GET", "url": f"{board}archived/", "allowed": ok_or_hidden},
        {
            "name": "admin add",
            "method": "POST",
            "url": "/admin/boards/task/add/",
            "data": admin_form,
            "allowed": {302},
            "creates_on": (302,) if role == "owner" else (),
        },
        {
            "name": "admin add, empty title",
            "method": "POST",
            "url": "/admin/boards/task/add/",
            "data": {**admin_form, "title": ""},
            "allowed": {200} if role == "owner" else {302},
        },
        {
            "name": "admin add, foreign column",
            "method": "POST",
            "url": "/admin/boards/task/add/",
            "data": {**admin_form, "task_status": str(foreign_column)},
            "allowed": {200} if role == "owner" else {302},
        },
        {
            "name": "forged csrf",
            "method": "POST",
            "url": "/admin/boards/task/add/",
            "data": admin_form,
            "no_csrf": True,
            "allowed": {403},
        },
    ]
    if url_exists("card_move"):  # the board's writes, once they are on this branch
        # Writers write on one board; viewers and outsiders try both (the other is for their eyes only).
        for target in [project] if writer else [project, read_only]:
            base = target.get_absolute_url()
            allowed = ({200, 404, 409, 422} if writer else {403}) if member else {404}
            name = "board" if target is project else "read-only board"
            actions += [
                {
                    "name": f"create on {name}",
                    "method": "POST",
                    "url": f"{base}columns/{{column}}/cards/new/",
                    "data": {"title": title},
                    "htmx": True,
                    "allowed": allowed | {404},
                    "creates_on": (200,) if writer and target is project else (),
                },
                {
                    "name": f"move on {name}",
                    "method": "POST",
                    "url": f"{base}cards/{{task}}/move/",
                    "data": {"status_id": "{column}"},
                    "htmx": True,
                    "allowed": allowed | {404},
                },
                {
                    "name": f"archive on {name}",
                    "method": "POST",
                    "url": f"{base}cards/{{task}}/archive/",
                    "data": {},
                    "htmx": True,
                    "allowed": allowed | {404},
                },
                {
                    "name": f"edit on {name}",
                    "method": "POST",
                    "url": f"{base}cards/{{task}}/edit/",
                    "data": {"title": f"{role} edit", "version": "1"},
                    "htmx": True,
                    "allowed": allowed | {404},
                },
                {
                    "name": f"empty title on {name}",
                    "method": "POST",
                    "url": f"{base}columns/{{column}}/cards/new/",
                    "data": {"title": ""},
                    "htmx": True,
                    "allowed": (allowed - {200}) | {404},
                },
            ]
        actions.append(
            {
                "name": "move to a foreign column",
                "method": "POST",
                "url": f"{board}cards/{{task}}/move/",
                "data": {"status_id": str(foreign_column)},
                "htmx": True,
                "allowed": ({404, 422} if writer else {403, 404}) if member else {404},
            }
        )
    return actions


@pytest.mark.parametrize("redis_outage", [False, True], ids=["steady", "redis-stops-mid-run"])
def test_mixed_users_under_load(daphne, request, redis_outage):
    application = ApplicationFactory()
    roles = {}
    for role in ("owner", "editor", "viewer"):
        roles[role] = MembershipFactory(application=application, role=role).user
    roles["owner"].is_staff = roles["owner"].is_superuser = True
    roles["owner"].save()
    outsider_membership = MembershipFactory(role=Membership.Role.OWNER)
    roles["outsider"] = outsider_membership.user
    project = make_project(application, name="Busy")
    # Read-only for every member: a workspace where all three are viewers (roles are per workspace).
    watched = ApplicationFactory()
    for role in ("owner", "editor", "viewer"):
        MembershipFactory(application=watched, user=roles[role], role=Membership.Role.VIEWER)
    read_only = make_project(watched, name="Only looked at")
    foreign = make_project(outsider_membership.application, name="Someone else's")
    columns = list(project.task_statuses.values_list("pk", flat=True))
    foreign_column = foreign.task_statuses.values_list("pk", flat=True).first()
    task_ids = []
    for target in (project, read_only, foreign):
        first = target.task_statuses.order_by("position").first()
        for index in range(6):
            task = services.create_task(project=target, status_id=first.pk, title=f"seed {index}", reporter=None)
            task_ids.append(task.pk)
    before = snapshot(read_only, foreign)

    own_redis = request.getfixturevalue("own_redis") if redis_outage else None
    server = daphne(redis_url=own_redis.url) if own_redis else daphne()
    workers = []
    for seed, (role, user) in enumerate(roles.items()):
        plan = {
            "port": server.port,
            "username": user.username,
            "password": "secret-pass",
            "seconds": SECONDS,
            "seed": seed,
            "task_ids": task_ids,
            "column_ids": columns + [foreign_column],
            "actions": [
                {**action, "allowed": sorted(action["allowed"])}
                for action in actions_for(
                    role,
                    project=project,
                    read_only=read_only,
                    foreign=foreign,
                    foreign_column=foreign_column,
                    columns=columns,
                )
            ],
        }
        code = (
            "import json, sys; from tests.reliability.loadgen import run_worker; "
            "print(json.dumps(run_worker(json.loads(sys.argv[1]))))"
        )
        workers.append(
            (
                role,
                subprocess.Popen(
                    [sys.executable, "-c", code, json.dumps(plan)], cwd=ROOT, stdout=subprocess.PIPE, text=True
                ),
            )
        )
    if own_redis:
        # Redis dies under load and comes back before the end; nobody may notice but the cache.
        time.sleep(SECONDS * 0.3)
        own_redis.stop()
        time.sleep(SECONDS * 0.4)
        own_redis.start()
    results = {}
    for role, process in workers:
        out, _ = process.communicate(timeout=SECONDS + 60)
        assert process.returncode == 0, role
        results[role] = json.loads(out)

    total = sum(result["requests"] for result in results.values())
    print(f"\n{total} requests in {SECONDS}s by {len(results)} processes")
    for role, result in results.items():
        print(role, result["requests"], json.dumps(result["seen"], sort_keys=True))
    assert not server_errors(server.log()), server_errors(server.log())
    for role, result in results.items():
        assert result["requests"] > 10, (role, result)
        assert not result["unexpected"], (role, result["unexpected"])
    # Viewers and non-members changed nothing; the board nobody may write stayed as it was.
    assert snapshot(read_only, foreign) == before
    assert not Task.objects.filter(title__startswith="viewer-").exists()
    assert not Task.objects.filter(title__startswith="outsider-").exists()
    created = results["owner"]["created"] + results["editor"]["created"]
    assert Task.objects.filter(title__in=created).count() == len(set(created))
    assert_counts_exact()
