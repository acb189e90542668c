"""Reading an uploaded board: a Trello export (JSON) or a CSV file, into one plain shape.

Nothing here touches the database. Every check an import needs is made here, before anything is
written: a file that fails one gets a ValidationError listing what is wrong (the card or line
where it can), and the import writes nothing. The worker parses the stored file again with the
same options, so what the preview showed is what is written.
"""

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from boards.models import LABEL_COLOURS, Category, Comment, Label, Priority, Task, TaskStatus

TITLE_MAX = Task._meta.get_field("title").max_length
DESCRIPTION_MAX = Task._meta.get_field("description").max_length
COLUMN_NAME_MAX = TaskStatus._meta.get_field("name").max_length
LABEL_NAME_MAX = Label._meta.get_field("name").max_length
COMMENT_MAX = Comment._meta.get_field("body").max_length
ERRORS_SHOWN = 20  # a file with a thousand bad dates lists the first ones and how many more
PREVIEW_ROWS = 5

# Trello's label colours (and their _light/_dark shades) on our palette, by the palette's names.
TRELLO_COLOURS = {
    "green": "Green",
    "yellow": "Amber",
    "orange": "Orange",
    "red": "Red",
    "purple": "Violet",
    "blue": "Blue",
    "sky": "Cyan",
    "lime": "Lime",
    "pink": "Pink",
    "black": "Grey",
}
PALETTE = {name: value for value, name in LABEL_COLOURS}
NO_COLOUR = PALETTE["Grey"]

# A column's category guessed from its name, first match wins; anything else is todo.
CATEGORY_GUESSES = [
    (re.compile(r"\b(done|complete|completed|finished|closed|shipped|released)\b", re.I), Category.DONE),
    (re.compile(r"\b(review|reviewing|qa|testing|verify)\b", re.I), Category.REVIEW),
    (re.compile(r"\b(blocked|issue|issues|stuck|on hold)\b", re.I), Category.ISSUE),
    (re.compile(r"\b(doing|in progress|progress|wip|started|active|working)\b", re.I), Category.ACTIVE),
]

CSV_FIELDS = [
    ("title", "Title"),
    ("description", "Description"),
    ("column", "Column (status)"),
    ("labels", "Labels (comma-separated)"),
    ("due", "Due date"),
    ("assignee", "Assignee (e-mail or username)"),
    ("priority", "Priority"),
]
CSV_GUESSES = {
    "title": {"title", "name", "summary", "card", "task"},
    "description": {"description", "desc", "body", "details", "notes"},
    "column": {"column", "status", "list", "state", "stage"},
    "labels": {"labels", "label", "tags", "tag"},
    "due": {"due", "due date", "due_date", "deadline", "due at"},
    "assignee": {"assignee", "assigned to", "owner", "assigned", "user"},
    "priority": {"priority", "prio"},
}
PRIORITIES = {label.lower(): value for value, label in Priority.choices} | {str(v): v for v in Priority.values}


def guess_category(name: str) -> str:
    """The category a column named `name` most likely has (done, active, review, issue, else todo)."""
    for pattern, category in CATEGORY_GUESSES:
        if pattern.search(name):
            return category
    return Category.TODO


def max_cards() -> int:
    return int(settings.IMPORT_MAX_CARDS)


@dataclass
class ImportedComment:
    text: str
    at: dt.datetime
    author_name: str  # as the source names them, for "Originally by"
    author_keys: tuple[str, ...]  # usernames / e-mails that may match a workspace member


@dataclass
class ImportedCard:
    title: str
    column: str  # a key of Board.columns
    description: str = ""
    labels: list[str] = field(default_factory=list)  # keys of Board.labels
    due_at: dt.datetime | None = None
    due_date: dt.date | None = None
    archived: bool = False
    assignee_keys: tuple[str, ...] = ()
    priority: int = Priority.NONE
    comments: list[ImportedComment] = field(default_factory=list)
    checklist_items: int = 0


@dataclass
class ImportedColumn:
    key: str
    name: str
    category: str
    cards: int = 0


@dataclass
class ImportedLabel:
    key: str
    name: str
    colour: str


