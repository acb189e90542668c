"""The board's template filters: the cheap ones the card partial uses must say what the costly ones said."""

import zoneinfo

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from boards.models import Project
from boards.templatetags import board_tags

pytestmark = pytest.mark.django_db


def render(source: str, **context) -> str:
    return Template("{% load board_tags %}" + source).render(Context(context))


class TestIsoformat:
    def test_same_text_as_the_date_filter(self, task):
        assert render("{{ t|isoformat }}", t=task.created_at) == render("{{ t|date:'c' }}", t=task.created_at)

    def test_same_text_in_another_time_zone(self, task):
        with timezone.override(zoneinfo.ZoneInfo("Pacific/Chatham")):
            ours = render("{{ t|isoformat }}", t=task.created_at)
            assert ours == render("{{ t|date:'c' }}", t=task.created_at)
        assert "+12:45" in ours or "+13:45" in ours

    def test_nothing_for_none(self):
        assert render("{{ t|isoformat }}", t=None) == ""


class TestCardRefs:
    def test_id_and_url_match_the_url_conf(self, project, task):
        refs = board_tags.card_refs(task)
        assert refs["id"] == str(task.pk)
        assert refs["url"] == reverse("card", args=[project.pk, task.pk])
        assert board_tags.card_url(task, "move") == reverse("card_move", args=[project.pk, task.pk])
        assert board_tags.card_url(task, "archive") == reverse("card_archive", args=[project.pk, task.pk])

    def test_card_partial_links_to_the_card_and_its_actions(self, project, columns, task):
        project = Project.objects.get(pk=project.pk)
        context = {"project": project, "columns": list(columns.values()), "can_edit": True, "task": task}
        html = render_to_string("boards/board.html#card", context)
        card, move, archive = (
            reverse(name, args=[project.pk, task.pk]) for name in ("card", "card_move", "card_archive")
        )
        assert f'<article class="card" id="card-{task.pk}" data-id="{task.pk}" data-version="{task.version}"' in html
        # The title opens the dialog through board.js; the ⋯ is a link to the card's page; the
        # card's actions are its address + "move/", "archive/" (board.js, the board's one menu).
        assert f'<a href="{card}">{task.title}</a>' in html
        assert f'<a class="card-menu-button" href="{card}" aria-haspopup="dialog"' in html
        assert "<form" not in html and move not in html and archive not in html
        assert f'<span class="card-key">WEB-{task.number}</span>' in html
        assert f'datetime="{task.created_at.isoformat(timespec="seconds")}"' in html


class TestMoveOptions:
    def test_escaped_and_in_order(self, columns):
        todo = columns["todo"]
        todo.name = "<b>Later</b>"
        html = board_tags.move_options(list(columns.values()))
        assert html.startswith(f'<option value="{todo.pk}">&lt;b&gt;Later&lt;/b&gt;</option>')
        assert html.count("<option") == len(columns)

    def test_a_renamed_or_removed_column_is_never_served_stale(self, columns):
        listed = list(columns.values())
        before = board_tags.move_options(listed)
        listed[0].name = "Backlog"
        renamed = board_tags.move_options(listed)
        assert renamed != before and ">Backlog</option>" in renamed
        assert board_tags.move_options(listed[1:]).count("<option") == len(listed) - 1
