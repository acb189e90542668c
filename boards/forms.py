"""Every input of every view, validated here: views bind a form and act only on cleaned_data.

Numbers are parsed strictly, with one field (StrictIntegerField) and one helper (parse_id):
ASCII digits only, range checked. str.isdigit() accepts "²" and int() then refuses it; int()
accepts " 7", "+7" and "7_0". A parameter given twice is refused, not silently picked. A request
is validated completely before anything is written.
"""

import math
import re
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from boards import insights, queries, search, services
from boards.models import Category, Membership, Priority, Project

ID_MAX = 2**63 - 1  # bigint
_DIGITS = re.compile(r"[0-9]{1,19}")
# A card's rank as cursor() writes it (repr of a float): digits, a point, an exponent.
_RANK = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]{1,3})?")


def parse_id(value, *, low: int = 1, high: int = ID_MAX) -> int | None:
    """An integer from low to high written in ASCII digits (or given as an int); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if low <= number <= high else None


class StrictIntegerField(forms.Field):
    """A whole number in ASCII digits within [min_value, max_value]; nothing else, no spaces."""

    default_error_messages = {"invalid": "Enter a whole number from %(low)s to %(high)s."}

    def __init__(self, *, min_value: int = 1, max_value: int = ID_MAX, **kwargs):
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = parse_id(value, low=self.min_value, high=self.max_value)
        if number is None:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"low": self.min_value, "high": self.max_value}
            )
        return number


class StrictForm(forms.Form):
    """A form whose single-valued fields refuse a parameter given more than once."""

    def _clean_fields(self):
        super()._clean_fields()
        if hasattr(self.data, "getlist"):
            for name, field in self.fields.items():
                single = not isinstance(field, forms.MultipleChoiceField | StrictIntegerListField)
                if single and len(self.data.getlist(self.add_prefix(name))) > 1:
                    self.add_error(name, "Give this value once.")

    def error_text(self) -> str:
        return " ".join(message for messages in self.errors.values() for message in messages)


class StrictIntegerListField(forms.Field):
    """Several ids, each strict (a POST list such as status_ids)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = value or []
        numbers = [parse_id(item) for item in values]
        if any(number is None for number in numbers):
            raise ValidationError("These are not valid ids.", code="invalid")
        return numbers


def _rule(clean, value):
    """A services rule (clean_title, ...) as a field's check: its messages on this field."""
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError(error.messages) from None


def bind(form_class, data, **kwargs):
    """The bound form, validated; ValidationError (422 in the write views) when it is not."""
    form = form_class(data, **kwargs)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    return form.cleaned_data


# -- the board's filter, sent along with every card write (hx-include) ---------------------------


FILTER_LABELS_MAX = 20
LABELS_PER_CARD_MAX = 20


class FilterFields(StrictForm):
    q = forms.CharField(required=False, strip=False)
    assignee = forms.CharField(required=False, strip=False)
    label = StrictIntegerListField(required=False)
    label_mode = forms.ChoiceField(
        required=False,
        choices=[("", ""), *((mode, mode) for mode in queries.LABEL_MODES)],
        error_messages={"invalid_choice": "Match any of the labels or all of them."},
    )
    due = forms.ChoiceField(
        required=False,
        choices=[("", ""), *((due, due) for due in queries.DUE_CHOICES)],
        error_messages={"invalid_choice": "Filter by due: overdue, due this week or no date."},
    )
    priority = forms.ChoiceField(
        required=False,
        choices=[("", ""), *((str(value), label) for value, label in Priority.choices if value)],
        error_messages={"invalid_choice": "Filter by a priority from low (1) to urgent (4)."},
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[("", ""), *((sort, sort) for sort in queries.SORTS)],
        error_messages={"invalid_choice": "Sort by due date or priority (or by rank)."},
    )
    lanes = forms.ChoiceField(
        required=False,
        choices=[("", ""), *((kind, kind) for kind in queries.LANE_KINDS)],
        error_messages={"invalid_choice": "Group the board by assignee, label or priority (or not at all)."},
    )

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())[:200]

    def clean_assignee(self) -> str:
        value = self.cleaned_data["assignee"]
        if value in ("", "none", "me"):
            return value
        if parse_id(value) is None:
            raise ValidationError("Filter by a member, “me”, “none” or nobody.")
        return value

    def clean_label(self) -> tuple[int, ...]:
        ids = tuple(dict.fromkeys(self.cleaned_data["label"] or []))
        if len(ids) > FILTER_LABELS_MAX:
            raise ValidationError(f"Filter by at most {FILTER_LABELS_MAX} labels.")
        return ids

    def board_filter(self, user=None) -> queries.BoardFilter:
        """The filter; `user` (the viewer) is who assignee "me" means."""
        assignee = getattr(self, "filter_assignee", None)
        if assignee is None:
            assignee = self.cleaned_data.get("assignee", "")
        data = self.cleaned_data
        priority = data.get("priority")
        return queries.BoardFilter(
            q=data.get("q", ""),
            assignee=assignee,
            labels=data.get("label") or (),
            label_mode=data.get("label_mode") or "any",
            due=data.get("due") or "",
            priority=int(priority) if priority else None,
            sort=data.get("sort") or "",
            lanes=data.get("lanes") or "",
            me=getattr(user, "pk", None),
        )


