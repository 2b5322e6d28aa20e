"""The processes the tests and the benchmark start: a server on loopback with an environment of
its own, its output in a log file, waited for until it answers, stopped at the end.

Every process started here dies with the process that started it, even when that one is killed
(``kill -9``, a CI timeout): it gets a parent-death signal (``core/child_processes.py``), and
``manage.py serve`` passes the same on to gunicorn and Celery. Ports come from ``bench/ports.py``
(``tests/ports.py`` for the tests' ranges).

    server = Process([sys.executable, "-m", "http.server", str(port)], log=tmp_path / "http.log",
                     port=port).start()
    server.wait_for_port()
    ...
    server.stop()

    site = Installation(tmp_path / "a", port=claim_port(ports.SERVE))   # manage.py serve
    site.manage("migrate", "--noinput")
    site.start()
    site.wait_until_up()
    ...
    site.cleanup()
"""

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from core import child_processes
from core.child_processes import descendants, die_with_parent

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
# Settings a server under test gets from its harness only: nothing of the caller's configuration
# (a developer's DATABASE_URL, CI's REDIS_URL, ONPREM_*) may leak into it.
CONTROLLED = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CELERY_TASK_ALWAYS_EAGER",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "DB_CONN_MAX_AGE",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
}


class ProcessError(RuntimeError):
    """A process exited, or did not get ready in time; the message ends with what it printed."""


def server_env(data_dir, **extra):
    """The environment of a server (or ``manage.py`` command) of its own data dir: the caller's,
    minus every setting in CONTROLLED and every ONPREM_* one, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED and not k.startswith("ONPREM_")}
    env.update(DJANGO_SETTINGS_MODULE="onprem.settings", ONPREM_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run(argv, *, env=None, cwd=ROOT, timeout=300, **options):
    """``subprocess.run`` (text, output captured) of a command that dies with this process."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
        **options,
    )


