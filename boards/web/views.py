"""Pages and htmx partials: bind a form (boards.forms), check access (queries.get_project_for),
call one service or query, render. No ORM calls here.

Writes answer an htmx request with fragments: the regions of the page they changed, each a
partial of the page template, the extra ones marked hx-swap-oob. Without htmx (a plain form, no
JavaScript) they answer 303 See Other to the page to show next, with a message saying what was done.
Refused input answers 4xx with the message as a fragment aimed (HX-Retarget) at a message region.
"""

import json
from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

from aggregates.counts import get_or_create_project_aggregation
from boards import forms, history, queries, services
from boards.live import events as live
from boards.live import fragments, presence
from boards.models import Category, Membership, Priority, Project, Task
from boards.queries import BoardFilter, ReadOnly, can_edit, check_can_edit, get_project_for, is_owner
from boards.templatetags.board_tags import display_name
from boards.web.discussion import discussion


class HtmxHttpRequest(HttpRequest):
    """For type hints: django_htmx.middleware.HtmxMiddleware adds .htmx to every request."""

    htmx: HtmxDetails


def _board_context(project: Project, board_filter: BoardFilter) -> dict:
    columns = queries.columns_of(project)
    queries.annotate_counts(project, columns, board_filter)
    members = queries.members(project)
    labels = queries.labels_of(project)
    lanes = None
    if board_filter.lanes:
        # Grouped: each column's cards come in lane cells (queries.board_lanes), not column pages.
        lanes = queries.board_lanes(project, board_filter, columns, labels=labels, members=members)
    else:
        by_column: dict[int, list[Task]] = {column.pk: [] for column in columns}
        for task in queries.first_pages(project, board_filter, columns):
            by_column.setdefault(task.task_status_id, []).append(task)
        for column in columns:
            cards = by_column[column.pk]
            column.has_more = len(cards) > queries.PAGE_SIZE
            column.cards = cards[: queries.PAGE_SIZE]
            column.cursor = (
                queries.cursor(column.cards[-1], board_filter, offset=queries.PAGE_SIZE) if column.has_more else ""
            )
    return {
        "project": project,
        "columns": columns,
        "lanes": lanes,
        "members": members,
        "filter": board_filter,
        **_filter_choices(labels),
        "can_edit": can_edit(project),
        "is_owner": is_owner(project),
        # The card partial's switches, set: a missing variable costs the template engine an
        # exception per card, 250 times a page.
        "oob": False,
        "focus": False,
        "focus_id": None,
    }


def _shown_cards(context: dict) -> list[Task]:
    """Every card the board page shows, grouped or not."""
    if context["lanes"] is not None:
        return [task for lane in context["lanes"] for cell in lane.cells for task in cell.cards]
    return [task for column in context["columns"] for task in column.cards]


def _filter_choices(labels: dict) -> dict:
    """The project's labels ({id: Label} for card faces, by name for the filter) and priorities."""
    return {
        "labels": labels,
        "label_list": sorted(labels.values(), key=lambda label: (label.name.lower(), label.pk)),
        "priority_choices": [(value, name) for value, name in Priority.choices if value],
    }


# -- rendering fragments ------------------------------------------------------------------------


def _fragments(*parts: str, status: int = 200) -> HttpResponse:
    return HttpResponse("".join(parts), status=status)


def _done(request, text: str, to, *args) -> HttpResponse:
    """A write without htmx: 303 See Other to `to` (as for redirect()), with `text` shown there."""
    messages.success(request, text)
    response = redirect(to, *args)
    response.status_code = 303
    return response


def _board_effects(
    project: Project, column_ids, board_filter: BoardFilter, state: queries.BoardState | None = None
) -> list[str]:
    """The regions a card change touches, for the filter the page shows (sent along by hx-include)."""
    return fragments.count_regions(project.pk, column_ids, board_filter, state=state)


def _card_context(project: Project, task: Task, columns: list | None = None) -> dict:
    columns = queries.columns_of(project) if columns is None else columns
    return {
        "project": project,
        "task": task,
        "columns": columns,
        "can_edit": can_edit(project),
        # Read only for a card that carries labels: a write's answer costs no query for the others.
        "labels": queries.labels_of(project) if task.label_ids else {},
    }


