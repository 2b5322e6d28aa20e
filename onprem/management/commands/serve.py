"""Run the whole server in the foreground: the web servers, the Celery worker and Celery beat.

``make run`` ends with this command. It refuses to start while migrations are unapplied or while
a listener cannot be opened (``core.listeners``: the management listener and the product
listeners), makes sure the TLS certificate exists (``core.tls``), starts gunicorn (a second one
for the plain-HTTP product listener), ``celery worker`` and ``celery beat`` as children in its
own process group, prints the URLs and every listener once they all answer, then watches the
children: a stop signal, or a child dying on its own, stops them all; if the command itself is
killed, each child gets SIGTERM from the kernel (``core/child_processes.py``), so no orphan keeps
the port.
The children, their logs and the exit codes: docs/running.md, "What ``serve`` runs"; its
environment variables: docs/running.md, "Configuration".
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from admin_widgets.ha.hosts import record_this_host
from core import listeners
from core.child_processes import descendants, die_with_parent
from core.env import env_int
from core.tls import TLSError, ensure_tls_certificate
from core.tls_tickets import TicketKeyError, ensure_ticket_keys, tickets_enabled

# gunicorn's default access line plus the response's X-Request-ID (core/observability.py).
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms rid=%({x-request-id}o)s'
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.25


@dataclass
class Child:
    name: str  # "web server", "Celery worker", "Celery beat"
    argv: list
    log_file: Path
    proc: object = field(default=None, repr=False)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def bind_addresses():
    """ONPREM_BIND: the management listener, one address or several separated by commas."""
    return [
        listener.bind
        for listener in listeners.configured(management_port=settings.ONPREM_PORT)
        if listener.role == listeners.MANAGEMENT
    ]


def probe_address(bind):
    """Where to knock to see whether the web server answers: (host, port), or None for a unix socket."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") if host else "127.0.0.1"
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(port)


