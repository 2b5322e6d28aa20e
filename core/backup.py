"""Backup and restore (guide appendix A1): the database, keys and certificates in one archive.

``backup`` writes a ``.tar.gz`` (a manifest with every member's checksum, the database as a
consistent online copy, the field encryption keys, the Django secret key, the TLS certificate
and key) and its ``.sha256``. ``restore`` checks everything before it touches anything, then
replaces the database and the files and flags every registered local account for a full
synchronization. The archive's members and every check: docs/backup-restore.md.
"""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

import core

from .env import write_private_file

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why, for the operator."""


@dataclass(frozen=True)
class Result:
    archive: Path
    manifest: dict


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _data_files():
    """``{archive name: path}`` of the files a restored server needs besides its database."""
    data_dir = Path(settings.DATA_DIR)
    candidates = {
        "files/field_keys": data_dir / "field_keys",
        "files/secret_key": data_dir / "secret_key",
        "files/tls/server.crt": Path(settings.TLS_CERT_FILE),
        "files/tls/server.key": Path(settings.TLS_KEY_FILE),
    }
    return {name: path for name, path in candidates.items() if path.is_file()}


def _file_targets():
    data_dir = Path(settings.DATA_DIR)
    return {
        "files/field_keys": data_dir / "field_keys",
        "files/secret_key": data_dir / "secret_key",
        "files/tls/server.crt": Path(settings.TLS_CERT_FILE),
        "files/tls/server.key": Path(settings.TLS_KEY_FILE),
    }


def applied_migrations(using="default"):
    recorder = MigrationRecorder(connections[using])
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def code_migrations():
    """Every migration this release ships (what a fully migrated database has applied)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.graph.nodes)


def _pg_env(db):
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    # A multi-host DATABASE_URL (a failover cluster): pg_restore must reach the primary.
    options = db.get("OPTIONS") or {}
    for option, variable in (("target_session_attrs", "PGTARGETSESSIONATTRS"), ("sslmode", "PGSSLMODE")):
        if options.get(option):
            env[variable] = str(options[option])
    return env


def _pg_args(db):
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    return args


def _dump_database(workdir):
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        target = workdir / SQLITE_MEMBER
        source = sqlite3.connect(str(db["NAME"]))
        try:
            copy = sqlite3.connect(str(target))
            with copy:
                source.backup(copy)
            copy.close()
        finally:
            source.close()
        return target
    if connection.vendor == "postgresql":
        if not shutil.which("pg_dump"):
            raise BackupError("pg_dump is not installed: install the PostgreSQL client (Debian: postgresql-client).")
        target = workdir / PG_MEMBER
        command = [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--file",
            str(target),
            *_pg_args(db),
            "--dbname",
            str(db["NAME"]),
        ]
        done = subprocess.run(command, env=_pg_env(db), capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        return target
    raise BackupError(f"Backups of a {connection.vendor} database are not supported.")


def create_backup(destination):
    """Write a backup archive into the directory ``destination`` (or to that file name)."""
    destination = Path(destination)
    stamp = datetime.now(timezone.utc)
    if destination.is_dir() or not destination.suffix:
        destination.mkdir(parents=True, exist_ok=True)
        archive = destination / f"onprem-backup-{stamp:%Y%m%d-%H%M%S}.tar.gz"
    else:
        archive = destination
        archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="onprem-backup-") as tmp:
        workdir = Path(tmp)
        database = _dump_database(workdir)
        members = {database.name: database, **_data_files()}
        manifest = {
            "format": FORMAT,
            "product_version": core.__version__,
            "created_at": stamp.isoformat(),
            "database_vendor": connection.vendor,
            "migrations": applied_migrations(),
            "files": {name: _sha256_file(path) for name, path in members.items()},
        }
        if os.environ.get("ONPREM_FIELD_KEYS"):
            manifest["note"] = "Field keys come from ONPREM_FIELD_KEYS and are not in this backup: keep them safe."
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(stamp.timestamp())
            tar.addfile(info, io.BytesIO(body))
            for name, path in members.items():
                tar.add(str(path), arcname=name, recursive=False)
    write_private_file(Path(f"{archive}.sha256"), f"{_sha256_file(archive)}  {archive.name}\n")
    return Result(archive, manifest)


