"""Finding cards: permanent URLs (/<KEY>-<n>/) and the top bar's search."""

import pytest
from django.urls import reverse

from boards import search, services
from boards.models import KeyRedirect, Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = pytest.mark.django_db


def card(project, title, *, reporter, description="", column=None):
    column = column or project.task_statuses.order_by("position").first()
    return services.create_task(
        project=project, status_id=column.pk, title=title, description=description, reporter=reporter
    )


def comment(task, body, author):
    return services.add_comment(project=task.project, task_id=task.pk, body=body, author=author)


class TestCardByKey:
    def test_a_key_redirects_to_the_card_whatever_its_case(self, owner_client, project, owner):
        task = card(project, "Fix the login", reporter=owner)
        for key in (f"WEB-{task.number}", f"web-{task.number}", f"Web-{task.number}"):
            response = owner_client.get(f"/{key}/")
            assert response.status_code == 302
            assert response["Location"] == task.get_absolute_url()

    def test_the_url_reverses(self, project, owner):
        task = card(project, "a", reporter=owner)
        assert reverse("card_by_key", args=[f"WEB-{task.number}"]) == f"/WEB-{task.number}/"

    def test_no_such_number_is_404(self, owner_client, project, owner):
        card(project, "a", reporter=owner)
        assert owner_client.get("/WEB-999/").status_code == 404
        assert owner_client.get("/NOPE-1/").status_code == 404
        assert owner_client.get("/WEB-0/").status_code == 404

    def test_outsiders_get_404_and_anonymous_users_the_log_in_page(self, client, outsider, project, owner):
        task = card(project, "a", reporter=owner)
        response = client.get(f"/WEB-{task.number}/")
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        client.force_login(outsider)
        assert client.get(f"/WEB-{task.number}/").status_code == 404

    def test_an_outsider_with_their_own_web_project_reaches_only_their_card(self, client, outsider, project, owner):
        card(project, "ours", reporter=owner)
        theirs_project = make_project(outsider.memberships.get().application, name="Theirs", key="WEB")
        theirs = card(theirs_project, "theirs", reporter=outsider)
        client.force_login(outsider)
        response = client.get(f"/WEB-{theirs.number}/")
        assert response["Location"] == theirs.get_absolute_url()

    def test_a_key_shared_by_two_of_the_users_workspaces_offers_a_choice(self, owner_client, project, owner):
        other = ApplicationFactory(name="Other place")
        MembershipFactory(application=other, user=owner, role=Membership.Role.VIEWER)
        twin = make_project(other, name="Web too", key="web")
        a = card(project, "Ours", reporter=owner)
        b = card(twin, "Theirs", reporter=owner)
        assert a.number == b.number == 1
        response = owner_client.get("/WEB-1/")
        assert response.status_code == 200
        html = response.content.decode()
        assert a.get_absolute_url() in html and b.get_absolute_url() in html
        assert "Other place" in html

    def test_a_moved_cards_old_key_redirects_to_it(self, owner_client, project, owner, application):
        task = card(project, "moved", reporter=owner)
        elsewhere = make_project(application, name="Ops", key="OPS")
        Task.objects.filter(pk=task.pk).counts_handled().update(project=elsewhere, number=7)
        Task.objects.filter(pk=task.pk).counts_handled().update(
            task_status=elsewhere.task_statuses.order_by("position").first()
        )
        KeyRedirect.objects.create(project=project, number=task.number, task=task)
        response = owner_client.get(f"/WEB-{task.number}/")
        assert response.status_code == 302
        assert response["Location"] == reverse("card", args=[elsewhere.pk, task.pk])

    def test_a_redirect_to_a_card_now_in_a_workspace_the_user_cannot_see_is_404(
        self, client, project, owner, editor, application
    ):
        task = card(project, "moved away", reporter=owner)
        away = make_project(ApplicationFactory(), name="Away", key="AWAY")
        KeyRedirect.objects.create(project=project, number=task.number, task=task)
        services.delete_task(project=project, task_id=task.pk)  # gone: the redirect goes with it
        assert not KeyRedirect.objects.exists()
        kept = card(away, "kept", reporter=owner)
        KeyRedirect.objects.create(project=project, number=99, task=kept)
        client.force_login(editor)
        assert client.get("/WEB-99/").status_code == 404

    def test_the_lookup_costs_a_fixed_number_of_queries(self, owner_client, project, owner, django_assert_num_queries):
        task = card(project, "a", reporter=owner)
        with django_assert_num_queries(2):  # user, the card
            owner_client.get(f"/WEB-{task.number}/")


