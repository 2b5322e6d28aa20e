"""The server under test, in its production shape: ``manage.py serve`` (gunicorn workers over
HTTPS, a Celery worker) on PostgreSQL and Redis — or, for the smoke test, on SQLite and the
folder broker — in a private ONPREM_DATA_DIR under /tmp, on a port of 18900-18999.

Only what this module created is removed or stopped: the ``onprem_bench`` database (or another
``onprem_bench_*`` one; dropped and recreated at start, dropped at the end), Redis database 15
(flushed before and after), the data dir, and the ``serve`` process group it started.
"""

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from core.child_processes import descendants

from .harness import Installation, ProcessError, run
from .ports import claim_port

PORTS = range(18900, 19000)
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/15"


class BenchError(ProcessError):
    pass


def _pg(sql):
    import psycopg2

    connection = psycopg2.connect(PG_ADMIN_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def _flush_redis():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


class BenchServer(Installation):
    def __init__(
        self, *, database="postgres", web_workers=4, celery_concurrency=1, db_name="onprem_bench", redis=True, log=print
    ):
        if database not in ("postgres", "sqlite"):
            raise ValueError("database is postgres or sqlite")
        if not re.fullmatch(r"onprem_bench\w*", db_name):
            raise ValueError("the bench only creates and drops databases named onprem_bench...")
        self.database = database
        self.redis = redis and database == "postgres"
        self.db_name = db_name
        self.pg_url = PG_URL.format(name=db_name)
        self.log = log
        self.web_workers = web_workers
        env = {"ONPREM_WEB_WORKERS": str(web_workers), "ONPREM_CELERY_CONCURRENCY": str(celery_concurrency)}
        if database == "postgres":
            env["DATABASE_URL"] = self.pg_url
        if self.redis:
            env["REDIS_URL"] = REDIS_URL
        # Locked for this process (bench/ports.py): the server binds it only after the database is
        # prepared and seeded, and meanwhile no other test or bench process may take it.
        # The devices' listener (core/listeners.py): a product https listener on a port of its own.
        self.product_port = claim_port(PORTS, reuse=False)
        env["ONPREM_PRODUCT_HTTPS_BIND"] = f"127.0.0.1:{self.product_port}"
        super().__init__(tempfile.mkdtemp(prefix="onprem-bench-"), port=claim_port(PORTS, reuse=False), **env)
        self.product_url = f"https://localhost:{self.product_port}"

    # -- setup ------------------------------------------------------------------------------

    def prepare(self):
        """A fresh database: drop and recreate ``onprem_bench`` (and flush Redis db 15), migrate."""
        if self.database == "postgres":
            _pg(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
            _pg(f"CREATE DATABASE {self.db_name}")
        if self.redis:
            _flush_redis()
        self.manage("migrate", "--noinput", timeout=900)

    def manage(self, *args, timeout=1800):
        """What the installation's manage prints; BenchError when it fails."""
        try:
            return super().manage(*args, timeout=timeout).stdout
        except ProcessError as error:
            raise BenchError(str(error)) from None

    def python(self, *args, timeout=1800):
        done = run([sys.executable, *args], env=self.env, timeout=timeout)
        if done.returncode != 0:
            raise BenchError(
                f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def seed(self, product_instances):
        out = self.python("-m", "bench.seed", "--product-instances", str(product_instances))
        line = next(line for line in out.splitlines() if line.startswith("BENCH_SEED "))
        if self.database == "postgres":
            # A settled database: the planner's statistics are current (autovacuum would get there
            # on its own after a while; bulk-created rows would otherwise be planned as a handful).
            self.analyze()
        return json.loads(line[len("BENCH_SEED ") :])

    def analyze(self):
        import psycopg2

        connection = psycopg2.connect(self.pg_url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        finally:
            connection.close()

    def api_credentials(self, account):
        """Turn the API Console on and make a Client Credentials grant (Account Admin of ``account``)."""
        self.manage("api_console", "enable")
        out = self.manage("api_client", "create", "--name", "bench", "--account", account, "--role", "account_admin")
        data = json.loads(out[out.index("{") :])
        return data["client_id"], data["client_secret"]

    # -- the serve process group -------------------------------------------------------------

    def start(self, timeout=90):
        super().start("--no-beat")
        try:
            self.wait_until_up(timeout=timeout)
        except ProcessError as error:
            raise BenchError(str(error)) from None

    def printed(self):
        return self.serve.printed() if self.serve else ""

    def web_pids(self):
        """The gunicorn worker processes (children of the gunicorn master), for profiling."""
        pids = []
        for pid in descendants(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"gunicorn" in b" ".join(cmdline):
                pids.append(pid)
        return pids

    def access_times(self, rid_prefix):
        """Server-side milliseconds of the requests whose X-Request-ID starts with ``rid_prefix``
        (gunicorn's access log: ``... <ms>ms rid=<id>``)."""
        path = self.data_dir / "logs" / "access.log"
        pattern = re.compile(r" (\d+)ms rid=" + re.escape(rid_prefix))
        if not path.exists():
            return []
        return [int(m.group(1)) for m in map(pattern.search, path.read_text().splitlines()) if m]

    def cleanup(self, keep=False):
        self.stop(timeout=30)
        if self.database == "postgres":
            try:
                if self.redis:
                    _flush_redis()
                _pg(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001 - cleanup reports, never hides the run's result
                self.log(f"cleanup: {exc}")
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def describe(self):
        parts = urlsplit(self.url)
        return {
            "url": self.url,
            "port": parts.port,
            "product_url": self.product_url,
            "database": self.database,
            "web_workers": self.web_workers,
            "data_dir": str(self.data_dir),
        }
