"""`make run`'s staff account (manage.py dev_admin): admin / admin reaches the admin; demo does not."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.accounts.conftest import PlainBrowser

pytestmark = pytest.mark.django_db

User = get_user_model()


def dev_admin() -> str:
    out = StringIO()
    call_command("dev_admin", stdout=out)
    return out.getvalue()


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_creates_a_superuser_once_and_prints_its_credentials(debug):
    assert "log in to /admin/ as admin / admin" in dev_admin()
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin")
    admin.set_password("changed-since-1")
    admin.save(update_fields=["password"])
    out = dev_admin()
    assert "exists already" in out and "admin / admin" not in out
    admin.refresh_from_db()
    assert admin.check_password("changed-since-1")
    assert User.objects.filter(username="admin").count() == 1


def test_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        dev_admin()
    assert not User.objects.filter(username="admin").exists()


def test_admin_reaches_the_admin_and_demo_does_not(debug):
    dev_admin()
    call_command("seed_demo", "--tasks", "10", stdout=StringIO())
    staff = PlainBrowser()
    assert staff.submit("/admin/login/", {"username": "admin", "password": "admin"}).status_code == 302
    assert staff.get("/admin/").status_code == 200
    assert staff.get("/admin/auth/user/").status_code == 200

    demo = User.objects.get(username="demo")
    assert not demo.is_staff and not demo.is_superuser
    visitor = PlainBrowser()
    refused = visitor.submit("/admin/login/", {"username": "demo", "password": "demo"})
    assert refused.status_code == 200 and "staff account" in refused.content.decode()
    visitor.log_in("demo", "demo")  # the site itself lets demo in
    assert visitor.get("/admin/").status_code == 302  # to the admin's log-in, not in
    assert visitor.get("/admin/auth/user/").status_code == 302
