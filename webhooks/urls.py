from django.urls import path

import boards.urls  # noqa: F401  (registers the `id` converter)
from webhooks import views

urlpatterns = [
    path("projects/<id:project_id>/webhooks/", views.webhooks, name="webhooks"),
    path("projects/<id:project_id>/webhooks/add/", views.webhook_add, name="webhook_add"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/", views.webhook, name="webhook"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/edit/", views.webhook_update, name="webhook_update"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/secret/", views.webhook_rotate, name="webhook_rotate"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/enable/", views.webhook_enable, name="webhook_enable"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/disable/", views.webhook_disable, name="webhook_disable"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/test/", views.webhook_test, name="webhook_test"),
]
