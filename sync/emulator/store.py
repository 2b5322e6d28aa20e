"""The emulated CSSM's own state: a SQLite file in its state directory (never the project's database).

The emulator stands in for a different system (Cisco's cloud), so it keeps its smart
accounts, users, entitlements and registered On-Prems apart from the On-Prem's data, in
``<state dir>/cssm.sqlite3``, with the stdlib ``sqlite3`` only.
"""

import datetime
import hashlib
import hmac
import json
import secrets
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path

import yaml

PASSWORD_ITERATIONS = 100_000
LICENSE_TYPES = ("perpetual", "term", "demo", "subscription")
SOURCES = ("pak", "ea", "order", "device_migration", "other")
DEMO_DAYS = 60  # "Demo Licenses must be renewed after 60 days"

_RUM_REPORTS_TABLE = """CREATE TABLE IF NOT EXISTS rum_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, ref TEXT NOT NULL, report TEXT NOT NULL,
    received_at TEXT NOT NULL, UNIQUE (uid, ref))"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS smart_accounts (
    name TEXT PRIMARY KEY, export_allowed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS virtual_accounts (
    smart_account TEXT NOT NULL REFERENCES smart_accounts(name), name TEXT NOT NULL,
    PRIMARY KEY (smart_account, name));
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, salt TEXT NOT NULL, password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_smart_accounts (
    username TEXT NOT NULL REFERENCES users(username), smart_account TEXT NOT NULL,
    PRIMARY KEY (username, smart_account));
CREATE TABLE IF NOT EXISTS licenses (
    tag TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    product_family TEXT NOT NULL DEFAULT '', export_restricted INTEGER NOT NULL DEFAULT 0,
    billing_type TEXT NOT NULL DEFAULT 'prepaid', parents TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS entitlements (
    line_id TEXT PRIMARY KEY, smart_account TEXT NOT NULL, virtual_account TEXT NOT NULL,
    tag TEXT NOT NULL REFERENCES licenses(tag), license_type TEXT NOT NULL, quantity INTEGER NOT NULL,
    start_date TEXT, end_date TEXT, subscription_id TEXT NOT NULL DEFAULT '', sku TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'order');
CREATE TABLE IF NOT EXISTS upgrades (
    upgrade_id TEXT PRIMARY KEY, smart_account TEXT NOT NULL, virtual_account TEXT NOT NULL,
    tag TEXT NOT NULL REFERENCES licenses(tag), replaces TEXT NOT NULL REFERENCES licenses(tag),
    license_type TEXT NOT NULL, quantity INTEGER NOT NULL, start_date TEXT, end_date TEXT,
    subscription_id TEXT NOT NULL DEFAULT '', sku TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT 'order',
    status TEXT NOT NULL DEFAULT 'pending');
CREATE TABLE IF NOT EXISTS onprems (
    uid TEXT PRIMARY KEY, name TEXT NOT NULL, smart_account TEXT NOT NULL, virtual_account TEXT NOT NULL,
    id_key_sha256 TEXT NOT NULL, registered_at TEXT NOT NULL, last_response_id TEXT,
    last_sync_at TEXT);
CREATE TABLE IF NOT EXISTS product_instances (
    uid TEXT NOT NULL, identifier TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (uid, identifier));
CREATE TABLE IF NOT EXISTS license_usage (
    uid TEXT NOT NULL, tag TEXT NOT NULL, virtual_account TEXT NOT NULL, in_use INTEGER NOT NULL,
    PRIMARY KEY (uid, tag, virtual_account));
CREATE TABLE IF NOT EXISTS conversions (
    device_identifier TEXT NOT NULL, tag TEXT NOT NULL, uid TEXT NOT NULL, converted_at TEXT NOT NULL,
    PRIMARY KEY (device_identifier, tag));
CREATE TABLE IF NOT EXISTS export_decisions (
    request_id TEXT PRIMARY KEY, uid TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rum_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, ref TEXT NOT NULL, report TEXT NOT NULL,
    received_at TEXT NOT NULL, UNIQUE (uid, ref));
CREATE TABLE IF NOT EXISTS agreements (
    version INTEGER PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, digest TEXT NOT NULL,
    published_on TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agreement_acceptances (
    uid TEXT NOT NULL, version INTEGER NOT NULL, accepted_by TEXT NOT NULL, accepted_at TEXT NOT NULL,
    PRIMARY KEY (uid, version));
CREATE TABLE IF NOT EXISTS notices (
    uid TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (uid, code));
CREATE TABLE IF NOT EXISTS reservations (
    uid TEXT NOT NULL, product_instance TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reservations_uid ON reservations (uid, product_instance);
CREATE TABLE IF NOT EXISTS reservation_returns (
    uid TEXT NOT NULL, product_instance TEXT NOT NULL, requested_at TEXT NOT NULL, sent_in TEXT,
    PRIMARY KEY (uid, product_instance));
CREATE TABLE IF NOT EXISTS third_party_keys (
    key_id TEXT PRIMARY KEY, smart_account TEXT NOT NULL, virtual_account TEXT NOT NULL,
    tag TEXT NOT NULL REFERENCES licenses(tag), service TEXT NOT NULL, secret TEXT NOT NULL,
    expires_on TEXT, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS portable_licenses (
    smart_account TEXT NOT NULL, tag TEXT NOT NULL REFERENCES licenses(tag),
    target TEXT NOT NULL REFERENCES licenses(tag), PRIMARY KEY (smart_account, tag, target));
CREATE TABLE IF NOT EXISTS ports (
    port_id TEXT NOT NULL, uid TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (uid, port_id));
CREATE TABLE IF NOT EXISTS answered (
    request_id TEXT PRIMARY KEY, uid TEXT NOT NULL, kind TEXT NOT NULL, response TEXT NOT NULL,
    answered_at TEXT NOT NULL);
"""


