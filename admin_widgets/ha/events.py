"""Copying the pg_auto_failover monitor's events into the event log as ``ha.*`` events.

The monitor writes a row to ``pgautofailover.event`` for every state change it orders or a node
reports and for every health-check verdict. Beat runs ``sync_monitor_events`` every
``ONPREM_HA_EVENTS_SECONDS``; it records what an operator reads after a failover (a host lost, a
failover to a node, a host back, a host added or removed, the monitor lost and back) and remembers
the last monitor event it read (``ClusterEventCursor``), so each is recorded once however often, or
however many workers at once, it runs. Each event keeps the monitor's time. The event log's
fan-out (syslog, mail) sends them as any other event.
"""

import re

from django.db import transaction

from core import events as event_log

from . import monitor

UNHEALTHY = re.compile(r"is marked as unhealthy by the monitor")
HEALTHY = re.compile(r"is marked as healthy by the monitor")
REMOVED = re.compile(r"^Removing node", re.IGNORECASE)
WAS_SECONDARY = monitor.SECONDARY_STATES | monitor.PROMOTING_STATES | {"catchingup", "wait_standby"}


def classify(event, previous):
    """(code, params) of the ``ha.*`` event a monitor event means, or None; ``previous`` is what the
    node's earlier events said ({"state": its reported state, "lost": marked unhealthy, "joined":
    has been a primary or a secondary}) or None for a new node."""
    params = {"node_name": event.node_name, "address": event.address}
    if UNHEALTHY.search(event.description):
        # A node still joining (its base backup running) is not yet a host the cluster can lose.
        return ("ha.host_lost", params) if previous and previous.get("joined") else None
    if HEALTHY.search(event.description):
        return ("ha.host_back", params) if previous and previous.get("lost") else None
    if REMOVED.search(event.description):
        return "ha.host_removed", params
    if previous is None:
        return "ha.host_added", params
    if event.reported_state in monitor.PRIMARY_STATES and previous.get("state") in WAS_SECONDARY:
        return "ha.failover", params
    return None


def _advance(cursor, event):
    """The node's state after ``event`` and the ha.* event it means (or None)."""
    key = str(event.node_id)
    previous = cursor.node_states.get(key)
    meaning = classify(event, previous)
    state = dict(previous or {"lost": False, "joined": False})
    state["state"] = event.reported_state
    if event.reported_state in monitor.PRIMARY_STATES | monitor.SECONDARY_STATES:
        state["joined"] = True
    if meaning and meaning[0] == "ha.host_lost":
        state["lost"] = True
    elif meaning and meaning[0] == "ha.host_back":
        state["lost"] = False
    if meaning and meaning[0] == "ha.host_removed":
        cursor.node_states.pop(key, None)
    else:
        cursor.node_states[key] = state
    return meaning


def _record(code, when=None, **params):
    event = event_log.record(code, **params)
    if when is not None:
        # The log shows when it happened in the cluster, not when the copy ran.
        type(event).objects.filter(pk=event.pk).update(created_at=when)
        event.created_at = when
    return event


def sync_monitor_events():
    """Copy the monitor's new events; returns the ``ha.*`` events recorded (a list of codes).
    Does nothing (returns []) when no monitor is configured."""
    from core.models import ClusterEventCursor

    if not monitor.monitor_url():
        return []
    formation = monitor.formation()
    ClusterEventCursor.objects.get_or_create(formation=formation)
    seen = ClusterEventCursor.objects.get(formation=formation).last_event_id
    try:
        found, newest = monitor.read_events(seen)
        if newest < seen:  # a new monitor: its event ids start again
            found, newest = monitor.read_events(0)
    except monitor.MonitorUnavailable as error:
        return _monitor_down(formation, str(error))
    recorded = []
    with transaction.atomic():
        cursor = ClusterEventCursor.objects.select_for_update().get(formation=formation)
        if cursor.monitor_down:
            cursor.monitor_down = False
            recorded.append(_record("ha.monitor_back", monitor=monitor.describe()).event_type)
        if newest < cursor.last_event_id:
            cursor.last_event_id, cursor.node_states = 0, {}
        for event in found:
            if event.event_id <= cursor.last_event_id:
                continue  # another run copied it while this one read
            meaning = _advance(cursor, event)
            if meaning:
                code, params = meaning
                recorded.append(_record(code, when=event.time, **params).event_type)
            cursor.last_event_id = event.event_id
        cursor.save()
    return recorded


def _monitor_down(formation, error):
    from core.models import ClusterEventCursor

    with transaction.atomic():
        cursor = ClusterEventCursor.objects.select_for_update().get(formation=formation)
        if cursor.monitor_down:
            return []
        cursor.monitor_down = True
        cursor.save(update_fields=["monitor_down", "updated_at"])
        return [_record("ha.monitor_lost", monitor=monitor.describe(), error=error).event_type]
