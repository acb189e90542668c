"""Pages and htmx partials. Every view checks membership through boards.access.

Writes answer an htmx request with fragments: the regions of the page they changed, each a
partial of the page template, the extra ones marked hx-swap-oob. Without htmx they redirect.
Refused input answers 4xx with the message as a fragment aimed (HX-Retarget) at a message region.
"""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

from aggregates.counts import get_or_create_project_aggregation
from boards import fragments, history, live, realtime, services
from boards.access import ReadOnly, can_edit, get_project_for, is_owner, projects_for
from boards.fragments import BoardFilter
from boards.models import Category, Membership, Project, Task, TaskStatus
from boards.templatetags.board_tags import display_name

User = get_user_model()


class HtmxHttpRequest(HttpRequest):
    """For type hints: django_htmx.middleware.HtmxMiddleware adds .htmx to every request."""

    htmx: HtmxDetails


def _board_context(project: Project, board_filter: BoardFilter) -> dict:
    columns = fragments.columns_of(project)
    fragments.annotate_counts(project, columns, board_filter)
    by_column: dict[int, list[Task]] = {column.pk: [] for column in columns}
    for task in fragments.first_pages(project, board_filter):
        by_column.setdefault(task.task_status_id, []).append(task)
    for column in columns:
        cards = by_column[column.pk]
        column.has_more = len(cards) > fragments.PAGE_SIZE
        column.cards = cards[: fragments.PAGE_SIZE]
        column.cursor = fragments.cursor(column.cards[-1]) if column.has_more else ""
    return {
        "project": project,
        "columns": columns,
        "members": fragments.members(project),
        "filter": board_filter,
        "can_edit": can_edit(project),
        "is_owner": is_owner(project),
        # The card partial's switches, set: a missing variable costs the template engine an
        # exception per card, 250 times a page.
        "oob": False,
        "focus": False,
    }


# -- rendering fragments ------------------------------------------------------------------------


def _fragments(*parts: str, status: int = 200) -> HttpResponse:
    return HttpResponse("".join(parts), status=status)


def _board_effects(request, project: Project, column_ids, state: fragments.BoardState | None = None) -> list[str]:
    """The regions a card change touches, for the filter the page shows (sent along by hx-include)."""
    return fragments.count_regions(project.pk, column_ids, BoardFilter.from_params(request.POST), state=state)


def _card_context(project: Project, task: Task, columns: list | None = None) -> dict:
    columns = fragments.columns_of(project) if columns is None else columns
    return {"project": project, "task": task, "columns": columns, "can_edit": can_edit(project)}


def _detail_context(project: Project, task: Task, *, in_dialog: bool) -> dict:
    """The card detail region's context: the card, the members to assign, its activity."""
    return {
        **_card_context(project, task),
        "members": fragments.members(project),
        "events": history.card_activity(task),
        "in_dialog": in_dialog,
    }


def _refused(request, project, error, status: int, *, target: str = "board-messages") -> HttpResponse:
    """A 4xx whose body is the message; htmx puts it in the message region, changing nothing else."""
    if isinstance(error, ValidationError):
        text = " ".join(error.messages)
    else:
        text = str(error.args[0]) if getattr(error, "args", None) else str(error)
    if request.htmx:
        html = render_to_string("boards/board.html#message", {"message": text, "message_id": target})
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
            if not can_edit(project):
                raise ReadOnly("Viewers can look at this board but not change it.")
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
    if not is_owner(project):
        raise ReadOnly("Only the workspace's owners can change projects and columns.")


# -- home and projects --------------------------------------------------------------------------


HOME_PAGE_SIZE = 50


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    projects = (
        projects_for(request.user)
        .select_related("application", "status_aggregation", "derived_status")
        .order_by("application__name", "application_id", "name", "pk")
    )
    context = home_context(request.user, request.GET.get("page"), lambda start, stop: projects[start:stop])
    return render(request, "boards/home.html", context)


