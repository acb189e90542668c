"""Every write works without JavaScript: the page's plain form carries the CSRF token, a POST
without htmx answers 303 See Other to the page to show next, which says what was done, and
refused input answers a full page that says why. Django's CSRF checks are on (enforce_csrf_checks)
and every token is read from the form in the page, as a browser would send it."""

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from boards import services
from boards.models import Project, Task, TaskStatus
from tests.boards.conftest import add_tasks

pytestmark = pytest.mark.django_db


class _Forms(HTMLParser):
    """The forms of a page: action, method and the values a browser would submit by default."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action", ""), "method": (attrs.get("method") or "get").lower()}
            self._form["fields"] = {}
            self.forms.append(self._form)
            return
        if self._form is None or not attrs.get("name"):
            if tag == "option" and self._select and "selected" in attrs:
                self._form["fields"][self._select] = attrs.get("value", "")
            return
        fields, name = self._form["fields"], attrs["name"]
        if tag == "input" and attrs.get("type") not in ("checkbox", "submit") or "checked" in attrs:
            fields[name] = attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")
        elif tag == "textarea":
            self._textarea, fields[name] = name, ""
        elif tag == "select":
            self._select, fields[name] = name, ""

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@pytest.fixture
def browser(owner) -> Client:
    """A browser without JavaScript: CSRF checks on, no HX-Request header ever."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def submit(client: Client, page: str, action: str, **values) -> object:
    """GET the page, take the POST form whose action is `action`, fill in values, send it."""
    response = client.get(page)
    assert response.status_code == 200, page
    matching = [form for form in forms_of(response.content.decode()) if form["action"] == action]
    assert matching, f"no form for {action} on {page}"
    form = matching[0]
    assert form["method"] == "post"
    assert form["fields"].get("csrfmiddlewaretoken"), f"the form for {action} carries no CSRF token"
    return client.post(action, {**form["fields"], **{key: str(value) for key, value in values.items()}})


def assert_done(client: Client, response, where: str, message: str) -> None:
    """303 See Other to `where`, which then shows the message once."""
    assert response.status_code == 303, response.content[:500]
    assert response["Location"] == where
    page = client.get(where).content.decode()
    assert message in page, page[:2000]
    assert message not in client.get(where).content.decode()


def menu_of(client: Client, page: str, task: Task) -> str:
    """The card's ⋯ on `page`: without JavaScript a link to the card's page, whose forms move and
    archive it (with JavaScript it opens the board's one shared menu)."""
    card_page = task.get_absolute_url()
    assert f'<a class="card-menu-button" href="{card_page}"' in client.get(page).content.decode()
    return card_page


def board_url(project: Project) -> str:
    return project.get_absolute_url()


class TestTheTokenTravelsInEveryForm:
    def test_every_post_form_of_every_page_carries_it(self, browser, owner, project, columns, task):
        archived = services.create_task(project=project, status_id=columns["done"].pk, title="Old", reporter=owner)
        services.archive_task(project=project, task_id=archived.pk)
        pages = [
            reverse("home"),
            board_url(project),
            task.get_absolute_url(),
            archived.get_absolute_url(),
            reverse("archived", args=[project.pk]),
            reverse("columns", args=[project.pk]),
        ]
        seen = 0
        for page in pages:
            for form in forms_of(browser.get(page).content.decode()):
                if form["method"] == "post":
                    assert form["fields"].get("csrfmiddlewaretoken"), (page, form["action"])
                    seen += 1
        assert seen >= 20

    def test_a_post_without_it_is_refused(self, browser, project, columns):
        response = browser.post(reverse("card_create", args=[project.pk, columns["todo"].pk]), {"title": "No token"})
        assert response.status_code == 403
        assert not Task.objects.filter(title="No token").exists()