@dataclass
class Board:
    """A board read from a file: columns left to right, cards in board order within each column."""

    name: str
    columns: list[ImportedColumn]
    labels: list[ImportedLabel]
    cards: list[ImportedCard]
    archived_lists: list[tuple[str, int]] = field(default_factory=list)  # (name, cards) of closed lists

    @property
    def checklists(self) -> int:
        return sum(card.checklist_items for card in self.cards)

    @property
    def comments(self) -> int:
        return sum(len(card.comments) for card in self.cards)

    @property
    def archived_cards(self) -> int:
        return sum(card.archived for card in self.cards)


class Errors:
    """What is wrong with a file, collected so that one upload lists them all."""

    def __init__(self):
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_any(self) -> None:
        if self.messages:
            shown = self.messages[:ERRORS_SHOWN]
            more = len(self.messages) - len(shown)
            if more:
                shown.append(f"… and {more} more problem(s).")
            raise ValidationError(shown)


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (a byte order mark allowed); anything else is refused."""
    if b"\x00" in data[:8192]:
        raise ValidationError("This is not a text file: the import takes a Trello export (.json) or a CSV file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"The file is not UTF-8 text (a bad byte at position {error.start:,}): save it as UTF-8 and try again."
        ) from None


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _title(raw: str, where: str, errors: Errors) -> str:
    title = _one_line(raw)
    if not title:
        errors.add(f"{where} has no title.")
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    return title


def unique_names(names: list[str], *, limit: int, fallback: str) -> list[str]:
    """The names trimmed to `limit` characters and made unique ignoring case ("Done", "Done 2")."""
    taken: set[str] = set()
    result = []
    for index, raw in enumerate(names, start=1):
        base = _one_line(raw)[:limit] or f"{fallback} {index}"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            suffix = f" {n}"
            name = base[: limit - len(suffix)] + suffix
        taken.add(name.lower())
        result.append(name)
    return result


def _instant(value: str) -> dt.datetime:
    """An ISO 8601 date-time (Trello's 2026-12-01T12:00:00.000Z); naive ones are in TIME_ZONE."""
    parsed = dt.datetime.fromisoformat(value.strip())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _due(value: str) -> tuple[dt.datetime | None, dt.date]:
    """A due day (2026-12-01) or a due instant (ISO 8601); ValueError otherwise."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None, dt.date.fromisoformat(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", value):
        raise ValueError(value)
    instant = _instant(value)
    return instant, timezone.localtime(instant).date()


def _check_description(description: str, where: str, errors: Errors) -> None:
    if len(description) > DESCRIPTION_MAX:
        errors.add(
            f"{where}: its description{' with its checklists' if '- [' in description else ''} has "
            f"{len(description):,} characters; a card holds {DESCRIPTION_MAX:,}."
        )


# -- Trello -------------------------------------------------------------------------------------


def _load_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"This is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            "Export the board from Trello again (Menu → Print, export and share → Export as JSON)."
        ) from None
    except RecursionError:
        raise ValidationError("This JSON is nested too deeply to be a Trello export.") from None


def _items(data: dict, name: str, errors: Errors, *, required: bool) -> list[dict]:
    value = data.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        errors.add(f"The export has no list of “{name}”: is this a Trello board export?")
        return []
    bad = [index for index, item in enumerate(value, start=1) if not isinstance(item, dict)]
    if bad:
        errors.add(f"“{name}” entry {bad[0]} is not an object.")
        return []
    return value


def _text(item: dict, key: str, where: str, errors: Errors, *, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        errors.add(f"{where} has no “{key}” text." if value is None else f"{where}: “{key}” is not text.")
        return ""
    return value


def _number(item: dict, key: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _flag(item: dict, key: str, where: str, errors: Errors) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        errors.add(f"{where}: “{key}” is not true or false.")
        return False
    return value


def _ids(item: dict, key: str, where: str, errors: Errors) -> list[str]:
    value = item.get(key) or []
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        errors.add(f"{where}: “{key}” is not a list of ids.")
        return []
    return value


def _member_keys(member: dict) -> tuple[str, ...]:
    return tuple(
        value.lower() for value in (member.get("username"), member.get("email")) if isinstance(value, str) and value
    )


def _checklist_markdown(checklists: list[dict]) -> tuple[str, int]:
    """The card's checklists as Markdown task lists, and how many items they hold."""
    parts, count = [], 0
    for checklist in sorted(checklists, key=lambda item: _number(item, "pos")):
        items = [item for item in checklist.get("checkItems") or [] if isinstance(item, dict)]
        lines = [f"**{_one_line(str(checklist.get('name') or 'Checklist'))}**", ""]
        for item in sorted(items, key=lambda item: _number(item, "pos")):
            box = "x" if item.get("state") == "complete" else " "
            lines.append(f"- [{box}] {_one_line(str(item.get('name') or '')) or '(empty)'}")
            count += 1
        parts.append("\n".join(lines))
    return "\n\n".join(parts), count


def parse_trello(text: str, *, categories: dict[str, str] | None = None) -> Board:
    """A Trello board export read and checked; `categories` maps list ids to chosen categories."""
    data = _load_json(text)
    if not isinstance(data, dict):
        raise ValidationError("The file holds JSON, but not a Trello board export (an object with lists and cards).")
    errors = Errors()
    lists = _items(data, "lists", errors, required=True)
    cards = _items(data, "cards", errors, required=True)
    labels = _items(data, "labels", errors, required=False)
    checklists = _items(data, "checklists", errors, required=False)
    actions = _items(data, "actions", errors, required=False)
    members = _items(data, "members", errors, required=False)
    errors.raise_any()
    if len(cards) > max_cards():
        raise ValidationError(f"The board has {len(cards):,} cards; an import takes at most {max_cards():,}.")

    # Lists: the open ones become columns, left to right; a closed list's cards come in archived.
    list_rows = []
    for index, item in enumerate(lists, start=1):
        where = f"List {index}"
        list_id = _text(item, "id", where, errors)
        name = _text(item, "name", where, errors)
        closed = _flag(item, "closed", where, errors)
        list_rows.append((list_id, name, closed, _number(item, "pos"), index))
    errors.raise_any()
    if len({row[0] for row in list_rows}) < len(list_rows):
        raise ValidationError("Two lists of the export have the same id: the file is damaged.")
    open_lists = sorted((row for row in list_rows if not row[2]), key=lambda row: (row[3], row[4]))
    if not open_lists:
        raise ValidationError("The board has no open list to make a column of.")
    names = unique_names([row[1] for row in open_lists], limit=COLUMN_NAME_MAX, fallback="List")
    categories = categories or {}
    columns = [
        ImportedColumn(key=row[0], name=name, category=categories.get(row[0]) or guess_category(name))
        for row, name in zip(open_lists, names, strict=True)
    ]
    by_list = {column.key: column for column in columns}
    closed_lists = {row[0]: row[1] for row in list_rows if row[2]}
    closed_counts = dict.fromkeys(closed_lists, 0)

    label_rows = []
    for index, item in enumerate(labels, start=1):
        where = f"Label {index}"
        label_id = _text(item, "id", where, errors)
        name = _text(item, "name", where, errors, required=False)
        colour = item.get("color")
        shade = colour.split("_")[0] if isinstance(colour, str) else None
        label_rows.append((label_id, name or (TRELLO_COLOURS.get(shade) or "Label"), shade))
    label_names = unique_names([row[1] for row in label_rows], limit=LABEL_NAME_MAX, fallback="Label")
    board_labels = [
        ImportedLabel(key=row[0], name=name, colour=PALETTE.get(TRELLO_COLOURS.get(row[2] or ""), NO_COLOUR))
        for row, name in zip(label_rows, label_names, strict=True)
    ]
    label_ids = {label.key for label in board_labels}

    people = {member.get("id"): member for member in members if isinstance(member.get("id"), str)}

    checklists_of: dict[str, list[dict]] = {}
    for index, item in enumerate(checklists, start=1):
        card_id = _text(item, "idCard", f"Checklist {index}", errors)
        if not isinstance(item.get("checkItems") or [], list):
            errors.add(f"Checklist {index}: “checkItems” is not a list.")
        checklists_of.setdefault(card_id, []).append(item)

    comments_of: dict[str, list[ImportedComment]] = {}
    for index, action in enumerate(actions, start=1):
        if action.get("type") != "commentCard":
            continue
        where = f"Comment {index} (action {action.get('id', '?')})"
        details = action.get("data") if isinstance(action.get("data"), dict) else {}
        card = details.get("card") if isinstance(details.get("card"), dict) else {}
        body = _text(details, "text", where, errors).strip()
        card_id = _text(card, "id", where, errors)
        try:
            at = _instant(_text(action, "date", where, errors))
        except ValueError:
            errors.add(f"{where}: “{action.get('date')}” is not a date.")
            continue
        if len(body) > COMMENT_MAX:
            errors.add(f"{where}: {len(body):,} characters; a comment holds {COMMENT_MAX:,}.")
        author = action.get("memberCreator")
        if not isinstance(author, dict):
            author = people.get(action.get("idMemberCreator"), {})
        name = author.get("fullName") or author.get("username") or "someone"
        if body:
            comments_of.setdefault(card_id, []).append(
                ImportedComment(text=body, at=at, author_name=str(name), author_keys=_member_keys(author))
            )
    errors.raise_any()

    read: list[tuple[str, float, int, ImportedCard]] = []
    seen: set[str] = set()
    for index, item in enumerate(cards, start=1):
        name = item.get("name")
        where = f"Card {index}" + (f" (“{_one_line(name)[:60]}”)" if isinstance(name, str) and name.strip() else "")
        card_id = _text(item, "id", where, errors)
        if card_id in seen:
            errors.add(f"{where}: another card has the same id.")
        seen.add(card_id)
        title = _title(_text(item, "name", where, errors), where, errors)
        list_id = _text(item, "idList", where, errors)
        archived = _flag(item, "closed", where, errors)
        if list_id in closed_counts:
            closed_counts[list_id] += 1
            archived, column = True, columns[0].key
        elif list_id in by_list:
            column = list_id
        else:
            if list_id:
                errors.add(f"{where} is in a list that is not in the export.")
            continue
        due_at = due_date = None
        due = item.get("due")
        if due is not None:
            try:
                if not isinstance(due, str):
                    raise ValueError(due)
                due_at, due_date = _due(due)
            except ValueError:
                errors.add(f"{where}: the due date “{due}” is not a date.")
        card_labels = _ids(item, "idLabels", where, errors)
        if set(card_labels) - label_ids:
            errors.add(f"{where} carries a label that is not in the export.")
        checklist_text, items = _checklist_markdown(checklists_of.get(card_id, []))
        description = _text(item, "desc", where, errors, required=False).strip()
        if checklist_text:
            description = f"{description}\n\n{checklist_text}" if description else checklist_text
        _check_description(description, where, errors)
        assignees = [_member_keys(people[m]) for m in _ids(item, "idMembers", where, errors) if m in people]
        card = ImportedCard(
            title=title,
            column=column,
            description=description,
            labels=[label for label in card_labels if label in label_ids],
            due_at=due_at,
            due_date=due_date,
            archived=archived,
            assignee_keys=tuple(key for keys in assignees for key in keys),
            comments=sorted(comments_of.get(card_id, []), key=lambda comment: comment.at),
            checklist_items=items,
        )
        read.append((column, _number(item, "pos"), index, card))
    errors.raise_any()

    order = {column.key: position for position, column in enumerate(columns)}
    read.sort(key=lambda row: (order[row[0]], row[1], row[2]))
    board_cards = [row[3] for row in read]
    for card in board_cards:
        if not card.archived:
            by_list[card.column].cards += 1
    board_name = data.get("name") if isinstance(data.get("name"), str) else ""
    return Board(
        name=_one_line(board_name),
        columns=columns,
        labels=board_labels,
        cards=board_cards,
        archived_lists=[(closed_lists[key], count) for key, count in closed_counts.items()],
    )


# -- CSV ----------------------------------------------------------------------------------------


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]  # data rows, each as long as the header
    lines: list[int]  # the file line each row ends on, for error messages


