from django.urls import path

from boards import views, views_history

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/<int:application_id>/projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.board, name="board"),
    path("projects/<int:project_id>/rename/", views.project_rename, name="project_rename"),
    path("projects/<int:project_id>/archived/", views.archived, name="archived"),
    path("projects/<int:project_id>/columns/", views.columns, name="columns"),
    path("projects/<int:project_id>/columns/add/", views.column_add, name="column_add"),
    path("projects/<int:project_id>/columns/reorder/", views.column_reorder, name="column_reorder"),
    path("projects/<int:project_id>/columns/<int:status_id>/edit/", views.column_update, name="column_update"),
    path("projects/<int:project_id>/columns/<int:status_id>/delete/", views.column_delete, name="column_delete"),
    path("projects/<int:project_id>/columns/<int:status_id>/cards/", views.column_more, name="column_more"),
    path("projects/<int:project_id>/columns/<int:status_id>/cards/new/", views.card_create, name="card_create"),
    path("projects/<int:project_id>/cards/<int:task_id>/", views.card, name="card"),
    path("projects/<int:project_id>/cards/<int:task_id>/edit/", views.card_update, name="card_update"),
    path("projects/<int:project_id>/cards/<int:task_id>/move/", views.card_move, name="card_move"),
    path("projects/<int:project_id>/cards/<int:task_id>/archive/", views.card_archive, name="card_archive"),
    path("projects/<int:project_id>/cards/<int:task_id>/unarchive/", views.card_unarchive, name="card_unarchive"),
    path("projects/<int:project_id>/cards/<int:task_id>/delete/", views.card_delete, name="card_delete"),
    path("projects/<int:project_id>/insights/", views_history.project_insights, name="project_insights"),
    path("projects/<int:project_id>/export/tasks.csv", views_history.export_tasks, name="export_tasks"),
    path("projects/<int:project_id>/export/events.csv", views_history.export_events, name="export_events"),
]