def board_filter(data, user=None) -> queries.BoardFilter:
    """The board page's filter (GET); ValidationError for a malformed or repeated value."""
    form = FilterFields(data)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    return form.board_filter(user)


class HomeForm(StrictForm):
    # 0 and pages past the end show the last page (Paginator.get_page), empty the first.
    page = StrictIntegerField(required=False, min_value=0)


class LaneField(forms.CharField):
    """A lane of a grouped board as the page names it: "none", or a member's, label's or
    priority's id in ASCII digits."""

    default_error_messages = {"invalid": "That is not a lane of this board."}

    def to_python(self, value):
        value = super().to_python(value)
        if value in ("", queries.NO_LANE):
            return value
        if parse_id(value, low=0) is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value


def _lane_needs_grouping(form, cleaned: dict) -> None:
    if cleaned.get("lane") and not cleaned.get("lanes") and "lanes" not in form.errors:
        form.add_error("lane", "A lane needs the board grouped (lanes=assignee, label or priority).")
    lane = cleaned.get("lane")
    if (
        cleaned.get("lanes") == "priority"
        and lane not in ("", queries.NO_LANE, None)
        and int(lane) not in Priority.values
    ):
        form.add_error("lane", "Pick a priority lane: low, medium, high, urgent or none.")


class ColumnPageForm(FilterFields):
    after = forms.CharField(strip=False)
    lane = LaneField(required=False, strip=False)

    def clean(self):
        cleaned = super().clean()
        _lane_needs_grouping(self, cleaned)
        return cleaned

    def clean_after(self) -> tuple[float, int] | int:
        value = self.cleaned_data["after"]
        if value.startswith("o"):  # a sorted view's offset (queries.cursor)
            offset = parse_id(value[1:], low=0, high=100_000)
            if offset is None:
                raise ValidationError("That is not a page of this column.")
            return offset
        position, _, last_id = value.partition(":")
        last_id = parse_id(last_id, low=0)
        if not _RANK.fullmatch(position) or last_id is None or not math.isfinite(float(position)):
            raise ValidationError("That is not a page of this column.")
        return float(position), last_id


class ColumnAllForm(ColumnPageForm):
    """A whole column ("Show all"): from the top, or after a "Show more" cursor."""

    after = forms.CharField(required=False, strip=False)

    def clean_after(self) -> tuple[float, int] | int | None:
        return super().clean_after() if self.cleaned_data["after"] else None


# -- cards --------------------------------------------------------------------------------------


class AssigneeMixin:
    """An optional assignee: a member of the project's workspace, or nobody; or the card's current
    assignee, kept although they have left the workspace (a former member)."""

    def __init__(self, *args, project: Project, current_assignee_id: int | None = None, **kwargs):
        self.project = project
        self.current_assignee_id = current_assignee_id
        super().__init__(*args, **kwargs)

    def clean_assignee(self):
        user_id = self.cleaned_data.get("assignee")
        if user_id is None:
            return None
        if user_id == self.current_assignee_id:
            return user_id  # unchanged: a former member stays until someone picks another
        user = queries.member(self.project, user_id)
        if user is None:
            raise ValidationError("Pick a member of this workspace (or nobody).")
        return user