def read_csv(text: str) -> Table:
    """The CSV's header and rows, checked for shape (not yet for what they mean)."""
    # The header line decides the separator (spreadsheets in some languages write ";", some
    # exports tabs): csv.Sniffer guesses from the data too, and a comma in a title misleads it.
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=lambda candidate: (header_line.count(candidate), candidate == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ValidationError(
                "The CSV file is empty: it needs a header row naming its columns, then one row a card."
            )
        header = [_one_line(cell) for cell in header]
        rows, lines = [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) >= max_cards():
                raise ValidationError(
                    f"The file has more than {max_cards():,} rows; an import takes at most that many cards."
                )
            if len(row) > len(header):
                raise ValidationError(
                    f"Line {reader.line_num}: {len(row)} values under a header of {len(header)} columns."
                )
            rows.append(row + [""] * (len(header) - len(row)))
            lines.append(reader.line_num)
    except csv.Error as error:
        raise ValidationError(f"This is not a readable CSV file (line {reader.line_num}: {error}).") from None
    if not rows:
        raise ValidationError("The CSV file has a header but no rows: there is nothing to import.")
    return Table(header=header, rows=rows, lines=lines)


def guess_mapping(header: list[str]) -> dict[str, int | None]:
    """Which CSV column each field most likely comes from, by the header's names."""
    lowered = [cell.lower() for cell in header]
    mapping: dict[str, int | None] = {}
    for name, _ in CSV_FIELDS:
        mapping[name] = next((index for index, cell in enumerate(lowered) if cell in CSV_GUESSES[name]), None)
    return mapping


def parse_csv(text: str, *, mapping: dict[str, int | None], default_column: str = "To do") -> Board:
    """The CSV read with `mapping` (field -> column index or None) and checked row by row."""
    table = read_csv(text)
    if mapping.get("title") is None:
        raise ValidationError("Choose the CSV column that holds the cards' titles: a card needs a title.")
    for name, index in mapping.items():
        if index is not None and not 0 <= index < len(table.header):
            raise ValidationError(f"The {name} column is not in the file.")
    errors = Errors()

    def cell(row: list[str], name: str) -> str:
        index = mapping.get(name)
        return row[index].strip() if index is not None else ""

    column_names: dict[str, str] = {}  # lowered -> as first written
    label_names: dict[str, str] = {}
    cards = []
    for line, row in zip(table.lines, table.rows, strict=True):
        where = f"Line {line}"
        title = _title(cell(row, "title"), where, errors)
        description = cell(row, "description")
        _check_description(description, where, errors)
        column = _one_line(cell(row, "column"))[:COLUMN_NAME_MAX] or default_column
        column_names.setdefault(column.lower(), column)
        labels = []
        for raw in re.split(r"[,;]", cell(row, "labels")):
            name = _one_line(raw)[:LABEL_NAME_MAX]
            if name:
                label_names.setdefault(name.lower(), name)
                labels.append(name.lower())
        due_at = due_date = None
        if due := cell(row, "due"):
            try:
                due_at, due_date = _due(due)
            except ValueError:
                errors.add(f"{where}: the due date “{due[:40]}” is not a date (write 2026-12-31).")
        priority = Priority.NONE
        if raw_priority := cell(row, "priority"):
            if raw_priority.lower() not in PRIORITIES:
                errors.add(
                    f"{where}: the priority “{raw_priority[:40]}” is not one of none, low, medium, high, urgent."
                )
            priority = PRIORITIES.get(raw_priority.lower(), Priority.NONE)
        assignee = cell(row, "assignee").lower()
        cards.append(
            ImportedCard(
                title=title,
                column=column.lower(),
                description=description,
                labels=list(dict.fromkeys(labels)),
                due_at=due_at,
                due_date=due_date,
                assignee_keys=(assignee,) if assignee else (),
                priority=priority,
            )
        )
    errors.raise_any()
    columns = [ImportedColumn(key=key, name=name, category=guess_category(name)) for key, name in column_names.items()]
    by_key = {column.key: column for column in columns}
    for card in cards:
        by_key[card.column].cards += 1
    order = {column.key: position for position, column in enumerate(columns)}
    cards.sort(key=lambda card: order[card.column])  # stable: the file's order within a column
    colours = [value for value, _ in LABEL_COLOURS]
    labels = [
        ImportedLabel(key=key, name=name, colour=colours[index % len(colours)])
        for index, (key, name) in enumerate(label_names.items())
    ]
    return Board(name="", columns=columns, labels=labels, cards=cards)
