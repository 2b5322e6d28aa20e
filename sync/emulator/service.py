"""What the emulated CSSM does with a document: registration -> Authorization, sync -> SyncResponse.

Shared by the HTTPS endpoints (online mode), the file page and the ``--process-file`` command
(file mode). Every answer is stored under the request's id, so a request sent twice (a lost
reply, a retried upload) gets the same response again; the On-Prem's own "already processed"
check then decides. Decisions (docs/cssm-emulator.md):

* export-control requests are authorized when the smart account allows export (seed option
  ``export_allowed``) and the license is known, else denied;
* Device Led Conversions succeed for known licenses (a perpetual ``device_migration`` line is
  added to the On-Prem's Cisco virtual account), are ``already-converted`` for a device and
  license seen before, else ``migrate-failed``;
* a full synchronization is demanded when the request's watermark (``last_response_id``) is
  not the last response the emulator sent that On-Prem (it "lost track");
* an On-Prem that did not synchronize within 90 days (or was unregistered by command) is
  removed: its synchronization is answered ``onprem_status: removed`` and nothing else is done;
* the latest Smart Licensing Agreement (``--publish-agreement``) goes with every response,
  ``accepted`` once the On-Prem sent an acceptance of that version and text; notices
  (``--note``) go with every response until withdrawn;
* the reservations a request lists replace the ones the On-Prem reported before; a return of one
  product instance's reserved licenses (``--return-reservations``) goes with the next response,
  and again with later ones until a request's watermark names a response that carried it (the
  On-Prem applied it) or the instance has nothing reserved any more;
* third-party keys granted to the On-Prem's Cisco virtual account (seed or
  ``--grant-third-party-key``) go with every response, the complete set, once it ever had one.
"""

import datetime
import json
import threading

from core import pki
from sync.documents.build import build
from sync.documents.document import REQUEST_KINDS, format_timestamp, new_id, parse_timestamp, utcnow
from sync.documents.parse import parse
from sync.documents.rejections import (
    NETWORK,
    AlreadyProcessed,
    Corrupted,
    InvalidIdCertificate,
    Rejection,
    WrongAccount,
)
from sync.documents.serialize import filename, serialize
from sync.documents.signing import sign
from sync.documents.verify import certificate_uid, verify

from .ca import CertificateAuthority
from .store import Store

# One writer at a time: SQLite serializes anyway; this keeps a sync's reads and writes together.
_LOCK = threading.Lock()
# "failed to synchronize within 90 days and was removed from Smart Software Manager"
REMOVED_AFTER = datetime.timedelta(days=90)