def home_context(user, page, projects_between: Callable[[int, int], Iterable[Project]]) -> dict:
    """One page of the home page: HOME_PAGE_SIZE of the user's projects, by workspace, and the pager.

    projects_between(start, stop) returns that slice of the user's projects in the page's order
    (workspace name, workspace, project name, id). Two queries whatever the number of projects:
    the memberships with their project counts (which size the pager), then the page's projects.
    An unknown page shows the first; one past the end, the last.
    """
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("application")
        .annotate(project_count=Count("application__projects"))
        .order_by("application__name", "application_id")
    )
    memberships = list(memberships)
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
    membership = Membership.objects.filter(user=request.user, application_id=application_id).first()
    if membership is None:
        raise Http404("No such workspace.")
    target = f"application-{application_id}-message"
    if membership.role != Membership.Role.OWNER:
        return _refused(request, None, ReadOnly("Only the workspace's owners can add projects."), 403, target=target)
    try:
        project = services.create_project(
            application=membership.application, name=request.POST.get("name", ""), key=request.POST.get("key", "")
        )
    except ValidationError as error:
        return _refused(request, None, error, 422, target=target)
    if request.htmx:
        return HttpResponseClientRedirect(project.get_absolute_url())
    return redirect(project)


@write_view
def project_rename(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    request.error_target = f"project-{project.pk}-message"
    _owner_only(project)
    services.rename_project(project=project, name=request.POST.get("name", ""))
    if not request.htmx:
        return redirect("home" if request.POST.get("next") == "home" else project)
    return _fragments(
        fragments.part("project_name", {"project": project}, oob=True), fragments.message(target=request.error_target)
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
    board_filter = BoardFilter.from_params(request.GET)
    if request.htmx and request.htmx.target == "board-columns":
        return render(request, "boards/board.html#columns", _board_context(project, board_filter))
    # The live socket's sequence number, read before the cards: a change committed meanwhile
    # then counts as unseen and the page catches up, never the other way round.
    live_seq = live.current_seq(project.pk)
    context = {**_board_context(project, board_filter), "live_seq": live_seq}
    return render(request, "boards/board.html", context)


@require_GET
@login_required
def column_more(request: HtmxHttpRequest, project_id: int, status_id: int) -> HttpResponse:
    """The next page of a column after the (position, id) cursor: keyset, so page 200 costs as page 2."""
    project = get_project_for(request.user, project_id)
    try:
        column = TaskStatus.objects.get(pk=status_id, project=project)
        position, last_id = request.GET.get("after", "").split(":")
        position, last_id = float(position), int(last_id)
    except (TaskStatus.DoesNotExist, ValueError):
        raise Http404("No such column or page.") from None
    board_filter = BoardFilter.from_params(request.GET)
    cards = list(
        Task.objects.for_board()
        .filter(board_filter.q_object(), project=project, task_status=column)
        .filter(Q(position__gt=position) | Q(position=position, pk__gt=last_id))[: fragments.PAGE_SIZE + 1]
    )
    column.has_more = len(cards) > fragments.PAGE_SIZE
    cards = cards[: fragments.PAGE_SIZE]
    column.cursor = fragments.cursor(cards[-1]) if column.has_more else ""
    context = {
        "project": project,
        "column": column,
        "columns": fragments.columns_of(project),
        "can_edit": can_edit(project),
    }
    cards_html = mark_safe("".join(fragments.part("card", {**context, "task": task}) for task in cards))  # noqa: S308
    more = fragments.part("column_more", context)
    if not request.htmx:
        return HttpResponse(cards_html + more)
    return _fragments(
        more, format_html('<div hx-swap-oob="beforeend:#column-{}-cards">{}</div>', column.pk, cards_html)
    )


@require_GET
@login_required
def archived(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    tasks = list(
        Task.objects.archived()
        .filter(project=project)
        .select_related("task_status", "assignee")
        .order_by("-archived_at", "-pk")[:200]
    )
    return render(request, "boards/archived.html", {"project": project, "tasks": tasks, "can_edit": can_edit(project)})


# -- cards --------------------------------------------------------------------------------------


def _get_card(project: Project, task_id) -> Task:
    try:
        return Task.objects.select_related("task_status", "assignee", "reporter").get(pk=task_id, project=project)
    except Task.DoesNotExist:
        raise Http404("No such card.") from None


@require_GET
@login_required
@vary_on_headers("HX-Request")
def card(request: HtmxHttpRequest, project_id: int, task_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    task = _get_card(project, task_id)
    context = _detail_context(project, task, in_dialog=bool(request.htmx))
    if context["can_edit"] and not task.is_archived:
        # Opening the editor takes the card's edit lock; someone else's lock makes it read-only.
        context["lock"] = realtime.lock_acquire(task.pk, request.user.pk, display_name(request.user))
    if request.htmx:
        return render(request, "boards/card.html#detail", context)
    return render(request, "boards/card.html", context)


def _assignee_from(project: Project, value: str):
    """A member of the project's workspace, or None for nobody; anyone else is refused."""
    if not value:
        return None
    try:
        return User.objects.get(pk=int(value), memberships__application_id=project.application_id)
    except (User.DoesNotExist, ValueError):
        raise ValidationError({"assignee": "Pick a member of this workspace (or nobody)."}) from None


@write_view
def card_create(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = f"column-{status_id}-message"
    task = services.create_task(
        project=project,
        status_id=status_id,
        title=request.POST.get("title", ""),
        reporter=request.user,
        assignee=_assignee_from(project, request.POST.get("assignee", "")),
    )
    if not request.htmx:
        return redirect(project)
    state = fragments.board_state(project.pk)
    context = _card_context(project, task, state.columns)
    return _fragments(
        fragments.part("card", context, oob=f"afterbegin:#column-{task.task_status_id}-cards"),
        *_board_effects(request, project, [task.task_status_id], state),
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
    posted = {
        "title": request.POST.get("title", ""),
        "description": request.POST.get("description", ""),
        "assignee": request.POST.get("assignee", ""),
    }
    in_dialog = request.POST.get("context") == "dialog"
    try:
        assignee = _assignee_from(project, posted["assignee"])
        task = services.update_task(
            project=project,
            task_id=task.pk,
            version=request.POST.get("version") or 0,
            title=posted["title"],
            description=posted["description"],
            assignee=assignee,
            actor=request.user,
        )
    except (ValidationError, services.StaleVersion) as error:
        # The user's text goes back into the form: nothing they typed is lost.
        current = _get_card(project, task.pk)
        stale = isinstance(error, services.StaleVersion)
        context = {
            **_detail_context(project, current, in_dialog=in_dialog),
            "posted": posted,
            "conflict": current if stale else None,
            "error": " ".join(error.messages) if isinstance(error, ValidationError) else str(error),
            # A conflict shows their version next to yours; saving again is then a choice, not an accident.
            "form_version": current.version if stale else request.POST.get("version", current.version),
        }
        status = 409 if stale else 422
        if request.htmx:
            return render(request, "boards/card.html#detail", context, status=status)
        return render(request, "boards/card.html", context, status=status)
    realtime.lock_release(task.pk, request.user.pk)
    if not request.htmx:
        return redirect(task)
    task = _get_card(project, task.pk)
    context = _detail_context(project, task, in_dialog=in_dialog)
    parts = [render_to_string("boards/card.html#detail", {**context, "saved": True})]
    if in_dialog:
        parts.append(fragments.part("card", context, oob=True))
    return _fragments(*parts)


def _move_target(project: Project, task: Task | None, post) -> dict:
    """The column and neighbours of a move: from drag and drop (after_id/before_id), or the menu
    and the up and down buttons, which need the card (`task`) as it is now."""
    direction = post.get("direction", "")
    if direction in ("up", "down"):
        siblings = Task.objects.live().filter(project=project, task_status_id=task.task_status_id).exclude(pk=task.pk)
        here = Q(position__lt=task.position) | Q(position=task.position, pk__lt=task.pk)
        if direction == "up":
            neighbour = siblings.filter(here).order_by("-position", "-pk").values_list("pk", flat=True).first()
            if neighbour is None:
                raise ValidationError("This card is already at the top of its column.")
            return {"status_id": task.task_status_id, "before_id": neighbour}
        neighbour = siblings.exclude(here).order_by("position", "pk").values_list("pk", flat=True).first()
        if neighbour is None:
            raise ValidationError("This card is already at the bottom of its column.")
        return {"status_id": task.task_status_id, "after_id": neighbour}
    status_id = post.get("status_id", "")
    after_id = post.get("after_id") or None
    before_id = post.get("before_id") or None
    if post.get("via") == "menu":
        # Moved from the menu to another column: the top of it, where it is visible.
        first = (
            Task.objects.live()
            .filter(project=project, task_status_id=int(status_id) if status_id.isdigit() else 0)
            .exclude(pk=task.pk)
            .order_by("position", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if str(task.task_status_id) == status_id and not task.is_archived:
            raise ValidationError("The card is already in that column.")
        after_id, before_id = None, first
    for value in (after_id, before_id):
        if value is not None and not str(value).isdigit():
            raise ValidationError("The card's new neighbours are not valid ids.")
    return {"status_id": status_id, "after_id": after_id, "before_id": before_id}


@write_view
def card_move(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    post = request.POST
    if post.get("direction") or post.get("via") == "menu":
        # Up, down and the menu name no neighbours: they are found from where the card is now.
        try:
            current = Task.objects.only("pk", "position", "task_status_id", "archived_at").get(
                pk=task_id, project=project
            )
        except (Task.DoesNotExist, ValueError):
            raise Task.DoesNotExist(services.GONE) from None
        target = _move_target(project, current, post)
    else:  # drag and drop names the column and the neighbours; the move checks them under its locks
        target = _move_target(project, None, post)
    task = services.move_task(project=project, task_id=task_id, actor=request.user, **target)
    if not request.htmx:
        return redirect(project)
    state = fragments.board_state(project.pk)
    context = {**_card_context(project, task, state.columns), "focus": post.get("via") == "menu"}
    return _fragments(
        fragments.oob_delete(f"#card-{task.pk}"),
        fragments.part("card", context, oob=fragments.card_place(project, task)),
        *_board_effects(request, project, {task.from_status_id, task.task_status_id}, state),
        fragments.message(),
    )


def _where(request) -> str:
    """Which page sent a card action: the board (default), its card dialog, the card page, Archived."""
    where = request.POST.get("context", "board")
    return where if where in ("board", "dialog", "page", "archived") else "board"


def _detail(request, project: Project, task: Task) -> str:
    """The card's detail region, refreshed, for the dialog or page that shows it (ignored elsewhere)."""
    return render_to_string(
        "boards/card.html#detail", _detail_context(project, task, in_dialog=_where(request) == "dialog")
    )


@write_view
def card_archive(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    task = services.archive_task(project=project, task_id=task_id, actor=request.user)
    if not request.htmx:
        return redirect(project)
    where = _where(request)
    parts = []
    if where != "board":  # the board's archive button swaps nothing: no detail to refresh there
        task = _get_card(project, task.pk)
        parts.append(_detail(request, project, task))
    if where in ("board", "dialog"):
        parts += [
            fragments.oob_delete(f"#card-{task.pk}"),
            *_board_effects(request, project, [task.task_status_id]),
            fragments.message(f"Archived “{task.title}”.", undo_task=task, project=project),
        ]
    return _fragments(*parts)


@write_view
def card_unarchive(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    task = services.unarchive_task(project=project, task_id=task_id, actor=request.user)
    if not request.htmx:
        return redirect(project)
    task = _get_card(project, task.pk)
    where = _where(request)
    parts = [_detail(request, project, task)]
    text = f"“{task.title}” is back in {task.task_status.name}."
    if where in ("board", "dialog"):
        parts += [
            fragments.part("card", _card_context(project, task), oob=fragments.card_place(project, task)),
            *_board_effects(request, project, [task.task_status_id]),
            fragments.message(text),
        ]
    elif where == "archived":
        parts += [fragments.oob_delete(f"#archived-{task.pk}"), fragments.message(text)]
    return _fragments(*parts)


@write_view
def card_delete(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    task = services.delete_task(project=project, task_id=task_id, actor=request.user)
    where = _where(request)
    if not request.htmx:
        return redirect("archived" if where == "archived" else "board", project.pk)
    if where == "page":
        return HttpResponseClientRedirect(project.get_absolute_url())
    text = f"Deleted “{task.title}”."
    parts = [render_to_string("boards/card.html#gone", {"title": task.title})]
    if where == "archived":
        parts += [fragments.oob_delete(f"#archived-{task_id}"), fragments.message(text)]
    else:
        parts += [
            fragments.oob_delete(f"#card-{task_id}"),
            *_board_effects(request, project, [task.task_status_id]),
            fragments.message(text),
        ]
    return _fragments(*parts)


# -- columns ------------------------------------------------------------------------------------


def _columns_context(project: Project) -> dict:
    columns = fragments.columns_of(project)
    fragments.annotate_counts(project, columns, BoardFilter())
    return {"project": project, "columns": columns, "categories": Category.choices, "is_owner": is_owner(project)}


@require_GET
@login_required
def columns(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    _owner_only(project)
    return render(request, "boards/columns.html", _columns_context(project))


def _columns_response(request, project: Project) -> HttpResponse:
    if not request.htmx:
        return redirect("columns", project.pk)
    return render(request, "boards/columns.html#column_list", _columns_context(project))


@write_view
def column_add(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    services.add_column(
        project=project,
        name=request.POST.get("name", ""),
        category=request.POST.get("category", ""),
        wip_limit=request.POST.get("wip_limit", ""),
        wip_hard=request.POST.get("wip_hard") == "on",
    )
    return _columns_response(request, project)


@write_view
def column_update(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    services.update_column(
        project=project,
        status_id=status_id,
        name=request.POST.get("name", ""),
        category=request.POST.get("category", ""),
        wip_limit=request.POST.get("wip_limit", ""),
        wip_hard=request.POST.get("wip_hard") == "on",
        actor=request.user,
    )
    return _columns_response(request, project)


@write_view
def column_reorder(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    """A full order (status_ids), or one column one step left or right (status_id, direction)."""
    request.error_target = "columns-message"
    _owner_only(project)
    order = request.POST.getlist("status_ids")
    if not order:
        order = [str(pk) for pk in TaskStatus.objects.filter(project=project).values_list("pk", flat=True)]
        moving, direction = request.POST.get("status_id", ""), request.POST.get("direction", "")
        if moving not in order or direction not in ("left", "right"):
            raise ValidationError("That column is not on this board (it may have been deleted).")
        index = order.index(moving)
        swap = index - 1 if direction == "left" else index + 1
        if 0 <= swap < len(order):
            order[index], order[swap] = order[swap], order[index]
    services.reorder_columns(project=project, status_ids=order)
    return _columns_response(request, project)


@write_view
def column_delete(request: HtmxHttpRequest, project: Project, status_id: int) -> HttpResponse:
    request.error_target = "columns-message"
    _owner_only(project)
    services.delete_column(project=project, status_id=status_id)
    return _columns_response(request, project)
