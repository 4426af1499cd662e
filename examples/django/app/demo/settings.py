"""A minimal Django service instrumented with django-prometheus.

It exists to prove the django bundle's alert queries against a real exporter
(crates/mac-cli/tests/it/django.rs). DEMO_DATABASE names its SQLite file; the database is
deliberately left unmigrated, so django_migrations_unapplied_total reports this app's
migrations.
"""
import os

SECRET_KEY = "demo-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_prometheus",
    "demo",
]

# PrometheusBeforeMiddleware first and PrometheusAfterMiddleware last, as django-prometheus
# documents: the latency histograms then cover the whole middleware stack.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

DATABASES = {
    "default": {
        # django-prometheus' wrapper of the sqlite3 backend counts queries and errors.
        "ENGINE": "django_prometheus.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE", "demo.sqlite3"),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
