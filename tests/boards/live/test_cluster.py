"""Two servers sharing PostgreSQL and Redis deliver each other's events: two daphne processes, and
gunicorn serving HTTP beside daphne serving the sockets (README's production start)."""

import pytest

from boards import services
from tests.support.live_support import (
    Browserless,
    Daphne,
    Gunicorn,
    column_count,
    session_cookie,
    ws_connect,
    ws_receive_until,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.slow,
    pytest.mark.timeout(120),
]


@pytest.fixture(params=[Daphne, Gunicorn], ids=["daphne", "gunicorn"])
def two_servers(request):
    first = request.param()  # takes the move over HTTP
    second = Daphne()
    try:
        first.wait_ready()
        second.wait_ready()
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_a_change_posted_to_one_process_reaches_a_socket_on_the_other(two_servers, project, columns, editor, owner):
    first, second = two_servers
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Across", reporter=editor)
    editor_session, owner_session = session_cookie(editor), session_cookie(owner)
    # Behind the proxy, the editor's own page keeps its socket on daphne when gunicorn serves HTTP.
    mine_url = second.url if isinstance(first, Gunicorn) else first.url
    with (
        ws_connect(mine_url, project.pk, editor_session, client_id="page-a") as mine,
        ws_connect(second.url, project.pk, owner_session, client_id="page-b") as theirs,
    ):
        ws_receive_until(mine, 'data-kind="hello"')
        ws_receive_until(theirs, 'data-kind="hello"')
        http = Browserless(first.url, editor_session)
        status, _ = http.request(f"/projects/{project.pk}/")  # the page sets the CSRF cookie
        assert status == 200
        status, _ = http.request(
            f"/projects/{project.pk}/cards/{task.pk}/move/",
            {"status_id": columns["done"].pk},
            headers={"X-Live-Client": "page-a", "HX-Request": "true"},
        )
        assert status == 200
        html = ws_receive_until(theirs, 'data-kind="change"')
        assert "Across" in html
        assert column_count(html, columns["done"].pk) == 1
        own = ws_receive_until(mine, 'id="live-meta"')
        assert 'data-kind="own"' in own
