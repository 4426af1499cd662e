"""Views with known behaviour: success, a 5xx answer, an unhandled exception, a slow answer
and a failing database query."""
import time

from django.db import DatabaseError, connection
from django.http import HttpResponse

from demo.models import Payment


def ok(request):
    return HttpResponse("ok\n")


def fail(request):
    return HttpResponse("upstream failed\n", status=500)


def boom(request):
    raise RuntimeError("an unhandled exception, on purpose")


def slow(request):
    # ?seconds=1.2 (at most 10) sleeps before answering.
    seconds = min(float(request.GET.get("seconds", "1.2")), 10.0)
    time.sleep(seconds)
    return HttpResponse("slow\n")


def db_error(request):
    # The database is never migrated, so the table does not exist: django-prometheus counts
    # the OperationalError in django_db_errors_total, and the view degrades gracefully.
    try:
        Payment.objects.count()
    except DatabaseError:
        return HttpResponse("served from fallback\n")
    return HttpResponse("ok\n")
