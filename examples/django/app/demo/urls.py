"""Routes: one view per behaviour the alerts watch, and django-prometheus' /metrics."""
from django.urls import include, path

from demo import views

urlpatterns = [
    path("ok", views.ok, name="ok"),
    path("fail", views.fail, name="fail"),
    path("boom", views.boom, name="boom"),
    path("slow", views.slow, name="slow"),
    path("db-error", views.db_error, name="db-error"),
    path("", include("django_prometheus.urls")),
]
