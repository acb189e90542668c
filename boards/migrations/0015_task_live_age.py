from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking the cards against writes: a large board keeps working meanwhile.
    atomic = False

    dependencies = [
        ("boards", "0014_priority_blank"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(
                condition=models.Q(("archived_at__isnull", True)),
                fields=["project", "task_status", "created_at", "id"],
                name="task_live_age",
            ),
        ),
    ]