class TestCards:
    def test_create(self, browser, project, columns):
        todo = columns["todo"]
        url = reverse("card_create", args=[project.pk, todo.pk])
        response = submit(browser, board_url(project), url, title="Plain")
        assert_done(browser, response, board_url(project), "Added “Plain”.")
        assert Task.objects.get(title="Plain").task_status == todo

    def test_create_refused_says_why_on_a_full_page(self, browser, project, columns):
        url = reverse("card_create", args=[project.pk, columns["todo"].pk])
        response = submit(browser, board_url(project), url, title="   ")
        assert response.status_code == 422
        html = response.content.decode()
        assert "<html" in html and "Nothing was changed" in html and "Back to the board" in html
        assert not Task.objects.filter(project=project).exists()

    def test_edit(self, browser, project, task):
        url = reverse("card_update", args=[project.pk, task.pk])
        # The card page reads; its Edit link opens the editor.
        editor = f"{task.get_absolute_url()}?edit=1"
        assert f'href="{editor}"' in browser.get(task.get_absolute_url()).content.decode()
        response = submit(browser, editor, url, title="Edited", description="Some *text*")
        assert_done(browser, response, task.get_absolute_url(), "Saved.")
        task.refresh_from_db()
        assert (task.title, task.description) == ("Edited", "Some *text*")

    def test_edit_refused_keeps_the_text_on_a_full_page(self, browser, project, task):
        url = reverse("card_update", args=[project.pk, task.pk])
        response = submit(browser, f"{task.get_absolute_url()}?edit=1", url, title="", description="Keep <this>")
        assert response.status_code == 422
        html = response.content.decode()
        assert "<html" in html and "Keep &lt;this&gt;" in html
        task.refresh_from_db()
        assert task.title == "First card"

    def test_move_to_another_column(self, browser, project, columns, task):
        url = reverse("card_move", args=[project.pk, task.pk])
        response = submit(browser, menu_of(browser, board_url(project), task), url, status_id=columns["done"].pk)
        assert_done(browser, response, board_url(project), "Moved “First card” to Done.")
        task.refresh_from_db()
        assert task.task_status == columns["done"]

    def test_move_down_with_the_menus_button(self, browser, owner, project, columns, task):
        below = services.create_task(
            project=project, status_id=columns["todo"].pk, title="Below", reporter=owner, at_top=False
        )
        url = reverse("card_move", args=[project.pk, task.pk])
        response = submit(browser, menu_of(browser, board_url(project), task), url, direction="down")
        assert_done(browser, response, board_url(project), "Moved “First card” down.")
        order = list(Task.objects.filter(task_status=columns["todo"]).order_by("position").values_list("pk", flat=True))
        assert order == [below.pk, task.pk]

    def test_archive_from_the_board_and_unarchive_from_the_archived_page(self, browser, project, task):
        url = reverse("card_archive", args=[project.pk, task.pk])
        card_page = menu_of(browser, board_url(project), task)
        response = submit(browser, card_page, url)
        assert_done(browser, response, card_page, "Archived “First card”.")  # it says so, with Unarchive
        task.refresh_from_db()
        assert task.is_archived

        archived_page = reverse("archived", args=[project.pk])
        url = reverse("card_unarchive", args=[project.pk, task.pk])
        response = submit(browser, archived_page, url)
        assert_done(browser, response, archived_page, "“First card” is back in Todo.")
        task.refresh_from_db()
        assert not task.is_archived

    def test_archive_and_unarchive_from_the_cards_page(self, browser, project, task):
        page = task.get_absolute_url()
        response = submit(browser, page, reverse("card_archive", args=[project.pk, task.pk]))
        assert_done(browser, response, page, "Archived “First card”.")
        response = submit(browser, page, reverse("card_unarchive", args=[project.pk, task.pk]))
        assert_done(browser, response, page, "“First card” is back in Todo.")
        task.refresh_from_db()
        assert not task.is_archived

    def confirm(self, browser, response, action: str):
        """Without hx-confirm, a delete first answers a page that asks; its form says yes."""
        assert response.status_code == 200
        html = response.content.decode()
        assert "Delete “First card” for good?" in html
        form = next(form for form in forms_of(html) if form["action"] == action)
        assert form["fields"]["csrfmiddlewaretoken"] and form["fields"]["confirmed"] == "1"
        return browser.post(action, form["fields"])

    def test_delete_from_the_archived_page(self, browser, project, task):
        services.archive_task(project=project, task_id=task.pk)
        archived_page = reverse("archived", args=[project.pk])
        url = reverse("card_delete", args=[project.pk, task.pk])
        asked = submit(browser, archived_page, url)
        assert Task.objects.filter(pk=task.pk).exists()
        assert f'href="{archived_page}">Cancel' in asked.content.decode()
        response = self.confirm(browser, asked, url)
        assert_done(browser, response, archived_page, "Deleted “First card”.")
        assert not Task.objects.filter(pk=task.pk).exists()

    def test_delete_from_the_cards_page(self, browser, project, task):
        url = reverse("card_delete", args=[project.pk, task.pk])
        asked = submit(browser, task.get_absolute_url(), url)
        assert Task.objects.filter(pk=task.pk).exists()
        response = self.confirm(browser, asked, url)
        assert_done(browser, response, board_url(project), "Deleted “First card”.")
        assert not Task.objects.filter(pk=task.pk).exists()

    def test_deleting_a_card_that_is_gone_says_so(self, browser, project, task):
        url = reverse("card_delete", args=[project.pk, task.pk])
        page = browser.get(task.get_absolute_url())
        services.delete_task(project=project, task_id=task.pk)
        token = next(form for form in forms_of(page.content.decode()) if form["action"] == url)["fields"]
        assert browser.post(url, token).status_code == 404

    def test_a_viewer_is_refused_on_a_full_page(self, client, viewer, project, columns):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(viewer)
        page = browser.get(board_url(project)).content.decode()
        # A viewer's board has no write forms; a crafted POST with a valid token is still refused.
        assert not [form for form in forms_of(page) if form["method"] == "post" and "/cards/" in form["action"]]
        token = browser.cookies["csrftoken"].value
        url = reverse("card_create", args=[project.pk, columns["todo"].pk])
        response = browser.post(url, {"title": "Nope", "csrfmiddlewaretoken": token})
        assert response.status_code == 403
        assert "Nothing was changed" in response.content.decode()
        assert not Task.objects.filter(title="Nope").exists()


