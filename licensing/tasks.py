"""Celery tasks of the licensing engine (thin: the work is in the services)."""

from celery import shared_task


@shared_task(name="licensing.recompute_alerts")
def recompute_alerts():
    """The safety net and the time-driven alerts: recompute every active local account (periodic,
    see licensing.signals); the writes' hooks recompute what they touch as they commit."""
    from .services.alerts import run_safety_net

    return {str(pk): counts for pk, counts in run_safety_net().items()}