class CardCreateForm(FilterFields):
    """A new card. `assignee` is the board filter's (sent along by hx-include): a card created while
    the board shows one member's cards is theirs, and stays in view; "none" or empty: nobody."""

    title = forms.CharField(required=False, strip=False)

    def __init__(self, *args, project: Project, user=None, **kwargs):
        self.project, self.user = project, user
        super().__init__(*args, **kwargs)

    def clean_assignee(self):
        self.filter_assignee = super().clean_assignee()
        if self.filter_assignee in ("", "none"):
            return None
        if self.filter_assignee == "me":
            return self.user  # the filter shows the viewer's cards: theirs, as a member
        user = queries.member(self.project, int(self.filter_assignee))
        if user is None:
            raise ValidationError("Pick a member of this workspace (or nobody).")
        return user

    def clean_title(self) -> str:
        return _rule(services.clean_title, self.cleaned_data["title"])


class CardUpdateForm(AssigneeMixin, StrictForm):
    title = forms.CharField(required=False, strip=False)
    description = forms.CharField(required=False, strip=False)
    assignee = StrictIntegerField(required=False)
    version = StrictIntegerField(required=False, min_value=0)
    context = forms.CharField(required=False)
    # Planning: sent by the card editor (its `planning` marker); a form without it leaves them be.
    planning = forms.BooleanField(required=False)
    labels = StrictIntegerListField(required=False)
    priority = forms.TypedChoiceField(
        required=False,
        choices=Priority.choices,
        coerce=int,
        empty_value=0,
        error_messages={"invalid_choice": "Pick a priority: none, low, medium, high or urgent."},
    )
    due_date = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter the due date as a real day, such as 2026-03-31."},
    )
    due_time = forms.TimeField(
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        error_messages={"invalid": "Enter the due time as hours and minutes, such as 17:30."},
    )

    def clean_labels(self) -> list[int]:
        ids = list(dict.fromkeys(self.cleaned_data["labels"] or []))
        if len(ids) > LABELS_PER_CARD_MAX:
            raise ValidationError(f"A card carries at most {LABELS_PER_CARD_MAX} labels.")
        return ids

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("due_time") and not cleaned.get("due_date") and "due_date" not in self.errors:
            self.add_error("due_time", "A due time needs a due date: pick the day too, or clear the time.")
        return cleaned

    def planning_changes(self) -> dict:
        """update_task's planning parameters; none when the form did not carry them. The due time
        is read in the active time zone (the editor's: tasktrack.middleware.UserTimeZoneMiddleware)."""
        data = self.cleaned_data
        if not data.get("planning"):
            return {}
        day, time = data.get("due_date"), data.get("due_time")
        due_at = None
        if day and time:
            due_at = datetime.combine(day, time, tzinfo=timezone.get_current_timezone())
        return {"label_ids": data["labels"], "priority": data["priority"], "due_date": day, "due_at": due_at}

    def clean_title(self) -> str:
        return _rule(services.clean_title, self.cleaned_data["title"])

    def clean_description(self) -> str:
        return _rule(services.clean_description, self.cleaned_data["description"])

    def clean_version(self) -> int:
        return self.cleaned_data["version"] or 0


WHERE = ("board", "dialog", "page", "archived")


class CardActionForm(FilterFields):
    """Archive, unarchive, delete: which page sent it (default the board) and the board's filter."""

    context = forms.ChoiceField(required=False, choices=[(where, where) for where in WHERE])
    # A delete without JavaScript (no hx-confirm) is asked about on a page first; its form says yes.
    confirmed = forms.BooleanField(required=False)

    def clean_context(self) -> str:
        return self.cleaned_data["context"] or "board"


class CardViewForm(StrictForm):
    """A card's page or dialog: view mode, or edit=1 for its editor; context=page off the board."""

    edit = forms.ChoiceField(required=False, choices=[("", ""), ("1", "1")])
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])


NEIGHBOURS = "The card's new neighbours are not valid ids."