def survivors(pids, within=5):
    """The pids of ``pids`` still running after up to ``within`` seconds ([] once all are gone)."""
    deadline = time.monotonic() + within
    while True:
        alive = [pid for pid in pids if child_processes.running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def manage(*args, env, timeout=300, **options):
    """``manage.py <args>`` with ``env`` (text, output captured), dying with this process."""
    return run([*MANAGE, *args], env=env, timeout=timeout, **options)


def port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Process:
    """One server process: started in a session of its own (its children in its process group),
    stdout and stderr to ``log``, sent ``death_signal`` by the kernel when its parent dies.

    ``stop_signal`` asks it to stop (SIGTERM; SIGINT for PostgreSQL's fast shutdown); whatever of
    it still runs ``timeout`` seconds later is killed, its descendants included.
    """

    def __init__(
        self,
        argv,
        *,
        log,
        env=None,
        cwd=ROOT,
        port=None,
        name=None,
        death_signal=signal.SIGKILL,
        stop_signal=signal.SIGTERM,
        user=None,
        group=None,
    ):
        self.argv = [str(arg) for arg in argv]
        self.log = Path(log)
        self.env, self.cwd, self.port = env, cwd, port
        self.name = name or Path(self.argv[0]).name
        self.death_signal, self.stop_signal = death_signal, stop_signal
        self.user, self.group = user, group
        self.proc = None
        self._output = None

    def start(self):
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._output = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(self.death_signal),
            user=self.user,
            group=self.group,
            extra_groups=[] if self.user else None,
        )
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def printed(self, tail=4000):
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-tail:] if tail else text

    def wait_until(self, ready, *, timeout=60, what="get ready", interval=0.2):
        """Return once ``ready()`` is true; ProcessError if the process exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = self.proc.returncode if self.proc else None
                raise ProcessError(f"{self.name} exited with {code} before it did {what}:\n{self.printed()}")
            if ready():
                return self
            if time.monotonic() > deadline:
                raise ProcessError(f"{self.name} did not {what} within {timeout} s:\n{self.printed()}")
            time.sleep(interval)

    def wait_for_port(self, timeout=60):
        return self.wait_until(lambda: port_open(self.port), timeout=timeout, what=f"listen on port {self.port}")

    def family(self):
        """This process and every process below it."""
        return [self.pid, *descendants(self.pid)] if self.proc else []

    def stop(self, timeout=10):
        """``stop_signal``, up to ``timeout`` seconds to exit, then SIGKILL to whatever is left of it."""
        if self.proc is None:
            return
        family = self.family()
        if self.running() and timeout > 0:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        family += [pid for pid in descendants(self.pid) if pid not in family]
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in family:
            if child_processes.running(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.proc.wait(timeout=10)
        if self._output is not None:
            self._output.close()
            self._output = None


def cssm_emulator(state_dir, *, port, env, log, seed=None, timeout=60):
    """``manage.py cssm_emulator`` (the stand-in for Cisco's cloud) on 127.0.0.1:``port`` with its
    state in ``state_dir`` (its TLS certificate: ``state_dir/tls/server.crt``), listening."""
    argv = [*MANAGE, "cssm_emulator", "--host", "127.0.0.1", "--port", port, "--state-dir", state_dir]
    if seed is not None:
        argv += ["--seed", seed]
    emulator = Process(argv, log=log, env=env, port=port, name="manage.py cssm_emulator").start()
    try:
        return emulator.wait_for_port(timeout)
    except ProcessError:
        emulator.stop(timeout=0)
        raise


def https_get(url, cert, timeout=5):
    """The status of a GET of ``url`` trusting only ``cert`` (no proxies); None when nothing answers.
    A certificate that does not verify raises: waiting would not help."""
    context = ssl.create_default_context(cafile=str(cert))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except ssl.SSLCertVerificationError:
        raise
    except OSError:
        return None


class Installation:
    """The product installed in ``root``: a private ONPREM_DATA_DIR (SQLite and the folder broker
    unless ``env`` says otherwise), the ``manage.py`` commands, and ``manage.py serve`` on
    ``127.0.0.1:port`` — the way `make run` runs it."""

    def __init__(self, root, *, port, **env):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.port = port
        self.env = server_env(
            self.data_dir,
            **{
                "ONPREM_PORT": str(port),
                "ONPREM_BIND": f"127.0.0.1:{port}",
                # The product listeners (core/listeners.py) only where a test asks for them: their
                # default ports are not claimed ones.
                "ONPREM_PRODUCT_HTTPS_BIND": "",
                "ONPREM_PRODUCT_HTTP_BIND": "",
                "ONPREM_WEB_WORKERS": "2",
                "ONPREM_CELERY_CONCURRENCY": "1",
                **env,
            },
        )
        self.url = f"https://localhost:{port}"
        self.cert = self.data_dir / "tls" / "server.crt"
        self.log = self.root / "serve.out"
        self.serve = None

    @property
    def proc(self):
        return self.serve.proc if self.serve else None

    def manage(self, *args, check=True, timeout=300):
        """``manage.py <args>`` in this installation's environment: the CompletedProcess (text)."""
        done = manage(*args, env=self.env, timeout=timeout)
        if check and done.returncode != 0:
            raise ProcessError(
                f"manage.py {' '.join(args[:2])} exited with {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def start(self, *args):
        """``manage.py serve <args>``; SIGTERM when this process dies, so serve stops its children."""
        if self.serve is not None:
            self.serve.stop(timeout=0)  # what is left of an earlier serve of this installation
        self.serve = Process(
            [*MANAGE, "serve", *args],
            log=self.log,
            env=self.env,
            port=self.port,
            name="manage.py serve",
            death_signal=signal.SIGTERM,
        ).start()
        return self.serve

    def printed(self):
        return self.serve.printed(tail=None) if self.serve else ""

    def answers(self, path="/healthz"):
        return self.cert.exists() and https_get(self.url + path, self.cert) == 200

    def wait_until_up(self, timeout=60, path="/healthz"):
        """Until GET ``path`` answers 200 over HTTPS with the installation's own certificate."""
        self.serve.wait_until(lambda: self.answers(path), timeout=timeout, what=f"answer 200 at {path}", interval=0.3)

    def stop(self, timeout=20):
        """Ask serve to stop (it stops gunicorn and Celery); kill what is left after ``timeout`` s."""
        if self.serve is not None:
            self.serve.stop(timeout)

    def cleanup(self):
        """Kill the whole serve tree at once (the test is over)."""
        self.stop(timeout=0)
