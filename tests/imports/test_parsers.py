"""The parsers alone: no database, every refusal a clear message."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError

from imports import parsers


def trello(**extra) -> str:
    board = {"lists": [{"id": "L", "name": "Doing"}], "cards": [{"id": "c", "name": "One", "idList": "L"}]}
    return json.dumps(board | extra)


class TestGuesses:
    @pytest.mark.parametrize(
        ("name", "category"),
        [
            ("Done", "done"),
            ("Completed ✓", "done"),
            ("Doing", "active"),
            ("In progress", "active"),
            ("Code review", "review"),
            ("Blocked", "issue"),
            ("Backlog", "todo"),
            ("To do", "todo"),
        ],
    )
    def test_column_categories(self, name, category):
        assert parsers.guess_category(name) == category

    def test_csv_mapping_from_the_header(self):
        mapping = parsers.guess_mapping(["Name", "Notes", "Status", "Tags", "Deadline", "Assigned to", "Priority"])
        assert mapping == {
            "title": 0,
            "description": 1,
            "column": 2,
            "labels": 3,
            "due": 4,
            "assignee": 5,
            "priority": 6,
        }

    def test_names_are_made_unique_ignoring_case(self):
        assert parsers.unique_names(["Done", "done", "", "Done"], limit=60, fallback="List") == [
            "Done",
            "done 2",
            "List 3",
            "Done 3",
        ]


class TestTrello:
    def test_a_long_title_is_cut_to_fit(self):
        board = parsers.parse_trello(trello(cards=[{"id": "c", "name": "x" * 300, "idList": "L"}]))
        assert board.cards[0].title == "x" * 199 + "…"

    def test_a_description_too_long_with_its_checklists_is_refused(self):
        checklist = {"id": "k", "idCard": "c", "name": "Steps", "checkItems": [{"name": "y" * 100}] * 200}
        card = {"id": "c", "name": "One", "idList": "L", "desc": "d" * 5000}
        with pytest.raises(ValidationError, match="with its checklists has 2"):
            parsers.parse_trello(trello(cards=[card], checklists=[checklist]))

    def test_every_problem_is_listed_up_to_a_limit(self):
        cards = [{"id": f"c{n}", "name": f"C{n}", "idList": "L", "due": "tomorrow"} for n in range(30)]
        with pytest.raises(ValidationError) as caught:
            parsers.parse_trello(trello(cards=cards))
        messages = caught.value.messages
        assert len(messages) == parsers.ERRORS_SHOWN + 1
        assert messages[0] == "Card 1 (“C0”): the due date “tomorrow” is not a date."
        assert messages[-1] == "… and 10 more problem(s)."

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ('{"lists": [{"id": "L", "name": "A", "closed": true}], "cards": []}', "no open list"),
            ('{"lists": [{"id": "L", "name": "A"}], "cards": [{"id": "c", "name": "B", "idList": "X"}]}', "not in the"),
            (
                '{"lists": [{"id": "L", "name": "A"}], "cards": [{"id": "c", "name": "B", "idList": "L", '
                '"idLabels": ["nope"]}]}',
                "carries a label that is not in the export",
            ),
            (
                '{"lists": [{"id": "L", "name": "A"}], "cards": [{"id": "c", "name": "B", "idList": "L", '
                '"closed": "yes"}]}',
                "“closed” is not true or false",
            ),
            ("[" * 100000, "nested too deeply"),
        ],
    )
    def test_refusals(self, content, message):
        with pytest.raises(ValidationError, match=message):
            parsers.parse_trello(content)


class TestCsv:
    def test_semicolons_and_quoted_commas(self):
        table = parsers.read_csv('Title;Status\n"Buy milk, eggs";Done\n')
        assert table.header == ["Title", "Status"]
        assert table.rows == [["Buy milk, eggs", "Done"]]

    def test_dates_and_priorities(self):
        mapping = {"title": 0, "due": 1, "priority": 2}
        board = parsers.parse_csv("t,d,p\nA,2026-02-03,Urgent\nB,2026-02-03T10:00:00Z,2\n", mapping=mapping)
        a, b = board.cards
        assert (a.due_date, a.due_at, a.priority) == (dt.date(2026, 2, 3), None, 4)
        assert (b.due_at, b.priority) == (dt.datetime(2026, 2, 3, 10, tzinfo=dt.UTC), 2)
        assert [column.name for column in board.columns] == ["To do"]

    def test_a_bad_priority_names_its_line(self):
        with pytest.raises(ValidationError, match="Line 3: the priority “soon” is not one of"):
            parsers.parse_csv("t,p\nA,low\nB,soon\n", mapping={"title": 0, "priority": 1})

    def test_not_utf8(self):
        with pytest.raises(ValidationError, match="not UTF-8 text"):
            parsers.decode("Caf\xe9".encode("latin-1"))
