"""The system-health readout beside the widget grid (the guide's "System Health Status Readout").

Parsers take the text of a ``/proc`` file, so tests feed them fixed text; ``gather()`` reads the
real files through a ``read`` callable (``None`` when a file is missing, e.g. not on Linux) and
turns any reading it cannot get into ``None``, which the page shows as "unavailable" rather than
as a guess. The verdict and the bars' colours come from one rule (``level``): a reading above
``HIGH_ABOVE`` per cent is red and turns the state to Warning, saying which; one above
``RAISED_ABOVE`` is amber and named under "Good"; so is a worker whose heartbeat stopped.
"""

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

import core

# One rule for the bars' colours and the verdict (docs/operations.md, "System Health").
HIGH_ABOVE = 90.0
RAISED_ABOVE = 70.0
# A heartbeat older than this many heartbeat periods means the worker (or its beat) stopped.
HEARTBEAT_PERIODS = 3
ALERT_SEVERITIES = ("WARN", "ALERT")
RECENT_ALERTS = 5
# Sessions inspected for "Connected Users": the most recently saved ones, so the page stays
# cheap however many stale sessions the table holds.
SESSIONS_SCANNED = 200
CPU_SAMPLE_SECONDS = 0.1


def read_proc(name):
    """The text of ``/proc/<name>``, or None where there is no such file."""
    try:
        return Path("/proc", name).read_text()
    except OSError:
        return None


# --- Parsers of /proc text ------------------------------------------------------------------


def parse_uptime(text):
    """Seconds since boot from ``/proc/uptime`` ("350735.47 234388.90")."""
    try:
        return float(text.split()[0])
    except (AttributeError, IndexError, ValueError):
        return None


def parse_cpu_times(text):
    """``(idle, total)`` jiffies of all CPUs from the first line of ``/proc/stat``."""
    if not text:
        return None
    first = text.splitlines()[0].split()
    if not first or first[0] != "cpu":
        return None
    try:
        # user nice system idle iowait irq softirq steal; guest time is already inside user.
        values = [int(v) for v in first[1:9]]
    except ValueError:
        return None
    if len(values) < 4:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return idle, sum(values)


def cpu_percent(before, after):
    """Busy share of CPU time between two ``parse_cpu_times`` samples, in percent."""
    if before is None or after is None:
        return None
    total = after[1] - before[1]
    if total <= 0:
        return None
    idle = after[0] - before[0]
    return _clamp(100.0 * (total - idle) / total)


