"""The reference device agent: one product instance speaking the device protocol to one server.

    agent = Agent("https://onprem.example:8443", "/var/lib/agent", Identity("C9300-24T", "FOC2412X0AB"),
                  ca_file="/etc/onprem-ca.pem")
    agent.register(token)
    agent.authorize({"regid.2017-03.com.cisco.NETWORK_ADVANTAGE,1.0_...": 1})
    agent.report()

Every request is a signed envelope (see envelope.py); every reply must be signed by the chain the
server sent at registration, or it is refused (InvalidReply) and nothing is changed locally.
"""

import datetime
import hashlib
import json
import os

from . import crypto, envelope, rum
from .errors import Failed, NotRegistered
from .identity import Identity
from .state import CERT, CHAIN, KEY, THIRD_PARTY_KEYS, DirStore, MemoryStore, StateError, load_json, save_json
from .transport import RetryPolicy, TLSSession, Transport

AGENT_VERSION = "smart-agent/1.0"
MAX_PENDING_REPORTS = 500  # unacknowledged reports kept for resending; older ones are dropped
MAX_REPORTS_PER_MESSAGE = 100  # the server takes 1-100 reports per REPORT_USAGE
TERMINAL = ("SUCCESS", "COMPLETE", "ACK", "OK_POLL")


def report_id_of(report):
    return str(json.loads(report["payload"])["report_id"])


def _iso(ms_or_none):
    if isinstance(ms_or_none, bool) or not isinstance(ms_or_none, (int, float)):
        return ms_or_none
    return datetime.datetime.fromtimestamp(ms_or_none / 1000, datetime.timezone.utc).isoformat()


def normalize_entitlements(entitlements):
    """``{tag: count}`` or ``[(tag, count)]`` or ``[{"tag", "count"}]`` -> ``[{"tag", "count"}]``, validated."""
    if isinstance(entitlements, dict):
        items = list(entitlements.items())
    else:
        items = [(e["tag"], e["count"]) if isinstance(e, dict) else tuple(e) for e in entitlements]
    result = []
    for tag, count in items:
        if not isinstance(tag, str) or not tag.strip():
            raise ValueError("An entitlement tag must be a non-empty string.")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"The count for {tag} must be a whole number >= 0, not {count!r}.")
        result.append({"tag": tag, "count": count})
    return result


