from django.urls import path

from boards import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:project_id>/", views.board, name="board"),
    path("projects/<int:project_id>/cards/<int:task_id>/", views.card, name="card"),
    path("projects/<int:project_id>/cards/<int:task_id>/edit/", views.card_edit, name="card_edit"),
]
