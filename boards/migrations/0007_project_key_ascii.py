"""Project keys: ASCII letters and digits only, enforced by the database too.

Keys saved before this rule may break it: create_project accepted whatever str.isalnum() takes
(Cyrillic, Greek and fullwidth letters, superscript digits), and the admin accepted anything up to
10 characters. Those are rewritten first: NFKC folds fullwidth letters to ASCII, anything else
that is not an ASCII letter or digit is dropped, and a key left empty or taken in its workspace
gets a number. Each change is logged. Card numbers (KEY-n) of such projects change with the key.
"""

import logging
import re
import unicodedata

import django.core.validators
from django.db import migrations, models

log = logging.getLogger(__name__)

PATTERN = r"\A[A-Za-z0-9]{1,10}\Z"
MESSAGE = "The key is 1 to 10 letters (A-Z) or digits, such as WEB."


def ascii_key(key: str, taken: set[str]) -> str:
    """The key an old `key` becomes: its ASCII letters and digits, made unique among `taken`."""
    folded = "".join(c for c in unicodedata.normalize("NFKC", key) if c.isascii() and c.isalnum()).upper()
    stem = folded[:10] or "P"
    candidate, number = stem, 1
    while candidate in taken or not re.fullmatch(PATTERN, candidate):
        suffix = str(number)
        candidate, number = stem[: 10 - len(suffix)] + suffix, number + 1
    return candidate


def make_keys_ascii(apps, schema_editor):
    Project = apps.get_model("boards", "Project")
    wrong = list(Project.objects.exclude(key__regex=PATTERN).order_by("pk").values_list("pk", "application_id", "key"))
    taken: dict[int, set[str]] = {}
    for application_id in {application_id for _, application_id, _ in wrong}:
        taken[application_id] = set(Project.objects.filter(application_id=application_id).values_list("key", flat=True))
    for pk, application_id, key in wrong:
        new_key = ascii_key(key, taken[application_id])
        taken[application_id].add(new_key)
        Project.objects.filter(pk=pk).update(key=new_key)
        log.warning("project %s: key %r is now %r (ASCII letters and digits only)", pk, key, new_key)


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0006_task_description_html"),
    ]

    operations = [
        migrations.RunPython(make_keys_ascii, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="project",
            name="key",
            field=models.CharField(
                help_text="Short key, such as WEB or OPS.",
                max_length=10,
                validators=[django.core.validators.RegexValidator(PATTERN, MESSAGE, code="invalid_key")],
            ),
        ),
        migrations.AddConstraint(
            model_name="project",
            constraint=models.CheckConstraint(
                condition=models.Q(("key__regex", PATTERN)), name="project_key_ascii", violation_error_message=MESSAGE
            ),
        ),
    ]
