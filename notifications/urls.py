from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.bell, name="bell"),
    path("read-all/", views.notification_read_all, name="read_all"),
    path("settings/", views.notification_settings, name="settings"),
    path("<id:notification_id>/", views.notification_open, name="open"),
    path("<id:notification_id>/read/", views.notification_read, name="read"),
    path("watch/<id:project_id>/<id:task_id>/", views.card_watch, name="watch"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
