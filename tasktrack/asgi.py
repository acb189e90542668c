"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels; a graceful,
bounded shutdown on SIGTERM (tasktrack.shutdown)."""

import os
import sys

from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
# Build the Django app (and so load the apps) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from boards.live.routing import websocket_urlpatterns  # noqa: E402
from boards.live.sockets import OriginValidator  # noqa: E402
from tasktrack import serve, shutdown  # noqa: E402

if "daphne.server" in sys.modules and any(arg.split("=", 1)[0] in serve.REFUSED for arg in sys.argv):
    # daphne would take the client's address from the first X-Forwarded-For entry, which the client
    # writes, before ForwardedClientMiddleware could apply TRUSTED_PROXIES (README, Operations).
    raise ImproperlyConfigured("run daphne without --proxy-headers; set BEHIND_PROXY and TRUSTED_PROXIES instead")

application = shutdown.GracefulShutdown(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
shutdown.install(application)
