"""boards.mentions: who a rendered text mentions, and the links to members, safely."""

import pytest

from boards.mentions import link_mentions, mentioned
from boards.text import render_markdown

MEMBERS = {"ana": ("/workspaces/1/members/#member-7", 'Ana <Admin> "A"'), "bo.b": ("/m#member-8", "Bob")}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("hi @ana", {"ana"}),
        ("@Ana, @bo.b.", {"ana", "bo.b"}),
        ("mail ana@example.com", set()),
        ("`@ana` and\n\n    @ana in code", set()),
        ("[@ana](https://x.test) linked already", set()),
        ("**@ana** in bold, > @bob quoted", {"ana", "bob"}),
        ("@", set()),
        ("@@ana", set()),
        ("no at sign", set()),
    ],
)
def test_mentioned(text, names):
    assert mentioned(render_markdown(text)) == names


def test_links_members_only_and_escapes_the_title():
    html = link_mentions(render_markdown("@ana, @ANA and @carol; `@ana`"), MEMBERS)
    link = '<a class="mention" href="/workspaces/1/members/#member-7" title="Ana &lt;Admin&gt; &quot;A&quot;">'
    assert html.count(link) == 2
    assert f"{link}@ANA</a>" in html
    assert "@carol" in html and ">@carol<" not in html
    assert "<code>@ana</code>" in html


def test_mentions_inside_attributes_are_left_alone():
    # nh3 keeps > inside a quoted attribute: the tag pattern must not take it for the tag's end.
    html = render_markdown('[x](https://example.test "a > @ana") @ana')
    linked = link_mentions(html, MEMBERS)
    assert 'title="a &gt; @ana"' in linked or 'title="a > @ana"' in linked
    assert linked.count('class="mention"') == 1


def test_nothing_to_do_returns_the_same_string():
    html = render_markdown("plain text")
    assert link_mentions(html, MEMBERS) is html
    assert link_mentions("<p>@ana</p>", {}) == "<p>@ana</p>"
