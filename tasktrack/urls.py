from django.contrib import admin
from django.urls import include, path

from tasktrack import login

handler500 = "tasktrack.middleware.server_error"

urlpatterns = [
    path("login/", login.login, name="login"),
    path("", include("accounts.urls")),  # sign-up, log-out (POST only), account pages
    path("admin/", admin.site.urls),
    path("", include("api.urls")),  # /api/v1/ (token or session) and the tokens page
    path("", include("boards.urls")),
    path("", include("webhooks.urls")),
    path("", include("imports.urls")),  # after boards.urls, which registers the `id` converter
    path("notifications/", include("notifications.urls")),  # the same
]
