"""``/healthz`` (liveness) and ``/readyz`` (readiness) for load balancers and orchestrators.

``/healthz`` answers while the process can serve Python at all; it touches nothing. ``/readyz``
answers 200 only when this node can do real work: the database answers, its schema has every
migration of this release, and the cache and the Celery broker are reachable. Each check is
named in the JSON body so an operator sees which one failed. No login, no session, no secrets.
"""

import time

from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.db_unavailable import RETRY_AFTER_SECONDS

_migrations_checked = {"at": 0.0, "ok": False}
MIGRATIONS_RECHECK_SECONDS = 60


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _migrations():
    # Planning migrations reads the graph from disk: done at most once a minute per process.
    now = time.monotonic()
    if not _migrations_checked["ok"] or now - _migrations_checked["at"] > MIGRATIONS_RECHECK_SECONDS:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrations_checked.update(at=now, ok=not plan)
        if plan:
            raise RuntimeError(f"{len(plan)} migration(s) not applied")


def _cache():
    key = "onprem:readyz"
    cache.set(key, "1", timeout=30)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")


def _broker():
    from celery import current_app as app  # the project's app (onprem/celery.py)

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = [("database", _database), ("migrations", _migrations), ("cache", _cache), ("broker", _broker)]


@never_cache
@require_GET
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS:
        try:
            check()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported by name
            ready = False
            # The kind of failure, never its text: that may name hosts or credentials.
            results[name] = f"failed: {type(error).__name__}"
        else:
            results[name] = "ok"
    response = JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503
    )
    if not ready:
        # Not ready is "retry later" (a restart or a database failover): say when, as every 503 does.
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
