"""Backup and restore, for real: manage.py processes on file databases (SQLite, and Postgres
when the run has one), a round trip into an empty database compared table by table, and every
refusal leaving the target untouched."""

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]

# Every table, every row, in a stable order: the fingerprint two databases must share.
TABLE_DUMP = """
import hashlib, json
from django.db import connection
out = {}
with connection.cursor() as cursor:
    for table in sorted(connection.introspection.table_names()):
        cursor.execute(f'SELECT * FROM "{table}"')
        rows = sorted(json.dumps([str(v) for v in row]) for row in cursor.fetchall())
        out[table] = [len(rows), hashlib.sha256("\\n".join(rows).encode()).hexdigest()]
print(json.dumps(out))
"""


SAVE_SECRET = """
from core.system_settings import update
update("email", actor=None, smtp_host="mail.example.com", smtp_port=25, smtp_helo_domain="example.com",
       smtp_from="ssm@example.com", smtp_auth_required=True, smtp_username="mailer", smtp_starttls=False,
       smtp_password="kept-secret-42")
"""
READ_SECRET = """
from core import crypto
from core.models import SystemSettings
print(crypto.decrypt(SystemSettings.objects.get().smtp_password))
"""


# One registered local account (as registration leaves it) and one still waiting for its
# Authorization: after a restore only the registered one must be flagged for a full sync.
SYNC_STATES = """
from django.utils import timezone
from licensing.models import LocalAccount
from licensing.services.accounts import create_account
from sync.models import AccountSync
registered = LocalAccount.objects.order_by("pk").first()
waiting = create_account(actor=None, name="Waiting Co", cisco_smart_account="w.example", cisco_virtual_account="W")
AccountSync.objects.create(account=registered, uid="uid-registered", registered_at=timezone.now(),
                           id_certificate_pem="(certificate)", last_response_id="response-41",
                           last_sync_result="success")
AccountSync.objects.create(account=waiting, uid="uid-waiting", pending_request_id="request-1")
"""
READ_SYNC_STATES = """
import json
from sync.models import AccountSync
print(json.dumps({s["uid"]: {k: str(v) for k, v in s.items()} for s in AccountSync.objects.values()}))
"""

LAST_EVENT = """
from core.models import Event
event = Event.objects.filter(event_type="system.restored").get()
print(event.severity, event.message)
"""


class Site:
    def __init__(self, data_dir, database_url=None):
        self.data_dir = data_dir
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ONPREM_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
        }
        self.env.update(DJANGO_SETTINGS_MODULE="onprem.settings", ONPREM_DATA_DIR=str(data_dir))
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def manage(self, *args, check=True):
        done = subprocess.run([*MANAGE, *args], cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def sync_states(self):
        return json.loads(self.manage("shell", "-v", "0", "-c", READ_SYNC_STATES).stdout.strip().splitlines()[-1])

    def tables(self):
        return json.loads(self.manage("shell", "-v", "0", "-c", TABLE_DUMP).stdout.strip().splitlines()[-1])


def _postgres_url():
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture
def postgres_databases():
    """Two fresh, empty Postgres databases beside the configured one (dropped afterwards)."""
    url = _postgres_url()
    if not url:
        pytest.skip("needs PostgreSQL (DATABASE_URL): the SQLite round trip runs everywhere")
    import psycopg2

    parsed = urlparse(url)
    names = [f"onprem_backup_{uuid.uuid4().hex[:8]}_{side}" for side in ("src", "dst")]
    admin = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'CREATE DATABASE "{name}"')
    yield [parsed._replace(path=f"/{name}").geturl() for name in names]
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _fill(site):
    site.manage("migrate", "--noinput", "-v", "0")
    site.manage("seed_demo", "--product-instances", "40", "--with-users")
    site.manage("ensure_tls")
    # A secret encrypted at rest: the restored server must still read it with the restored keys.
    site.manage("shell", "-v", "0", "-c", SAVE_SECRET)
    site.manage("shell", "-v", "0", "-c", SYNC_STATES)


def _round_trip(tmp_path, source_url=None, target_url=None):
    source = Site(tmp_path / "source", source_url)
    _fill(source)
    before = source.tables()
    printed = source.manage("backup", str(tmp_path / "backups")).stdout
    archive = Path(printed.splitlines()[0])
    assert archive.is_file() and Path(f"{archive}.sha256").is_file()
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    target = Site(tmp_path / "target", target_url)
    target.manage("migrate", "--noinput", "-v", "0")  # an empty, migrated database
    assert target.tables() != before
    out = target.manage("restore", str(archive), "--yes").stdout
    assert "Restored the backup" in out
    assert "1 registered local account(s) will send a full synchronization" in out
    after = target.tables()
    changed = ("onprem_event", "sync_accountsync")
    # Identical, table by table (every table of the database, row by row), except the two the
    # restore itself writes: its event, and the full-sync flag of the registered accounts.
    assert {t: v for t, v in after.items() if t not in changed} == {t: v for t, v in before.items() if t not in changed}
    assert len(after) == len(before) > 50
    assert after["onprem_event"][0] == before["onprem_event"][0] + 1
    assert after["sync_accountsync"][0] == before["sync_accountsync"][0] == 2
    states_before, states_after = source.sync_states(), target.sync_states()
    assert states_before["uid-registered"]["full_sync_required"] == "False"
    expected = {**states_before, "uid-registered": {**states_before["uid-registered"], "full_sync_required": "True"}}
    assert states_after == expected  # the waiting account is not flagged: it has nothing to sync yet
    restored_event = target.manage("shell", "-v", "0", "-c", LAST_EVENT).stdout.strip().splitlines()[-1]
    assert "1 registered local account(s) will send a full synchronization next" in restored_event
    for name in ("field_keys", "secret_key", "tls/server.crt", "tls/server.key"):
        assert (target.data_dir / name).read_bytes() == (source.data_dir / name).read_bytes(), name
    assert oct((target.data_dir / "field_keys").stat().st_mode & 0o777) == "0o600"
    # The restored keys decrypt the restored secrets: the server works on with them.
    assert target.manage("shell", "-v", "0", "-c", READ_SECRET).stdout.strip().endswith("kept-secret-42")
    return archive, target