def _read_checked(archive):
    """``(manifest, {name: bytes path in a temp dir})`` after every check passes."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"No backup file at {archive}.")
    checksum_file = Path(f"{archive}.sha256")
    if checksum_file.is_file():
        expected = checksum_file.read_text().split()[0] if checksum_file.read_text().strip() else ""
        if expected != _sha256_file(archive):
            raise BackupError("The backup file does not match its .sha256 checksum: it is damaged or was changed.")
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"This is not a backup archive ({error}).") from error
    with tar:
        try:
            names = tar.getnames()
            if MANIFEST not in names:
                raise BackupError("This archive has no manifest: it is not a backup of this product.")
            manifest = json.loads(tar.extractfile(MANIFEST).read())
        except (tarfile.TarError, OSError, EOFError, ValueError) as error:
            raise BackupError(f"The backup archive is damaged ({error}).") from error
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError("This backup's format is not one this release can read.")
        files = manifest.get("files")
        allowed = {SQLITE_MEMBER, PG_MEMBER, *_file_targets()}
        if not isinstance(files, dict) or not set(files) <= allowed or set(names) - {MANIFEST} != set(files):
            raise BackupError("The backup's contents do not match its manifest.")
        workdir = Path(tempfile.mkdtemp(prefix="onprem-restore-"))
        extracted = {}
        for name, digest in files.items():
            member = tar.getmember(name)
            if not member.isfile():
                raise BackupError(f"The backup member {name} is not a regular file.")
            target = workdir / name.replace("/", "__")
            with tar.extractfile(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            if _sha256_file(target) != digest:
                shutil.rmtree(workdir, ignore_errors=True)
                raise BackupError(f"The backup member {name} does not match its checksum: the backup is corrupted.")
            extracted[name] = target
    return manifest, extracted, workdir


def check_compatible(manifest):
    """Refuse a backup of another database vendor or another schema version."""
    if manifest.get("database_vendor") != connection.vendor:
        raise BackupError(
            f"This backup is of a {manifest.get('database_vendor')} database; this server uses {connection.vendor}."
        )
    theirs, ours = set(manifest.get("migrations") or ()), set(code_migrations())
    if theirs != ours:
        missing, extra = sorted(ours - theirs), sorted(theirs - ours)
        detail = []
        if missing:
            detail.append(f"{len(missing)} migration(s) of this release are not in it (first: {missing[0]})")
        if extra:
            detail.append(f"it has {len(extra)} migration(s) this release does not know (first: {extra[0]})")
        raise BackupError(
            f"This backup was made with another schema version (product {manifest.get('product_version')}): "
            + "; ".join(detail)
            + ". Restore it with the release that made it, then upgrade."
        )


def restore_backup(archive):
    """Replace the database and the data files with the backup's. Returns the manifest."""
    manifest, extracted, workdir = _read_checked(archive)
    try:
        check_compatible(manifest)
        db = settings.DATABASES["default"]
        connections.close_all()
        if SQLITE_MEMBER in extracted:
            source = sqlite3.connect(str(extracted[SQLITE_MEMBER]))
            try:
                target = sqlite3.connect(str(db["NAME"]))
                with target:
                    source.backup(target)
                target.close()
            finally:
                source.close()
        else:
            if not shutil.which("pg_restore"):
                raise BackupError(
                    "pg_restore is not installed: install the PostgreSQL client (Debian: postgresql-client)."
                )
            command = [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                *_pg_args(db),
                "--dbname",
                str(db["NAME"]),
                str(extracted[PG_MEMBER]),
            ]
            done = subprocess.run(command, env=_pg_env(db), capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupError(f"pg_restore failed, the database is unchanged: {done.stderr.strip()}")
        for name, target in _file_targets().items():
            if name in extracted:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_private_file(target, extracted[name].read_text())
        from . import crypto

        crypto.reset_keys()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _after_restore(manifest)
    return manifest


def flag_accounts_for_full_sync():
    """Mark every registered local account for a full synchronization; returns how many.

    A restored database is older than what CSSM knows: product instances registered, licenses
    transferred and synchronizations applied after the backup are missing here. A standard
    (delta) request would be computed from the restored acknowledgements and leave CSSM and this
    server disagreeing, so the next synchronization of each account sends everything.
    """
    from django.apps import apps

    if not apps.is_installed("sync"):
        return 0
    account_sync = apps.get_model("sync", "AccountSync")
    return account_sync.objects.filter(registered_at__isnull=False).update(full_sync_required=True)


def _after_restore(manifest):
    from .events import record
    from .system_settings import forget_cached

    forget_cached()
    flagged = flag_accounts_for_full_sync()
    record("system.restored", created_at=manifest.get("created_at", "?"), flagged=flagged)
    manifest["accounts_flagged_for_full_sync"] = flagged