class TestSearch:
    @pytest.fixture
    def cards(self, project, owner):
        return {
            "title": card(project, "Payment gateway timeout", reporter=owner),
            "description": card(project, "Checkout", description="The payment page hangs", reporter=owner),
            "comment": card(project, "Slow page", reporter=owner),
            "other": card(project, "Unrelated", description="nothing here", reporter=owner),
        }

    def get(self, client, q, **params):
        return client.get(reverse("search"), {"q": q, **params})

    def hit_ids(self, response):
        return [task.pk for task in response.context["results"].hits]

    def test_title_ranks_above_description(self, owner_client, cards):
        ids = self.hit_ids(self.get(owner_client, "payment"))
        assert ids == [cards["title"].pk, cards["description"].pk]

    def test_a_word_from_a_comment_finds_the_card(self, owner_client, cards, owner):
        comment(cards["comment"], "Seen with the zanzibar proxy", owner)
        response = self.get(owner_client, "zanzibar")
        assert self.hit_ids(response) == [cards["comment"].pk]
        html = response.content.decode()
        assert "In a comment:" in html and "<mark>zanzibar</mark>" in html

    def test_stemming_matches_other_forms(self, owner_client, cards):
        assert cards["description"].pk in self.hit_ids(self.get(owner_client, "hanging"))

    def test_a_key_puts_its_card_first(self, owner_client, cards, project):
        task = cards["other"]
        response = self.get(owner_client, f"web-{task.number}")
        assert self.hit_ids(response)[0] == task.pk
        assert f"WEB-{task.number}" in response.content.decode()

    def test_never_a_card_of_another_workspace(self, client, cards, outsider, owner):
        theirs = make_project(outsider.memberships.get().application, name="Theirs", key="WEB")
        own = card(theirs, "Payment for them", reporter=outsider)
        client.force_login(outsider)
        assert self.hit_ids(self.get(client, "payment")) == [own.pk]
        assert self.hit_ids(self.get(client, f"WEB-{cards['title'].number}")) == [own.pk]
        comment(cards["other"], "payment secret", owner)
        assert self.hit_ids(self.get(client, "secret")) == []

    def test_viewers_find_cards_too(self, viewer, client, cards):
        client.force_login(viewer)
        assert len(self.hit_ids(self.get(client, "payment"))) == 2

    def test_archived_cards_are_found_and_marked(self, owner_client, cards, project):
        services.archive_task(project=project, task_id=cards["title"].pk)
        html = self.get(owner_client, "gateway").content.decode()
        assert 'class="badge">archived' in html

    def test_user_text_in_snippets_is_escaped(self, owner_client, project, owner):
        card(project, "<script>alert(1)</script> payload", description="x <b>payload</b> \x02 y", reporter=owner)
        html = self.get(owner_client, "payload").content.decode()
        assert "<script>alert(1)" not in html and "<b>payload" not in html
        assert "<mark>payload</mark>" in html

    @pytest.mark.parametrize(
        "q",
        [
            "&|!:*()",
            "'",
            '"unclosed',
            "-",
            "!!!",
            "a:*",
            "(foo | bar) & !baz",
            "\\",
            "%_",
            "x" * 200,
            "the",
            "é ü 漢字 🙂",
            "WEB-99999999",
        ],
    )
    def test_hostile_queries_answer_without_error(self, owner_client, cards, q):
        assert self.get(owner_client, q).status_code == 200

    @pytest.mark.parametrize(
        "params",
        [
            {"q": "x" * 201},
            {"q": "a\x00b"},
            {"q": "a", "page": "0"},
            {"q": "a", "page": "1.0"},
            {"q": "a", "page": " 2"},
            {"q": "a", "page": "999"},
            {"q": "a", "page": "²"},
        ],
    )
    def test_refused_input_is_a_400_page(self, owner_client, params):
        response = owner_client.get(reverse("search"), params)
        assert response.status_code == 400

    def test_a_parameter_given_twice_is_refused(self, owner_client):
        assert owner_client.get(reverse("search") + "?q=a&q=b").status_code == 400

    def test_empty_query_shows_the_box(self, owner_client):
        response = owner_client.get(reverse("search"))
        assert response.status_code == 200 and response.context["results"] is None

    def test_pages_of_twenty(self, owner_client, project, owner):
        for i in range(45):
            card(project, f"Widget {i}", reporter=owner)
        first = self.get(owner_client, "widget")
        assert len(self.hit_ids(first)) == 20 and first.context["results"].pages == 3
        third = self.get(owner_client, "widget", page="3")
        assert len(self.hit_ids(third)) == 5
        assert not set(self.hit_ids(first)) & set(self.hit_ids(third))
        assert 'rel="prev"' in third.content.decode()

    def test_the_count_is_bounded(self, owner_client, project, owner, monkeypatch):
        monkeypatch.setattr(search, "CANDIDATES", 5)
        for i in range(8):
            card(project, f"Gadget {i}", reporter=owner)
        response = self.get(owner_client, "gadget")
        assert response.context["results"].more
        assert "+ results" in response.content.decode()

    def test_query_count_is_pinned(self, owner_client, cards, owner, django_assert_num_queries):
        comment(cards["comment"], "payment via comment", owner)
        for i in range(30):
            card(cards["other"].project, f"payment {i}", reporter=owner)
        # user, the user's projects, the candidates, the page, the comment snippets
        with django_assert_num_queries(5):
            self.get(owner_client, "payment")
        # a key: the key's lookup, and no ranked page when no other card matches its words
        with django_assert_num_queries(5):
            self.get(owner_client, f"WEB-{cards['title'].number}")

    def test_the_top_bar_has_the_box_when_logged_in(self, owner_client, client, project):
        assert 'action="/search/"' in owner_client.get(reverse("home")).content.decode()

    def test_a_user_without_projects_finds_nothing(self, client, cards, user):
        client.force_login(user)
        response = self.get(client, "payment")
        assert response.status_code == 200 and self.hit_ids(response) == []

    def test_anonymous_users_are_sent_to_log_in(self, client):
        response = client.get(reverse("search"), {"q": "a"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_highlight_balances_and_escapes():
    s, e = search.START, search.STOP
    assert search.highlight(f"a {s}<b>{e} c") == "a <mark>&lt;b&gt;</mark> c"
    assert search.highlight(f"{s}{s}x{e}{e} {s}y") == "<mark>x</mark> <mark>y</mark>"


def test_parse_key():
    assert search.parse_key(" web-12 ") == ("web", 12)
    assert search.parse_key("WEB-0") is None
    assert search.parse_key("WEB 12") is None
    assert search.parse_key("WEB-1234567890") is None
