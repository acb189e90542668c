"""A script drives a whole card's life through the API with a token; counts stay exact."""

import pytest
from django.urls import reverse

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Comment, Label, Task, TaskEvent
from tests.api.conftest import ApiClient, make_token

pytestmark = pytest.mark.django_db


def recount(project) -> dict:
    live = Task.objects.live().filter(project=project)
    counts = {c: live.filter(task_status__category=c).count() for c in ("todo", "active", "review", "issue", "done")}
    return {"total": live.count(), **counts}


def stored(project) -> dict:
    agg = ProjectTaskStatusAgg.objects.get(pk=project.pk)
    return {name: getattr(agg, f"{name}_tasks") for name in ("total", "todo", "active", "review", "issue", "done")}


class TestCardLifecycle:
    def test_a_card_is_created_with_its_labels_priority_and_due_date(self, owner, project, columns):
        api = ApiClient(make_token(owner))
        bug = services.create_label(project=project, name="bug", colour=Label._meta.get_field("colour").default)
        ux = services.create_label(project=project, name="ux", colour=Label._meta.get_field("colour").default)
        body = {
            "column_id": columns["todo"].pk,
            "title": "Planned",
            "labels": [ux.pk, bug.pk, ux.pk],
            "priority": 4,
            "due_date": "2030-01-31",
            "due_at": "2030-01-31T17:00:00+01:00",
        }
        response = api.post(reverse("api_cards", args=[project.pk]), body)
        assert response.status_code == 201, response.content
        card = response.json()
        assert card["labels"] == sorted([bug.pk, ux.pk]) and card["priority"] == 4 and card["due_date"] == "2030-01-31"
        task = Task.objects.get(pk=card["id"])
        assert (task.label_ids, task.priority, task.version) == (sorted([bug.pk, ux.pk]), 4, 1)
        assert task.due_at.isoformat() == "2030-01-31T16:00:00+00:00"
        assert [e.kind for e in TaskEvent.objects.filter(task=task)] == ["created"]
        assert stored(project) == recount(project)

    def test_a_token_drives_a_whole_card_lifecycle(self, owner, editor, project, columns):
        api = ApiClient(make_token(owner))
        label = services.create_label(project=project, name="bug", colour=Label._meta.get_field("colour").default)
        cards = reverse("api_cards", args=[project.pk])

        # create
        response = api.post(cards, {"column_id": columns["todo"].pk, "title": "  Fix   the login  "})
        assert response.status_code == 201, response.content
        card = response.json()
        assert card["title"] == "Fix the login" and card["key"] == f"WEB-{card['number']}"
        assert card["column_id"] == columns["todo"].pk and card["version"] == 1 and card["reporter_id"] == owner.pk
        url = reverse("api_card", args=[project.pk, card["id"]])
        other = api.post(cards, {"column_id": columns["active"].pk, "title": "Neighbour"}).json()

        # update with the version, assignee, labels, priority, due date
        response = api.patch(
            url,
            {
                "version": 1,
                "title": "Fix the log-in page",
                "description": "It **fails**",
                "assignee_id": editor.pk,
                "labels": [label.pk, label.pk],
                "priority": 3,
                "due_date": "2030-01-31",
            },
        )
        assert response.status_code == 200, response.content
        card = response.json()
        assert card["version"] == 2 and card["title"] == "Fix the log-in page" and card["assignee_id"] == editor.pk
        assert card["labels"] == [label.pk] and card["priority"] == 3 and card["due_date"] == "2030-01-31"

        # a stale version: 409 with the card as it is now, nothing changed
        response = api.patch(url, {"version": 1, "title": "Overwritten"})
        assert response.status_code == 409
        assert response.json()["card"]["title"] == "Fix the log-in page"
        assert response.json()["card"]["version"] == 2
        assert Task.objects.get(pk=card["id"]).title == "Fix the log-in page"

        # move with a rank: below the neighbour in another column, then to the top of todo
        move = reverse("api_card_move", args=[project.pk, card["id"]])
        response = api.post(move, {"column_id": columns["active"].pk, "after_id": other["id"], "version": 2})
        assert response.status_code == 200, response.content
        moved = response.json()
        assert moved["column_id"] == columns["active"].pk and moved["previous_id"] == other["id"]
        assert moved["position"] > other["position"]
        response = api.post(move, {"column_id": columns["active"].pk, "before_id": other["id"]})
        assert response.json()["position"] < other["position"] and response.json()["previous_id"] is None
        response = api.post(move, {"column_id": columns["done"].pk, "position": "top", "version": 1})
        assert response.status_code == 409 and response.json()["card"]["column_id"] == columns["active"].pk
        assert stored(project) == recount(project)

        # comment, read the comments
        comments = reverse("api_comments", args=[project.pk, card["id"]])
        response = api.post(comments, {"body": "On it, @" + editor.username})
        assert response.status_code == 201 and response.json()["author_id"] == owner.pk
        comment_id = response.json()["id"]
        listed = api.get(comments).json()
        assert [c["id"] for c in listed["results"]] == [comment_id] and listed["next_after"] is None
        assert api.get(url).json()["comment_count"] == 1

        # archive, unarchive: counts follow
        response = api.post(reverse("api_card_archive", args=[project.pk, card["id"]]))
        assert response.status_code == 200 and response.json()["archived"] is True
        assert stored(project) == recount(project) and stored(project)["total"] == 1
        response = api.post(reverse("api_card_unarchive", args=[project.pk, card["id"]]))
        assert response.status_code == 200 and response.json()["archived"] is False
        assert response.json()["column_id"] == columns["active"].pk
        assert stored(project) == recount(project) and stored(project)["total"] == 2

        counts = api.get(reverse("api_counts", args=[project.pk])).json()
        assert counts["total"] == 2 and counts["active"] == 2 and counts["derived_status"] == "active"

        # delete the comment, then the card
        assert api.delete(reverse("api_comment", args=[project.pk, card["id"], comment_id])).status_code == 204
        assert not Comment.objects.filter(pk=comment_id).exists()
        assert api.delete(url).status_code == 204
        assert not Task.objects.filter(pk=card["id"]).exists()
        assert api.get(url).status_code == 404
        assert api.delete(url).status_code == 404
        assert stored(project) == recount(project) == {**recount(project), "total": 1}

        # every step is in the project's log, in order, with no gap
        events = api.get(reverse("api_events", args=[project.pk]), since=0).json()
        seqs = [event["seq"] for event in events["results"]]
        assert seqs == list(range(1, len(seqs) + 1)) and not events["has_more"]
        # (a deleted card's events lose their task: only the deletion names it)
        kinds = [event["kind"] for event in events["results"]]
        assert kinds[-1] == "deleted" and events["results"][-1]["task_id"] == card["id"]
        assert {"created", "edited", "moved", "commented", "archived", "unarchived", "comment_deleted"} <= set(kinds)
        assert TaskEvent.objects.filter(project=project).count() == len(seqs)

    def test_events_come_in_bounded_pages(self, owner, project, columns):
        api = ApiClient(make_token(owner))
        for n in range(5):
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"c{n}", reporter=owner)
        url = reverse("api_events", args=[project.pk])
        first = api.get(url, since=0, limit=2).json()
        assert [e["seq"] for e in first["results"]] == [1, 2] and first["has_more"] and first["next_since"] == 2
        rest = api.get(url, since=first["next_since"], limit=100).json()
        assert [e["seq"] for e in rest["results"]] == [3, 4, 5] and not rest["has_more"]
        assert api.get(url, since=5).json() == {"results": [], "next_since": 5, "has_more": False}

    def test_cards_come_in_bounded_pages(self, owner, project, columns):
        api = ApiClient(make_token(owner))
        ids = [
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"c{n}", reporter=owner).pk
            for n in range(5)
        ]
        services.archive_task(project=project, task_id=ids[0])
        url = reverse("api_cards", args=[project.pk])
        first = api.get(url, limit=2).json()
        assert [c["id"] for c in first["results"]] == ids[:2] and first["next_after"] == ids[1]
        rest = api.get(url, after=first["next_after"]).json()
        assert [c["id"] for c in rest["results"]] == ids[2:] and rest["next_after"] is None
        assert [c["id"] for c in api.get(url, archived="false").json()["results"]] == ids[1:]
        assert [c["id"] for c in api.get(url, archived="true").json()["results"]] == ids[:1]
        assert api.get(url, column=columns["done"].pk).json()["results"] == []

    def test_reads_of_workspaces_projects_columns_labels_members(self, owner, editor, application, project, columns):
        api = ApiClient(make_token(owner))
        assert api.get(reverse("api_workspaces")).json() == [
            {"id": application.pk, "name": application.name, "role": "owner"}
        ]
        projects = api.get(reverse("api_projects", args=[application.pk])).json()
        assert [p["key"] for p in projects] == ["WEB"] and projects[0]["counts"]["total"] == 0
        listed = api.get(reverse("api_columns", args=[project.pk])).json()
        assert [c["id"] for c in listed] == [c.pk for c in columns.values()]
        assert {c["category"] for c in listed} == {"todo", "active", "review", "issue", "done"}
        members = api.get(reverse("api_members", args=[application.pk])).json()
        assert {(m["id"], m["role"]) for m in members} == {(owner.pk, "owner"), (editor.pk, "editor")}
        response = api.post(reverse("api_labels", args=[project.pk]), {"name": "ux", "colour": "#1d4ed8"})
        assert response.status_code == 201
        label_url = reverse("api_label", args=[project.pk, response.json()["id"]])
        assert api.patch(label_url, {"name": "UX"}).json()["name"] == "UX"
        assert [lb["name"] for lb in api.get(reverse("api_labels", args=[project.pk])).json()] == ["UX"]
        assert api.delete(label_url).status_code == 204
        assert api.delete(label_url).status_code == 404
