"""The project's pages plus deliberately slow ones, for shutting a server down under load
(DJANGO_SETTINGS_MODULE=tests.reliability.slow_settings)."""

import time

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@login_not_required
def sleeping(request: HttpRequest, seconds: float) -> HttpResponse:
    """A request that waits (on a slow database or service) in its thread."""
    time.sleep(seconds)
    return HttpResponse(f"slept {seconds}")


@login_not_required
def rendering(request: HttpRequest, seconds: float) -> HttpResponse:
    """A render that keeps a thread busy computing, as a pathological Markdown input would."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))
    return HttpResponse(f"rendered for {seconds}")


urlpatterns = [
    path("__slow__/sleep/<int:seconds>/", sleeping),
    path("__slow__/render/<int:seconds>/", rendering),
    path("", include("tasktrack.urls")),
]
