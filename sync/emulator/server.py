"""The emulated CSSM over HTTPS (stdlib ``http.server`` + ``ssl``): online endpoints and the file page.

Registration and synchronization documents are posted as YAML; the file page takes a request
file and hands back the response file. The file form carries the credentials in every post and
sets no cookie, so there is no ambient authority for a cross-site request to ride on (hence no
CSRF token). The endpoints and their refusals: docs/cssm-emulator.md, "Endpoints".
"""

import base64
import binascii
import html
import json
import ssl
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sync.documents.parse import MAX_DOCUMENT_BYTES
from sync.documents.rejections import MANUAL, NETWORK, NotYaml

from .service import EmulatorError

BANNER = (
    "CSSM emulator: a stand-in for Cisco Smart Software Manager (the vendor cloud) for development, "
    "tests and demos. It is not Cisco's service and grants no real licenses."
)
YAML_TYPE = "application/yaml; charset=utf-8"
# Whether the Authorization File of a manual registration has been generated (the On-Prem's
# "Authorization File Ready" alert asks this while its registration waits).
REGISTRATION_STATUS_PATH = "/api/onprem/registration-status"


class Handler(BaseHTTPRequestHandler):
    server_version = "CSSMEmulator/1"
    emulator = None  # set by make_server

    # ---- helpers -------------------------------------------------------------------------
    def _send(self, status, body, content_type, extra_headers=()):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json_error(self, status, code, message):
        self._send(status, json.dumps({"code": code, "message": message}), "application/json")

    def _read_body(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            raise EmulatorError(400, "bad_request", "A Content-Length is required.")
        if length > MAX_DOCUMENT_BYTES:
            raise EmulatorError(413, "too_large", "The file is too large.")
        return self.rfile.read(length)

    def _basic_credentials(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise EmulatorError(401, "bad_credentials", "Invalid username or password.") from None
        return username, password

    # ---- routes --------------------------------------------------------------------------
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, self._index_page(), "text/html; charset=utf-8")
        elif path == "/file":
            self._send(200, self._file_page(), "text/html; charset=utf-8")
        elif path == "/root-ca.pem":
            self._send(200, self.emulator.ca.root_pem, "application/x-pem-file")
        elif path == "/health":
            self._send(200, json.dumps({"status": "ok", "emulator": True}), "application/json")
        elif path == REGISTRATION_STATUS_PATH:
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            request_id, uid = (query.get(name, [""])[0] for name in ("request_id", "uid"))
            if not request_id or not uid:
                self._json_error(400, "missing_parameter", "Both request_id and uid are required.")
                return
            status = self.emulator.registration_status(request_id, uid)
            self._send(200, json.dumps(status), "application/json")
        else:
            self._json_error(404, "not_found", "Not found.")

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/api/onprem/register", "/api/onprem/sync"):
                self._online(path)
            elif path == "/file":
                self._file_post()
            else:
                self._json_error(404, "not_found", "Not found.")
        except EmulatorError as exc:
            if path == "/file":
                self._send(exc.status, self._file_page(error=exc.message), "text/html; charset=utf-8")
            else:
                self._json_error(exc.status, exc.code, exc.message)

    def _online(self, path):
        credentials = self._basic_credentials()
        body = self._read_body()
        kinds = ("RegistrationRequest",) if path.endswith("register") else ("SyncRequest",)
        text, _ = self.emulator.process(body, mode=NETWORK, credentials=credentials, expected_kinds=kinds)
        self._send(200, text, YAML_TYPE)

    def _file_post(self):
        fields = self._multipart(self._read_body())
        upload = fields.get("file")
        if upload is None or not upload[1]:
            raise EmulatorError(400, NotYaml.code, NotYaml().message)
        credentials = (
            fields.get("username", (None, b""))[1].decode("utf-8", "replace"),
            fields.get("password", (None, b""))[1].decode("utf-8", "replace"),
        )
        text, name = self.emulator.process(upload[1], name=upload[0] or "", mode=MANUAL, credentials=credentials)
        self._send(200, text, YAML_TYPE, [("Content-Disposition", f'attachment; filename="{name}"')])

    def _multipart(self, body):
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise EmulatorError(400, "bad_request", "Use the form to upload a file.")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
        return fields

    # ---- pages ---------------------------------------------------------------------------
    def _page(self, title, content):
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)} - CSSM emulator</title>"
            "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
            ".banner{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem;margin-bottom:1rem}"
            ".error{background:#f8d7da;border:1px solid #d9828b;padding:.75rem}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}</style>"
            f"</head><body><p class='banner'><strong>Emulator.</strong> {html.escape(BANNER)}</p>"
            f"<h1>{html.escape(title)}</h1>{content}</body></html>"
        )

    def _index_page(self):
        state = self.emulator.store.summary()
        accounts = "".join(
            f"<tr><td>{html.escape(a['name'])}</td><td>{'yes' if a['export_allowed'] else 'no'}</td>"
            f"<td>{a['virtual_accounts']}</td></tr>"
            for a in state["smart_accounts"]
        )
        onprems = "".join(
            f"<tr><td>{html.escape(o['name'])}</td><td>{html.escape(o['smart_account'])} / "
            f"{html.escape(o['virtual_account'])}</td><td>{html.escape(o['registered_at'])}</td>"
            f"<td>{html.escape(o['last_sync_at'] or 'never')}</td><td>{o['product_instances']}</td></tr>"
            for o in state["onprems"]
        )
        return self._page(
            "CSSM emulator",
            (
                "<p>Endpoints: <code>POST /api/onprem/register</code> (RegistrationRequest, HTTP Basic credentials), "
                "<code>POST /api/onprem/sync</code> (SyncRequest), the <a href='/file'>file synchronization page</a>, "
                "<a href='/root-ca.pem'>the root CA</a>.</p>"
                "<h2>Smart accounts</h2><table><tr><th>Name</th><th>Export allowed</th><th>Virtual accounts</th></tr>"
                f"{accounts}</table><h2>SSM On-Prems</h2><table><tr><th>Name</th><th>Smart / virtual account</th>"
                f"<th>Registered</th><th>Last synchronization</th><th>Product instances</th></tr>{onprems}</table>"
            ),
        )

    def _file_page(self, error=None):
        message = f"<p class='error' role='alert'>{html.escape(error)}</p>" if error else ""
        return self._page(
            "File synchronization",
            (
                f"{message}<p>Upload a registration file (answered with an Authorization file) or a "
                "synchronization request file (answered with a synchronization response file).</p>"
                "<form method='post' action='/file' enctype='multipart/form-data'>"
                "<p><label>CCO ID <input name='username' autocomplete='username' required></label></p>"
                "<p><label>Password <input name='password' type='password' autocomplete='current-password' required>"
                "</label></p><p><label>Request file (.yml) <input name='file' type='file' accept='.yml' required>"
                "</label></p><p><button type='submit'>Generate Response File</button></p></form>"
            ),
        )


def make_server(emulator, host, port, cert_file, key_file):
    """A threading HTTPS server bound to (host, port); port 0 picks a free one."""
    handler = type("BoundHandler", (Handler,), {"emulator": emulator})
    httpd = ThreadingHTTPServer((host, port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return httpd
