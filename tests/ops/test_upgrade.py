"""The upgrade of docs/operations.md, for real: an installation made and filled by an OLDER release
(its code taken from this repository's history with ``git archive``, run in separate processes on a
SQLite data directory) is then handled by this release:

* before ``migrate``, this release's ``/readyz`` answers 503 naming the migrations, and ``serve``
  refuses to start, saying to run ``migrate``;
* ``migrate --noinput`` brings the schema up to date and keeps every row of every table the older
  release had (row counts and contents of the old columns compared table by table);
* then ``/readyz`` is 200.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The release that introduced registration and synchronization with CSSM: several migrations older
# than this one (product-instance indexes, registration limits, and whatever came after).
OLD_RELEASE = "0734048"

READYZ = """
import json
from django.test import RequestFactory
from core.health_views import readyz
response = readyz(RequestFactory().get("/readyz"))
print("READYZ", response.status_code, response.content.decode())
"""
# Every table of the database, and for each the rows' values of the columns it has NOW, so that the
# old release's tables can be compared on their old columns after the upgrade added columns.
TABLES = """
import hashlib, json
from django.db import connection
out = {}
with connection.cursor() as cursor:
    for table in sorted(connection.introspection.table_names()):
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
        out[table] = columns
print("TABLES " + json.dumps(out))
"""
ROWS = """
import json
from django.db import connection
wanted = json.loads(%r)
out = {}
with connection.cursor() as cursor:
    for table, columns in wanted.items():
        names = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(f'SELECT {names} FROM "{table}"')
        out[table] = sorted(json.dumps([str(v) for v in row]) for row in cursor.fetchall())
print("ROWS " + json.dumps(out))
"""
TASK_NAMES = """
import json
from django_celery_beat.models import PeriodicTask
print("TASKS " + json.dumps(sorted(PeriodicTask.objects.values_list("name", flat=True))))
"""
# Tables the upgrade itself writes to, by design: the migration history, the content types and
# permissions of new models, and the beat schedule that post_migrate keeps up to date.
GROW = {"django_migrations", "django_content_type", "auth_permission"}
SCHEDULE = {
    "django_celery_beat_periodictask",
    "django_celery_beat_periodictasks",
    "django_celery_beat_intervalschedule",
}


def _env(data_dir):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ONPREM_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    }
    env.update(DJANGO_SETTINGS_MODULE="onprem.settings", ONPREM_DATA_DIR=str(data_dir), PYTHONDONTWRITEBYTECODE="1")
    return env


def _manage(code_dir, env, *args, check=True):
    done = subprocess.run(
        [sys.executable, str(code_dir / "manage.py"), *args],
        cwd=code_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, f"{code_dir.name}: manage.py {' '.join(args[:2])}:\n{done.stdout}\n{done.stderr}"
    return done


def _marked(output, marker):
    line = next(line for line in output.splitlines() if line.startswith(marker + " "))
    return line[len(marker) + 1 :]


@pytest.fixture
def old_release(tmp_path):
    target = tmp_path / "old-release"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_RELEASE], capture_output=True, timeout=120)
    if archive.returncode != 0:
        pytest.skip(f"release {OLD_RELEASE} is not in this checkout's history: {archive.stderr.decode()[:200]}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=120)
    return target


@pytest.mark.live
def test_upgrade_from_an_older_release_keeps_every_row(old_release, tmp_path):
    env = _env(tmp_path / "data")
    # The older release installs and fills its database (demo data, tokens, product instances, users).
    _manage(old_release, env, "migrate", "--noinput", "-v", "0")
    _manage(old_release, env, "seed_demo", "--product-instances", "60", "--with-users")
    old_tables = json.loads(_marked(_manage(old_release, env, "shell", "-c", TABLES).stdout, "TABLES"))
    before = json.loads(_marked(_manage(old_release, env, "shell", "-c", ROWS % json.dumps(old_tables)).stdout, "ROWS"))
    assert len(before["licensing_productinstance"]) == 60
    old_task_names = json.loads(_marked(_manage(old_release, env, "shell", "-c", TASK_NAMES).stdout, "TASKS"))

    # This release on the old schema: not ready, and serve will not start.
    ready = _marked(_manage(ROOT, env, "shell", "-c", READYZ).stdout, "READYZ")
    assert ready.startswith("503 ") and json.loads(ready[4:])["checks"]["migrations"] == "failed: RuntimeError"
    refused = _manage(ROOT, env, "serve", check=False)
    assert refused.returncode != 0 and "unapplied migration" in refused.stderr and "migrate" in refused.stderr

    # The upgrade.
    _manage(ROOT, env, "migrate", "--noinput", "-v", "0")
    new_tables = json.loads(_marked(_manage(ROOT, env, "shell", "-c", TABLES).stdout, "TABLES"))
    assert set(old_tables) <= set(new_tables), set(old_tables) - set(new_tables)
    assert len(new_tables) > len(old_tables) or new_tables != old_tables  # the schema did change
    after = json.loads(_marked(_manage(ROOT, env, "shell", "-c", ROWS % json.dumps(old_tables)).stdout, "ROWS"))
    changed = {table for table in before if before[table] != after[table]}
    # Every data row of the older release is there, unchanged; only the upgrade's own tables changed.
    assert changed <= GROW | SCHEDULE, sorted(changed - GROW - SCHEDULE)
    for table in GROW:
        assert set(before[table]) <= set(after[table]), table  # grown, nothing lost
    assert len(after["django_migrations"]) > len(before["django_migrations"])
    task_names = json.loads(_marked(_manage(ROOT, env, "shell", "-c", TASK_NAMES).stdout, "TASKS"))
    assert set(old_task_names) <= set(task_names)  # every periodic task is still scheduled
    assert sum(len(rows) for rows in before.values()) > 500  # a filled database, not an empty one
    ready = _marked(_manage(ROOT, env, "shell", "-c", READYZ).stdout, "READYZ")
    assert ready.startswith("200 "), ready
