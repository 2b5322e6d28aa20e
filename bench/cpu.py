"""The server's CPU over a row of the benchmark, from /proc: the ``serve`` process tree (gunicorn
master and workers, the Celery worker) and the PostgreSQL backends of the bench's database.

* The process tree: the sum over its live processes of ``utime + stime + cutime + cstime``
  (/proc/<pid>/stat, fields 14-17). A worker that exits and is reaped moves its time into its
  parent's ``cutime``/``cstime``, so the sum never loses it.
* The PostgreSQL backends are not the server's children: they are found by their database
  (``pg_stat_activity``) and sampled in the background (``interval`` seconds); each backend counts
  with the last value seen, so one that disconnects mid-row loses at most its last interval. The
  sampling connection's own backend is left out.

``Meter.read()`` is a ``Reading`` (seconds); a row's cost is ``per_message(before, after, n)``.
The times are the kernel's (clock ticks, 1/100 s on Linux): over thousands of messages the
rounding is far below the row's spread.
"""

import os
import threading
from dataclasses import dataclass

from core.child_processes import descendants

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def parse_stat(text):
    """(utime, stime, cutime, cstime) in clock ticks from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses: the
    fields are counted from after its last ``)``.
    """
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, so fields[11]
    return tuple(int(value) for value in fields[11:15])


def read_ticks(pid, *, children=True):
    """The CPU ticks of ``pid`` (with its reaped children's when ``children``), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            utime, stime, cutime, cstime = parse_stat(handle.read())
    except (FileNotFoundError, ProcessLookupError):
        return None
    return utime + stime + (cutime + cstime if children else 0)


def tree_ticks(pids, read=read_ticks):
    """The CPU ticks of the processes ``pids`` (a tree: each with its reaped children)."""
    return sum(ticks for ticks in map(read, pids) if ticks is not None)


@dataclass(frozen=True)
class Reading:
    server_s: float  # the serve process tree (Python: gunicorn, Celery)
    database_s: float  # the PostgreSQL backends of the bench's database

    @property
    def total_s(self):
        return self.server_s + self.database_s


def per_message(before, after, messages):
    """{"server_cpu_ms", "python_cpu_ms", "postgres_cpu_ms"} per message between two readings,
    or None values when no message was served."""
    if not messages:
        return {"server_cpu_ms": None, "python_cpu_ms": None, "postgres_cpu_ms": None}
    python = (after.server_s - before.server_s) * 1000 / messages
    database = (after.database_s - before.database_s) * 1000 / messages
    return {
        "server_cpu_ms": round(python + database, 3),
        "python_cpu_ms": round(python, 3),
        "postgres_cpu_ms": round(database, 3),
    }


class Backends:
    """The last CPU ticks seen of every backend of a database, kept up to date in the background."""

    def __init__(self, list_pids, *, read=None, interval=0.2):
        self.list_pids = list_pids  # () -> the backend pids of the database now
        self.read = read or (lambda pid: read_ticks(pid, children=False))
        self.interval = interval
        self.last = {}  # pid: the last ticks seen of a backend still connected
        self.retired = 0  # the last ticks seen of the backends gone since
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def sample(self):
        pids = set(self.list_pids())
        with self._lock:
            for pid in pids | set(self.last):
                ticks = self.read(pid)
                previous = self.last.pop(pid, None)
                if previous is not None and (ticks is None or ticks < previous):
                    # Ended (gone from /proc, or a smaller count: the pid is another process now).
                    self.retired += previous
                    previous = None
                if pid in pids and ticks is not None:
                    self.last[pid] = ticks
                elif previous is not None:
                    # Disconnected, still in /proc: its count now is its last.
                    self.retired += ticks
            return self.retired + sum(self.last.values())

    def total(self):
        with self._lock:
            return self.retired + sum(self.last.values())

    def start(self):
        def loop():
            while not self._stop.wait(self.interval):
                try:
                    self.sample()
                except Exception:  # noqa: BLE001 - a missed sample only widens the error bar
                    pass

        self._thread = threading.Thread(target=loop, name="bench-cpu", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _postgres_pids(url):
    """() -> the pids of the backends connected to ``url``'s database (its own left out)."""
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    lock = threading.Lock()

    def list_pids():
        with lock, connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return [pid for (pid,) in cursor.fetchall()]

    list_pids.close = connection.close
    return list_pids


class Meter:
    """Readings of the server's CPU: ``root_pid``'s process tree and, with ``database_url``, the
    backends of that database (PostgreSQL on this machine)."""

    def __init__(self, root_pid, database_url=None, *, ticks_per_second=TICKS_PER_SECOND):
        self.root_pid = root_pid
        self.ticks_per_second = ticks_per_second
        self._list = _postgres_pids(database_url) if database_url else None
        self.backends = Backends(self._list).start() if self._list else None

    def read(self):
        server = tree_ticks([self.root_pid, *descendants(self.root_pid)])
        database = self.backends.sample() if self.backends else 0
        return Reading(server / self.ticks_per_second, database / self.ticks_per_second)

    def close(self):
        if self.backends is not None:
            self.backends.stop()
            self._list.close()


__all__ = ["Meter", "Reading", "Backends", "parse_stat", "read_ticks", "tree_ticks", "per_message"]
