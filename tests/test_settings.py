"""Settings come from the environment: each case runs Django in a fresh subprocess."""

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings
from django_redis.cache import RedisCache

from tasktrack.channel_layer import RedisChannelLayer
from tasktrack.settings import database_from_url
from tests.support import ports

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "conn_max_age": db.get("CONN_MAX_AGE"),
    "pool": db.get("OPTIONS", {}).get("pool"),
    "caches": settings.CACHES["default"],
    "channel_layers": settings.CHANNEL_LAYERS["default"],
    "session_engine": settings.SESSION_ENGINE,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "csrf_trusted_origins": settings.CSRF_TRUSTED_ORIGINS,
    "middleware": settings.MIDDLEWARE,
}))
"""


def clean_env(**values: str) -> dict[str, str]:
    """A bare environment: only what the case sets, so the developer's variables never leak in."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "tasktrack.settings", "LANG": "C.UTF-8"}
    env.update(values)
    return env


def run_python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_for(**values: str) -> dict:
    result = run_python(PRINT_SETTINGS, clean_env(**values))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def production_env(**extra: str) -> dict[str, str]:
    values = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "tasktrack.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://tasktrack.example.com",
        "DATABASE_URL": "postgres://tasktrack:secret@db.example.com:5432/tasktrack",
        "REDIS_URL": "redis://redis.example.com:6379/0",
    }
    return clean_env(**{**values, **extra})


