"""Child processes that do not outlive their parent, and the tree below a process.

``die_with_parent(signal)`` is a ``preexec_fn`` for ``subprocess.Popen``: the child asks the
kernel (Linux's ``PR_SET_PDEATHSIG``) to send it ``signal`` when the thread that started it
ends, however that happens (``kill -9`` included). ``manage.py serve`` gives it to gunicorn and
Celery; the test and benchmark harness (``bench/harness.py``) gives it to every server it starts,
and a pytest-xdist worker takes it for itself with ``follow_parent``. Elsewhere than Linux it does
nothing.

The signal is tied to the *thread* that called ``Popen``: start such children from a thread
that lives as long as they should (the main thread), never from a short-lived worker thread.
"""

import ctypes
import os
import sys

PR_SET_PDEATHSIG = 1  # <sys/prctl.h>

# Looked up once in the parent: the child runs as little as possible between fork and exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(signum):
    """A ``preexec_fn`` that has the child receive ``signum`` when its parent dies (Linux)."""
    if _prctl is None:
        return None
    parent = os.getpid()
    return lambda: _arm(signum, parent)


def follow_parent(signum):
    """Have this very process receive ``signum`` when its parent dies (Linux; elsewhere nothing)."""
    if _prctl is not None:
        _arm(signum, os.getppid())


def _arm(signum, parent):
    if _prctl(PR_SET_PDEATHSIG, int(signum)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the call above: the signal would never come.
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def descendants(pid):
    """Process ids below ``pid`` (gunicorn's workers, Celery's pool), from /proc; [] elsewhere."""
    parents = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running(pid):
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        if os.path.isdir("/proc/self"):
            return False
    try:  # no /proc: existence only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