class CardMoveForm(FilterFields):
    """Drag and drop (status_id and a neighbour), the menu (status_id, via=menu) or the up and down
    buttons (direction)."""

    status_id = StrictIntegerField(required=False)
    # 0, or a card deleted meanwhile: no neighbour, the card goes to the bottom.
    after_id = StrictIntegerField(required=False, min_value=0, error_messages={"invalid": NEIGHBOURS})
    before_id = StrictIntegerField(required=False, min_value=0, error_messages={"invalid": NEIGHBOURS})
    direction = forms.ChoiceField(required=False, choices=[("up", "up"), ("down", "down")])
    via = forms.CharField(required=False)
    # A grouped board's drop into another lane: the lane ("none" or an id) whose assignee, label or
    # priority the card takes, and the card's version as the page showed it (a stale one is refused).
    lane = LaneField(required=False, strip=False)
    version = StrictIntegerField(required=False, min_value=0)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("direction") and cleaned.get("status_id") is None and "status_id" not in self.errors:
            self.add_error("status_id", "That column is not on this board (it may have been deleted).")
        _lane_needs_grouping(self, cleaned)
        if cleaned.get("lane") and cleaned.get("direction"):
            self.add_error("lane", "Move a card up or down, or to another lane, not both at once.")
        return cleaned


# -- projects and columns -----------------------------------------------------------------------


class ProjectCreateForm(StrictForm):
    name = forms.CharField(required=False, strip=False)
    key = forms.CharField(required=False, strip=False)


class ProjectRenameForm(StrictForm):
    name = forms.CharField(required=False, strip=False)
    next = forms.CharField(required=False)


class ColumnForm(StrictForm):
    name = forms.CharField(required=False, strip=False)
    category = forms.CharField(required=False)
    wip_limit = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=10000,
        error_messages={"invalid": "A WIP limit is a whole number from 1 to 10000, or empty for none."},
    )
    wip_hard = forms.BooleanField(required=False)

    def clean_category(self) -> str:
        if self.cleaned_data["category"] not in Category.values:
            raise ValidationError("Pick one of: " + ", ".join(Category.values) + ".")
        return self.cleaned_data["category"]


class LabelForm(StrictForm):
    # Trimmed, checked and measured by services.labels.clean_label: one rule, one message.
    name = forms.CharField(required=False, strip=False)
    colour = forms.CharField(required=False, strip=False)


class LabelDeleteForm(StrictForm):
    # A delete without JavaScript (no hx-confirm) is asked about on a page first; its form says yes.
    confirmed = forms.BooleanField(required=False)


class ColumnReorderForm(StrictForm):
    status_ids = StrictIntegerListField(required=False)
    status_id = StrictIntegerField(required=False)
    direction = forms.ChoiceField(required=False, choices=[("left", "left"), ("right", "right")])

    def clean(self):
        cleaned = super().clean()
        one_step = cleaned.get("status_id") is not None and cleaned.get("direction")
        if not self.errors and not cleaned.get("status_ids") and not one_step:
            raise ValidationError("That column is not on this board (it may have been deleted).")
        return cleaned


# -- members and invitations ---------------------------------------------------------------------

ROLE_MESSAGE = "Pick a role: owner, editor or viewer."


class RoleForm(StrictForm):
    role = forms.ChoiceField(
        choices=Membership.Role.choices, error_messages={"invalid_choice": ROLE_MESSAGE, "required": ROLE_MESSAGE}
    )


class InvitationForm(StrictForm):
    EXPIRY_CHOICES = [("1", "1 day"), ("7", "7 days"), ("30", "30 days")]
    USE_CHOICES = [("single", "One person"), ("multi", "Anyone with the link, until it expires")]

    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.EDITOR,
        error_messages={"invalid_choice": ROLE_MESSAGE, "required": ROLE_MESSAGE},
    )
    days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES,
        coerce=int,
        initial="7",
        error_messages={
            "invalid_choice": "An invitation lasts 1, 7 or 30 days.",
            "required": "Pick how long the invitation lasts.",
        },
    )
    uses = forms.ChoiceField(
        choices=USE_CHOICES,
        initial="single",
        error_messages={"invalid_choice": "Pick single-use or multi-use.", "required": "Pick single-use or multi-use."},
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        error_messages={"invalid": "Enter a valid e-mail address, or leave it empty for a link."},
    )


