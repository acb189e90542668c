"""A task's column must belong to the task's project: held by the database.

A composite foreign key (task_status_id, project_id) → taskstatus (id, project_id).
"""

from django.db import migrations

ADD = """
ALTER TABLE boards_task ADD CONSTRAINT task_status_same_project
    FOREIGN KEY (task_status_id, project_id) REFERENCES boards_taskstatus (id, project_id)
    DEFERRABLE INITIALLY DEFERRED
"""
DROP = "ALTER TABLE boards_task DROP CONSTRAINT task_status_same_project"


def add(apps, schema_editor):
    schema_editor.execute(ADD)


def drop(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("boards", "0001_initial")]
    operations = [migrations.RunPython(add, drop)]
