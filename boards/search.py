"""Finding cards: by key (KEY-n, the permanent URLs and the search box) and by words in their
title, description and comments (PostgreSQL full-text search on the generated Task.search and
Comment.search vectors, GIN indexed).

Reads only, always restricted to the projects of the user's workspaces. A search ranks a bounded
set of candidates (CANDIDATES from the card index, as many from the comment index) rather than
every match: a common word matches a large part of a million cards, and ranking them all is what
costs; the count is bounded the same way ("960+ results"). The price: for a word in more cards
than that, the best ranked cards are the best of the candidates the index gave first, not of all.
"""

import re
from dataclasses import dataclass, field

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import BigIntegerField, F, Lookup, Value
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from boards.models import Comment, KeyRedirect, Project, Task

PAGE_SIZE = 20
CANDIDATES = 200
MAX_PAGE = CANDIDATES * 2 // PAGE_SIZE  # card and comment candidates together
CONFIG = "english"
# ts_headline's markers: control characters, which the escaping below keeps apart from any text.
START, STOP = "\x02", "\x03"
_KEY = re.compile(r"\A\s*([A-Za-z0-9]{1,10})-([0-9]{1,9})\s*\Z")


def parse_key(text: str) -> tuple[str, int] | None:
    """("WEB", 12) for "WEB-12" or " web-12 " (case as given); None when the text is no card key."""
    match = _KEY.match(text or "")
    if not match or int(match[2]) == 0:
        return None
    return match[1], int(match[2])


def _visible_projects(user):
    return Project.objects.filter(application__memberships__user=user)


def cards_by_key(user, key: str, number: int) -> list[Task]:
    """The cards a key names among the user's projects (keys are unique per workspace, not across
    workspaces): the cards numbered so now, else the cards that left with that key (KeyRedirect)."""
    visible = _visible_projects(user)
    cards = list(
        Task.objects.select_related("project__application", "task_status")
        .defer("description", "description_html", "search")
        .filter(number=number, project__key__iexact=key, project__in=visible)
        .order_by("project__application__name", "project_id")
    )
    if cards:
        return cards
    moved = KeyRedirect.objects.filter(number=number, project__key__iexact=key, project__in=visible)
    return list(
        Task.objects.select_related("project__application", "task_status")
        .defer("description", "description_html", "search")
        .filter(pk__in=moved.values("task_id"), project__in=visible)
        .order_by("project__application__name", "project_id")
    )


def highlight(text: str) -> SafeString:
    """ts_headline output made safe: the text escaped, then each START…STOP pair made a <mark>.
    Stray or nested markers (a control character typed into a card) are dropped, never unbalanced."""
    out, open_ = [], False
    for piece in re.split(f"([{START}{STOP}])", text or ""):
        if piece == START:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif piece == STOP:
            if open_:
                out.append("</mark>")
                open_ = False
        else:
            out.append(escape(piece))
    if open_:
        out.append("</mark>")
    return mark_safe("".join(out))  # noqa: S308 - every piece of text was escaped above


class _Any(Lookup):
    """`field = ANY(%s)` with the ids as one array parameter: an IN list of 2,000 placeholders
    costs more to build, send and plan than the page itself."""

    lookup_name = "any"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _ids(ids: list[int]) -> Value:
    return Value(ids, output_field=ArrayField(BigIntegerField()))


@dataclass
class Results:
    query: str
    hits: list[Task] = field(default_factory=list)
    count: int = 0
    more: bool = False  # there may be more matches than were counted ("960+")
    page: int = 1
    pages: int = 1


def _headline(expression: str, query: SearchQuery, **options) -> SearchHeadline:
    return SearchHeadline(expression, query, config=CONFIG, start_sel=START, stop_sel=STOP, **options)


def search_cards(user, text: str, *, page: int = 1) -> Results:
    """One page of the cards matching `text` in the user's projects: the card its key names
    first, then the best ranked (title above description; a match in comments alone last)."""
    results = Results(query=text, page=page)
    # The ids themselves, not a subquery: the planner then knows how many cards they hold, and
    # drives a common word from the project (stopping at the LIMIT), a rare one from the index.
    visible = list(_visible_projects(user).values_list("pk", flat=True))
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    # No ORDER BY in the candidates (the models' default ordering would sort every match before
    # the LIMIT): the first CANDIDATES the index gives, from the cards and from the comments.
    in_cards = Task.objects.filter(project_id__in=visible, search=query).order_by().values_list("pk", flat=True)
    in_cards = in_cards[:CANDIDATES]
    in_comments = (
        Comment.objects.filter(task__project_id__in=visible, search=query)
        .order_by()
        .values_list("task_id", flat=True)[:CANDIDATES]
    )
    # The candidates' ids, read first (at most 2 * CANDIDATES numbers): their count is the count
    # shown, and the page reads them by primary key, not by a join the planner may misjudge.
    candidates = set(in_cards.union(in_comments))
    key = parse_key(text)  # the card a key names comes first, on the first page, besides the page
    first = cards_by_key(user, *key) if key else []
    candidates -= {task.pk for task in first}  # on every page, so the card is not listed again further on
    counted = len(candidates)
    results.count = counted + len(first)
    results.more = counted >= CANDIDATES
    results.pages = max(1, min(MAX_PAGE, -(-counted // PAGE_SIZE)))
    results.page = page = min(page, results.pages)
    start = (page - 1) * PAGE_SIZE
    hits = Task.objects.filter(_Any(F("pk"), _ids(sorted(candidates))))
    ranked = []
    if counted:
        ranked = list(
            hits.select_related("project", "task_status")
            .defer("description", "description_html", "search")
            .annotate(
                rank=SearchRank(F("search"), query),
                title_hl=_headline("title", query, highlight_all=True),
                snippet=_headline("description", query, max_words=30, min_words=12, max_fragments=2),
            )
            .order_by("-rank", "-updated_at", "-pk")[start : start + PAGE_SIZE]
        )
    for task in first:
        task.title_hl, task.snippet, task.rank, task.by_key = task.title, "", None, True
    page_hits = (first if page == 1 else []) + ranked
    _add_comment_snippets(page_hits, query)
    for task in page_hits:
        task.title_html = highlight(task.title_hl)
        task.snippet_html = highlight(task.snippet) if START in (task.snippet or "") else None
        if task.snippet_html is None and task.comment_snippet:
            task.snippet_html, task.snippet_in_comment = highlight(task.comment_snippet), True
    results.hits = page_hits
    return results


def _add_comment_snippets(tasks: list[Task], query: SearchQuery) -> None:
    """Each card's first matching comment, highlighted, for the cards whose own text has no match."""
    for task in tasks:
        task.comment_snippet, task.snippet_in_comment = None, False
    wanted = [task.pk for task in tasks if START not in (task.snippet or "")]
    if not wanted:
        return
    snippets = {}
    for task_id, snippet in (
        Comment.objects.filter(task_id__in=wanted, search=query)
        .order_by("task_id", "created_at", "pk")
        .distinct("task_id")
        .annotate(snippet=_headline("body", query, max_words=30, min_words=12))
        .values_list("task_id", "snippet")
    ):
        snippets[task_id] = snippet
    for task in tasks:
        task.comment_snippet = snippets.get(task.pk)
