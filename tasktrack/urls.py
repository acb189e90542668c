from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from boards import login

admin.site.login_form = login.AdminLoginForm

handler500 = "tasktrack.middleware.server_error"

urlpatterns = [
    path("login/", login.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before admin.site.urls: the admin's log-in answers 429 when locked out, like ours.
    path("admin/login/", login.with_throttle_status(admin.site.login)),
    path("admin/", admin.site.urls),
    path("", include("boards.urls")),
]
