"""The project's URLs plus the naive baselines, so both go through the same middleware stack."""

from django.urls import include, path

from bench import naive

urlpatterns = [
    path("__bench__/home/", naive.home, name="bench_naive_home"),
    path("__bench__/projects/<int:project_id>/", naive.board, name="bench_naive_board"),
    path("", include("tasktrack.urls")),
]
