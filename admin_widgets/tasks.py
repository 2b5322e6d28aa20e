"""Periodic tasks of the Administration workspace's widgets."""

from celery import shared_task


@shared_task(name="onprem.ha_sync_events")
def ha_sync_events():
    """Copy the pg_auto_failover monitor's new events into the event log (a no-op without a
    monitor) and refresh the facts of the node whose worker runs it."""
    from admin_widgets.ha.events import sync_monitor_events
    from admin_widgets.ha.hosts import record_this_host

    record_this_host()
    return sync_monitor_events()
