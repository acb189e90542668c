"""Request middleware of the live layer: which page made the request."""

from boards.live import events as live


class LiveClientMiddleware:
    """Remember which page made the request (its X-Live-Client header) while the request runs,
    so the live event of its change is not echoed back to it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        client_id = live.clean_client_id(request.headers.get(live.CLIENT_HEADER))
        token = live.origin_client.set(client_id)
        try:
            return self.get_response(request)
        finally:
            live.origin_client.reset(token)
