"""A small protocol server on loopback for the agent's unit tests (no Django, no database).

It verifies what the agent sends (envelope shape, signature over the exact payload bytes, key
ids, nonces) the way docs/protocol.md describes, answers with replies signed by its own
authority, and can misbehave on purpose (``script`` of raw HTTP answers, ``tamper`` modes).
"""

import datetime
import json
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smart_agent import crypto, envelope

TOKEN = "GOOD-TOKEN"


def self_signed(common_name, *, ca=True, key=None, san=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return key, builder.sign(key, hashes.SHA256())


class FakeServer:
    def __init__(self, tmp_path=None, *, tls=False):
        self.authority_key, self.authority = self_signed("fake onprem signing")
        self.devices = {}  # cert serial hex -> {"sudi", "public_key", "pi"}
        self.nonces = set()
        self.received = []  # (path, parsed envelope document)
        self.reports = {}  # report_id -> payload string
        self.script = []  # raw answers sent before normal processing: (status, headers, body)
        self.drop_idle = False
        self.close_each = False  # "Connection: close" on every answer, as gunicorn's sync workers do
        self.tls_resumed = []  # per request on HTTPS: whether its connection resumed a TLS session
        self.tamper = None  # "payload", "unsigned", "foreign_key", "wrong_type", "in_reply_to"
        self.usage = {}
        self.polls = {}
        self.third_party_keys = []  # what GET_THIRD_PARTY_KEY delivers: [{key_id, tag, service, key, expires_on}]
        self.next_pi = 100
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if isinstance(self.connection, ssl.SSLSocket):
                    server.tls_resumed.append(self.connection.session_reused)
                with server.lock:
                    if server.script:
                        status, headers, data = server.script.pop(0)
                    else:
                        status, headers, data = 200, {}, server.handle(self.path, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if server.close_each:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if server.drop_idle:  # close without saying so, like a server's idle keep-alive timeout
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            tls_key, self.tls_cert = self_signed("localhost", ca=False, san="localhost")
            self.ca_file = tmp_path / "tls.pem"
            self.ca_file.write_bytes(self.tls_cert.public_bytes(serialization.Encoding.PEM))
            key_file = tmp_path / "tls.key"
            key_file.write_bytes(crypto.key_pem(tls_key))
            self.tls_files = (self.ca_file, key_file)
            self.httpd.socket = self.new_tls_context().wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def new_tls_context(self):
        """A server context of its own (its own session ticket keys, as after a restart)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.tls_files)
        return context

    def restart_tls(self):
        """New connections get a new context: tickets issued before no longer resume."""
        self.httpd.socket._context = self.new_tls_context()  # what accept() wraps new connections with

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- protocol ------------------------------------------------------------------------

    def reply(self, message_type, request_nonce, fields):
        payload = {
            "timestamp": envelope.now_ms(),
            "nonce": secrets.token_urlsafe(18),
            "in_reply_to": request_nonce,
            **fields,
        }
        if self.tamper == "in_reply_to":
            payload["in_reply_to"] = "someone-else-nonce-123"
        text = json.dumps(payload, separators=(",", ":"))
        signature = {
            "signing_type": crypto.SIGNING_TYPE,
            "key": crypto.serial_hex(self.authority),
            "value": crypto.sign(self.authority_key, text.encode()),
        }
        if self.tamper == "payload":
            text = text.replace('"status":"SUCCESS"', '"status":"SUCCESS" ')
        elif self.tamper == "unsigned":
            signature = {}
        elif self.tamper == "foreign_key":
            other_key, other = self_signed("impostor")
            signature = {
                "signing_type": crypto.SIGNING_TYPE,
                "key": crypto.serial_hex(self.authority),
                "value": crypto.sign(other_key, text.encode()),
            }
        header_type = "SOMETHING_RESPONSE" if self.tamper == "wrong_type" else f"{message_type}_RESPONSE"
        return json.dumps(
            {"header": {"type": header_type, "version": "1"}, "payload": text, "signature": signature}
        ).encode()

    def failed(self, message_type, nonce, code, message):
        return self.reply(message_type, nonce, {"status": "FAILED", "error_code": code, "message": message})

    def handle(self, path, body):
        if body.lstrip()[:1] == b"<":
            body = envelope.unwrap_xml(body).encode()
        document = json.loads(body)
        self.received.append((path, document))
        message_type = document["header"]["type"]
        payload_text = document["payload"]
        payload = json.loads(payload_text)
        nonce = payload["nonce"]
        signature = document["signature"]
        assert signature["signing_type"] == crypto.SIGNING_TYPE
        if message_type == "REGISTER":
            assert signature["key"] == "csr"
            csr = x509.load_pem_x509_csr(payload["csr"].encode())
            public_key = csr.public_key()
            device = None
        else:
            device = self.devices.get(signature["key"])
            if device is None:
                return self.failed(message_type, nonce, "NOT_REGISTERED", "The product instance is not registered.")
            public_key = device["public_key"]
        if not crypto.verify(public_key, payload_text.encode("utf-8"), signature["value"]):
            return self.failed(message_type, nonce, "BAD_SIGNATURE", "The message signature does not verify.")
        if abs(payload["timestamp"] - envelope.now_ms()) > 24 * 3600 * 1000:
            return self.failed(message_type, nonce, "TIME_SKEW", "skew")
        if nonce in self.nonces:
            return self.failed(message_type, nonce, "REPLAY", "replay")
        self.nonces.add(nonce)
        return getattr(self, f"on_{message_type.lower()}")(payload, public_key, device, nonce)

    def _issue(self, public_key, sudi):
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sudi["udi_pid"])]))
            .issuer_name(self.authority.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.authority_key, hashes.SHA256())
        )
        return cert

    def on_register(self, payload, public_key, device, nonce):
        if payload["id_token"] != TOKEN:
            # The real server signs this with an authority the device does not know.
            other_key, other = self_signed("server authority")
            text = json.dumps(
                {
                    "timestamp": envelope.now_ms(),
                    "nonce": secrets.token_urlsafe(18),
                    "in_reply_to": nonce,
                    "status": "FAILED",
                    "error_code": "TOKEN_UNKNOWN",
                    "message": "The registration token is not valid.",
                }
            )
            return json.dumps(
                {
                    "header": {"type": "REGISTER_RESPONSE", "version": "1"},
                    "payload": text,
                    "signature": {
                        "signing_type": crypto.SIGNING_TYPE,
                        "key": crypto.serial_hex(other),
                        "value": crypto.sign(other_key, text.encode()),
                    },
                }
            ).encode()
        cert = self._issue(public_key, payload["sudi"])
        self.next_pi += 1
        self.devices[crypto.serial_hex(cert)] = {"sudi": payload["sudi"], "public_key": public_key, "pi": self.next_pi}
        return self.reply(
            "REGISTER",
            nonce,
            {
                "status": "SUCCESS",
                "id_certificate": crypto.cert_pem(cert),
                "id_certificate_serial": crypto.serial_hex(cert),
                "certificate_chain": [crypto.cert_pem(self.authority)],
                "product_instance_id": self.next_pi,
                "renew_id_after": envelope.now_ms() + 182 * 86400000,
                "virtual_account": "Default",
                "local_account": "Fake",
            },
        )

    def on_renew_id(self, payload, public_key, device, nonce):
        new_key = x509.load_pem_x509_csr(payload["csr"].encode()).public_key()
        cert = self._issue(new_key, payload["sudi"])
        self.devices[crypto.serial_hex(cert)] = {**device, "public_key": new_key}
        return self.reply(
            "RENEW_ID",
            nonce,
            {
                "status": "SUCCESS",
                "id_certificate": crypto.cert_pem(cert),
                "id_certificate_serial": crypto.serial_hex(cert),
                "certificate_chain": [crypto.cert_pem(self.authority)],
                "renew_id_after": envelope.now_ms() + 1000,
            },
        )

    def on_authorize(self, payload, public_key, device, nonce):
        self.usage[device["pi"]] = {e["tag"]: e["count"] for e in payload["entitlements"]}
        auths = [
            {
                "tag": e["tag"],
                "count": e["count"],
                "status": "NOT_AUTHORIZED" if e["tag"].startswith("unknown") else "AUTHORIZED",
            }
            for e in payload["entitlements"]
        ]
        if any(a["status"] != "AUTHORIZED" for a in auths):
            for a in auths:
                if a["status"] == "NOT_AUTHORIZED":
                    a["reason"] = "UNKNOWN_TAG"
        return self.reply(
            "AUTHORIZE",
            nonce,
            {
                "status": "SUCCESS",
                "authorizations": auths,
                "compliance": "IN_COMPLIANCE"
                if all(a["status"] == "AUTHORIZED" for a in auths)
                else "OUT_OF_COMPLIANCE",
                "renew_auth_after": envelope.now_ms() + 30 * 86400000,
                "auth_expires": envelope.now_ms() + 90 * 86400000,
            },
        )

    def on_report_usage(self, payload, public_key, device, nonce):
        acks = []
        for report in payload["reports"]:
            assert report["header"] == {"type": "rum", "version": "1"}
            assert crypto.verify(public_key, report["payload"].encode(), report["signature"]["value"])
            report_id = str(json.loads(report["payload"])["report_id"])
            acks.append({"report_id": report_id, "status": "DUPLICATE" if report_id in self.reports else "ACK"})
            self.reports.setdefault(report_id, report["payload"])
        return self.reply("REPORT_USAGE", nonce, {"status": "SUCCESS", "acks": acks})

    def on_export_authorize(self, payload, public_key, device, nonce):
        poll_id = secrets.token_hex(8)
        self.polls[poll_id] = 0
        return self.reply("EXPORT_AUTHORIZE", nonce, {"status": "OK_POLL", "poll_id": poll_id, "poll_interval": 3600})

    def on_poll(self, payload, public_key, device, nonce):
        poll_id = payload["poll_id"]
        self.polls[poll_id] += 1
        if self.polls[poll_id] < 2:
            return self.reply("POLL", nonce, {"status": "OK_POLL", "poll_id": poll_id, "poll_interval": 3600})
        return self.reply(
            "POLL",
            nonce,
            {
                "status": "COMPLETE",
                "poll_id": poll_id,
                "request_type": "EXPORT_AUTHORIZE",
                "result": "authorization-granted",
                "message": "granted",
                "detail": {},
            },
        )

    def on_get_third_party_key(self, payload, public_key, device, nonce):
        keys = [k for k in self.third_party_keys if not payload.get("tags") or k["tag"] in payload["tags"]]
        if not keys:
            return self.failed("GET_THIRD_PARTY_KEY", nonce, "NO_THIRD_PARTY_KEYS", "No third party keys.")
        return self.reply("GET_THIRD_PARTY_KEY", nonce, {"status": "SUCCESS", "third_party_keys": keys})

    def on_deregister(self, payload, public_key, device, nonce):
        released = [{"tag": t, "count": c} for t, c in self.usage.pop(device["pi"], {}).items()]
        for serial in [s for s, d in self.devices.items() if d["pi"] == device["pi"]]:
            del self.devices[serial]
        return self.reply("DEREGISTER", nonce, {"status": "SUCCESS", "released": released})
