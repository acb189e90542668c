"""WebSocket routes. The board consumer arrives with the live-boards work."""

websocket_urlpatterns: list = []
