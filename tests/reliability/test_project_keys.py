"""Project keys are ASCII letters and digits wherever they are set, down to the database; and a
download's file name is a valid Content-Disposition whatever the project is called."""

import importlib
import re
from urllib.parse import unquote

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from boards import services
from boards.models import Project
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db

migration = importlib.import_module("boards.migrations.0007_project_key_ascii")

LOOK_ALIKES = [
    "WЕB",  # Cyrillic Е
    "ＷＥＢ",  # fullwidth
    "ΑΒΓ",  # Greek capitals, two of them like A and B
    "OPS²",  # superscript two: isalnum() and isdigit() take it
    "ıt",  # dotless i, which upper() turns into an ASCII I
    "WE\nB",
    "W B",
    'W"B',
    "",
]


class TestKeys:
    @pytest.mark.parametrize("key", LOOK_ALIKES)
    def test_create_refuses_anything_but_ascii_letters_and_digits(self, application, key):
        with pytest.raises(ValidationError) as refused:
            services.create_project(application=application, name="Web", key=key)
        assert "key" in refused.value.message_dict
        assert not Project.objects.filter(application=application).exists()

    def test_create_takes_ascii_and_stores_it_upper_case(self, application):
        assert services.create_project(application=application, name="Web", key=" web2 ").key == "WEB2"

    def test_the_home_page_form_refuses_a_look_alike(self, client, owner, application):
        client.force_login(owner)
        response = client.post(
            reverse("project_create", args=[application.pk]), {"name": "Web", "key": "WЕB"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 422
        assert "letters (A-Z) or digits" in response.content.decode()
        assert not Project.objects.filter(application=application).exists()

    @pytest.mark.parametrize("key", ["WЕB", "ＷＥＢ", "OPS²", "W B"])
    def test_the_admin_refuses_a_look_alike(self, client, project, key):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        url = reverse("admin:boards_project_change", args=[project.pk])
        response = client.post(url, {"application": project.application_id, "name": project.name, "key": key})
        assert response.status_code == 200  # the form again, with its error
        assert "letters (A-Z) or digits" in response.content.decode()
        project.refresh_from_db()
        assert project.key != key

    @pytest.mark.parametrize("key", ["WЕB", "ＷＥＢ", "OPS²", "W B", ""])
    def test_the_database_refuses_a_look_alike(self, project, key):
        with pytest.raises(IntegrityError), transaction.atomic():
            Project.objects.filter(pk=project.pk).update(key=key)


class TestMigration:
    @pytest.mark.parametrize(
        ("old", "taken", "new"),
        [
            ("ＷＥＢ", set(), "WEB"),  # fullwidth folds to ASCII
            ("ＷＥＢ", {"WEB"}, "WEB1"),
            ("WЕB", set(), "WB"),  # a Cyrillic letter has no ASCII form: dropped
            ('a"b;c\n', set(), "ABC"),
            ("ЖЖЖ", set(), "P"),
            ("ЖЖЖ", {"P", "P1"}, "P2"),
            ("ABCDEFGHI²", {"ABCDEFGHI2"}, "ABCDEFGHI1"),  # ² folds to 2; a number replaces the end
        ],
    )
    def test_old_keys_become_ascii_and_stay_unique(self, old, taken, new):
        assert migration.ascii_key(old, taken) == new

    def test_it_rewrites_old_keys_and_the_constraint_then_holds(self, application):
        web, ops, other = (make_project(application, key=key) for key in ["WEB", "OPS", "MOB"])
        # As the admin or isalnum() could leave them before the constraint existed.
        drop_key_constraint()
        Project.objects.filter(pk=ops.pk).update(key="ＷＥＢ")
        Project.objects.filter(pk=other.pk).update(key='m"b;\n')
        from django.apps import apps

        migration.make_keys_ascii(apps, None)
        assert dict(Project.objects.values_list("pk", "key")) == {web.pk: "WEB", ops.pk: "WEB1", other.pk: "MB"}
        # In the same transaction, as the migration runs: the constraint goes back on.
        with connection.schema_editor() as editor:
            editor.add_constraint(Project, Project._meta.constraints[-1])


HOSTILE_NAMES = ['Say "hi"', "Line\nbreak", "Ünïcödé ✓ 日本", "a; filename=evil.exe", "\\ back \\slash"]


class TestDownloadNames:
    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    @pytest.mark.parametrize("export", ["export_tasks", "export_events"])
    def test_any_project_name_gives_a_valid_file_name(self, client, owner, application, name, export):
        project = services.create_project(application=application, name=name, key="WEB")
        client.force_login(owner)
        response = client.get(reverse(export, args=[project.pk]))
        response.close()  # gives back the export's heavy-request slot (a per-process limit)
        assert response.status_code == 200
        assert filename(response["Content-Disposition"]) == f"web-{export.split('_')[1]}.csv"

    @pytest.mark.parametrize("key", ['a"b', "a\nb", "ünï", "a;b=c", "a\\b"])
    def test_even_a_key_from_before_the_ascii_rule_gives_a_valid_file_name(self, client, owner, application, key):
        project = make_project(application, key="WEB")
        drop_key_constraint()
        Project.objects.filter(pk=project.pk).update(key=key)
        client.force_login(owner)
        response = client.get(reverse("export_tasks", args=[project.pk]))
        response.close()  # gives back the export's heavy-request slot (a per-process limit)
        assert response.status_code == 200
        assert filename(response["Content-Disposition"]) == f"{key.lower()}-tasks.csv"


def drop_key_constraint() -> None:
    """Until the test's transaction rolls back: keys as they could be saved before 0007."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER TABLE with deferred checks pending
        cursor.execute("ALTER TABLE boards_project DROP CONSTRAINT project_key_ascii")


def filename(header: str) -> str:
    """The file name in an attachment's Content-Disposition, read strictly (RFC 6266): a quoted
    string of printable ASCII with quotes and backslashes escaped, or an RFC 5987 filename*."""
    quoted = re.fullmatch(r'attachment; filename="((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*)"', header)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted.group(1))
    extended = re.fullmatch(r"attachment; filename\*=utf-8''((?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)", header)
    assert extended, f"not a valid Content-Disposition: {header!r}"
    return unquote(extended.group(1))