class Agent:
    def __init__(
        self,
        server_url=None,
        state_dir=None,
        identity=None,
        *,
        ca_file=None,
        insecure=False,
        legacy=False,
        timeout=30.0,
        retry=RetryPolicy(),
        transport=None,
        trust_anchors=(),
        store=None,
        agent_version=AGENT_VERSION,
        on_message=None,
        verify_tls=None,
    ):
        # verify_tls, as in requests: False = insecure, a path = CA file, True/None = the defaults above.
        if verify_tls is False:
            insecure = True
        elif isinstance(verify_tls, (str, os.PathLike)):
            ca_file = str(verify_tls)
        self.store = store if store is not None else (DirStore(state_dir) if state_dir else MemoryStore())
        self.state = load_json(self.store)
        stored = Identity.from_dict(self.state["identity"]) if self.state.get("identity") else None
        if (
            identity is not None
            and stored is not None
            and self.registered
            and ((identity.udi_pid, identity.udi_serial_number) != (stored.udi_pid, stored.udi_serial_number))
        ):
            raise StateError(
                f"The state directory belongs to {stored.udi_pid} {stored.udi_serial_number}, "
                f"not {identity.udi_pid} {identity.udi_serial_number}."
            )
        self.identity = identity or stored
        self.server_url = server_url or self.state.get("server_url")
        self._transport = transport
        self._transport_options = dict(ca_file=ca_file, insecure=insecure, legacy=legacy, timeout=timeout, retry=retry)
        self.trust_anchors = tuple(trust_anchors)
        self.agent_version = agent_version
        self.on_message = on_message  # called with (direction "request"/"reply", type, envelope text)
        self._key = None
        self.tls_session = TLSSession()  # this device's TLS session, resumed on its next connection

    # -- local material --------------------------------------------------------------------

    @property
    def registered(self):
        return bool(self.state.get("product_instance_id")) and self.store.read(CERT) is not None

    @property
    def transport(self):
        if self._transport is None:
            if not self.server_url:
                raise NotRegistered("No server URL: give one (--server) or register first.")
            self._transport = Transport(self.server_url, **self._transport_options)
        return self._transport

    def _device_key(self, create=False):
        if self._key is None:
            pem = self.store.read(KEY)
            if pem is not None:
                try:
                    self._key = crypto.load_key(pem)
                except ValueError as exc:
                    raise StateError(f"The device key is unusable: {exc}") from exc
            elif create:
                self._key = crypto.new_key()
                self.store.write(KEY, crypto.key_pem(self._key))
            else:
                raise NotRegistered("This device has no key: register it first.")
        return self._key

    def _chain(self):
        data = self.store.read(CHAIN)
        if data is None:
            raise NotRegistered("This device is not registered (no certificate chain).")
        return [crypto.load_cert(pem) for pem in crypto.split_pem(data.decode())]

    def _certificate(self):
        data = self.store.read(CERT)
        if data is None:
            raise NotRegistered("This device is not registered (no ID certificate).")
        return crypto.load_cert(data)

    def _require_registration(self) -> Identity:
        """The device's identity, when it is registered."""
        if self.identity is None:
            raise NotRegistered("No device identity: give --pid and --serial, or register first.")
        if not self.registered:
            raise NotRegistered(f"{self.identity.udi_pid} {self.identity.udi_serial_number} is not registered.")
        return self.identity

    def _save(self):
        save_json(self.store, self.state)

    # -- one exchange ----------------------------------------------------------------------

    def _base_payload(self):
        if self.identity is None:
            raise NotRegistered("No device identity: give --pid and --serial.")
        return {
            "timestamp": envelope.now_ms(),
            "nonce": envelope.new_nonce(),
            "sudi": self.identity.sudi,
            "software_tag": self.identity.software_tag,
        }

    def _send(self, message_type, fields, *, key, key_id):
        """POST the signed message; returns (reply body, the nonce of the attempt that was answered)."""
        sent = {}

        def make_body():  # called once per attempt: a retry gets a fresh nonce and timestamp
            payload = {**self._base_payload(), **fields}
            sent["nonce"] = payload["nonce"]
            text = envelope.build(message_type, payload, key=key, key_id=key_id)
            if self.on_message:
                self.on_message("request", message_type, text)
            return text

        body = self.transport.post(make_body, tls_session=self.tls_session)
        if self.on_message:
            self.on_message("reply", message_type, body.decode("utf-8", "replace"))
        return body, sent["nonce"]

    def _check(self, message_type, reply):
        if reply.status == "FAILED":
            raise Failed(
                message_type,
                reply.payload.get("error_code"),
                reply.payload.get("message"),
                reply.payload,
                verified=reply.verified,
            )
        if reply.status not in TERMINAL:
            raise envelope.InvalidReply(f"The {message_type} reply has an unknown status {reply.status!r}.")
        return reply

    def request(self, message_type, fields=None):
        """Send a message signed with the ID certificate and return the verified reply (Failed if FAILED)."""
        self._require_registration()
        key_id = crypto.serial_hex(self._certificate())
        body, nonce = self._send(message_type, fields or {}, key=self._device_key(), key_id=key_id)
        reply = envelope.parse_reply(body, expected_type=message_type, chain=self._chain(), request_nonce=nonce)
        return self._check(message_type, reply)

    # -- the protocol ----------------------------------------------------------------------

    def register(self, token, force=False):
        """REGISTER with a registration token; keeps the key, ID certificate and chain. Returns the reply payload."""
        if not isinstance(token, str) or not token.strip():
            raise ValueError("A registration token is required.")
        if self.identity is None:
            raise NotRegistered("No device identity: give --pid and --serial.")
        key = self._device_key(create=True)
        ident = self.identity
        fields = {
            "id_token": token.strip(),
            "csr": crypto.make_csr(key, common_name=ident.udi_pid, serial_number=ident.udi_serial_number),
            "hostname": ident.hostname,
            "ip_address": ident.ip_address,
            "product_name": ident.product_name,
            "product_type": ident.product_type,
            "agent_version": self.agent_version,
            "force": bool(force),
        }
        body, nonce = self._send("REGISTER", fields, key=key, key_id=envelope.CSR_KEY)
        unverified = envelope.peek_payload(body)
        pems = unverified.get("certificate_chain")
        if unverified.get("status") == "FAILED" and not pems:
            return self._register_refused(body, nonce)
        if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
            raise envelope.InvalidReply("The REGISTER reply carries no certificate_chain.")
        chain = [crypto.load_cert(pem) for pem in pems]
        crypto.check_chain(chain, anchors=self.trust_anchors)
        reply = envelope.parse_reply(body, expected_type="REGISTER", chain=chain, request_nonce=nonce)
        if not reply.verified:
            raise envelope.InvalidReply("The REGISTER reply is not signed by the chain it carries.")
        self._check("REGISTER", reply)
        payload = reply.payload
        if not payload.get("product_instance_id"):
            raise envelope.InvalidReply("The REGISTER reply carries no product_instance_id.")
        self._install_certificate(payload, chain, key)
        if str(payload["product_instance_id"]) != str(self.state.get("product_instance_id")):
            # Another product instance on the server: nothing authorized or pending carries over.
            for stale in (
                "requested",
                "authorizations",
                "compliance",
                "renew_auth_after",
                "auth_expires",
                "authorized_at",
                "app_redundancy",
                "pending_polls",
                "pending_reports",
                "last_report_end",
            ):
                self.state.pop(stale, None)
        self.state.update(
            {
                "identity": ident.to_dict(),
                "server_url": self.server_url,
                "product_instance_id": payload["product_instance_id"],
                "registered_at": envelope.now_ms(),
            }
        )
        self._save()
        return payload

    def _register_refused(self, body, nonce):
        """A FAILED REGISTER carries no chain: verified with the chain we already have, else advisory."""
        chain = self._chain() if self.store.read(CHAIN) is not None else []
        self._check("REGISTER", envelope.parse_reply(body, expected_type="REGISTER", chain=chain, request_nonce=nonce))
        raise envelope.InvalidReply("A REGISTER reply without a certificate chain must be FAILED.")

    def _install_certificate(self, payload, chain, key):
        pem = payload.get("id_certificate")
        if not isinstance(pem, str):
            raise envelope.InvalidReply("The reply carries no id_certificate.")
        cert = crypto.load_cert(pem)
        crypto.check_issued(cert, chain, key.public_key())
        self.store.write(CHAIN, "".join(crypto.cert_pem(c) for c in chain).encode())
        self.store.write(CERT, crypto.cert_pem(cert).encode())
        self.state.update(
            {
                k: v
                for k, v in {
                    "virtual_account": payload.get("virtual_account"),
                    "local_account": payload.get("local_account"),
                }.items()
                if v is not None
            }
        )
        self.state.update(
            {
                "certificate_serial": crypto.serial_hex(cert),
                "certificate_expires": cert.not_valid_after_utc.isoformat(),
                "renew_id_after": payload.get("renew_id_after"),
            }
        )

    def renew_id(self, rotate_key=False):
        """RENEW_ID: a new ID certificate, for the same key or (``rotate_key``) a new one; the message is
        signed with the current certificate's key either way."""
        ident = self._require_registration()
        key = crypto.new_key() if rotate_key else self._device_key()
        csr = crypto.make_csr(key, common_name=ident.udi_pid, serial_number=ident.udi_serial_number)
        reply = self.request("RENEW_ID", {"csr": csr})
        chain = self._chain()
        if reply.payload.get("certificate_chain"):
            # The account's current chain, vouched for by the reply's signature with the chain we trust.
            chain = [crypto.load_cert(pem) for pem in reply.payload["certificate_chain"]]
            crypto.check_chain(chain, anchors=self.trust_anchors)
        self._install_certificate(reply.payload, chain, key)
        if rotate_key:
            self.store.write(KEY, crypto.key_pem(key))
            self._key = key
        self._save()
        return reply.payload

    def authorize(self, entitlements, app_redundancy=None):
        """AUTHORIZE ``entitlements`` ({tag: count}); keeps what the server granted."""
        items = normalize_entitlements(entitlements)  # the complete set: unlisted licenses are released
        fields = {"entitlements": items}
        if app_redundancy:
            fields["app_redundancy"] = app_redundancy
        payload = self.request("AUTHORIZE", fields).payload
        self.state.update(
            {
                "requested": items,
                "authorizations": payload.get("authorizations", []),
                "compliance": payload.get("compliance"),
                "renew_auth_after": payload.get("renew_auth_after"),
                "auth_expires": payload.get("auth_expires"),
                "authorized_at": envelope.now_ms(),
            }
        )
        if app_redundancy:
            self.state["app_redundancy"] = app_redundancy
        self._save()
        return payload

    def _next_report_id(self):
        """``<counter>-<device>``: the counter increases and is never reused (at least the clock in ms, kept
        across restarts and re-registrations); the device part (a hash of the UDI) makes the id unique
        across devices too, so a collector that mixes devices' reports can still tell them apart."""
        counter = max(self.state.get("last_report_id", 0) + 1, envelope.now_ms())
        self.state["last_report_id"] = counter
        assert self.identity is not None  # report() required the registration
        udi = f"{self.identity.udi_pid}\x00{self.identity.udi_serial_number}".encode()
        return f"{counter}-{hashlib.sha256(udi).hexdigest()[:12]}"

    def current_usage(self):
        """{tag: count} in use: what was last requested in AUTHORIZE."""
        return {item["tag"]: item["count"] for item in self.state.get("requested", [])}

    def report(self, usage=None):
        """REPORT_USAGE: a RUM report of ``usage`` ({tag: count}, default: the authorized usage) since the
        last report, sent with any earlier reports the server has not acknowledged (same report ids, so
        the server can tell a resend from a new report). Returns the last reply payload."""
        self._require_registration()
        usage = normalize_entitlements(usage if usage is not None else self.current_usage())
        pending = self.state.get("pending_reports", [])
        if usage:
            end = envelope.now_ms()
            start = min(
                end,
                self.state.get("last_report_end")
                or self.state.get("authorized_at")
                or self.state.get("registered_at")
                or end,
            )
            pending.append(
                rum.build_report(
                    identity=self.identity,
                    product_instance_id=self.state["product_instance_id"],
                    usage=usage,
                    start_ms=start,
                    end_ms=end,
                    report_id=self._next_report_id(),
                    key=self._device_key(),
                    key_id=crypto.serial_hex(self._certificate()),
                )
            )
            self.state["last_report_end"] = end
        if not pending:
            raise ValueError("Nothing to report: authorize licenses first or give TAG=COUNT usage.")
        self.state["pending_reports"] = pending[-MAX_PENDING_REPORTS:]
        self._save()  # the report is kept until acknowledged: a lost reply means a resend, never a loss
        payload = None
        while self.state["pending_reports"]:
            batch = self.state["pending_reports"][:MAX_REPORTS_PER_MESSAGE]
            payload = self.request("REPORT_USAGE", {"reports": batch}).payload
            self._acknowledge(batch, payload)
            self._remember_poll(payload, "REPORT_USAGE")
            self._save()
        return payload

    def _acknowledge(self, batch, payload):
        """Drop the reports of ``batch`` the reply acknowledged (all of them when it lists no acks)."""
        acks = payload.get("acks")
        if isinstance(acks, list):
            done = {
                str(a.get("report_id")) for a in acks if isinstance(a, dict) and a.get("status") in ("ACK", "DUPLICATE")
            }
        else:
            done = {report_id_of(r) for r in batch}
        sent = {report_id_of(r) for r in batch}
        if not done & sent:
            raise envelope.InvalidReply("The REPORT_USAGE reply acknowledges none of the reports sent.")
        self.state["pending_reports"] = [r for r in self.state["pending_reports"] if report_id_of(r) not in done]

    def _remember_poll(self, payload, message_type):
        if payload.get("status") == "OK_POLL" and payload.get("poll_id"):
            interval = payload.get("poll_interval") or 0
            self.state.setdefault("pending_polls", {})[str(payload["poll_id"])] = {
                "type": message_type,
                "since": envelope.now_ms(),
                "poll_interval": interval,
                "next_poll_at": envelope.now_ms() + int(interval) * 1000,
            }

    def _deferred(self, message_type, fields):
        payload = self.request(message_type, fields).payload
        self._remember_poll(payload, message_type)
        self._save()
        return payload

    def export_authorize(self, entitlements):
        return self._deferred("EXPORT_AUTHORIZE", {"entitlements": normalize_entitlements(entitlements)})

    def export_return(self, entitlements):
        return self._deferred("EXPORT_RETURN", {"entitlements": normalize_entitlements(entitlements)})

    def convert(self, licenses):
        """CONVERT classic licenses (Device Led Conversion): [{"name", "count", "tag"?, "pak"?}]."""
        items = []
        for item in licenses:
            if (
                not isinstance(item, dict)
                or not item.get("name")
                or isinstance(item.get("count"), bool)
                or not isinstance(item.get("count"), int)
                or item["count"] < 0
            ):
                raise ValueError("Each license to convert needs a name and a whole-number count.")
            items.append({k: item[k] for k in ("name", "count", "tag", "pak") if item.get(k) not in (None, "")})
        return self._deferred("CONVERT", {"licenses": items})

    def poll(self, poll_id=None):
        """POLL one id (or every pending one); returns {poll_id: reply payload}. COMPLETE ones are forgotten."""
        self._require_registration()
        pending = self.state.get("pending_polls", {})
        ids = [str(poll_id)] if poll_id is not None else list(pending)
        results = {}
        for pid in ids:
            payload = self.request("POLL", {"poll_id": pid}).payload
            results[pid] = payload
            if payload.get("status") == "COMPLETE":
                done = pending.pop(pid, None)
                self.state.setdefault("completed_polls", {})[pid] = {
                    "type": (done or {}).get("type"),
                    "result": payload.get("result"),
                    "at": envelope.now_ms(),
                }
                # Keep only the latest few results.
                completed = self.state["completed_polls"]
                for old in list(completed)[:-20]:
                    completed.pop(old)
            elif pid in pending:
                interval = payload.get("poll_interval") or pending[pid].get("poll_interval") or 0
                pending[pid]["next_poll_at"] = envelope.now_ms() + int(interval) * 1000
        self._save()
        return results

    def third_party_keys(self, tags=None):
        """GET_THIRD_PARTY_KEY: the third-party keys (TPL) of this device's virtual account (or only
        those of the licenses ``tags``), kept in ``third_party_keys.json`` (0600). Returns the reply payload."""
        tags = list(tags or [])
        if not all(isinstance(tag, str) and tag for tag in tags):
            raise ValueError("Each license tag must be a non-empty string.")
        payload = self.request("GET_THIRD_PARTY_KEY", {"tags": tags} if tags else {}).payload
        keys = payload.get("third_party_keys")
        if not isinstance(keys, list) or not all(
            isinstance(k, dict) and isinstance(k.get("key_id"), str) and isinstance(k.get("key"), str) for k in keys
        ):
            raise envelope.InvalidReply("The GET_THIRD_PARTY_KEY reply carries no valid third_party_keys.")
        self.store.write(THIRD_PARTY_KEYS, json.dumps(keys, indent=2, sort_keys=True).encode())
        self.state["third_party_keys_at"] = envelope.now_ms()
        self._save()
        return payload

    def deregister(self):
        """DEREGISTER: the server releases the licenses; the local registration is removed.

        If the server no longer knows this device (NOT_REGISTERED, e.g. the reply to an earlier
        DEREGISTER got lost), Failed is raised and the local registration kept: ``forget()`` drops it.
        """
        self._require_registration()
        payload = self.request("DEREGISTER").payload
        self.forget()
        return payload

    def forget(self):
        """Drop the local registration (ID certificate, chain, authorizations); keeps key and identity."""
        for name in (CERT, CHAIN, THIRD_PARTY_KEYS):
            self.store.delete(name)
        identity, server_url, last_report_id = (
            self.state.get("identity"),
            self.state.get("server_url"),
            self.state.get("last_report_id"),
        )
        self.state = {
            k: v
            for k, v in {"identity": identity, "server_url": server_url, "last_report_id": last_report_id}.items()
            if v
        }
        self._save()

    def status(self):
        """What the agent knows locally (no network)."""
        state = self.state
        return {
            "registered": self.registered,
            "identity": self.identity.to_dict() if self.identity else None,
            "server_url": self.server_url,
            "product_instance_id": state.get("product_instance_id"),
            "registered_at": _iso(state.get("registered_at")),
            "certificate_serial": state.get("certificate_serial"),
            "certificate_expires": state.get("certificate_expires"),
            "renew_id_after": _iso(state.get("renew_id_after")),
            "virtual_account": state.get("virtual_account"),
            "authorizations": state.get("authorizations", []),
            "compliance": state.get("compliance"),
            "renew_auth_after": _iso(state.get("renew_auth_after")),
            "auth_expires": _iso(state.get("auth_expires")),
            "pending_polls": state.get("pending_polls", {}),
            "pending_reports": len(state.get("pending_reports", [])),
            "last_report_at": _iso(state.get("last_report_end")),
        }
