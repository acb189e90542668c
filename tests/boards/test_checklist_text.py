"""The checklist of a description: exactly the items cmark-gfm renders as task list checkboxes,
in their rendered order, and a tick changes only that item's mark."""

import re

import pytest

from boards.text import render, set_task_item, task_items

CHECKBOX = re.compile(r"<input [^>]*>")

TEXT = """- [ ] one
- [x] two
  * [X] nested é
1. [ ] numbered
> - [ ] quoted (cmark-gfm does not make this a task)

    - [ ] indented code
```
- [ ] fenced code
```
- <input type="checkbox" disabled="" /> raw html
- [ ]not a task
-\t[ ]\ttab
+ [x] plus
"""


class TestTaskItems:
    def test_only_rendered_task_items_count_in_rendered_order(self):
        rendered = render(TEXT)
        boxes = CHECKBOX.findall(rendered.html)
        assert len(boxes) == len(rendered.items) == 6
        assert [item.done for item in rendered.items] == ['checked=""' in box for box in boxes]
        assert [TEXT[item.offset - 1 : item.offset + 2] for item in rendered.items] == [
            "[ ]",
            "[x]",
            "[X]",
            "[ ]",
            "[ ]",
            "[x]",
        ]

    @pytest.mark.parametrize("index", range(6))
    def test_a_tick_changes_that_item_only(self, index):
        before = task_items(TEXT)
        changed = set_task_item(TEXT, index, not before[index].done)
        after = task_items(changed)
        assert [item.done for item in after] == [
            (not item.done) if position == index else item.done for position, item in enumerate(before)
        ]
        assert len(changed) == len(TEXT)
        assert sum(a != b for a, b in zip(TEXT, changed, strict=True)) == 1

    def test_setting_the_state_it_has_changes_nothing(self):
        assert set_task_item(TEXT, 1, True) == TEXT
        assert set_task_item(TEXT, 0, False) == TEXT

    def test_no_such_item(self):
        with pytest.raises(IndexError):
            set_task_item(TEXT, 6, True)
        with pytest.raises(IndexError):
            set_task_item("no list", 0, True)

    def test_crlf_and_wide_characters(self):
        text = "ünïcödé ✓\r\n\r\n- [ ] 日本\r\n- [ ] b\r\n"
        changed = set_task_item(text, 1, True)
        assert changed == "ünïcödé ✓\r\n\r\n- [ ] 日本\r\n- [x] b\r\n"
        assert [item.done for item in task_items(changed)] == [False, True]

    def test_loose_list_and_table_cells(self):
        text = "- [ ] a\n\n- [x] b\n\n| h |\n|---|\n| - [ ] cell |\n"
        assert [item.done for item in task_items(text)] == [False, True]
