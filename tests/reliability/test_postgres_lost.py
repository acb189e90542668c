"""PostgreSQL connections killed under the app (pg_terminate_backend from a connection of our own).

A request whose connection dies answers 503 with a friendly page, its transaction is gone, the
counts stay exact, and the next request gets a healthy connection from the pool.
"""

import threading
import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.models.signals import pre_save
from django.test import Client

from boards import services
from boards.models import Task
from tests.factories import UserFactory
from tests.reliability.conftest import server_errors
from tests.reliability.http import Browser
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]


def admin_dsn() -> str:
    db = connection.settings_dict
    parts = [f"dbname={db['NAME']}", f"user={db['USER']}", f"host={db['HOST'] or '127.0.0.1'}"]
    parts.append(f"port={db['PORT'] or 5432}")
    if db["PASSWORD"]:
        parts.append(f"password={db['PASSWORD']}")
    return " ".join(parts)


@pytest.fixture
def killer(transactional_db):
    """A connection outside Django's pool that can terminate the others."""
    with psycopg.connect(admin_dsn(), autocommit=True) as admin:

        def terminate(pid: int | None = None) -> int:
            """Terminate one backend, or every other backend of the test database; how many."""
            if pid is not None:
                sql, params = "SELECT count(*) FILTER (WHERE pg_terminate_backend(%s))", [pid]
            else:
                sql = (
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                params = []
            return admin.execute(sql, params).fetchone()[0]

        yield terminate
    # Hand a killed connection back so the pool discards it before the table flush.
    connection.close()


@pytest.fixture
def staff(transactional_db):
    return UserFactory(is_staff=True, is_superuser=True)


def add_task_form(project, column, title):
    return {"project": project.pk, "task_status": column.pk, "title": title, "description": "", "position": "0"}


class TestConnectionLostMidRequest:
    def test_write_fails_cleanly_with_503_and_next_request_works(self, killer, staff, project, columns):
        services.create_task(project=project, status_id=columns["todo"].pk, title="kept", reporter=staff)
        client = Client(raise_request_exception=False)
        client.force_login(staff)

        def kill_own_backend(sender, instance, **kwargs):
            # Inside the request's transaction, after the counts handler locked the rows.
            pid = connection.cursor().connection.info.backend_pid
            assert killer(pid) == 1

        pre_save.connect(kill_own_backend, sender=Task, dispatch_uid="reliability-kill")
        try:
            response = client.post("/admin/boards/task/add/", add_task_form(project, columns["done"], "lost"))
        finally:
            pre_save.disconnect(sender=Task, dispatch_uid="reliability-kill")

        assert response.status_code == 503
        assert response.headers["Retry-After"]
        body = response.content.decode()
        assert "Tasktrack is back in a moment" in body and "nothing was saved" in body
        assert not Task.objects.filter(title="lost").exists()
        assert_counts_exact(project)

        # The next request runs on a healthy connection and the same write succeeds.
        response = client.post("/admin/boards/task/add/", add_task_form(project, columns["done"], "saved"))
        assert response.status_code == 302
        assert Task.objects.filter(title="saved").count() == 1
        assert client.get(project.get_absolute_url()).status_code == 404  # staff is not a member
        assert_counts_exact(project)

    def test_lost_while_loading_the_session_is_a_503_too(self, killer, owner, project):
        """The session and user load in middleware, before any view: handler500 turns it into 503.
        (The session comes from Redis; the user's query after it finds the connection dead.)"""
        client = Client(raise_request_exception=False)
        client.force_login(owner)
        from tasktrack.sessions import SessionStore

        original = SessionStore.load

        def load_on_a_dead_connection(store):
            killer(connection.cursor().connection.info.backend_pid)
            return original(store)

        SessionStore.load = load_on_a_dead_connection
        try:
            response = client.get("/")
        finally:
            SessionStore.load = original
        assert response.status_code == 503
        assert "Tasktrack is back in a moment" in response.content.decode()
        # The test client skips the request_finished cleanup that daphne's handler runs (it
        # would close the test's connection); run it as daphne would.
        close_old_connections()
        assert client.get("/").status_code == 200


def test_daphne_pool_replaces_dead_connections(daphne, killer, owner, project):
    """Every pooled connection dies between two requests: the pool's check replaces them."""
    server = daphne(DB_POOL_MIN="4")
    browser = Browser("127.0.0.1", server.port)
    assert browser.login(owner.username, "secret-pass").status == 302
    for _ in range(5):
        assert browser.get(project.get_absolute_url()).status == 200
        assert killer() >= 1
        try:
            response = browser.get(project.get_absolute_url())
        except TimeoutError:
            raise AssertionError(f"request hung after the kill:\n{server.log()[-5000:]}") from None
        assert response.status == 200, server.log()[-3000:]
    assert not server_errors(server.log())


def test_daphne_under_repeated_backend_kills(daphne, killer, staff, owner, project, columns):
    """Writes through daphne while every backend is killed again and again: only 302 or 503,
    never a 500; counts exact; once the kills stop, every request succeeds."""
    server = daphne()
    # A request may wait out the pool's back-off (up to its 10 s timeout, then 503).
    browser = Browser("127.0.0.1", server.port, timeout=30)
    assert browser.login(staff.username, "secret-pass").status == 302
    reader = Browser("127.0.0.1", server.port, timeout=30)
    assert reader.login(owner.username, "secret-pass").status == 302

    stop = threading.Event()
    killed = []

    def kill_loop():
        while not stop.is_set():
            killed.append(killer())
            stop.wait(0.4)

    statuses: list[int] = []
    thread = threading.Thread(target=kill_loop, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 3
        index = 0
        while time.monotonic() < deadline:
            index += 1
            form = add_task_form(project, columns["todo" if index % 2 else "done"], f"storm {index}")
            statuses.append(browser.post("/admin/boards/task/add/", form).status)
            statuses.append(reader.get(project.get_absolute_url()).status)
    finally:
        stop.set()
        thread.join(timeout=5)

    connection.close()  # the test's own connection was killed with the rest
    assert sum(killed) > 0
    assert set(statuses) <= {200, 302, 503}, sorted(set(statuses))
    assert 503 in statuses, "the kills never reached a request: the test proved nothing"
    for index in range(5):
        form = add_task_form(project, columns["active"], f"after {index}")
        assert browser.post("/admin/boards/task/add/", form).status == 302
        assert reader.get(project.get_absolute_url()).status == 200
    created = Task.objects.filter(title__startswith="storm ").count()
    assert statuses[0::2].count(302) <= created <= statuses[0::2].count(302) + statuses[0::2].count(503)
    assert Task.objects.filter(title__startswith="after ").count() == 5
    assert not server_errors(server.log(), allow=(503,)), server_errors(server.log(), allow=(503,))
    assert_counts_exact(project)
