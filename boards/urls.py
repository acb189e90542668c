from django.urls import path

from boards import views, views_history

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:project_id>/", views.board, name="board"),
    path("projects/<int:project_id>/cards/<int:task_id>/", views.card, name="card"),
    path("projects/<int:project_id>/insights/", views_history.project_insights, name="project_insights"),
    path("projects/<int:project_id>/export/tasks.csv", views_history.export_tasks, name="export_tasks"),
    path("projects/<int:project_id>/export/events.csv", views_history.export_events, name="export_events"),
]