class SeedError(ValueError):
    """The seed file is not valid (the message names the entry)."""


def hash_password(password, salt=None):
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PASSWORD_ITERATIONS).hex()
    return salt, digest


class Store:
    def __init__(self, state_dir):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / "cssm.sqlite3"
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(onprems)")}
            if "status" not in columns:  # a state directory from before On-Prems could be removed
                db.execute("ALTER TABLE onprems ADD COLUMN status TEXT NOT NULL DEFAULT 'registered'")
                db.commit()
            columns = {row[1] for row in db.execute("PRAGMA table_info(rum_reports)")}
            if "ref" not in columns:  # a state directory from before reports were acknowledged by ref
                db.executescript(
                    "ALTER TABLE rum_reports RENAME TO rum_reports_old;" + _RUM_REPORTS_TABLE + ";"
                    "INSERT INTO rum_reports (uid, ref, report, received_at)"
                    " SELECT uid, 'legacy-' || id, report, received_at FROM rum_reports_old;"
                    "DROP TABLE rum_reports_old;"
                )
        finally:
            db.close()

    @contextmanager
    def connect(self):
        """One write transaction (BEGIN IMMEDIATE: its reads and writes see no other writer, even
        the ``--process-file`` command running beside the server); committed on success, rolled
        back on any error."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def is_empty(self):
        with self.connect() as db:
            return db.execute("SELECT COUNT(*) FROM smart_accounts").fetchone()[0] == 0

    # ---- users ---------------------------------------------------------------------------
    def check_credentials(self, db, username, password):
        """Whether the CCO-style credentials are right (constant-time; same cost for unknown users)."""
        row = db.execute("SELECT salt, password_hash FROM users WHERE username = ?", (username or "",)).fetchone()
        salt, expected = (row["salt"], row["password_hash"]) if row else ("0" * 32, "0" * 64)
        _, digest = hash_password(password or "", salt)
        return hmac.compare_digest(digest, expected) and row is not None

    def user_can_use(self, db, username, smart_account):
        return (
            db.execute(
                "SELECT 1 FROM user_smart_accounts WHERE username = ? AND smart_account = ?", (username, smart_account)
            ).fetchone()
            is not None
        )

    # ---- seed ----------------------------------------------------------------------------
    def apply_seed(self, path):
        """Load (upsert) a seed YAML file: licenses, smart accounts with their entitlements, users."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SeedError(f"cannot read seed file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise SeedError("the seed file must be a YAML mapping")
        with self.connect() as db:
            for entry in _items(data, "licenses"):
                self._seed_license(db, entry)
            for entry in _items(data, "smart_accounts"):
                self._seed_smart_account(db, entry)
            for entry in _items(data, "users"):
                self._seed_user(db, entry)

    def _seed_license(self, db, entry):
        tag, name = _text(entry, "tag"), _text(entry, "name")
        parents = entry.get("parents") or []
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise SeedError(f"license {tag}: parents must be a list of tags")
        billing = entry.get("billing_type", "prepaid")
        if billing not in ("prepaid", "usage"):
            raise SeedError(f"license {tag}: billing_type must be prepaid or usage")
        db.execute(
            "INSERT INTO licenses (tag, name, description, product_family, export_restricted, billing_type, parents)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(tag) DO UPDATE SET name=excluded.name,"
            " description=excluded.description, product_family=excluded.product_family,"
            " export_restricted=excluded.export_restricted, billing_type=excluded.billing_type,"
            " parents=excluded.parents",
            (
                tag,
                name,
                str(entry.get("description", "")),
                str(entry.get("product_family", "")),
                int(bool(entry.get("export_restricted", False))),
                billing,
                json.dumps(parents),
            ),
        )

    def _seed_smart_account(self, db, entry):
        name = _text(entry, "name")
        db.execute(
            "INSERT INTO smart_accounts (name, export_allowed) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
            " SET export_allowed=excluded.export_allowed",
            (name, int(bool(entry.get("export_allowed")))),
        )
        for va in _items(entry, "virtual_accounts"):
            va_name = _text(va, "name")
            self.ensure_virtual_account(db, name, va_name)
            for index, line in enumerate(_items(va, "entitlements")):
                self._seed_entitlement(db, name, va_name, index, line)
            for index, key in enumerate(_items(va, "third_party_keys")):
                tag, service = _text(key, "tag"), _text(key, "service")
                # A stable key id, so re-applying the seed updates the key instead of adding one.
                key_id = str(
                    key.get("key_id")
                    or uuid.uuid5(uuid.NAMESPACE_URL, f"cssm-emulator-tpl:{name}/{va_name}/{index}/{tag}/{service}")
                )
                try:
                    self._put_third_party_key(
                        db, name, va_name, tag, service, key.get("key"), key.get("expires"), key_id
                    )
                except ValueError as exc:
                    raise SeedError(f"{name}/{va_name}: third party key {tag}: {exc}") from None

    def _seed_entitlement(self, db, smart_account, va_name, index, line):
        tag = _text(line, "tag")
        if not db.execute("SELECT 1 FROM licenses WHERE tag = ?", (tag,)).fetchone():
            raise SeedError(f"{smart_account}/{va_name}: entitlement of unknown license {tag}")
        license_type = line.get("type", "term")
        if license_type not in LICENSE_TYPES:
            raise SeedError(f"{smart_account}/{va_name}/{tag}: type must be one of {', '.join(LICENSE_TYPES)}")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise SeedError(f"{smart_account}/{va_name}/{tag}: quantity must be a positive integer")
        start, end = _date(line.get("start")), _date(line.get("end"))
        if license_type == "perpetual":
            end = None
        elif license_type == "demo" and end is None:
            start = start or datetime.date.today()
            end = start + datetime.timedelta(days=DEMO_DAYS)
        elif end is None:
            raise SeedError(f"{smart_account}/{va_name}/{tag}: a {license_type} line needs an end date")
        source = line.get("source", "order")
        if source not in SOURCES:
            raise SeedError(f"{smart_account}/{va_name}/{tag}: source must be one of {', '.join(SOURCES)}")
        # A stable line id, so re-applying the seed updates the line instead of adding one.
        line_id = str(
            line.get("line_id")
            or uuid.uuid5(uuid.NAMESPACE_URL, f"cssm-emulator:{smart_account}/{va_name}/{index}/{tag}")
        )
        db.execute(
            "INSERT INTO entitlements (line_id, smart_account, virtual_account, tag, license_type, quantity,"
            " start_date, end_date, subscription_id, sku, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(line_id) DO UPDATE SET tag=excluded.tag, license_type=excluded.license_type,"
            " quantity=excluded.quantity, start_date=excluded.start_date, end_date=excluded.end_date,"
            " subscription_id=excluded.subscription_id, sku=excluded.sku, source=excluded.source",
            (
                line_id,
                smart_account,
                va_name,
                tag,
                license_type,
                quantity,
                start.isoformat() if start else None,
                end.isoformat() if end else None,
                str(line.get("subscription_id", "")),
                str(line.get("sku", "")),
                source,
            ),
        )

    def _seed_user(self, db, entry):
        username, password = _text(entry, "username"), _text(entry, "password")
        salt, digest = hash_password(password)
        db.execute(
            "INSERT INTO users (username, salt, password_hash) VALUES (?, ?, ?) ON CONFLICT(username)"
            " DO UPDATE SET salt=excluded.salt, password_hash=excluded.password_hash",
            (username, salt, digest),
        )
        for smart_account in entry.get("smart_accounts") or []:
            if not db.execute("SELECT 1 FROM smart_accounts WHERE name = ?", (smart_account,)).fetchone():
                raise SeedError(f"user {username}: unknown smart account {smart_account}")
            db.execute(
                "INSERT OR IGNORE INTO user_smart_accounts (username, smart_account) VALUES (?, ?)",
                (username, smart_account),
            )

    # ---- accounts ------------------------------------------------------------------------
    @staticmethod
    def ensure_virtual_account(db, smart_account, name):
        db.execute("INSERT OR IGNORE INTO virtual_accounts (smart_account, name) VALUES (?, ?)", (smart_account, name))

    @staticmethod
    def smart_account(db, name):
        return db.execute("SELECT * FROM smart_accounts WHERE name = ?", (name,)).fetchone()

    @staticmethod
    def onprem(db, uid):
        return db.execute("SELECT * FROM onprems WHERE uid = ?", (uid,)).fetchone()

    def rename_onprem(self, uid, name):
        """What a CSSM user renaming the SSM On-Prem does (the next response carries the new name)."""
        with self.connect() as db:
            if db.execute("UPDATE onprems SET name = ? WHERE uid = ?", (name, uid)).rowcount != 1:
                raise KeyError(uid)

    def remove_onprem(self, uid):
        """ "Remove" on CSSM's SSM On-Prems pane (a later re-registration may reuse the uid)."""
        with self.connect() as db:
            if db.execute("DELETE FROM onprems WHERE uid = ?", (uid,)).rowcount != 1:
                raise KeyError(uid)
            db.execute("DELETE FROM product_instances WHERE uid = ?", (uid,))
            db.execute("DELETE FROM license_usage WHERE uid = ?", (uid,))

    def unregister_onprem(self, uid):
        """What CSSM does to an On-Prem that did not synchronize within 90 days: it is removed with
        its product instances, and its next synchronization is answered ``onprem_status: removed``
        (it keeps its registered key, so that answer is signed for it alone)."""
        with self.connect() as db:
            if db.execute("UPDATE onprems SET status = 'removed' WHERE uid = ?", (uid,)).rowcount != 1:
                raise KeyError(uid)
            db.execute("DELETE FROM product_instances WHERE uid = ?", (uid,))
            db.execute("DELETE FROM license_usage WHERE uid = ?", (uid,))

    # ---- third-party keys (TPL) -----------------------------------------------------------
    @staticmethod
    def _put_third_party_key(db, smart_account, virtual_account, tag, service, secret, expires_on, key_id):
        if not db.execute("SELECT 1 FROM licenses WHERE tag = ?", (tag,)).fetchone():
            raise ValueError(f"unknown license {tag}")
        if not service or len(service) > 255:
            raise ValueError("the service must be a name of 1 to 255 characters")
        secret = secret if secret is not None else secrets.token_urlsafe(32)
        if not isinstance(secret, str) or not 1 <= len(secret) <= 8192:
            raise ValueError("the key must be a string of 1 to 8192 characters")
        expires = _date(expires_on)
        db.execute(
            "INSERT INTO third_party_keys (key_id, smart_account, virtual_account, tag, service, secret, expires_on,"
            " revoked) VALUES (?,?,?,?,?,?,?,0) ON CONFLICT(key_id) DO UPDATE SET tag=excluded.tag,"
            " service=excluded.service, secret=excluded.secret, expires_on=excluded.expires_on, revoked=0",
            (key_id, smart_account, virtual_account, tag, service, secret, expires.isoformat() if expires else None),
        )
        return key_id

    def grant_third_party_key(self, uid, tag, service, *, secret=None, expires_on=None, key_id=None):
        """CSSM grants the Cisco virtual account of the On-Prem ``uid`` a third-party key for the
        license ``tag`` (a random key unless given); its next responses carry it. Returns the key id."""
        with self.connect() as db:
            onprem = self.onprem(db, uid)
            if onprem is None:
                raise KeyError(uid)
            return self._put_third_party_key(
                db,
                onprem["smart_account"],
                onprem["virtual_account"],
                tag,
                service,
                secret,
                expires_on,
                key_id or str(uuid.uuid4()),
            )

    def revoke_third_party_key(self, key_id):
        """CSSM withdraws a key: the next responses leave it out (the On-Prem deletes it)."""
        with self.connect() as db:
            if db.execute("UPDATE third_party_keys SET revoked = 1 WHERE key_id = ?", (key_id,)).rowcount != 1:
                raise KeyError(key_id)

    @staticmethod
    def third_party_keys(db, smart_account, virtual_account):
        """The keys of a Cisco virtual account for a response: None when it never had any (the
        field is then left out), else the complete list of those not withdrawn."""
        rows = db.execute(
            "SELECT * FROM third_party_keys WHERE smart_account = ? AND virtual_account = ? ORDER BY tag, key_id",
            (smart_account, virtual_account),
        ).fetchall()
        if not rows:
            return None
        return [
            {
                "key_id": row["key_id"],
                "tag": row["tag"],
                "service": row["service"],
                "key": row["secret"],
                "expires_on": row["expires_on"],
            }
            for row in rows
            if not row["revoked"]
        ]

    # ---- license portability ------------------------------------------------------------------
    def mark_portable(self, uid, tag, targets):
        """CSSM makes the licenses ``tag`` of the On-Prem ``uid``'s Smart Account portable to each
        of ``targets`` (an empty list: not portable any more); its next responses list them."""
        targets = [t for t in targets if t]
        with self.connect() as db:
            onprem = self.onprem(db, uid)
            if onprem is None:
                raise KeyError(uid)
            for known in (tag, *targets):
                if not db.execute("SELECT 1 FROM licenses WHERE tag = ?", (known,)).fetchone():
                    raise ValueError(f"Unknown license {known}.")
            if tag in targets:
                raise ValueError("A license is not ported to itself.")
            db.execute(
                "DELETE FROM portable_licenses WHERE smart_account = ? AND tag = ?", (onprem["smart_account"], tag)
            )
            db.executemany(
                "INSERT INTO portable_licenses (smart_account, tag, target) VALUES (?,?,?)",
                [(onprem["smart_account"], tag, target) for target in targets],
            )

    @staticmethod
    def portable_licenses(db, smart_account):
        """The response's ``portable_licenses``: the complete set of the Smart Account (may be empty)."""
        rows = db.execute(
            "SELECT tag, target FROM portable_licenses WHERE smart_account = ? ORDER BY tag, target", (smart_account,)
        ).fetchall()
        out: dict[str, list] = {}
        for row in rows:
            out.setdefault(row["tag"], []).append(row["target"])
        return [{"tag": tag, "targets": targets} for tag, targets in out.items()]

    def grant_upgrade(self, uid, tag, replaces, quantity, *, upgrade_id=None, today=None):
        """What buying an upgrade on CSSM does: ``quantity`` perpetual licenses of ``tag``, pending
        until the On-Prem names as many ``replaces`` licenses to be replaced (its next responses
        list it in ``upgrades``). Returns the upgrade id."""
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError("The quantity must be a whole number of at least 1.")
        with self.connect() as db:
            onprem = self.onprem(db, uid)
            if onprem is None:
                raise KeyError(uid)
            for known in (tag, replaces):
                if not db.execute("SELECT 1 FROM licenses WHERE tag = ?", (known,)).fetchone():
                    raise ValueError(f"Unknown license {known}.")
            if tag == replaces:
                raise ValueError("An upgrade replaces another license.")
            upgrade_id = upgrade_id or f"UPG-{uuid.uuid4().hex[:12].upper()}"
            start = (today or datetime.date.today()).isoformat()
            db.execute(
                "INSERT INTO upgrades (upgrade_id, smart_account, virtual_account, tag, replaces, license_type,"
                " quantity, start_date, end_date, subscription_id, sku, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    upgrade_id,
                    onprem["smart_account"],
                    onprem["virtual_account"],
                    tag,
                    replaces,
                    "perpetual",
                    quantity,
                    start,
                    None,
                    "",
                    upgrade_id,
                    "order",
                ),
            )
        return upgrade_id

    def publish_agreement(self, version, text, *, title="Cisco Smart Software Licensing Agreement", today=None):
        """A new version of the Smart Licensing Agreement: every On-Prem must accept it."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("the agreement version must be a positive integer")
        if not text.strip():
            raise ValueError("the agreement text must not be empty")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        published_on = (today or datetime.date.today()).isoformat()
        with self.connect() as db:
            db.execute(
                "INSERT INTO agreements (version, title, text, digest, published_on) VALUES (?,?,?,?,?)"
                " ON CONFLICT(version) DO UPDATE SET title=excluded.title, text=excluded.text,"
                " digest=excluded.digest, published_on=excluded.published_on",
                (version, title, text, digest, published_on),
            )
        return digest

    @staticmethod
    def current_agreement(db):
        return db.execute("SELECT * FROM agreements ORDER BY version DESC LIMIT 1").fetchone()

    def set_notice(self, uid, code, text):
        """A notice for one On-Prem (``text`` None withdraws it), carried by its next response."""
        with self.connect() as db:
            if self.onprem(db, uid) is None:
                raise KeyError(uid)
            if text is None:
                db.execute("DELETE FROM notices WHERE uid = ? AND code = ?", (uid, code))
            else:
                db.execute(
                    "INSERT INTO notices (uid, code, text) VALUES (?,?,?)"
                    " ON CONFLICT(uid, code) DO UPDATE SET text=excluded.text",
                    (uid, code, text),
                )

    def return_reservations(self, uid, product_instance, now=None):
        """What CSSM does when a product instance with reserved licenses connects to another Smart
        Account: its reserved licenses are returned. The On-Prem's next synchronization answers
        ``returned_reservations`` for it, again until the On-Prem applied a response that carried it.
        KeyError: no such On-Prem; ValueError: the On-Prem reported nothing reserved for it."""
        with self.connect() as db:
            if self.onprem(db, uid) is None:
                raise KeyError(uid)
            held = db.execute(
                "SELECT 1 FROM reservations WHERE uid = ? AND product_instance = ?", (uid, product_instance)
            ).fetchone()
            if held is None:
                raise ValueError(f"The SSM On-Prem {uid} reported no reserved licenses for {product_instance}.")
            db.execute(
                "INSERT OR IGNORE INTO reservation_returns (uid, product_instance, requested_at) VALUES (?,?,?)",
                (uid, product_instance, (now or datetime.datetime.now(datetime.timezone.utc)).isoformat()),
            )

    @staticmethod
    def reservations(db, uid):
        """The reservations the On-Prem reported in its last synchronization."""
        return [
            json.loads(row["data"])
            for row in db.execute("SELECT data FROM reservations WHERE uid = ? ORDER BY rowid", (uid,))
        ]

    @staticmethod
    def notices(db, uid):
        return [
            {"code": row["code"], "text": row["text"]}
            for row in db.execute("SELECT code, text FROM notices WHERE uid = ? ORDER BY code", (uid,))
        ]

    def summary(self):
        with self.connect() as db:
            return {
                "smart_accounts": [
                    dict(r)
                    for r in db.execute(
                        "SELECT s.name, s.export_allowed, (SELECT COUNT(*) FROM virtual_accounts v"
                        " WHERE v.smart_account = s.name) AS virtual_accounts FROM smart_accounts s ORDER BY s.name"
                    )
                ],
                "onprems": [
                    dict(r)
                    for r in db.execute(
                        "SELECT o.uid, o.name, o.smart_account, o.virtual_account, o.registered_at, o.last_sync_at,"
                        " (SELECT COUNT(*) FROM product_instances p WHERE p.uid = o.uid) AS product_instances"
                        " FROM onprems o ORDER BY o.name"
                    )
                ],
            }


def _items(data, key):
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SeedError(f"{key} must be a list of mappings")
    return value


def _text(entry, key):
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SeedError(f"missing or empty {key!r} in {entry!r}"[:300])
    return value.strip()


def _date(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise SeedError(f"not a date (YYYY-MM-DD): {value!r}") from None