def parse_meminfo(text):
    """Used memory in percent from ``/proc/meminfo``: what is not available to new programs."""
    if not text:
        return None
    values = {}
    for line in text.splitlines():
        name, _sep, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0])
    total = values.get("MemTotal")
    if not total:
        return None
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = sum(values.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
    return _clamp(100.0 * (total - available) / total)


def parse_net_dev(text):
    """``{interface: (rx_bytes, tx_bytes)}`` from ``/proc/net/dev``, loopback left out."""
    interfaces = {}
    for line in (text or "").splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        name = name.strip()
        if not sep or name == "lo" or len(fields) < 9:
            continue
        try:
            interfaces[name] = (int(fields[0]), int(fields[8]))
        except ValueError:
            continue
    return interfaces


def parse_process_start(text, clock_ticks):
    """Seconds after boot at which a process started, from its ``/proc/<pid>/stat``."""
    if not text or not clock_ticks:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    fields = text.rpartition(")")[2].split()
    try:
        return int(fields[19]) / clock_ticks  # field 22, "starttime"
    except (IndexError, ValueError):
        return None


def disk_percent(path, usage=shutil.disk_usage):
    """Used share of the file system holding ``path``, as ``df`` shows it."""
    try:
        total, used, free = usage(path)
    except OSError:
        return None
    if used + free <= 0:
        return None
    return _clamp(100.0 * used / (used + free))


def _clamp(value):
    return max(0.0, min(100.0, value))


# --- The state ------------------------------------------------------------------------------


def level(value):
    """``"high"`` (red, a problem), ``"raised"`` (amber) or ``"ok"`` for a percentage; ``None`` unread."""
    if value is None:
        return None
    if value > HIGH_ABOVE:
        return "high"
    if value > RAISED_ABOVE:
        return "raised"
    return "ok"


def _meter_sentences(cpu, memory, disk):
    return (
        (cpu, _("The CPU is %(percent)d%% busy.")),
        (memory, _("%(percent)d%% of the memory is in use.")),
        (disk, _("The disk is %(percent)d%% full.")),
    )


def elevated(*, cpu=None, memory=None, disk=None):
    """The amber readings, as sentences (shown under "Good": worth a look, not wrong)."""
    return [
        text % {"percent": value} for value, text in _meter_sentences(cpu, memory, disk) if level(value) == "raised"
    ]


def assess(*, disk, memory, worker_last_seen, now, heartbeat_seconds, cpu=None):
    """What is wrong, as sentences for the readout; an empty list means "Good"."""
    problems = [
        text % {"percent": value} for value, text in _meter_sentences(cpu, memory, disk) if level(value) == "high"
    ]
    if worker_last_seen is None:
        problems.append(_("No background worker has reported yet: synchronization and scheduled tasks do not run."))
    elif now - worker_last_seen > timedelta(seconds=HEARTBEAT_PERIODS * heartbeat_seconds):
        age = now - worker_last_seen
        if age < timedelta(minutes=1):
            age_text = ngettext("%(n)d second", "%(n)d seconds", age.seconds) % {"n": age.seconds}
        else:
            age_text = timesince(worker_last_seen, now)
        problems.append(
            _("The background worker last reported %(age)s ago: synchronization and scheduled tasks do not run.")
            % {"age": age_text}
        )
    return problems


@dataclass
class Interface:
    name: str
    rx_bytes: int
    tx_bytes: int
    rx_per_second: float | None = None
    tx_per_second: float | None = None


def interfaces_between(before, after, seconds):
    """Interfaces of the later ``parse_net_dev`` sample, with byte rates over ``seconds``."""
    result = []
    for name, (rx, tx) in sorted(after.items()):
        interface = Interface(name, rx, tx)
        if name in before and seconds > 0:
            interface.rx_per_second = max(0, rx - before[name][0]) / seconds
            interface.tx_per_second = max(0, tx - before[name][1]) / seconds
        result.append(interface)
    return result


def sample(read=read_proc, sleep=time.sleep, seconds=CPU_SAMPLE_SECONDS):
    """CPU use and interface traffic over a short sample: ``(cpu_percent, [Interface])``."""
    cpu_before, net_before = parse_cpu_times(read("stat")), parse_net_dev(read("net/dev"))
    sleep(seconds)
    cpu_after, net_after = parse_cpu_times(read("stat")), parse_net_dev(read("net/dev"))
    return cpu_percent(cpu_before, cpu_after), interfaces_between(net_before, net_after, seconds)


# --- Readings from the database ---------------------------------------------------------------


def recent_alerts(limit=RECENT_ALERTS):
    from core.models import Event

    return list(Event.objects.filter(severity__in=ALERT_SEVERITIES).order_by("-created_at", "-id")[:limit])


def last_heartbeat():
    from core.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.order_by("-last_seen").first()


def connected_users(now_epoch, *, within=None, limit=SESSIONS_SCANNED, viewer=None):
    """Enabled users with a live session that saw a request in the last ``within`` seconds
    (the idle timeout), most recent first, as ``[(user, last_activity_datetime)]``.

    ``viewer``, the user asking right now, is connected whatever their session row says: the
    activity of the current request is stored only after the page is rendered.
    """
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.contrib.sessions.models import Session

    from accounts.middleware import LAST_ACTIVITY_KEY

    within = settings.IDLE_TIMEOUT_SECONDS if within is None else within
    now = datetime.fromtimestamp(now_epoch, tz=dt_timezone.utc)
    # Every save pushes expire_date forward, so the latest expiry is the latest activity.
    sessions = Session.objects.filter(expire_date__gt=now).order_by("-expire_date")[:limit]
    latest = {}
    for session in sessions:
        data = session.get_decoded()
        user_id, last = data.get(SESSION_KEY), data.get(LAST_ACTIVITY_KEY)
        if user_id is None or not isinstance(last, (int, float)) or now_epoch - last > within:
            continue
        latest[str(user_id)] = max(last, latest.get(str(user_id), 0))
    if viewer is not None and viewer.is_authenticated and viewer.is_active:
        latest[str(viewer.pk)] = now_epoch
    users = get_user_model().objects.filter(pk__in=list(latest), is_active=True)
    rows = [(user, datetime.fromtimestamp(latest[str(user.pk)], tz=dt_timezone.utc)) for user in users]
    return sorted(rows, key=lambda row: row[1], reverse=True)


# --- The whole readout ------------------------------------------------------------------------


@dataclass
class Readout:
    problems: list
    notes: list
    server_name: str
    version: str
    machine_started: datetime | None
    process_started: datetime | None
    cpu: float | None
    memory: float | None
    disk: float | None
    interfaces: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    connected_users: list = field(default_factory=list)
    worker: object = None

    @property
    def good(self):
        return not self.problems

    @property
    def meters(self):
        """(key, reading, level) for the Resource Monitor bars, coloured by the verdict's rule."""
        return [
            (key, value, level(value)) for key, value in (("cpu", self.cpu), ("ram", self.memory), ("disk", self.disk))
        ]


def gather(*, read=read_proc, sleep=time.sleep, disk_usage=shutil.disk_usage, now_epoch=None, viewer=None):
    """Everything the readout shows, read now, for ``viewer`` (the signed-in user asking)."""
    now_epoch = time.time() if now_epoch is None else now_epoch
    now = datetime.fromtimestamp(now_epoch, tz=dt_timezone.utc)
    uptime = parse_uptime(read("uptime"))
    booted = now - timedelta(seconds=uptime) if uptime is not None else None
    process_start = parse_process_start(read(f"{os.getpid()}/stat"), _clock_ticks())
    cpu, interfaces = sample(read, sleep)
    memory = parse_meminfo(read("meminfo"))
    disk = disk_percent(settings.DATA_DIR, disk_usage)
    worker = last_heartbeat()
    problems = assess(
        cpu=cpu,
        disk=disk,
        memory=memory,
        worker_last_seen=worker.last_seen if worker else None,
        now=now,
        heartbeat_seconds=settings.ONPREM_HEARTBEAT_SECONDS,
    )
    return Readout(
        problems=problems,
        notes=elevated(cpu=cpu, memory=memory, disk=disk),
        server_name=socket.gethostname(),
        version=core.__version__,
        machine_started=booted,
        process_started=booted + timedelta(seconds=process_start) if booted and process_start is not None else None,
        cpu=cpu,
        memory=memory,
        disk=disk,
        interfaces=interfaces,
        alerts=recent_alerts(),
        connected_users=connected_users(now_epoch, viewer=viewer),
        worker=worker,
    )


def _clock_ticks():
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return None
