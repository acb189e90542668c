"""WebSocket routes; asgi.py wraps them in origin validation and session auth."""

from django.urls import path

from boards.live import consumers

websocket_urlpatterns = [
    path("ws/projects/<int:project_id>/board/", consumers.BoardConsumer.as_asgi()),
]