def _detail_context(project: Project, task: Task, *, in_dialog: bool) -> dict:
    """The card detail region's context: the card, the members to assign, its activity, and what
    its planning fields offer (the project's labels, priorities, the editor's time zone)."""
    context = {
        **_card_context(project, task),
        "members": queries.members(project),
        "events": history.card_activity(task),
        "in_dialog": in_dialog,
        # Attachments (issue 14, item 7): no query for a card without files.
        "attachments": queries.attachments(task),
    }
    if not task.label_ids:  # the editor's checkboxes list them all
        context["labels"] = queries.labels_of(project)
    context["label_list"] = sorted(context["labels"].values(), key=lambda label: (label.name.lower(), label.pk))
    context["priorities"] = Priority.choices
    context["time_zone_name"] = timezone.get_current_timezone_name()
    context["can_manage_labels"] = context["can_edit"]
    context.update(discussion(project, task, context["members"]))  # its comments, mentions linked
    return context


def _refused(request, project, error, status: int, *, target: str = "board-messages") -> HttpResponse:
    """A 4xx whose body is the message; htmx puts it in the message region, changing nothing else."""
    if isinstance(error, ValidationError):
        text = " ".join(error.messages)
    else:
        text = str(error.args[0]) if getattr(error, "args", None) else str(error)
    if request.htmx:
        context = {"message": text, "message_id": target, "level": "error"}
        html = render_to_string("boards/board.html#message", context, request)
        response = HttpResponse(html, status=status)
        retarget(response, f"#{target}")
        reswap(response, "outerHTML")
        return response
    return render(request, "boards/refused.html", {"project": project, "message": text}, status=status)


def write_view(view):
    """POST only; the project checked for edit rights; refused input turned into a 4xx message."""

    @wraps(view)
    @require_POST
    @login_required
    def wrapper(request, project_id, *args, **kwargs):
        project = get_project_for(request.user, project_id)
        request.error_target = "board-messages"
        try:
            check_can_edit(project)
            return view(request, project, *args, **kwargs)
        except ReadOnly as error:
            return _refused(request, project, error, 403, target=request.error_target)
        except ValidationError as error:
            return _refused(request, project, error, 422, target=request.error_target)
        except services.Conflict as error:
            return _refused(request, project, error, 409, target=request.error_target)
        except Task.DoesNotExist as error:
            return _refused(request, project, error, 404, target=request.error_target)

    return wrapper


def _owner_only(project: Project) -> None:
    queries.refuse_archived(project)
    if not is_owner(project):
        raise ReadOnly("Only the workspace's owners can change projects and columns.")


# -- home and projects --------------------------------------------------------------------------


HOME_PAGE_SIZE = 50


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    form = forms.HomeForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text())
    projects = queries.home_projects(request.user)
    context = home_context(request.user, form.cleaned_data["page"], lambda start, stop: projects[start:stop])
    return render(request, "boards/home.html", context)


