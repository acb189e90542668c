"""`@username` in rendered (already cleaned) Markdown: who is mentioned, and the HTML with each
mention of a member linked.

Works on the HTML that boards.text stores, never on the raw text: a mention inside code, a code
block or a link is not one, and the tag structure tells them apart. That HTML comes from nh3,
which quotes every attribute with double quotes and escapes them inside, so a tag is
`<`, a name, then anything but `>` or a double-quoted string, then `>`. Linking only inserts
elements between text characters: it cannot open an attribute or an element the sanitizer did
not allow, and what it inserts is escaped (format_html).

Pure functions: who is a member is the caller's to say (a map of lowercased usernames).
"""

import re
from collections.abc import Iterator, Mapping

from django.utils.html import format_html

# Django's usernames are letters, digits and @ . + - _; a mention stops before an @ (an e-mail
# address is not a mention) and before a final dot ("thanks @ana." mentions ana).
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]*[\w+-])")
TAG = re.compile(r'<(/?)([A-Za-z][A-Za-z0-9]*)(?:[^>"]|"[^"]*")*>')
# Inside these a mention is text as written: code shows it literally, a link already goes somewhere.
SKIPPED = frozenset({"a", "code", "pre"})


def _text_runs(html: str) -> Iterator[tuple[bool, str]]:
    """(is_text_outside_skipped_elements, piece) for every tag and text run of `html`, in order."""
    depth = 0
    end = 0
    for tag in TAG.finditer(html):
        if tag.start() > end:
            yield depth == 0, html[end : tag.start()]
        name = tag.group(2).lower()
        if name in SKIPPED:
            depth = max(0, depth - 1) if tag.group(1) else depth + 1
        yield False, tag.group()
        end = tag.end()
    if end < len(html):
        yield depth == 0, html[end:]


def mentioned(html: str) -> set[str]:
    """The lowercased usernames mentioned in the HTML's text (not in code or links)."""
    if "@" not in html:
        return set()
    return {m.group(1).lower() for is_text, piece in _text_runs(html) if is_text for m in MENTION.finditer(piece)}


def link_mentions(html: str, members: Mapping[str, tuple[str, str]]) -> str:
    """The HTML with each mention of a member made a link: `members` maps a lowercased username
    to (url, title). Mentions of anyone else stay text."""
    if "@" not in html or not members:
        return html

    def link(match: re.Match) -> str:
        found = members.get(match.group(1).lower())
        if found is None:
            return match.group()
        url, title = found
        return format_html('<a class="mention" href="{}" title="{}">{}</a>', url, title, match.group())

    return "".join(
        MENTION.sub(link, piece) if is_text and "@" in piece else piece for is_text, piece in _text_runs(html)
    )