@pytest.mark.live
@pytest.mark.postgres
def test_postgres_round_trip_into_an_empty_database(tmp_path, postgres_databases):
    _round_trip(tmp_path, *postgres_databases)


def _rewrite(archive, change_manifest=None, corrupt=None, destination=None):
    """A copy of ``archive`` with its manifest changed or one member's bytes altered."""
    destination = destination or archive.with_name("changed.tar.gz")
    with tarfile.open(archive) as source, tarfile.open(destination, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "manifest.json" and change_manifest:
                manifest = json.loads(data)
                change_manifest(manifest)
                data = json.dumps(manifest).encode()
            if member.name == corrupt:
                data = data[:-10] + b"0123456789"
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return destination


@pytest.mark.live
def test_sqlite_round_trip_then_every_refusal_changes_nothing(tmp_path):
    archive, target = _round_trip(tmp_path)
    before = target.tables()

    def refused(path, *extra):
        done = target.manage("restore", str(path), *extra, check=False)
        assert done.returncode != 0
        return done.stderr

    assert "--yes" in refused(archive)
    other_schema = _rewrite(archive, lambda m: m["migrations"].append("licensing.9999_from_the_future"))
    assert "another schema version" in refused(other_schema, "--yes")
    older = _rewrite(
        archive, lambda m: m["migrations"].remove(m["migrations"][-1]), destination=tmp_path / "older.tar.gz"
    )
    assert "another schema version" in refused(older, "--yes")
    corrupted = _rewrite(archive, corrupt="database.sqlite3", destination=tmp_path / "corrupt.tar.gz")
    assert "does not match its checksum" in refused(corrupted, "--yes")
    vendor = _rewrite(archive, lambda m: m.update(database_vendor="postgresql"), destination=tmp_path / "v.tar.gz")
    assert "this server uses sqlite" in refused(vendor, "--yes")
    not_tar = tmp_path / "notes.tar.gz"
    not_tar.write_text("hello")
    assert "not a backup archive" in refused(not_tar, "--yes")
    tampered = tmp_path / "tampered.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    Path(f"{tampered}.sha256").write_text(Path(f"{archive}.sha256").read_text())
    assert "does not match its .sha256 checksum" in refused(tampered, "--yes")
    assert target.tables() == before


@pytest.mark.django_db
def test_a_flagged_account_sends_a_full_synchronization_next_and_the_flag_clears(tmp_path, sysadmin):
    # What the flag set by restore does, on a really registered account (the CSSM emulator's service in
    # this process, the manual file exchange): the next request is full although none was asked for.
    from core.backup import flag_accounts_for_full_sync
    from sync.documents.rejections import MANUAL
    from sync.models import AccountSync, SyncRecord
    from sync.services.synchronization import apply_response, create_sync_request
    from tests.reliability.inprocess_cssm import registered_with_emulator, sync_response_for

    account, emulator = registered_with_emulator(tmp_path, sysadmin)
    for _ in range(2):  # the first after registration (full: CSSM asks for it), then a standard one
        response, name = sync_response_for(account, emulator, sysadmin)
        apply_response(account, response, actor=sysadmin, name=name, mode=MANUAL)
    assert list(
        SyncRecord.objects.filter(account=account, kind=SyncRecord.Kind.SYNC)
        .order_by("pk")
        .values_list("sync_type", "result")
    ) == [("full", "success"), ("standard", "success")]
    assert not AccountSync.objects.get(account=account).full_sync_required

    assert flag_accounts_for_full_sync() == 1
    _document, text, record = create_sync_request(account, actor=sysadmin)  # full=False: not asked for
    assert record.sync_type == "full"
    answer, file_name = emulator.process(text.encode(), name="sync-request.yml", mode=MANUAL, require_credentials=False)
    apply_response(account, answer.encode(), actor=sysadmin, name=file_name, mode=MANUAL)
    assert not AccountSync.objects.get(account=account).full_sync_required  # CSSM had everything: cleared
    _document, _text, record = create_sync_request(account, actor=sysadmin)
    assert record.sync_type == "standard"
