"""What the API reads and writes, as JSON. Input is parsed strictly (a number is a JSON integer,
text is a JSON string: "7" for an id, 7 for a title are refused); the services then apply the
pages' rules (boards.services clean_title, clean_description, ...), with the pages' messages."""

from rest_framework import serializers

from boards.forms import ID_MAX, LABELS_PER_CARD_MAX
from boards.models import Category, Membership, Priority

# Named once in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
CATEGORIES = Category.values
ROLES = Membership.Role.values

# -- strict input fields ------------------------------------------------------------------------


class Text(serializers.CharField):
    """A JSON string, kept as sent (the services trim and check it)."""

    default_error_messages = {"invalid": "Send text (a JSON string)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Id(serializers.IntegerField):
    """A row id: a JSON integer from 1 to 2**63 - 1 (not "7", not 7.0, not true)."""

    default_error_messages = {"invalid": f"Send an id: a whole number from 1 to {ID_MAX} (a JSON integer)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)
        self.error_messages["min_value"] = self.error_messages["max_value"] = self.error_messages["invalid"]

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Version(Id):
    default_error_messages = {"invalid": "Send the card's version as you read it (a JSON integer)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)


class Choice(serializers.ChoiceField):
    """One of the choices, of the choices' own type (a priority is 3, not "3")."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or data not in self.choices or type(data) is not type(next(iter(self.choices))):
            self.fail("invalid_choice", input=data)
        return data


# -- input --------------------------------------------------------------------------------------


PRIORITY_MESSAGE = "Pick a priority: 0 (none), 1 (low), 2 (medium), 3 (high) or 4 (urgent)."


class CardPlanningIn(serializers.Serializer):
    """Labels, priority and due date, as a new card or an edit gives them: fields left out are not set."""

    labels = serializers.ListField(child=Id(), required=False, max_length=LABELS_PER_CARD_MAX)
    priority = Choice(choices=Priority.values, required=False, error_messages={"invalid_choice": PRIORITY_MESSAGE})
    due_date = serializers.DateField(
        required=False,
        allow_null=True,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Send the due date as a real day, such as 2026-03-31."},
    )
    due_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="The due instant (ISO 8601 with its offset); it needs due_date. Without an offset: UTC.",
    )

    def validate_labels(self, value):
        return list(dict.fromkeys(value))


class CardCreateIn(CardPlanningIn):
    column_id = Id(help_text="The column (a TaskStatus of this project) the card goes to.")
    title = Text()
    description = Text(required=False, default="")
    assignee_id = Id(required=False, allow_null=True, default=None, help_text="A member of the workspace, or null.")
    position = serializers.ChoiceField(
        choices=["top", "bottom"], required=False, default="top", help_text="Top (default) or bottom of the column."
    )


class CardUpdateIn(CardPlanningIn):
    """A partial edit: fields left out stay as they are. `version` is the card's as you read it."""

    version = Version()
    title = Text(required=False)
    description = Text(required=False)
    assignee_id = Id(required=False, allow_null=True)


class CardMoveIn(serializers.Serializer):
    """Where the card goes, as the board's drag says it: below `after_id` or above `before_id`
    (a card of that column), or `position` top or bottom. None of them: the bottom."""

    column_id = Id()
    after_id = Id(required=False, allow_null=True, default=None)
    before_id = Id(required=False, allow_null=True, default=None)
    position = serializers.ChoiceField(choices=["top", "bottom"], required=False, allow_null=True, default=None)
    version = Version(required=False, allow_null=True, default=None, help_text="When given, must be the card's.")

    def validate(self, data):
        given = [name for name in ("after_id", "before_id", "position") if data.get(name) is not None]
        if len(given) > 1:
            raise serializers.ValidationError(
                {given[1]: [f"Give one of after_id, before_id or position, not {given[0]} too."]}
            )
        return data


class CommentIn(serializers.Serializer):
    body = Text(help_text="Markdown.")


class LabelIn(serializers.Serializer):
    name = Text()
    colour = Text(help_text="One of the label colours, such as #1d4ed8.")


class LabelPatchIn(serializers.Serializer):
    """Fields left out stay as they are."""

    name = Text(required=False)
    colour = Text(required=False)


# -- output -------------------------------------------------------------------------------------


class WorkspaceOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=ROLES, help_text="Your role in it.")


class CountsOut(serializers.Serializer):
    total = serializers.IntegerField()
    todo = serializers.IntegerField()
    active = serializers.IntegerField()
    review = serializers.IntegerField()
    issue = serializers.IntegerField()
    done = serializers.IntegerField()
    derived_status = serializers.ChoiceField(choices=CATEGORIES, allow_null=True)
    derived_column_id = serializers.IntegerField(allow_null=True)


class ProjectOut(serializers.Serializer):
    id = serializers.IntegerField()
    workspace_id = serializers.IntegerField()
    name = serializers.CharField()
    key = serializers.CharField()
    archived = serializers.BooleanField()
    counts = CountsOut()


class ColumnOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=CATEGORIES)
    position = serializers.IntegerField()
    wip_limit = serializers.IntegerField(allow_null=True)
    wip_hard = serializers.BooleanField()
    count = serializers.IntegerField(help_text="Live cards in the column.")


class CardOut(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(help_text="KEY-number, unique in the project and never reused.")
    number = serializers.IntegerField()
    column_id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    assignee_id = serializers.IntegerField(allow_null=True)
    reporter_id = serializers.IntegerField(allow_null=True)
    position = serializers.FloatField(help_text="Rank in its column: cards are shown by (position, id).")
    labels = serializers.ListField(child=serializers.IntegerField())
    priority = serializers.IntegerField()
    due_date = serializers.DateField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    archived = serializers.BooleanField()
    archived_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="Send it back with an edit (or a move): a stale one answers 409.")
    comment_count = serializers.IntegerField()
    attachment_count = serializers.IntegerField()


class CardPageOut(serializers.Serializer):
    results = CardOut(many=True)
    next_after = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?after= for the next page; null at the end."
    )


class MovedCardOut(CardOut):
    previous_id = serializers.IntegerField(allow_null=True, help_text="The card now just above it (null: the top).")


class ConflictOut(serializers.Serializer):
    detail = serializers.CharField()
    card = CardOut(help_text="The card as it is now.")


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class CommentOut(serializers.Serializer):
    id = serializers.IntegerField()
    card_id = serializers.IntegerField()
    author_id = serializers.IntegerField(allow_null=True)
    body = serializers.CharField()
    body_html = serializers.CharField(help_text="The Markdown rendered and cleaned, as the pages show it.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)


class CommentPageOut(serializers.Serializer):
    results = CommentOut(many=True)
    next_after = serializers.IntegerField(allow_null=True)


class LabelOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()


class MemberOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.ChoiceField(choices=ROLES)


class EventOut(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    task_id = serializers.IntegerField(allow_null=True)
    task_title = serializers.CharField()
    actor_id = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField()
    data = serializers.DictField()


class EventPageOut(serializers.Serializer):
    results = EventOut(many=True)
    next_since = serializers.IntegerField(help_text="Pass as ?since= for the next page.")
    has_more = serializers.BooleanField()