class TestBackendsFromEnvironment:
    def test_without_services_no_database_locmem_and_in_memory_layer(self):
        # PYTEST_VERSION: never the development database, which a `make run` may have running.
        found = settings_for(PYTEST_VERSION="1")
        assert found["engine"] == "tasktrack.devdb"  # PostgreSQL that says how to start one (tests/test_devdb.py)
        assert found["caches"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
        assert found["channel_layers"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
        assert found["debug"] is True

    def test_with_services_postgres_pool_django_redis_and_channels_redis(self):
        found = settings_for(
            DATABASE_URL="postgres://app:p%40ss@db.internal:6543/tracker", REDIS_URL="redis://cache.internal:6380/2"
        )
        assert found["engine"] == "tasktrack.db"  # django.db.backends.postgresql with a quicker pool recovery
        assert found["pool"]["max_size"] >= found["pool"]["min_size"] >= 1
        assert found["conn_max_age"] in (None, 0)  # the pool, never persistent connections
        cache = found["caches"]
        assert cache["BACKEND"] == "django_redis.cache.RedisCache"
        assert cache["LOCATION"] == "redis://cache.internal:6380/2"
        assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
        assert 0 < cache["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] < 1
        assert 0 < cache["OPTIONS"]["SOCKET_TIMEOUT"] < 1
        layer = found["channel_layers"]
        assert layer["BACKEND"] == "tasktrack.channel_layer.RedisChannelLayer"
        assert 0 < layer["CONFIG"]["receive_timeout"] < layer["CONFIG"]["hosts"][0]["socket_timeout"]
        [host] = layer["CONFIG"]["hosts"]
        assert host["address"] == "redis://cache.internal:6380/2"
        assert 0 < host["socket_connect_timeout"] < 1
        assert 0 < host["socket_timeout"] < 1

    def test_sessions_live_in_the_database(self):
        # Read through the cache (tests/test_sessions.py), stored in PostgreSQL.
        from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

        from tasktrack.sessions import SessionStore

        assert issubclass(SessionStore, DatabaseStore)
        assert settings_for(REDIS_URL="redis://127.0.0.1:6379/0")["session_engine"] == "tasktrack.sessions"
        # Without Redis the cache is per process: a log-out elsewhere would not reach it.
        assert settings_for()["session_engine"] == "django.contrib.sessions.backends.db"

    def test_tests_move_to_their_own_redis_index(self):
        found = settings_for(REDIS_URL="redis://127.0.0.1:6379/0", PYTEST_VERSION="1", REDIS_TEST_DB="9")
        assert found["caches"]["LOCATION"] == "redis://127.0.0.1:6379/9"
        assert found["channel_layers"]["CONFIG"]["hosts"][0]["address"] == "redis://127.0.0.1:6379/9"

    def test_hosts_and_trusted_origins_are_lists(self):
        found = settings_for(ALLOWED_HOSTS="a.example.com, b.example.com", CSRF_TRUSTED_ORIGINS="https://a.example.com")
        assert found["allowed_hosts"] == ["a.example.com", "b.example.com"]
        assert found["csrf_trusted_origins"] == ["https://a.example.com"]

    def test_login_is_required_everywhere(self):
        assert "django.contrib.auth.middleware.LoginRequiredMiddleware" in settings_for()["middleware"]

    def test_other_database_schemes_are_refused(self):
        result = run_python(PRINT_SETTINGS, clean_env(DATABASE_URL="mysql://root@localhost/tasktrack"))
        assert result.returncode != 0
        assert "DATABASE_URL must be postgres://" in result.stderr

    def test_a_unix_socket_is_named_as_libpq_does(self):
        entry = database_from_url("postgres://postgres@/tasktrack?host=/srv/tasktrack/.data/postgres&port=54321")
        assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("/srv/tasktrack/.data/postgres", "54321", "tasktrack")


class TestProduction:
    def test_check_deploy_is_clean(self):
        result = run_python("", production_env(), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues (0 silenced)." in result.stdout
        assert "WARNINGS" not in result.stdout + result.stderr

    def test_check_deploy_warns_on_a_development_setup(self):
        """The test above can fail: the same check flags DEBUG on."""
        result = run_python("", clean_env(), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode != 0
        assert "security.W018" in result.stdout + result.stderr  # DEBUG is on

    @pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
    def test_missing_required_variable_is_refused(self, missing):
        env = production_env()
        del env[missing]
        result = run_python(PRINT_SETTINGS, env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr
        assert f"{missing} must be set" in result.stderr


@pytest.fixture
def silent_redis():
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = ports.listening_socket()
    port = server.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}/0"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


class TestRedisTimeouts:
    """The timeouts in settings really reach redis-py: a hung Redis gives up instead of hanging."""

    def test_django_redis_cache_gives_up_and_is_ignored(self, silent_redis):
        config = settings_for(REDIS_URL=silent_redis)["caches"]
        cache = RedisCache(config["LOCATION"], {"OPTIONS": config["OPTIONS"]})
        client = cache.client.get_client()
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == config["OPTIONS"]["SOCKET_TIMEOUT"]
        assert kwargs["socket_connect_timeout"] == config["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"]
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("anything")
        assert cache.get("anything", "fallback") == "fallback"  # IGNORE_EXCEPTIONS

    def test_channels_redis_layer_gives_up(self, silent_redis):
        config = settings_for(REDIS_URL=silent_redis)["channel_layers"]["CONFIG"]
        layer = RedisChannelLayer(**config)
        pool = layer.create_pool(0)
        assert pool.connection_kwargs["socket_timeout"] == config["hosts"][0]["socket_timeout"]
        assert pool.connection_kwargs["socket_connect_timeout"] == config["hosts"][0]["socket_connect_timeout"]

        async def send():
            try:
                await layer.group_send("board.1", {"type": "board.event", "html": ""})
            finally:
                await layer.flush()

        with pytest.raises(redis.exceptions.TimeoutError):
            asyncio.run(send())

    def test_idle_receive_outlives_the_read_timeout(self):
        """A consumer waits longer than socket_timeout between events and still gets the next one."""
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "tasktrack.channel_layer.RedisChannelLayer"
        idle = 3 * settings.REDIS_SOCKET_TIMEOUT

        async def scenario():
            # A layer of its own: the shared one holds connections of other tests' event loops.
            layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
            channel = await layer.new_channel()

            async def send_later():
                await asyncio.sleep(idle)
                await layer.send(channel, {"type": "board.event", "html": "late"})

            sender = asyncio.ensure_future(send_later())
            try:
                return await asyncio.wait_for(layer.receive(channel), timeout=idle + 10)
            finally:
                await sender
                await layer.flush()

        assert asyncio.run(scenario()) == {"type": "board.event", "html": "late"}


@pytest.mark.slow
class TestStaticUnderDaphne:
    def test_whitenoise_serves_collected_static_files_with_debug_off(self, tmp_path):
        env = production_env(STATIC_ROOT=str(tmp_path / "static"), SECURE_SSL_REDIRECT="0", ALLOWED_HOSTS="127.0.0.1")
        del env["DATABASE_URL"], env["REDIS_URL"]  # static files need neither
        collected = run_python("", env, "manage.py", "collectstatic", "--noinput")
        assert collected.returncode == 0, collected.stderr
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["css/app.css"]
        assert hashed != "css/app.css"
        with ports.listening_socket() as listener:
            port = listener.getsockname()[1]
            daphne = subprocess.Popen(
                [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "tasktrack.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                pass_fds=[listener.fileno()],
            )
        try:
            response = _get_when_up(f"http://127.0.0.1:{port}/static/{hashed}", daphne)
            assert response.status == 200
            assert response.read() == (ROOT / "static" / "css" / "app.css").read_bytes()
            assert "max-age=315360000" in response.headers["Cache-Control"]  # whitenoise: hashed = immutable
            assert response.headers["Content-Type"].startswith("text/css")
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)


def _get_when_up(url: str, process: subprocess.Popen):
    for _ in range(100):
        if process.poll() is not None:
            pytest.fail(f"daphne exited: {process.stderr.read()}")
        try:
            return urllib.request.urlopen(url, timeout=5)
        except OSError:  # refused, reset, or not answered yet (URLError is one too)
            time.sleep(0.2)
    pytest.fail(f"daphne never answered {url}")


class TestAsgi:
    def test_websockets_pass_origin_check_then_session_auth_then_routes(self):
        from channels.auth import AuthMiddleware
        from channels.routing import URLRouter
        from channels.sessions import CookieMiddleware, SessionMiddleware

        from boards.live.sockets import OriginValidator
        from tasktrack.asgi import application

        layer, chain = application.application_mapping["websocket"], []
        while layer is not None:
            chain.append(type(layer))
            layer = getattr(layer, "application", None) or getattr(layer, "inner", None)
        assert chain == [OriginValidator, CookieMiddleware, SessionMiddleware, AuthMiddleware, URLRouter]

    @pytest.mark.django_db  # channels closes old database connections when a socket ends
    def test_websocket_from_another_origin_is_refused(self):
        from asgiref.sync import async_to_sync
        from channels.testing import WebsocketCommunicator

        from tasktrack.asgi import application

        async def connect(origin: bytes) -> bool:
            communicator = WebsocketCommunicator(application, "/ws/projects/1/", headers=[(b"origin", origin)])
            connected, _ = await communicator.connect()
            await communicator.disconnect()
            return connected

        assert async_to_sync(connect)(b"http://evil.example.com") is False


class TestMakeTestServicesCheck:
    """`make test` stops at once, with one line naming the missing service and how to start it."""

    @pytest.mark.parametrize(
        ("variable", "url", "expected"),
        [
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:{port}/tasktrack", "PostgreSQL is not reachable"),
            ("REDIS_URL", "redis://127.0.0.1:{port}/0", "Redis is not reachable"),
        ],
    )
    def test_one_line_and_stop(self, variable, url, expected):
        port = ports.refused_port()
        env = {**os.environ, variable: url.format(port=port)}
        result = subprocess.run(
            ["make", "--no-print-directory", "services-check"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode != 0
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert len(lines) == 1, lines
        assert expected in lines[0]
        assert f"127.0.0.1:{port}" in lines[0]
        assert "start it with:" in lines[0]

    def test_passes_when_both_listen(self):
        result = subprocess.run(["make", "--no-print-directory", "services-check"], cwd=ROOT, capture_output=True)
        assert result.returncode == 0, result.stdout + result.stderr
