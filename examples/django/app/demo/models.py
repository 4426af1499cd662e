"""One model, so that the app has a migration to leave unapplied."""
from django.db import models


class Payment(models.Model):
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)
