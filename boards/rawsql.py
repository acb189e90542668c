"""Raw SQL built once from the models: SELECT lists, and the instances read back from a row.

For the statements on every request's path (boards.locking, access.get_project_for,
fragments.board_state), where the ORM spent more CPU compiling a query than PostgreSQL spent
running it.
"""

from django.db import connection


def fields_of(model) -> list[str]:
    """A model's columns, in the order Model.from_db takes them."""
    return [f.attname for f in model._meta.concrete_fields]


def select_list(alias: str, model) -> str:
    """The SELECT list of a model's columns under `alias`, in fields_of() order."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


def split_row(row, *models) -> tuple[list, tuple]:
    """The instances of `models` read from a row that starts with their select_list()s, in order
    (None for one a LEFT JOIN did not find), and the row's values after them."""
    objects, start = [], 0
    for model in models:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        found = values[fields.index(model._meta.pk)] is not None
        objects.append(model.from_db(connection.alias, fields_of(model), values) if found else None)
        start += len(fields)
    return objects, tuple(row[start:])