class TestShowMore:
    def show_more(self, html: str) -> str:
        """Where "Show more" leads a browser that does not run htmx: its href."""
        return unescape(re.search(r'<a class="button secondary more" href="([^"]+)"', html).group(1))

    def test_opens_the_columns_next_cards_as_a_page(self, browser, project, columns):
        todo = columns["todo"]
        add_tasks(project, todo, 60)
        link = self.show_more(browser.get(board_url(project)).content.decode())
        response = browser.get(link)
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" in html and "Todo: more cards" in html and "Back to the board" in html
        assert html.count('class="card"') == 10 and "Show more" not in html
        # Its cards' menus are plain forms too: move one from here.
        last = Task.objects.filter(task_status=todo).order_by("-position", "-pk").first()
        url = reverse("card_move", args=[project.pk, last.pk])
        response = submit(browser, menu_of(browser, link, last), url, status_id=columns["done"].pk)
        assert_done(browser, response, board_url(project), f"Moved “{last.title}” to Done.")

    def test_keeps_the_filter(self, browser, project, columns):
        add_tasks(project, columns["todo"], 60, title="Alpha")
        add_tasks(project, columns["todo"], 60, title="Beta")
        link = self.show_more(browser.get(board_url(project) + "?q=beta").content.decode())
        assert "q=beta" in link
        html = browser.get(link).content.decode()
        assert html.count('class="card"') == 10 and "Alpha" not in html
        assert "more cards matching the filter" in html


class TestColumns:
    def page(self, project) -> str:
        return reverse("columns", args=[project.pk])

    def test_add(self, browser, project):
        url = reverse("column_add", args=[project.pk])
        response = submit(browser, self.page(project), url, name="Blocked", category="issue", wip_limit=3)
        assert_done(browser, response, self.page(project), "Added the column “Blocked”.")
        column = TaskStatus.objects.get(project=project, name="Blocked")
        assert (column.category, column.wip_limit) == ("issue", 3)

    def test_add_refused_says_why(self, browser, project):
        url = reverse("column_add", args=[project.pk])
        response = submit(browser, self.page(project), url, name="Todo", category="todo")
        assert response.status_code == 422
        assert "There is already a column called “Todo”." in response.content.decode()

    def test_edit(self, browser, project, columns):
        review = columns["review"]
        url = reverse("column_update", args=[project.pk, review.pk])
        response = submit(browser, self.page(project), url, name="QA", wip_limit=2)
        assert_done(browser, response, self.page(project), "Saved the column “QA”.")
        review.refresh_from_db()
        assert (review.name, review.category, review.wip_limit) == ("QA", "review", 2)

    def test_reorder(self, browser, project, columns):
        todo, active = columns["todo"], columns["active"]
        page = browser.get(self.page(project)).content.decode()
        url = reverse("column_reorder", args=[project.pk])
        # Each column has its own reorder form; the first one on the page is Todo's.
        fields = next(form["fields"] for form in forms_of(page) if form["action"] == url)
        assert fields["status_id"] == str(todo.pk)
        response = browser.post(url, {**fields, "direction": "right"})
        assert_done(browser, response, self.page(project), "Saved the order of the columns.")
        assert list(project.task_statuses.order_by("position")[:2]) == [active, todo]

    def test_delete(self, browser, project, columns):
        issue = columns["issue"]
        url = reverse("column_delete", args=[project.pk, issue.pk])
        response = submit(browser, self.page(project), url)
        assert_done(browser, response, self.page(project), "Deleted the column.")
        assert not TaskStatus.objects.filter(pk=issue.pk).exists()


class TestProjects:
    def test_create(self, browser, application):
        url = reverse("project_create", args=[application.pk])
        response = submit(browser, reverse("home"), url, name="Mobile app", key="APP")
        project = Project.objects.get(key="APP")
        assert_done(browser, response, project.get_absolute_url(), "Created the project “Mobile app”.")

    def test_create_refused_says_why(self, browser, application, project):
        url = reverse("project_create", args=[application.pk])
        response = submit(browser, reverse("home"), url, name="Other", key="not a key!")
        assert response.status_code == 422
        html = response.content.decode()
        assert "<html" in html and "Nothing was changed" in html
        assert not Project.objects.filter(name="Other").exists()

    def test_rename_from_home(self, browser, project):
        url = reverse("project_rename", args=[project.pk])
        response = submit(browser, reverse("home"), url, name="Web site")
        assert_done(browser, response, reverse("home"), "Renamed the project to “Web site”.")
        project.refresh_from_db()
        assert project.name == "Web site"