def home_context(user, page, projects_between: Callable[[int, int], Iterable[Project]]) -> dict:
    """One page of the home page: HOME_PAGE_SIZE of the user's projects, by workspace, and the pager.

    projects_between(start, stop) returns that slice of the user's projects in the page's order
    (workspace name, workspace, project name, id). Two queries whatever the number of projects:
    the memberships with their project counts (which size the pager), then the page's projects.
    No page shows the first; 0 or one past the end, the last.
    """
    memberships = queries.memberships_with_project_counts(user)
    paginator = Paginator(range(sum(membership.project_count for membership in memberships)), HOME_PAGE_SIZE)
    page = paginator.get_page(page)
    start = (page.number - 1) * HOME_PAGE_SIZE
    by_application: dict[int, list[Project]] = {}
    for project in projects_between(start, start + HOME_PAGE_SIZE):
        by_application.setdefault(project.application_id, []).append(_with_counts(project))
    workspaces, before = [], 0
    for membership in memberships:
        # The page that holds the workspace's first project (an empty one sits where it would start).
        first_page = min(before // HOME_PAGE_SIZE + 1, paginator.num_pages)
        before += membership.project_count
        projects = by_application.get(membership.application_id, [])
        workspaces.append(
            {
                "application": membership.application,
                "is_owner": membership.role == Membership.Role.OWNER,
                "projects": projects,
                "project_count": membership.project_count,
                "first_page": first_page,
                "shown": bool(projects) or (membership.project_count == 0 and first_page == page.number),
            }
        )
    return {
        "workspaces": [workspace for workspace in workspaces if workspace["shown"]],
        "all_workspaces": workspaces,
        "page": page,
    }


@require_POST
@login_required
def project_create(request: HtmxHttpRequest, application_id: int) -> HttpResponse:
    membership = queries.membership_of(request.user, application_id)
    if membership is None:
        raise Http404("No such workspace.")
    target = f"application-{application_id}-message"
    if membership.role != Membership.Role.OWNER:
        return _refused(request, None, ReadOnly("Only the workspace's owners can add projects."), 403, target=target)
    try:
        data = forms.bind(forms.ProjectCreateForm, request.POST)
        project = services.create_project(
            application=membership.application, name=data["name"], key=data["key"], actor=request.user
        )
    except ValidationError as error:
        return _refused(request, None, error, 422, target=target)
    if request.htmx:
        return HttpResponseClientRedirect(project.get_absolute_url())
    return _done(request, f"Created the project “{project.name}”.", project)


@write_view
def project_rename(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    request.error_target = f"project-{project.pk}-message"
    _owner_only(project)
    data = forms.bind(forms.ProjectRenameForm, request.POST)
    services.rename_project(project=project, name=data["name"], actor=request.user)
    confirmation = f"Renamed the project to “{project.name}”."
    if not request.htmx:
        if data["next"] == "workspace":
            back = ("workspace", project.application_id)
        else:
            back = ("home",) if data["next"] == "home" else (project,)
        return _done(request, confirmation, *back)
    return _fragments(
        fragments.part("project_name", {"project": project}, oob=True),
        render_to_string("boards/home.html#rename", {"project": project, "oob": True}, request=request),
        fragments.message(target=request.error_target),
        # Above the tiles, not in one: the row keeps its height.
        fragments.message(confirmation, target=f"application-{project.application_id}-message"),
    )


def _with_counts(project: Project) -> Project:
    """The project with its counts row, bootstrapped (one GROUP BY) when it is missing: a project
    whose row was removed by hand shows its real counts, not an empty board."""
    if getattr(project, "status_aggregation", None) is None:
        project.status_aggregation = get_or_create_project_aggregation(project)
    return project


# -- the board ----------------------------------------------------------------------------------


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def board(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = _with_counts(get_project_for(request.user, project_id))
    try:
        board_filter = forms.board_filter(request.GET, request.user)
    except ValidationError as error:
        return HttpResponseBadRequest(" ".join(error.messages))
    if request.htmx and request.htmx.target == "board-columns":
        return render(request, "boards/board.html#columns", _board_context(project, board_filter))
    # The live socket's sequence number, read before the cards: a change committed meanwhile
    # then counts as unseen and the page catches up, never the other way round.
    live_seq = live.current_seq(project.pk)
    context = {**_board_context(project, board_filter), "live_seq": live_seq}
    context["edit_locks"] = _edit_locks(_shown_cards(context))
    return render(request, "boards/board.html", context)


def _edit_locks(cards) -> str:
    """Who is editing the cards the page shows, as JSON for live.js ({task id: [user id, name]}):
    one Redis read, so a board opened mid-edit marks those cards before the next lock renewal."""
    holders = presence.lock_holders([task.pk for task in cards])
    if not holders:
        return ""
    return json.dumps({str(pk): [str(state.holder_id), state.holder_name] for pk, state in holders.items()})


@require_GET
@login_required
def column_more(request: HtmxHttpRequest, project_id: int, status_id: int) -> HttpResponse:
    """The next page of a column after the (position, id) cursor: keyset, so page 200 costs as page 2."""
    project = get_project_for(request.user, project_id)
    form = forms.ColumnPageForm(request.GET)
    column = queries.column_of(project, status_id)
    if column is None or not form.is_valid():
        raise Http404("No such column or page.")
    board_filter = form.board_filter(request.user)
    after = form.cleaned_data["after"]
    labels = queries.labels_of(project)
    lane_key = form.cleaned_data["lane"]
    size = queries.LANE_PAGE_SIZE if lane_key else queries.PAGE_SIZE
    if lane_key:
        rule = queries.grouping(board_filter.lanes, labels)
        cards = queries.lane_page(project, column, board_filter, rule, rule.value(lane_key), after)
    else:
        cards = queries.column_page(project, column, board_filter, after)
    column.has_more = len(cards) > size
    cards = cards[:size]
    shown = (after if isinstance(after, int) else 0) + len(cards)
    column.cursor = queries.cursor(cards[-1], board_filter, offset=shown) if column.has_more else ""
    context = {
        "project": project,
        "column": column,
        "columns": queries.columns_of(project),
        "labels": labels,
        "can_edit": can_edit(project),
        "filter": board_filter,
        # A lane's cell pages as its column does, in the cell's own regions (lane-<key>-column-<id>-…).
        "lane": {"key": lane_key} if lane_key else None,
        "cell": column,
        "focus_id": None,
    }
    if not request.htmx:  # "Show more" followed as a link: the column's next page, as a page
        return render(
            request,
            "boards/column_page.html",
            {**context, "cards": cards, "oob": False, "focus": False, "focus_id": None},
        )
    cards_html = mark_safe("".join(fragments.part("card", {**context, "task": task}) for task in cards))  # noqa: S308
    if lane_key:
        more = fragments.part("cell_more", context)
        into = f"lane-{lane_key}-column-{column.pk}-cards"
    else:
        more, into = fragments.part("column_more", context), f"column-{column.pk}-cards"
    return _fragments(more, format_html('<div hx-swap-oob="beforeend:#{}">{}</div>', into, cards_html))


@require_GET
@login_required
def archived(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    tasks = queries.archived_cards(project)
    return render(request, "boards/archived.html", {"project": project, "tasks": tasks, "can_edit": can_edit(project)})


# -- cards --------------------------------------------------------------------------------------


def _get_card(project: Project, task_id: int) -> Task:
    task = queries.card(project, task_id)
    if task is None:
        raise Http404("No such card.")
    return task


@require_GET
@login_required
@vary_on_headers("HX-Request")
def card(request: HtmxHttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """A card in view mode (reading takes no lock), or with ?edit=1 its editor: asking to edit
    takes the card's edit lock, and someone else's lock keeps it in view mode until it is free."""
    project = get_project_for(request.user, project_id)
    form = forms.CardViewForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text())
    task = _get_card(project, task_id)
    in_dialog = bool(request.htmx) and form.cleaned_data["context"] != "page"
    context = _detail_context(project, task, in_dialog=in_dialog)
    editable = context["can_edit"] and not task.is_archived
    if editable and form.cleaned_data["edit"]:
        name = display_name(request.user)
        lock = presence.lock_acquire(task.pk, request.user.pk, name, role=project.role)
        context.update(lock=lock, editing=lock.held, wanted_edit=not lock.held)
        if lock.held:
            live.publish_lock(project.pk, task.pk, user_id=request.user.pk, name=name)
    else:
        context["lock"] = presence.lock_state(task.pk, request.user.pk)
    if request.htmx:
        return render(request, "boards/card.html#detail", context)
    return render(request, "boards/card.html", context)


@write_view
def card_create(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = f"column-{status_id}-message"
    form = forms.CardCreateForm(request.POST, project=project, user=request.user)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    data = form.cleaned_data
    task = services.create_task(
        project=project, status_id=status_id, title=data["title"], reporter=request.user, assignee=data["assignee"]
    )
    if not request.htmx:
        return _done(request, f"Added “{task.title}”.", project)
    state = queries.board_state(project.pk)
    context = _card_context(project, task, state.columns)
    return _fragments(
        fragments.part("card", context, oob=f"afterbegin:#column-{task.task_status_id}-cards"),
        *_board_effects(project, [task.task_status_id], form.board_filter(request.user), state),
        fragments.message(target=request.error_target),
        fragments.message(),
    )


@write_view
def card_update(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-detail-message"
    try:
        task = _get_card(project, task_id)
    except Http404:
        raise Task.DoesNotExist(
            "This card no longer exists: someone deleted it. Copy your text before you leave."
        ) from None
    form = forms.CardUpdateForm(request.POST, project=project, current_assignee_id=task.assignee_id)
    valid = form.is_valid()
    in_dialog = form.cleaned_data.get("context") == "dialog"
    try:
        if not valid:
            raise ValidationError(form.error_text())
        data = form.cleaned_data
        task = services.update_task(
            project=project,
            task_id=task.pk,
            version=data["version"],
            title=data["title"],
            description=data["description"],
            assignee=data["assignee"],
            actor=request.user,
            **form.planning_changes(),
        )
    except (ValidationError, services.StaleVersion) as error:
        # The user's text goes back into the form, as typed: nothing they typed is lost.
        current = _get_card(project, task.pk)
        stale = isinstance(error, services.StaleVersion)
        context = {
            **_detail_context(project, current, in_dialog=in_dialog),
            "editing": True,
            "posted": {name: form.data.get(name, "") for name in ("title", "description", "assignee")},
            "posted_planning": _posted_planning(form),
            "conflict": current if stale else None,
            "error": " ".join(error.messages) if isinstance(error, ValidationError) else str(error),
            # A conflict shows their version next to yours; saving again is then a choice, not an accident.
            "form_version": current.version if stale else form.cleaned_data.get("version", current.version),
        }
        status = 409 if stale else 422
        if request.htmx:
            return render(request, "boards/card.html#detail", context, status=status)
        return render(request, "boards/card.html", context, status=status)
    if presence.lock_release(task.pk, request.user.pk):
        live.publish_lock(project.pk, task.pk, user_id=request.user.pk, name="")
    if not request.htmx:
        return _done(request, "Saved.", task)
    task = _get_card(project, task.pk)
    context = _detail_context(project, task, in_dialog=in_dialog)
    parts = [render_to_string("boards/card.html#detail", {**context, "saved": True}, request)]
    if in_dialog:
        parts.append(fragments.part("card", context, oob=True))
    return _fragments(*parts)


def _posted_planning(form) -> dict:
    """The planning fields as the editor posted them, to show again after a refusal."""
    labels = set()
    if hasattr(form.data, "getlist"):
        labels = {value for value in form.data.getlist("labels") if value.isdigit()}
    return {
        "labels": labels,
        "priority": form.data.get("priority", ""),
        "due_date": form.data.get("due_date", ""),
        "due_time": form.data.get("due_time", ""),
    }


def _move_target(project: Project, task_id: int, data: dict, board_filter: BoardFilter) -> dict:
    """The column and neighbours of a move: as drag and drop names them (after_id/before_id), or
    for the menu and the up and down buttons, found from where the card is now (on a grouped
    board, up and down within the card's lane)."""
    direction, status_id = data["direction"], data["status_id"]
    if not direction and data["via"] != "menu":
        # Drag and drop: the move checks the column and the neighbours under its locks.
        return {"status_id": status_id, "after_id": data["after_id"], "before_id": data["before_id"]}
    task = queries.card_spot(project, task_id)
    if task is None:
        raise Task.DoesNotExist(services.GONE)
    if direction in ("up", "down"):
        if board_filter.lanes:
            rule = queries.grouping(board_filter.lanes, queries.labels_of(project))
            neighbour = queries.lane_neighbour(project, task, rule, above=direction == "up")
        elif direction == "up":
            neighbour = queries.card_above(project, task)
        else:
            neighbour = queries.card_below(project, task)
        where = "lane" if board_filter.lanes else "column"
        if neighbour is None:
            raise ValidationError(
                f"This card is already at the {'top' if direction == 'up' else 'bottom'} of its {where}."
            )
        if direction == "up":
            return {"status_id": task.task_status_id, "before_id": neighbour}
        return {"status_id": task.task_status_id, "after_id": neighbour}
    # Moved from the menu to another column: the top of it, where it is visible.
    if task.task_status_id == status_id and not task.is_archived:
        raise ValidationError("The card is already in that column.")
    return {
        "status_id": status_id,
        "after_id": None,
        "before_id": queries.top_card(project, status_id, besides=task.pk),
    }


def _lane_target(project: Project, board_filter: BoardFilter, key: str) -> tuple[str, object] | None:
    """A drop's lane as move_task takes it: (kind, value), the member checked; None for no lane."""
    if not key:
        return None
    kind = board_filter.lanes
    value = queries.grouping(kind, {}).value(key)
    if kind == "assignee" and value is not None:
        value = queries.member(project, value)
        if value is None:
            raise ValidationError("That person is not a member of this workspace: pick a member's lane (or nobody's).")
    return kind, value


@write_view
def card_move(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    form = forms.CardMoveForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    data = form.cleaned_data
    board_filter = form.board_filter(request.user)
    lane = _lane_target(project, board_filter, data["lane"])
    task = services.move_task(
        project=project,
        task_id=task_id,
        actor=request.user,
        lane=lane,
        # Only a drop into another lane edits the card: a plain move goes ahead whatever changed.
        version=data["version"] if lane is not None else None,
        **_move_target(project, task_id, data, board_filter),
    )
    if not request.htmx:
        if data["direction"]:
            return _done(request, f"Moved “{task.title}” {data['direction']}.", project)
        column = queries.column_of(project, task.task_status_id)
        return _done(request, f"Moved “{task.title}” to {column.name}.", project)
    if board_filter.lanes:
        # A grouped board: the card, its lane and cell counts and the columns' counts, exact, in
        # one region (the board's lanes as a reload shows them).
        context = _board_context(project, board_filter)
        # A move from the card's menu keeps the keyboard on that card (data-focus on it alone).
        context["focus_id"] = task.pk if data["via"] == "menu" else None
        return _fragments(
            render_to_string("boards/board.html#columns", {**context, "region_oob": True}),
            *_board_effects(project, [], board_filter),
            fragments.message(_lane_message(task, board_filter, context["labels"])),
        )
    state = queries.board_state(project.pk)
    context = {**_card_context(project, task, state.columns), "focus": data["via"] == "menu"}
    return _fragments(
        fragments.oob_delete(f"#card-{task.pk}"),
        fragments.part("card", context, oob=fragments.card_place(project, task)),
        *_board_effects(project, {task.from_status_id, task.task_status_id}, board_filter, state),
        fragments.message(),
    )


def _lane_message(task: Task, board_filter: BoardFilter, labels: dict) -> str:
    """What a grouped board's move says: nothing, or what the drop changed on the card."""
    edits = getattr(task, "lane_edits", {})
    if "assignee_id" in edits:
        if task.assignee is None:
            return f"“{task.title}” is now unassigned."
        return f"“{task.title}” is now assigned to {display_name(task.assignee)}."
    if "priority" in edits:
        if not task.priority:
            return f"“{task.title}” now has no priority."
        return f"“{task.title}” now has priority {Priority(task.priority).label}."
    if "label_ids" not in edits:
        return ""
    if not task.label_ids:
        return f"“{task.title}” now has no label."
    old, new = (set(ids) for ids in edits["label_ids"])
    added = [labels[pk].name for pk in queries.grouping("label", labels).label_order if pk in new - old]
    text = f"“{task.title}” now carries “{added[0]}”" if added else f"Changed the labels of “{task.title}”"
    first = queries.grouping("label", labels).key_of(task)
    if added and first in labels and labels[first].name != added[0]:
        # Its other label comes first by name: that lane shows it (queries.Grouping).
        return f"{text}; it shows in the lane of “{labels[first].name}”, its first label."
    return f"{text}."


def _action(request) -> forms.CardActionForm:
    """An archive, unarchive or delete request's form: which page sent it, and its board filter."""
    form = forms.CardActionForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    return form


def _detail(request, project: Project, task: Task, where: str) -> str:
    """The card's detail region, refreshed, for the dialog or page that shows it (ignored elsewhere)."""
    context = _detail_context(project, task, in_dialog=where == "dialog")
    return render_to_string("boards/card.html#detail", context, request)


def _page_of(project: Project, task: Task, where: str) -> tuple:
    """Where a plain form's archive, unarchive or delete returns to: the page it was sent from."""
    if where == "page":
        return (task,)
    if where == "archived":
        return ("archived", project.pk)
    return (project,)


@write_view
def card_assign_me(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    """The board's `a` key (or a plain form): the card is now the user's."""
    form = _action(request)
    task = services.assign_task_to(project=project, task_id=task_id, user=request.user)
    text = f"“{task.title}” is assigned to you."
    if not request.htmx:
        return _done(request, text, *_page_of(project, task, form.cleaned_data["context"]))
    return _fragments(
        fragments.part("card", {**_card_context(project, task), "focus": True}, oob=True),
        fragments.message(text),
    )


@write_view
def card_archive(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    form = _action(request)
    task = services.archive_task(project=project, task_id=task_id, actor=request.user)
    where = form.cleaned_data["context"]
    if not request.htmx:
        return _done(request, f"Archived “{task.title}”.", *_page_of(project, task, where))
    parts = []
    if where != "board":  # the board's archive button swaps nothing: no detail to refresh there
        task = _get_card(project, task.pk)
        parts.append(_detail(request, project, task, where))
    if where in ("board", "dialog"):
        parts += [
            fragments.oob_delete(f"#card-{task.pk}"),
            *_board_effects(project, [task.task_status_id], form.board_filter(request.user)),
            fragments.message(f"Archived “{task.title}”.", undo_task=task, project=project),
        ]
    return _fragments(*parts)


@write_view
def card_unarchive(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    form = _action(request)
    unarchived = services.unarchive_task(project=project, task_id=task_id, actor=request.user)
    task = _get_card(project, unarchived.pk)
    if hasattr(unarchived, "previous_id"):
        task.previous_id = unarchived.previous_id  # where the service put it back: no query for its place
    where = form.cleaned_data["context"]
    text = f"“{task.title}” is back in {task.task_status.name}."
    if not request.htmx:
        return _done(request, text, *_page_of(project, task, where))
    parts = [_detail(request, project, task, where)]
    if where in ("board", "dialog"):
        parts += [
            fragments.part("card", _card_context(project, task), oob=fragments.card_place(project, task)),
            *_board_effects(project, [task.task_status_id], form.board_filter(request.user)),
            fragments.message(text),
        ]
    elif where == "archived":
        parts += [fragments.oob_delete(f"#archived-{task.pk}"), fragments.message(text)]
    return _fragments(*parts)


@write_view
def card_delete(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    form = _action(request)
    where = form.cleaned_data["context"]
    if not request.htmx and not form.cleaned_data["confirmed"]:
        # htmx asks first (hx-confirm); a plain form gets a page that asks.
        context = {"project": project, "task": _get_card(project, task_id), "where": where}
        return render(request, "boards/confirm_delete.html", context)
    task = services.delete_task(project=project, task_id=task_id, actor=request.user)
    if not request.htmx:
        return _done(request, f"Deleted “{task.title}”.", "archived" if where == "archived" else "board", project.pk)
    if where == "page":
        return HttpResponseClientRedirect(project.get_absolute_url())
    text = f"Deleted “{task.title}”."
    parts = [render_to_string("boards/card.html#gone", {"title": task.title})]
    if where == "archived":
        parts += [fragments.oob_delete(f"#archived-{task_id}"), fragments.message(text)]
    else:
        parts += [
            fragments.oob_delete(f"#card-{task_id}"),
            *_board_effects(project, [task.task_status_id], form.board_filter(request.user)),
            fragments.message(text),
        ]
    return _fragments(*parts)


# -- columns ------------------------------------------------------------------------------------


def _columns_context(project: Project) -> dict:
    columns = queries.columns_of(project)
    queries.annotate_counts(project, columns, BoardFilter())
    held = queries.cards_per_column(project)
    for column in columns:
        # Said before anyone presses Delete, as the service would say it after (services.delete_column).
        if len(columns) == 1:
            column.undeletable = "A board keeps at least one column."
        elif held.get(column.pk):
            column.undeletable = column.still_holds(held[column.pk])
    return {"project": project, "columns": columns, "categories": Category.choices, "is_owner": is_owner(project)}


@require_GET
@login_required
def columns(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    _owner_only(project)
    return render(request, "boards/columns.html", _columns_context(project))


def _columns_response(request, project: Project, done: str) -> HttpResponse:
    if not request.htmx:
        return _done(request, done, "columns", project.pk)
    # The list, and what was done said in the page's message region (as a plain form's 303 says it).
    listed = render_to_string("boards/columns.html#column_list", _columns_context(project), request)
    return _fragments(listed, fragments.message(done, target="columns-message"))


@write_view
def column_add(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    data = forms.bind(forms.ColumnForm, request.POST)
    services.add_column(project=project, **data)
    return _columns_response(request, project, f"Added the column “{data['name']}”.")


@write_view
def column_update(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    data = forms.bind(forms.ColumnForm, request.POST)
    services.update_column(project=project, status_id=status_id, actor=request.user, **data)
    return _columns_response(request, project, f"Saved the column “{data['name']}”.")


@write_view
def column_reorder(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    """A full order (status_ids), or one column one step left or right (status_id, direction)."""
    request.error_target = "columns-message"
    _owner_only(project)
    data = forms.bind(forms.ColumnReorderForm, request.POST)
    order = data["status_ids"]
    if not order:
        order = queries.column_ids(project)
        if data["status_id"] not in order:
            raise ValidationError("That column is not on this board (it may have been deleted).")
        index = order.index(data["status_id"])
        swap = index - 1 if data["direction"] == "left" else index + 1
        if 0 <= swap < len(order):
            order[index], order[swap] = order[swap], order[index]
    services.reorder_columns(project=project, status_ids=order)
    return _columns_response(request, project, "Saved the order of the columns.")


@write_view
def column_delete(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    services.delete_column(project=project, status_id=status_id)
    return _columns_response(request, project, "Deleted the column.")