class InsightsForm(StrictForm):
    days = forms.CharField(required=False, strip=False)

    def clean_days(self) -> int:
        value = self.cleaned_data["days"]
        if value and parse_id(value, low=0) is None:
            raise ValidationError(
                f"“{value}” is not a number of days: "
                f"use a whole number from {insights.MIN_DAYS} to {insights.MAX_DAYS}."
            )
        try:
            return insights.parse_days(value)
        except insights.BadRange as error:
            raise ValidationError(str(error)) from None


# -- workspaces, and what an owner does to a whole project --------------------------------------


class WorkspaceNameForm(StrictForm):
    # Trimmed, checked and measured by services.clean_workspace_name: one rule, one message.
    name = forms.CharField(required=False, strip=False)


class WorkspaceDeleteForm(StrictForm):
    confirm = forms.CharField(required=False, strip=False)


class ProjectMoveForm(StrictForm):
    application = StrictIntegerField(
        error_messages={
            "required": "Pick the workspace to move the project to.",
            "invalid": "Pick one of the workspaces you own.",
        }
    )
    key = forms.CharField(required=False, strip=False)


# -- search (issue 14) --------------------------------------------------------------------------


class SearchForm(StrictForm):
    """The top bar's search box: any text (websearch syntax, never an error to PostgreSQL), and a
    page within the bounded result set."""

    q = forms.CharField(required=False, max_length=200)
    page = StrictIntegerField(required=False, min_value=1, max_value=search.MAX_PAGE)


class CardTransferForm(FilterFields):
    """A card to another project: the target project (one the user can edit) and optionally its
    column (default: its first to-do column); context says which page sent it."""

    project = StrictIntegerField(error_messages={"required": "Choose the project to move the card to."})
    status = StrictIntegerField(required=False)
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])


# -- checklists and attachments (issue 14, items 6 and 7) -----------------------------------------

CHECKLIST_ITEMS_MAX = 10_000  # more than a description of 20,000 characters can hold


class ChecklistIndexesField(StrictIntegerListField):
    """Checklist item indexes (from 0), each at most once."""

    def to_python(self, value):
        values = value or []
        numbers = [parse_id(item, low=0, high=CHECKLIST_ITEMS_MAX) for item in values]
        if any(number is None for number in numbers) or len(numbers) > CHECKLIST_ITEMS_MAX:
            raise ValidationError("These are not checklist items.", code="invalid")
        return numbers


class ChecklistForm(StrictForm):
    """A click on one checklist item (item: its index; ticked when `checked` lists it), or the
    whole list without JavaScript (no item: every index below `total` set as `checked` says)."""

    version = StrictIntegerField(min_value=0)
    item = StrictIntegerField(required=False, min_value=0, max_value=CHECKLIST_ITEMS_MAX)
    checked = ChecklistIndexesField(required=False)
    total = StrictIntegerField(required=False, min_value=0, max_value=CHECKLIST_ITEMS_MAX)
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("item") is None and data.get("total") is None:
            raise ValidationError("Say which checklist item to change.")
        return data

    def items(self) -> dict[int, bool]:
        """What to set: {index: ticked}."""
        data = self.cleaned_data
        checked = set(data.get("checked") or ())
        if data["item"] is not None:
            return {data["item"]: data["item"] in checked}
        return {index: index in checked for index in range(data["total"])}


class AttachmentForm(StrictForm):
    """One file for a card (the size limit is applied while it streams in: tasktrack.uploads)."""

    file = forms.FileField(
        error_messages={"required": "Choose a file to attach.", "empty": "This file is empty."},
        allow_empty_file=False,
    )
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])


class AttachmentRemoveForm(StrictForm):
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])


# -- comments and mentions (issue 14) -----------------------------------------------------------


class CommentForm(StrictForm):
    """A comment's Markdown (services.clean_body refuses empty and too long, with the limit in
    words) and where the card is shown: its dialog on the board, or its own page."""

    body = forms.CharField(required=False, strip=False)
    context = forms.ChoiceField(required=False, choices=[("dialog", "dialog"), ("page", "page")])

    def clean_context(self) -> str:
        return self.cleaned_data["context"] or "page"


class MentionQueryForm(StrictForm):
    """What follows the @ typed so far: the characters of a username, at most a username long."""

    q = forms.RegexField(required=False, regex=r"^[\w.@+-]*\Z", max_length=150)
