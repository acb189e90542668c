"""The import's URLs (ids through boards' `id` converter: digits within bigint, else 404)."""

from django.urls import path

from imports import views

urlpatterns = [
    path("workspaces/<id:application_id>/import/", views.import_start, name="import_start"),
    path("imports/<id:job_id>/", views.import_preview, name="import_preview"),
    path("imports/<id:job_id>/progress/", views.import_progress, name="import_progress"),
]
