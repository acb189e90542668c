from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("boards", "0012_card_numbers")]

    operations = [
        migrations.AlterField(
            model_name="task",
            name="number",
            field=models.PositiveIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="task",
            constraint=models.UniqueConstraint(fields=("project", "number"), name="task_unique_number"),
        ),
    ]
