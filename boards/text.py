"""Card descriptions: Markdown rendered once, on save, then cleaned through an allow-list.

The renderer is cmark-gfm (C, CommonMark + GFM tables, strikethrough and task lists), which parses
in linear time. The sanitizer's HTML parser (html5ever, inside nh3) is not linear on every input:
it is quadratic in nesting depth and in the number of open formatting tags, and its cost grows with
its input. So what reaches it is bounded here: raw HTML passes only from a description with few
tags, tables only while they cannot multiply the input into megabytes of empty cells, and a result
nested deeper, or larger, than any real text is shown as plain text instead.
tests/boards/test_text.py holds every input of the maximum length under 50 ms of CPU.
"""

import html
import re
from typing import NamedTuple

import cmarkgfm.cmark as cmark
import nh3

# Bump when the output changes for the same text (renderer, options, allow-list): rows rendered by
# an older version are re-rendered by `manage.py render_descriptions`.
RENDERER_VERSION = 3  # 2: task list checkboxes carry an accessible name; 3: only task items are checkboxes

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "input",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "input": {"checked"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
# A task list item (`- [ ]`, `- [x]`) renders a checkbox: any <input> is forced to a disabled one.
# cmark's get a name, "Done" (a screen reader says "Done, checkbox, checked", or "not checked"),
# written before cleaning: the sanitizer appends forced attributes in no fixed order.
INPUT_VALUES = {"input": {"type": {"checkbox"}, "aria-label": {"Done"}}}
INPUT_FORCED = {"input": {"type": "checkbox", "disabled": ""}}
TASK_CHECKBOX = '<input type="checkbox" '
NAMED_TASK_CHECKBOX = '<input type="checkbox" aria-label="Done" '
URL_SCHEMES = {"http", "https", "mailto"}

EXTENSIONS = ("strikethrough", "tasklist")
# Single tildes are common in prose ("~5 min"); only ~~this~~ strikes through.
OPTIONS = cmark.Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE

# More '<' than this and raw HTML is left out (code, autolinks and the rest still render): a few
# tags are what a description needs; hundreds of unclosed ones make the sanitizer's parser scan
# them all again for every Markdown block.
MAX_RAW_HTML = 100
# GFM fills every short table row up to the header's width: without a bound, 20,000 characters
# make millions of empty cells. Beyond this many (an upper bound, counted before rendering),
# tables stay text.
MAX_TABLE_CELLS = 3000
# Blockquotes and lists nest without limit in cmark; the sanitizer pays for depth on every block.
MAX_DEPTH = 32
# And on the sanitizer's input, whose cost grows with it: real descriptions come out at 1 to 3
# times their length (tables of one-letter cells at 5); four times the 20,000-character limit is
# reached only by contrived ones, such as thousands of separate nested quotes or lists.
MAX_HTML = 80_000
MAX_TAGS = 12_000  # likewise for its tags: 6,000 elements, a dozen times what a long description has

# A line of only pipes, colons, dashes and blanks (after any quote markers): a superset of GFM
# table delimiter rows. Possessive quantifiers: no backtracking, one pass per line.
DELIMITER_ROW = re.compile(r"^[ \t>|:]*+-[ \t|:-]*+$", re.MULTILINE)
BLANK_LINE = re.compile(r"\n[ \t]*+\n")
CONTAINER_TAG = re.compile(r"<(/?)(?:blockquote|ul|ol)[ >]")


class TaskItem(NamedTuple):
    """A task list item of a description: where its box's mark is in the text, and its state."""

    offset: int  # of the character between the brackets of `[ ]` / `[x]`
    done: bool


class Rendered(NamedTuple):
    html: str
    # The task list items, in the order their checkboxes appear in `html` (the only <input>s there).
    items: tuple[TaskItem, ...]


def render_markdown(text: str) -> str:
    """Safe HTML for a description: no scripts, no styles, no javascript: links; linear time."""
    return render(text).html


def render(text: str) -> Rendered:
    """render_markdown's HTML with the description's task list items (its checklist)."""
    if not text:
        return Rendered("", ())  # most cards: no parser, no sanitizer (bulk imports render every card)
    rendered, items = _markdown_html(text) or (_plain_html(text), ())
    return Rendered(_clean(rendered), items)


def task_items(text: str) -> tuple[TaskItem, ...]:
    """The checklist of a description, as render() finds it (the rendered order)."""
    return render(text).items


def set_task_item(text: str, index: int, done: bool) -> str:
    """`text` with its `index`-th task list item ticked (done) or cleared; IndexError when it has
    no such item. Only the mark between the brackets changes."""
    items = task_items(text)
    if not 0 <= index < len(items):
        raise IndexError(index)
    item = items[index]
    if item.done == done:
        return text
    return text[: item.offset] + ("x" if done else " ") + text[item.offset + 1 :]


def _clean(rendered: str) -> str:
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=INPUT_VALUES,
        set_tag_attribute_values=INPUT_FORCED,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def _markdown_html(text: str) -> tuple[str, tuple[TaskItem, ...]] | None:
    """cmark-gfm's HTML within the bounds above, with its task items, or None when the text
    needs plain rendering."""
    options = OPTIONS | cmark.Options.CMARK_OPT_SOURCEPOS
    if text.count("<") <= MAX_RAW_HTML:
        # Raw HTML is kept for nh3 to clean (cmark's own safe mode would drop it unseen).
        options |= cmark.Options.CMARK_OPT_UNSAFE
    extensions = [*EXTENSIONS, "table"] if table_cells(text) <= MAX_TABLE_CELLS else list(EXTENSIONS)
    rendered = cmark.markdown_to_html_with_extensions(text, options=options, extensions=extensions)
    rendered, items = _task_checkboxes(text, rendered)
    rendered = SOURCEPOS.sub("", rendered)
    if len(rendered) > MAX_HTML or rendered.count("<") > MAX_TAGS or nesting_depth(rendered) > MAX_DEPTH:
        return None
    return rendered, items


# cmark's checkbox of a task list item, first thing in its item (with sourcepos: where the item starts).
TASK_ITEM = re.compile(r'<li data-sourcepos="(\d+):(\d+)-[^"]*">(<input type="checkbox" (checked="" )?disabled="" />)')
SOURCEPOS = re.compile(r' data-sourcepos="[0-9:-]*"')
ANY_INPUT = re.compile(r"<input\b", re.IGNORECASE)
LINE_END = re.compile(r"\r\n|\r|\n")  # cmark's line endings
# After the item's start: its list marker, blanks, then the box, `[ ]` or `[x]` (cmark's rule).
ITEM_MARKER = re.compile(r"(?:[-+*]|[0-9]{1,9}[.)])[ \t]+\[([ \txX])\]")


def _task_checkboxes(text: str, rendered: str) -> tuple[str, tuple[TaskItem, ...]]:
    """Name cmark's task checkboxes and find each one's mark in the text (from the item's
    sourcepos, checked against the text itself); any other <input>, raw HTML that could pass for
    a task, is shown as text. Then the n-th checkbox of the HTML is the n-th item of the list."""
    tasks: dict[int, TaskItem] = {}
    line_starts = None
    for match in TASK_ITEM.finditer(rendered):
        if line_starts is None:
            line_starts = [0] + [end.end() for end in LINE_END.finditer(text)]
        line, column = int(match.group(1)), int(match.group(2))
        item = _item_at(text, line_starts, line, column)
        if item is not None and item.done == bool(match.group(4)):
            tasks[match.start(3)] = item
    if tasks or ANY_INPUT.search(rendered):
        rendered = ANY_INPUT.sub(lambda tag: "<input" if tag.start() in tasks else "&lt;input", rendered)
        rendered = rendered.replace(TASK_CHECKBOX, NAMED_TASK_CHECKBOX)
    return rendered, tuple(tasks.values())


def _item_at(text: str, line_starts: list[int], line: int, column: int) -> TaskItem | None:
    """The task item whose list marker cmark places at this line and (byte) column, or None."""
    if not 1 <= line <= len(line_starts):
        return None
    start = line_starts[line - 1]
    end = line_starts[line] if line < len(line_starts) else len(text)
    raw = text[start:end].encode()
    prefix = raw[: column - 1]
    try:
        offset = start + len(prefix.decode())
    except UnicodeDecodeError:
        return None
    marker = ITEM_MARKER.match(text, offset, end)
    if marker is None:
        return None
    return TaskItem(offset=marker.start(1), done=marker.group(1) in "xX")


def _plain_html(text: str) -> str:
    return "<p>" + html.escape(text, quote=False).replace("\n", "<br>\n") + "</p>"


def table_cells(text: str) -> int:
    """An upper bound on the cells the tables of `text` render: in each block (up to a blank
    line) that has a delimiter row, its widest row's columns times the block's lines from there."""
    cells, block_end, columns, lines = 0, -1, 0, 0
    for row in DELIMITER_ROW.finditer(text):
        if row.start() > block_end:
            cells += columns * lines
            blank = BLANK_LINE.search(text, row.end())
            block_end = blank.start() if blank else len(text)
            columns, lines = 0, text.count("\n", row.start(), block_end) + 2  # and the header row
        columns = max(columns, row.group().count("|") + 1)
    return cells + columns * lines


def nesting_depth(rendered: str) -> int:
    """How deep blockquotes and lists nest in cmark's output (0 when they cannot reach MAX_DEPTH)."""
    if rendered.count("<blockquote>") + rendered.count("<ul>") + rendered.count("<ol") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for tag in CONTAINER_TAG.finditer(rendered):
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    return deepest