class EmulatorError(Exception):
    """A refusal: HTTP ``status``, a stable ``code`` and the text shown to the user."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Emulator:
    def __init__(self, state_dir):
        self.store = Store(state_dir)
        self.ca = CertificateAuthority(self.store.state_dir / "ca").ensure()

    # ---- entry point ---------------------------------------------------------------------
    def registration_status(self, request_id, uid):
        """``{"status": "ready", "generated_at": ...}`` once the RegistrationRequest ``request_id``
        of the On-Prem ``uid`` has been answered with an Authorization (its file generated), else
        ``{"status": "pending"}``. Both must match: the request id alone names no On-Prem."""
        with self.store.connect() as db:
            row = db.execute(
                "SELECT answered_at FROM answered WHERE request_id = ? AND uid = ? AND kind = 'Authorization'",
                (request_id, uid),
            ).fetchone()
        if row is None:
            return {"status": "pending"}
        return {"status": "ready", "generated_at": row["answered_at"]}

    def process(
        self,
        data,
        *,
        name=None,
        mode=NETWORK,
        credentials=None,
        require_credentials=True,
        expected_kinds=REQUEST_KINDS,
        now=None,
    ):
        """Answer a request document (YAML bytes); return the response's YAML text and file name."""
        now = now or utcnow()
        try:
            document = parse(data, name=name, mode=mode, expected_kinds=expected_kinds)
        except Rejection as exc:
            raise EmulatorError(400, exc.code, exc.message) from None
        with _LOCK, self.store.connect() as db:
            answered = db.execute(
                "SELECT uid, kind, response FROM answered WHERE request_id = ?", (document.document_id,)
            ).fetchone()
            if answered is not None and answered["uid"] == document.onprem.uid:
                # Still verified: only the holder of the key can get its old answer again.
                self._verify(db, document, mode, now)
                response = parse(answered["response"], mode=mode)
                return answered["response"], filename(response)
            if answered is not None:
                raise EmulatorError(409, AlreadyProcessed.code, AlreadyProcessed(mode=mode).message)
            if document.kind == "RegistrationRequest":
                self._check_credentials(db, credentials, document.onprem.smart_account, require_credentials)
                response = self._register(db, document, mode, now)
            else:
                if credentials is not None:
                    self._check_credentials(db, credentials, document.onprem.smart_account, True)
                response = self._sync(db, document, mode, now)
            text = serialize(response)
            db.execute(
                "INSERT INTO answered (request_id, uid, kind, response, answered_at) VALUES (?,?,?,?,?)",
                (document.document_id, document.onprem.uid, response.kind, text, format_timestamp(now)),
            )
        return text, filename(response)

    def _check_credentials(self, db, credentials, smart_account, required):
        if credentials is None:
            if required:
                raise EmulatorError(
                    401, "credentials_required", "Cisco credentials (CCO ID and password) are required."
                )
            return
        username, password = credentials
        if not self.store.check_credentials(db, username, password):
            raise EmulatorError(401, "bad_credentials", "Invalid username or password.")
        if not self.store.user_can_use(db, username, smart_account):
            raise EmulatorError(
                403,
                "smart_account_denied",
                f"User \u201c{username}\u201d has no access to Smart Account \u201c{smart_account}\u201d.",
            )

    def _verify(self, db, document, mode, now):
        try:
            if document.kind == "RegistrationRequest":
                return verify(document, trusted_roots=[self.ca.root_cert], mode=mode, now=now)
            onprem = self.store.onprem(db, document.onprem.uid)
            if onprem is None or onprem["smart_account"] != document.onprem.smart_account:
                raise WrongAccount("this On-Prem is not registered here", mode=mode)
            verified = verify(
                document,
                trusted_roots=[self.ca.root_cert],
                mode=mode,
                now=now,
                expected_uid=onprem["uid"],
                intermediates=[self.ca.issuing_cert],
            )
        except Rejection as exc:
            raise EmulatorError(400, exc.code, exc.message) from None
        signer_key = pki.public_key_fingerprint(verified.signer_certificate.public_key())
        if signer_key != onprem["id_key_sha256"] or certificate_uid(verified.signer_certificate) != onprem["uid"]:
            raise EmulatorError(400, InvalidIdCertificate.code, InvalidIdCertificate(mode=mode).message)
        return verified

    # ---- registration --------------------------------------------------------------------
    def _register(self, db, document, mode, now):
        self._verify(db, document, mode, now)
        header, body = document.onprem, document.body
        account = self.store.smart_account(db, header.smart_account)
        if account is None:
            raise EmulatorError(
                404, "unknown_smart_account", f"Smart Account \u201c{header.smart_account}\u201d does not exist."
            )
        existing = self.store.onprem(db, header.uid)
        if existing is not None and existing["status"] != "removed":
            if not body["reregistration"]:
                raise EmulatorError(
                    409, "already_registered", f"The SSM On-Prem \u201c{existing['name']}\u201d is already registered."
                )
            if db.execute("SELECT 1 FROM product_instances WHERE uid = ? LIMIT 1", (header.uid,)).fetchone():
                # Guide: "If the SSM On-Prem in Cisco Smart Software Manager has products registered
                # to it, you will need to open a Support Case with Cisco TAC ..."
                raise EmulatorError(
                    409,
                    "has_product_instances",
                    "The SSM On-Prem has products registered to it in Cisco Smart Software Manager; "
                    "they must be removed before re-registering.",
                )
        clash = db.execute(
            "SELECT uid FROM onprems WHERE smart_account = ? AND name = ? AND uid != ?",
            (header.smart_account, header.name, header.uid),
        ).fetchone()
        if clash is not None:
            raise EmulatorError(
                409,
                "name_taken",
                f"An SSM On-Prem named \u201c{header.name}\u201d already exists in this Smart Account.",
            )
        try:
            id_csr = pki.load_csr(body["id_csr"])
            signing_csr = pki.load_csr(body["signing_csr"])
        except pki.PkiError as exc:
            raise EmulatorError(400, Corrupted.code, str(exc)) from None
        # "If the Cisco Virtual Account does not exist, Cisco Smart Software Manager creates it."
        self.store.ensure_virtual_account(db, header.smart_account, header.virtual_account)
        id_cert = self.ca.issue_id_certificate(id_csr.public_key(), name=header.name, uid=header.uid, now=now)
        signing_cert = self.ca.issue_signing_certificate(
            signing_csr.public_key(), name=header.name, uid=header.uid, now=now
        )
        response_body = {
            "in_reply_to": document.document_id,
            "onprem_name": header.name,
            "registered_at": format_timestamp(now),
            "id_certificate": pki.certificate_pem(id_cert),
            "signing_certificate": pki.certificate_pem(signing_cert),
            "certificate_chain": self.ca.chain_pems(),
            "export_control_allowed": bool(account["export_allowed"]),
            "full_sync_required": True,
        }
        notices = self.store.notices(db, header.uid)
        if notices:
            response_body["notices"] = notices
        response = build("Authorization", header, response_body, now=now)
        db.execute(
            "INSERT INTO onprems (uid, name, smart_account, virtual_account, id_key_sha256, registered_at,"
            " last_response_id) VALUES (?,?,?,?,?,?,?) ON CONFLICT(uid) DO UPDATE SET name=excluded.name,"
            " smart_account=excluded.smart_account, virtual_account=excluded.virtual_account,"
            " id_key_sha256=excluded.id_key_sha256, registered_at=excluded.registered_at,"
            " last_response_id=excluded.last_response_id, status='registered', last_sync_at=NULL",
            (
                header.uid,
                header.name,
                header.smart_account,
                header.virtual_account,
                pki.public_key_fingerprint(id_csr.public_key()),
                format_timestamp(now),
                response.document_id,
            ),
        )
        return sign(response, self.ca.signer_key, self.ca.signer_pems())

    # ---- synchronization -----------------------------------------------------------------
    def _sync(self, db, document, mode, now):
        verified = self._verify(db, document, mode, now)
        onprem = self.store.onprem(db, document.onprem.uid)
        body, uid = document.body, onprem["uid"]
        last_seen = parse_timestamp(onprem["last_sync_at"] or onprem["registered_at"])
        if onprem["status"] != "removed" and now - last_seen > REMOVED_AFTER:
            db.execute("UPDATE onprems SET status = 'removed' WHERE uid = ?", (uid,))
            db.execute("DELETE FROM product_instances WHERE uid = ?", (uid,))
            db.execute("DELETE FROM license_usage WHERE uid = ?", (uid,))
            onprem = self.store.onprem(db, uid)
        if onprem["status"] == "removed":
            return self._removed_response(db, document, onprem, verified, now)
        self._record_acceptance(db, uid, body.get("agreement_acceptance"))
        lost_track = document.sync_type == "standard" and body["last_response_id"] != onprem["last_response_id"]
        self._apply_product_instances(db, uid, document.sync_type, body)
        db.execute("DELETE FROM license_usage WHERE uid = ?", (uid,))
        db.executemany(
            "INSERT OR REPLACE INTO license_usage (uid, tag, virtual_account, in_use) VALUES (?,?,?,?)",
            [(uid, u["tag"], u["virtual_account"], u["in_use"]) for u in body["license_usage"]],
        )
        # Each report is kept once per On-Prem (by its ref), whatever number of requests carried it,
        # and acknowledged by its ref in the response.
        db.executemany(
            "INSERT OR IGNORE INTO rum_reports (uid, ref, report, received_at) VALUES (?,?,?,?)",
            [(uid, r["ref"], json.dumps(r, sort_keys=True), format_timestamp(now)) for r in body["rum_reports"]],
        )
        returned = self._record_reservations(db, uid, body.get("reservations") or [], body["last_response_id"])
        for completion in body.get("upgrade_completions") or []:
            self._complete_upgrade(db, onprem, completion)
        port_results = [self._complete_port(db, uid, onprem, c) for c in body.get("port_completions") or []]
        account = self.store.smart_account(db, onprem["smart_account"])
        export_decisions = [self._decide_export(db, uid, account, r) for r in body["export_requests"]]
        dlc_decisions = [self._decide_dlc(db, onprem, r, now) for r in body["dlc_requests"]]
        renewed = self.ca.issue_id_certificate(
            verified.signer_certificate.public_key(), name=onprem["name"], uid=uid, now=now
        )
        count = db.execute("SELECT COUNT(*) FROM product_instances WHERE uid = ?", (uid,)).fetchone()[0]
        response_body = {
            "in_reply_to": document.document_id,
            "onprem_name": onprem["name"],
            "export_control_allowed": bool(account["export_allowed"]),
            "entitlements": self._entitlements(db, onprem["smart_account"], onprem["virtual_account"]),
            "id_certificate": pki.certificate_pem(renewed),
            "certificate_chain": self.ca.chain_pems(),
            "export_decisions": export_decisions,
            "dlc_decisions": dlc_decisions,
            "full_sync_required": lost_track,
            "product_instances_on_cssm": count,
            "rum_acknowledgements": [r["ref"] for r in body["rum_reports"]],
        }
        if returned:
            response_body["returned_reservations"] = [{"product_instance": pi} for pi in returned]
        keys = self.store.third_party_keys(db, onprem["smart_account"], onprem["virtual_account"])
        if keys is not None:
            response_body["third_party_keys"] = keys
        response_body["portable_licenses"] = self.store.portable_licenses(db, onprem["smart_account"])
        if port_results:
            response_body["port_results"] = port_results
        upgrades = self._upgrades(db, onprem["smart_account"], onprem["virtual_account"])
        if upgrades:
            response_body["upgrades"] = upgrades
        self._add_notices(db, uid, response_body)
        response = build("SyncResponse", document.onprem, response_body, sync_type=document.sync_type, now=now)
        db.executemany(
            "UPDATE reservation_returns SET sent_in = ? WHERE uid = ? AND product_instance = ?",
            [(response.document_id, uid, pi) for pi in returned],
        )
        db.execute(
            "UPDATE onprems SET last_response_id = ?, last_sync_at = ? WHERE uid = ?",
            (response.document_id, format_timestamp(now), uid),
        )
        return sign(response, self.ca.signer_key, self.ca.signer_pems())

    def _removed_response(self, db, document, onprem, verified, now):
        """The answer to a removed On-Prem: ``onprem_status: removed``, no licenses, nothing applied."""
        account = self.store.smart_account(db, onprem["smart_account"])
        renewed = self.ca.issue_id_certificate(
            verified.signer_certificate.public_key(), name=onprem["name"], uid=onprem["uid"], now=now
        )
        response_body = {
            "in_reply_to": document.document_id,
            "onprem_name": onprem["name"],
            "export_control_allowed": bool(account["export_allowed"]),
            "entitlements": [],
            "id_certificate": pki.certificate_pem(renewed),
            "certificate_chain": self.ca.chain_pems(),
            "export_decisions": [],
            "dlc_decisions": [],
            "full_sync_required": True,
            "product_instances_on_cssm": 0,
            "onprem_status": "removed",
        }
        response = build("SyncResponse", document.onprem, response_body, sync_type=document.sync_type, now=now)
        db.execute("UPDATE onprems SET last_response_id = ? WHERE uid = ?", (response.document_id, onprem["uid"]))
        return sign(response, self.ca.signer_key, self.ca.signer_pems())

    def _record_acceptance(self, db, uid, acceptance):
        """Keep an acceptance of a published version whose text is the one published (else ignored)."""
        if not acceptance:
            return
        published = db.execute("SELECT digest FROM agreements WHERE version = ?", (acceptance["version"],)).fetchone()
        if published is None or published["digest"] != acceptance["digest"]:
            return
        db.execute(
            "INSERT OR IGNORE INTO agreement_acceptances (uid, version, accepted_by, accepted_at) VALUES (?,?,?,?)",
            (uid, acceptance["version"], acceptance["accepted_by"], acceptance["accepted_at"]),
        )

    def _add_notices(self, db, uid, response_body):
        agreement = self.store.current_agreement(db)
        if agreement is not None:
            accepted = db.execute(
                "SELECT 1 FROM agreement_acceptances WHERE uid = ? AND version = ?", (uid, agreement["version"])
            ).fetchone()
            response_body["agreement"] = {
                "version": agreement["version"],
                "title": agreement["title"],
                "text": agreement["text"],
                "digest": agreement["digest"],
                "published_on": agreement["published_on"],
                "accepted": accepted is not None,
            }
        notices = self.store.notices(db, uid)
        if notices:
            response_body["notices"] = notices

    @staticmethod
    def _record_reservations(db, uid, reservations, last_response_id):
        """Keep the request's reservations (the complete list); returns the product instances whose
        return is still to be told. A return is done once the On-Prem applied a response that carried
        it (the request's watermark is that response), or when the instance has nothing reserved."""
        db.execute("DELETE FROM reservations WHERE uid = ?", (uid,))
        db.executemany(
            "INSERT INTO reservations (uid, product_instance, data) VALUES (?,?,?)",
            [(uid, r["product_instance"], json.dumps(r, sort_keys=True)) for r in reservations],
        )
        holders = {r["product_instance"] for r in reservations}
        returned = []
        for row in db.execute(
            "SELECT product_instance, sent_in FROM reservation_returns WHERE uid = ? ORDER BY product_instance", (uid,)
        ).fetchall():
            applied = row["sent_in"] is not None and row["sent_in"] == last_response_id
            if row["product_instance"] in holders and not applied:
                returned.append(row["product_instance"])
            else:
                db.execute(
                    "DELETE FROM reservation_returns WHERE uid = ? AND product_instance = ?",
                    (uid, row["product_instance"]),
                )
        return returned

    @staticmethod
    def _apply_product_instances(db, uid, sync_type, body):
        # The On-Prem is the source of truth for product instances: a full list replaces ours.
        if sync_type == "full":
            db.execute("DELETE FROM product_instances WHERE uid = ?", (uid,))
        else:
            db.executemany(
                "DELETE FROM product_instances WHERE uid = ? AND identifier = ?",
                [(uid, identifier) for identifier in body["removed_product_instances"]],
            )
        db.executemany(
            "INSERT OR REPLACE INTO product_instances (uid, identifier, data) VALUES (?,?,?)",
            [(uid, pi["identifier"], json.dumps(pi, sort_keys=True)) for pi in body["product_instances"]],
        )

    @staticmethod
    def _decide_export(db, uid, account, request):
        known = db.execute("SELECT export_restricted FROM licenses WHERE tag = ?", (request["tag"],)).fetchone()
        if known is None:
            status, reason = "denied", f"Unknown license {request['tag']}."
        elif request["action"] == "return":
            status, reason = "authorized", "Export-controlled license returned."
        elif not account["export_allowed"]:
            status, reason = "denied", "The Smart Account is not allowed to use export-controlled functionality."
        else:
            status, reason = "authorized", "Export-controlled functionality authorized."
        db.execute(
            "INSERT OR REPLACE INTO export_decisions (request_id, uid, status, reason) VALUES (?,?,?,?)",
            (request["request_id"], uid, status, reason),
        )
        return {"request_id": request["request_id"], "status": status, "reason": reason}

    @staticmethod
    def _decide_dlc(db, onprem, request, now):
        tags = [line["tag"] for line in request["licenses"]]
        unknown = [tag for tag in tags if db.execute("SELECT 1 FROM licenses WHERE tag = ?", (tag,)).fetchone() is None]
        if unknown or not tags:
            return {
                "request_id": request["request_id"],
                "status": "migrate-failed",
                "reason": "Unknown license(s): " + ", ".join(unknown) if unknown else "No licenses to convert.",
            }
        done = [
            tag
            for tag in tags
            if db.execute(
                "SELECT 1 FROM conversions WHERE device_identifier = ? AND tag = ?", (request["device_identifier"], tag)
            ).fetchone()
        ]
        if done:
            return {
                "request_id": request["request_id"],
                "status": "already-converted",
                "reason": "License(s) already converted: " + ", ".join(done),
            }
        for line in request["licenses"]:
            db.execute(
                "INSERT INTO conversions (device_identifier, tag, uid, converted_at) VALUES (?,?,?,?)",
                (request["device_identifier"], line["tag"], onprem["uid"], format_timestamp(now)),
            )
            db.execute(
                "INSERT INTO entitlements (line_id, smart_account, virtual_account, tag, license_type, quantity,"
                " start_date, end_date, subscription_id, sku, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    new_id(),
                    onprem["smart_account"],
                    onprem["virtual_account"],
                    line["tag"],
                    "perpetual",
                    line["count"],
                    now.date().isoformat(),
                    None,
                    "",
                    line.get("pak", ""),
                    "device_migration",
                ),
            )
        return {
            "request_id": request["request_id"],
            "status": "migrate-success",
            "reason": f"Converted {sum(line['count'] for line in request['licenses'])} license(s).",
        }

    @staticmethod
    def _complete_upgrade(db, onprem, completion):
        """An upgrade the On-Prem completed: when it names exactly as many licenses of the replaced
        license as the upgrade holds, and the Cisco virtual account holds them, they are taken off
        its lines and the upgrade becomes an entitlement line. Otherwise it stays pending (listed
        again in the response)."""
        upgrade = db.execute(
            "SELECT * FROM upgrades WHERE upgrade_id = ? AND smart_account = ? AND virtual_account = ?"
            " AND status = 'pending'",
            (completion["upgrade_id"], onprem["smart_account"], onprem["virtual_account"]),
        ).fetchone()
        replaced = completion["replaced"]
        if upgrade is None or sum(r["quantity"] for r in replaced) != upgrade["quantity"]:
            return
        if any(r["tag"] != upgrade["replaces"] for r in replaced):
            return
        takes = []
        for r in replaced:
            lines = db.execute(
                "SELECT line_id, quantity FROM entitlements WHERE smart_account = ? AND virtual_account = ? AND tag = ?"
                " AND license_type = ? AND start_date IS ? AND end_date IS ? AND subscription_id = ? AND sku = ?"
                " AND source = ? ORDER BY line_id",
                (
                    onprem["smart_account"],
                    onprem["virtual_account"],
                    r["tag"],
                    r["license_type"],
                    r["start_date"],
                    None if r["license_type"] == "perpetual" else r["end_date"],
                    r["subscription_id"],
                    r["sku"],
                    r["source"],
                ),
            ).fetchall()
            need = r["quantity"]
            for line in lines:
                take = min(need, line["quantity"])
                if take:
                    takes.append((line["line_id"], take, line["quantity"]))
                    need -= take
            if need:
                return  # CSSM does not hold what the On-Prem replaced: the upgrade stays pending
        for line_id, take, held in takes:
            if take == held:
                db.execute("DELETE FROM entitlements WHERE line_id = ?", (line_id,))
            else:
                db.execute("UPDATE entitlements SET quantity = quantity - ? WHERE line_id = ?", (take, line_id))
        db.execute(
            "INSERT INTO entitlements (line_id, smart_account, virtual_account, tag, license_type, quantity,"
            " start_date, end_date, subscription_id, sku, source)"
            " SELECT upgrade_id, smart_account, virtual_account, tag, license_type, quantity, start_date, end_date,"
            " subscription_id, sku, source FROM upgrades WHERE upgrade_id = ?",
            (upgrade["upgrade_id"],),
        )
        db.execute("UPDATE upgrades SET status = 'completed' WHERE upgrade_id = ?", (upgrade["upgrade_id"],))

    @staticmethod
    def _complete_port(db, uid, onprem, completion):
        """A port the On-Prem made: when the Smart Account lets the license be ported to the target
        and the Cisco virtual account holds the lines it names, they are taken off and lines of
        the target with the same terms are added. Answered once per port (a port sent again gets
        the same answer, and changes nothing)."""
        port_id = completion["port_id"]
        known = db.execute("SELECT status, reason FROM ports WHERE uid = ? AND port_id = ?", (uid, port_id)).fetchone()
        if known is not None:
            return {"port_id": port_id, "status": known["status"], "reason": known["reason"]}

        def answer(status, reason):
            db.execute(
                "INSERT INTO ports (port_id, uid, status, reason) VALUES (?,?,?,?)", (port_id, uid, status, reason)
            )
            return {"port_id": port_id, "status": status, "reason": reason}

        target = completion["target"]
        takes = []
        for p in completion["ported"]:
            allowed = db.execute(
                "SELECT 1 FROM portable_licenses WHERE smart_account = ? AND tag = ? AND target = ?",
                (onprem["smart_account"], p["tag"], target),
            ).fetchone()
            if not allowed:
                return answer("refused", f"{p['tag']} is not portable to {target}")
            lines = db.execute(
                "SELECT line_id, quantity FROM entitlements WHERE smart_account = ? AND virtual_account = ? AND tag = ?"
                " AND license_type = ? AND start_date IS ? AND end_date IS ? AND subscription_id = ? AND sku = ?"
                " AND source = ? ORDER BY line_id",
                (
                    onprem["smart_account"],
                    onprem["virtual_account"],
                    p["tag"],
                    p["license_type"],
                    p["start_date"],
                    None if p["license_type"] == "perpetual" else p["end_date"],
                    p["subscription_id"],
                    p["sku"],
                    p["source"],
                ),
            ).fetchall()
            need = p["quantity"]
            for line in lines:
                take = min(need, line["quantity"] - sum(t[1] for t in takes if t[0] == line["line_id"]))
                if take > 0:
                    takes.append((line["line_id"], take, p))
                    need -= take
            if need:
                return answer("refused", f"the virtual account does not hold {p['quantity']} of {p['tag']}")
        for index, (line_id, take, p) in enumerate(takes):
            held = db.execute("SELECT quantity FROM entitlements WHERE line_id = ?", (line_id,)).fetchone()[0]
            if take == held:
                db.execute("DELETE FROM entitlements WHERE line_id = ?", (line_id,))
            else:
                db.execute("UPDATE entitlements SET quantity = quantity - ? WHERE line_id = ?", (take, line_id))
            db.execute(
                "INSERT INTO entitlements (line_id, smart_account, virtual_account, tag, license_type, quantity,"
                " start_date, end_date, subscription_id, sku, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    f"{port_id}-{index + 1}",
                    onprem["smart_account"],
                    onprem["virtual_account"],
                    target,
                    p["license_type"],
                    take,
                    p["start_date"],
                    None if p["license_type"] == "perpetual" else p["end_date"],
                    p["subscription_id"],
                    p["sku"],
                    p["source"],
                ),
            )
        return answer("completed", "")

    @staticmethod
    def _upgrades(db, smart_account, virtual_account):
        rows = db.execute(
            "SELECT u.*, l.name, l.description, l.product_family, l.export_restricted, l.billing_type, l.parents"
            " FROM upgrades u JOIN licenses l ON l.tag = u.tag"
            " WHERE u.smart_account = ? AND u.virtual_account = ? AND u.status = 'pending' ORDER BY u.upgrade_id",
            (smart_account, virtual_account),
        )
        return [
            {
                "line_id": row["upgrade_id"],
                "upgrade_id": row["upgrade_id"],
                "replaces": row["replaces"],
                "tag": row["tag"],
                "name": row["name"],
                "description": row["description"],
                "product_family": row["product_family"],
                "license_type": row["license_type"],
                "billing_type": row["billing_type"],
                "quantity": row["quantity"],
                "start_date": row["start_date"],
                "end_date": row["end_date"],
                "subscription_id": row["subscription_id"],
                "sku": row["sku"],
                "source": row["source"],
                "export_restricted": bool(row["export_restricted"]),
                "parents": json.loads(row["parents"]),
            }
            for row in rows
        ]

    @staticmethod
    def _entitlements(db, smart_account, virtual_account):
        rows = db.execute(
            "SELECT e.*, l.name, l.description, l.product_family, l.export_restricted, l.billing_type, l.parents"
            " FROM entitlements e JOIN licenses l ON l.tag = e.tag"
            " WHERE e.smart_account = ? AND e.virtual_account = ? ORDER BY l.name, e.line_id",
            (smart_account, virtual_account),
        )
        return [
            {
                "line_id": row["line_id"],
                "tag": row["tag"],
                "name": row["name"],
                "description": row["description"],
                "product_family": row["product_family"],
                "license_type": row["license_type"],
                "billing_type": row["billing_type"],
                "quantity": row["quantity"],
                "start_date": row["start_date"],
                "end_date": row["end_date"],
                "subscription_id": row["subscription_id"],
                "sku": row["sku"],
                "source": row["source"],
                "export_restricted": bool(row["export_restricted"]),
                "parents": json.loads(row["parents"]),
            }
            for row in rows
        ]
