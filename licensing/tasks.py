"""Celery tasks of the licensing engine (thin: the work is in the services)."""

from celery import shared_task


@shared_task(name="licensing.recompute_alerts")
def recompute_alerts():
    """Recompute the alerts of every active local account (periodic, see licensing.signals)."""
    from .services.alerts import recompute_all

    return {str(pk): counts for pk, counts in recompute_all().items()}
