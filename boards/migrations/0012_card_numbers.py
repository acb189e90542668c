"""Number the cards that exist: per project, in creation order (ties by id), from 1."""

from django.db import migrations


def number_cards(apps, schema_editor):
    task = apps.get_model("boards", "Task")._meta.db_table
    sequence = apps.get_model("boards", "CardNumberSequence")._meta.db_table
    project = apps.get_model("boards", "Project")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        # One statement for any number of cards: a window the ORM can compute but not write back.
        cursor.execute(
            f"UPDATE {task} SET number = numbered.n FROM ("
            f"  SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY created_at, id) AS n FROM {task}"
            f") AS numbered WHERE {task}.id = numbered.id"
        )
        cursor.execute(
            f"INSERT INTO {sequence} (project_id, last_number) "
            f"SELECT p.id, COALESCE((SELECT max(number) FROM {task} WHERE project_id = p.id), 0) FROM {project} p "
            "ON CONFLICT (project_id) DO UPDATE SET last_number = EXCLUDED.last_number"
        )


class Migration(migrations.Migration):
    dependencies = [("boards", "0011_rich_cards")]

    operations = [migrations.RunPython(number_cards, migrations.RunPython.noop)]