def web_answers(address, scheme="https", path="/login/", timeout=2.0):
    """True once a request to ``address`` gets any HTTP response back."""
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # only "is it up?": the certificate is checked by clients
        connection = http.client.HTTPSConnection(*address, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": _url_host()})
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _url_host():
    host = settings.ONPREM_HOST
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{settings.ONPREM_PORT}"


def listener_url(listener):
    """The URL a client on this host would use for ``listener``: ONPREM_HOST and its port."""
    host = settings.ONPREM_HOST
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = listener.port
    default = listeners.DEFAULT_PORTS[listener.scheme]
    return f"{listener.scheme}://{host}" + ("" if port in (None, default) else f":{port}") + "/"


def base_url():
    return f"https://{_url_host()}/"


def certificate_fingerprint(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def certificate_key(path):
    """ "ECDSA P-256", "RSA 2048": the key of the certificate in ``path``."""
    from cryptography import x509

    from core.tls import describe_key

    return describe_key(x509.load_pem_x509_certificate(Path(path).read_bytes()).public_key())


def gunicorn_has_setting(name):
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == name for setting in KNOWN_SETTINGS)


OWN_GUNICORN_CONFIG = "python:onprem.gunicorn_conf"


def operator_gunicorn_config():
    """The gunicorn configuration file ``GUNICORN_CMD_ARGS`` names (an operator's own), or None.

    gunicorn lets a ``--config`` on its command line win over one in that variable without a word,
    so ``serve`` gives its own only when the operator gave none; theirs can keep the TLS context
    per worker with ``from onprem.gunicorn_conf import ssl_context``.
    """
    import shlex

    from gunicorn.config import Config

    try:
        return Config().parser().parse_args(shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))).config
    except (ValueError, SystemExit):  # unreadable: gunicorn itself will say so
        return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Command(BaseCommand):
    help = (
        "Serve https://ONPREM_HOST:ONPREM_PORT/ and the product listeners with gunicorn, a Celery worker "
        "and Celery beat (Ctrl-C stops)."
    )
    # The command checks migrations itself and refuses to start, instead of only warning.
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--no-worker", action="store_true", help="do not start the Celery worker")
        parser.add_argument("--no-beat", action="store_true", help="do not start Celery beat")

    # --- preparation ---------------------------------------------------------------------
    def check_migrations(self):
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as error:
            raise CommandError(
                f"Cannot read the database ({settings.DATABASES['default']['NAME']}): {error}"
            ) from error
        if plan:
            names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _backwards in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            raise CommandError(
                f"The database has {len(plan)} unapplied migration(s): {names}{more}.\n"
                "Run `python manage.py migrate` first (`make run` does it for you)."
            )

    def sync_periodic_tasks(self):
        """Apply the current ONPREM_HEARTBEAT_SECONDS and ONPREM_HA_EVENTS_SECONDS to beat's schedule
        (migrate set them once)."""
        from admin_widgets.signals import ensure_periodic_tasks as ensure_ha_task
        from core.signals import ensure_periodic_tasks

        ensure_periodic_tasks(sender=apps.get_app_config("onprem"))
        ensure_ha_task(sender=apps.get_app_config("onprem"))

    def gunicorn_logging_config(self, run_dir, log_dir):
        """gunicorn's error log to the console and to logs/gunicorn.log; the access log to a file."""
        config = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "generic": {
                    "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
                },
                "access": {"format": "%(message)s"},
            },
            # No secret in any line (core/log_scrub.py): the request line of a reset link or a
            # query string with a token, a traceback; the filter is on every handler below.
            "filters": {
                "scrub_secrets": {"()": "core.log_scrub.ScrubSecretsFilter"},
                "tls_alert_once": {"()": "core.tls_alerts.TlsAlertOnceFilter"},
            },
            "root": {"level": "INFO", "handlers": ["console"]},
            "handlers": {
                "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"},
                "error_console": {
                    "class": "logging.StreamHandler",
                    "formatter": "generic",
                    "stream": "ext://sys.stderr",
                },
                "error_file": {
                    "class": "logging.FileHandler",
                    "formatter": "generic",
                    "filename": str(log_dir / "gunicorn.log"),
                },
                "access_file": {
                    "class": "logging.FileHandler",
                    "formatter": "access",
                    "filename": str(log_dir / "access.log"),
                },
            },
            "loggers": {
                "gunicorn.error": {
                    "level": "INFO",
                    "handlers": ["error_console", "error_file"],
                    "propagate": False,
                    # A browser that has not accepted the certificate aborts every handshake.
                    "filters": ["tls_alert_once"],
                },
                "gunicorn.access": {"level": "INFO", "handlers": ["access_file"], "propagate": False},
            },
        }
        for handler in config["handlers"].values():
            handler["filters"] = ["scrub_secrets"]
        path = run_dir / "gunicorn-logging.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def build_children(self, tls, *, worker=True, beat=True, chosen=None):
        data_dir = Path(settings.DATA_DIR)
        log_dir = Path(settings.LOG_DIR)
        run_dir = data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        # Prometheus counters of the web workers and the Celery worker, added up at /metrics
        # (core/metrics.py). Emptied at each start: counters begin at zero with the processes.
        metrics_dir = run_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        python = sys.executable
        chosen = listeners.configured(management_port=settings.ONPREM_PORT) if chosen is None else chosen
        logging_config = str(self.gunicorn_logging_config(run_dir, log_dir))

        def gunicorn(name, binds, workers, tls_files):
            argv = [python, "-m", "gunicorn", "onprem.wsgi:application", "--name", name, "--workers", str(workers)]
            if tls_files is not None:
                argv += ["--certfile", str(tls_files.cert_file), "--keyfile", str(tls_files.key_file)]
            argv += [
                "--access-logfile",
                str(log_dir / "access.log"),
                "--access-logformat",
                ACCESS_LOG_FORMAT,
                "--error-logfile",
                str(log_dir / "gunicorn.log"),
                "--log-config-json",
                logging_config,
                # Let the workers finish their requests, but within serve's own stop timeout.
                "--graceful-timeout",
                str(STOP_TIMEOUT - 2),
            ]
            if operator_gunicorn_config() is None:
                argv[4:4] = ["--config", OWN_GUNICORN_CONFIG]  # one TLS context per worker (the module says why)
            if gunicorn_has_setting("control_socket_disable"):
                # gunicorn >= 25.1 opens a control socket at one per-user path ($HOME/.gunicorn/): two
                # instances would fight over it, and nothing here uses it.
                argv.append("--no-control-socket")
            for bind in binds:
                argv += ["--bind", bind]
            return argv

        workers = env_int("ONPREM_WEB_WORKERS", 2)
        # One gunicorn serves every HTTPS listener (management and product https, one certificate):
        # TLS is a setting of the whole gunicorn, so plain HTTP needs a gunicorn of its own.
        https_binds = [listener.bind for listener in chosen if listener.scheme == "https"]
        http_binds = [listener.bind for listener in chosen if listener.scheme == "http"]
        children = [Child("web server", gunicorn("onprem-web", https_binds, workers, tls), log_dir / "gunicorn.log")]
        if http_binds:
            http_workers = env_int("ONPREM_PRODUCT_HTTP_WORKERS", workers)
            children.append(
                Child(
                    "product HTTP server",
                    gunicorn("onprem-web-http", http_binds, http_workers, None),
                    log_dir / "gunicorn.log",
                )
            )

        if worker:
            argv = [
                python,
                "-m",
                "celery",
                "--quiet",
                "-A",
                "onprem",
                "worker",
                "--concurrency",
                str(env_int("ONPREM_CELERY_CONCURRENCY", 2)),
                "--loglevel",
                "INFO",
                "--logfile",
                str(log_dir / "worker.log"),
            ]
            if settings.CELERY_BROKER_URL.startswith("filesystem:"):
                # One worker per data dir: the cluster chatter (gossip, mingle, worker heartbeats)
                # has nobody to talk to, and on the folder broker it would leave message files
                # behind for the fan-out queues of workers that are gone.
                argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            children.append(Child("Celery worker", argv, log_dir / "worker.log"))

        if beat:
            pidfile = run_dir / "celerybeat.pid"
            self.clear_stale_pidfile(pidfile)
            children.append(
                Child(
                    "Celery beat",
                    [
                        python,
                        "-m",
                        "celery",
                        "--quiet",
                        "-A",
                        "onprem",
                        "beat",
                        "--scheduler",
                        "django_celery_beat.schedulers:DatabaseScheduler",
                        "--pidfile",
                        str(pidfile),
                        "--schedule",
                        str(run_dir / "celerybeat-schedule"),
                        "--loglevel",
                        "INFO",
                        "--logfile",
                        str(log_dir / "beat.log"),
                    ],
                    log_dir / "beat.log",
                )
            )
        return children

    def clear_stale_pidfile(self, pidfile):
        """Beat refuses to start over a pid file of a live process; after a crash the pid may have
        been reused by something else, so only a live ``celery beat`` keeps the file."""
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = None
        if cmdline is not None and b"celery" in b" ".join(cmdline) and b"beat" in cmdline:
            raise CommandError(
                f"Celery beat already runs for this data dir (pid {pid}, {pidfile}). "
                "Is another `manage.py serve` using the same ONPREM_DATA_DIR?"
            )
        if cmdline is None and _pid_alive(pid):
            return  # not Linux: let Celery decide
        pidfile.unlink(missing_ok=True)

    # --- running -------------------------------------------------------------------------
    def check_listeners(self):
        """The listeners to open: refuses to start (CommandError) when one of them cannot be opened,
        rather than run with a listener silently missing; the children get exactly these."""
        chosen = listeners.configured(management_port=settings.ONPREM_PORT)
        errors = listeners.problems(chosen)
        if not errors:
            errors = [error for error in map(listeners.bind_error, chosen) if error]
        if errors:
            raise CommandError(
                "Not started: " + " ".join(error[0].upper() + error[1:] for error in errors) + "\n"
                "Free the port, or set the listener's variable to another address (docs/running.md, "
                '"Listeners"); an empty ONPREM_PRODUCT_HTTPS_BIND or ONPREM_PRODUCT_HTTP_BIND turns that '
                "product listener off."
            )
        # The web servers' Django reads the same variables (settings.ONPREM_PRODUCT_PORTS): give
        # them what was checked here, defaults included.
        os.environ[listeners.MANAGEMENT_SETTING] = ",".join(
            listener.bind for listener in chosen if listener.role == listeners.MANAGEMENT
        )
        for scheme, name in listeners.PRODUCT_SETTINGS.items():
            os.environ[name] = ",".join(
                listener.bind for listener in chosen if listener.role == listeners.PRODUCT and listener.scheme == scheme
            )
        return chosen

    def handle(self, *args, no_worker=False, no_beat=False, **options):
        self.check_migrations()
        self.listeners = self.check_listeners()
        try:
            tls = ensure_tls_certificate()
            if tickets_enabled():
                ensure_ticket_keys()  # every web worker resumes sessions under these keys (core/tls_tickets.py)
        except (TLSError, TicketKeyError) as error:
            raise CommandError(str(error)) from error
        if tls.action == "generated":
            self.say(f"Made a self-signed TLS certificate for {settings.ONPREM_HOST}: {tls.cert_file} ({tls.reason}).")
        elif tls.action == "supplied" and tls.reason:
            self.say(f"Warning: the TLS certificate {tls.cert_file}: {tls.reason}.", self.style.WARNING)
        if not no_beat:
            self.sync_periodic_tasks()
        # This node's memory, disk and versions for the High Availability widget (each node its own).
        record_this_host()
        self.tls = tls
        children = self.build_children(tls, worker=not no_worker, beat=not no_beat, chosen=self.listeners)
        connections.close_all()

        self.stop_signal = None
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        died = None
        try:
            for child in children:
                if self.stop_signal:
                    break
                child.proc = subprocess.Popen(
                    child.argv,
                    cwd=str(settings.BASE_DIR),
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent(signal.SIGTERM),
                )
            died = self.watch(children)
        finally:
            self.stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        if died is not None:
            raise CommandError(
                f"The {died.name} (pid {died.pid}) exited unexpectedly with "
                f"{self.describe_exit(died.proc.returncode)}; "
                f"stopped the others. See {died.log_file} and the output above."
            )
        self.say("Stopped.")

    def _on_signal(self, signum, frame):
        if self.stop_signal is None:
            self.stop_signal = signum

    def watch(self, children):
        """Wait for a stop signal (return None) or for a child to die (return it)."""
        waiting = []  # (scheme, address, path) of each listener not yet seen answering
        for listener in self.listeners:
            address = probe_address(listener.bind)
            if address:
                path = "/login/" if listener.role == listeners.MANAGEMENT else "/SmartTransport"
                waiting.append((listener.scheme, address, path))
        announced = False
        while self.stop_signal is None:
            for child in children:
                if child.proc is not None and child.proc.poll() is not None:
                    # A Ctrl-C at the terminal reaches the children too: not a crash then.
                    time.sleep(POLL_INTERVAL)
                    return None if self.stop_signal else child
            if not announced:
                waiting = [probe for probe in waiting if not web_answers(probe[1], probe[0], probe[2])]
                if not waiting:
                    announced = True
                    self.announce()
                    continue
            time.sleep(POLL_INTERVAL)
        return None

    def announce(self):
        url = base_url()
        log_dir = Path(settings.LOG_DIR)
        self.say("")
        self.say(f"The license server is up at {url}", self.style.SUCCESS)
        self.say(f"  Licensing workspace:      {url}")
        self.say(f"  Administration workspace: {url}admin/")
        self.say(f"  TLS certificate:          {self.tls.cert_file} ({certificate_key(self.tls.cert_file)})")
        self.say(f"  SHA-256 fingerprint:      {certificate_fingerprint(self.tls.cert_file)}")
        self.say("  Listeners:")
        for listener in self.listeners:
            if listener.role == listeners.MANAGEMENT:
                serves = "workspaces, API and device endpoints"
            else:
                serves = f"device endpoints only, e.g. {listener_url(listener)}SmartTransport"
            self.say(f"    {listener.role:<10} {listener.scheme:<5} {listener.bind:<22} {serves}")
        for scheme, name in listeners.PRODUCT_SETTINGS.items():
            if not any(item.role == listeners.PRODUCT and item.scheme == scheme for item in self.listeners):
                self.say(f"    {listeners.PRODUCT:<10} {scheme:<5} {'off':<22} ({name} is empty)")
        self.say(f"  Logs in {log_dir}/; Ctrl-C stops it.")
        self.say("")

    def stop(self, children):
        running = [child for child in children if child.alive()]
        if not running:
            return
        self.say(f"Stopping {', '.join(child.name for child in running)} ...")
        for child in running:
            try:
                child.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            remaining = deadline - time.monotonic()
            try:
                child.proc.wait(timeout=max(remaining, 0.01))
            except subprocess.TimeoutExpired:
                pass
        for child in running:
            if child.alive():
                self.say(f"The {child.name} did not stop within {STOP_TIMEOUT} s: killing it.", self.style.WARNING)
                for pid in descendants(child.pid) + [child.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                child.proc.wait()

    @staticmethod
    def describe_exit(returncode):
        if returncode is not None and returncode < 0:
            try:
                return f"signal {signal.Signals(-returncode).name}"
            except ValueError:
                return f"signal {-returncode}"
        return f"status {returncode}"

    def say(self, message, style=None):
        self.stdout.write(style(message) if style else message)
        self.stdout.flush()
