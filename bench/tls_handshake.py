"""TLS handshake cost: full handshakes with an RSA-2048 and an ECDSA P-256 server key, and resumed ones.

    python -m bench.tls_handshake [--handshakes 2000] [--tls12] [--output FILE]

For each row a server process is started that does what a gunicorn sync worker does with a
connection, and nothing else: ``context.wrap_socket(server_side=True)`` with the project's context
settings (``core.tls_tickets.enable`` for the shared-ticket rows), read the request, write a
small reply, close. One process, one thread, so its CPU time is the handshake's. A client in
this process opens ``--handshakes`` connections one after another (after a warm-up), offering the
last session or not, and checks that each was resumed or not as the row says.

``--gunicorn`` runs three of the rows through the real stack instead: gunicorn with one sync
worker and the project's configuration (``onprem.gunicorn_conf``: its cached context and shared
ticket keys), each connection a ``GET /SmartTransport`` through Django; the worker's CPU per
connection then includes the request, the same in every row, so the differences are TLS's.

Reported per row: the server's CPU time per handshake (user + system from ``/proc/<pid>/stat``
over the measured connections, the less noisy number on a shared machine), handshakes per
second seen by the client (client and server share the machine's cores) and the client's
resumed/full counts. docs/performance.md, "Run 6 — TLS".
"""

import argparse
import json
import os
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

from .harness import ROOT

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
REQUEST = b"POST /SmartTransport HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

ROWS = [
    # id, label, key kind, shared ticket keys, client resumes
    ("plain", "no TLS: the connection's own floor (accept, read, write, close)", "none", False, False),
    (
        "rsa_full_before",
        "RSA-2048, full handshake (before: OpenSSL's own tickets, 2 per handshake)",
        "rsa",
        False,
        False,
    ),
    ("ecdsa_full", "ECDSA P-256, full handshake (shared ticket keys, 1 ticket)", "ecdsa", True, False),
    ("ecdsa_resumed", "ECDSA P-256, resumed (shared ticket keys)", "ecdsa", True, True),
    ("ecdsa_resumed_own", "ECDSA P-256, resumed (OpenSSL's own keys: this process only)", "ecdsa", False, True),
    ("rsa_full", "RSA-2048, full handshake (shared ticket keys, 1 ticket)", "rsa", True, False),
    ("rsa_resumed", "RSA-2048, resumed (shared ticket keys)", "rsa", True, True),
]


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the server (a child process) ----------------------------------------------------------------


def serve(cert, key, tickets, max_version):
    from core import tls_tickets

    if cert == "none":
        return serve_plain()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if max_version:
        context.maximum_version = ssl.TLSVersion[max_version]
    if tickets and not tls_tickets.enable(context, tickets):
        raise SystemExit("shared ticket keys could not be enabled")
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    listener.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )  # as gunicorn's listener (accepted sockets inherit it)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(REPLY)
        except (ssl.SSLError, OSError):
            pass


def serve_plain():
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            with conn:
                conn.recv(4096)
                conn.sendall(REPLY)
        except OSError:
            pass


# -- the client ---------------------------------------------------------------------------------


def _exchange(client, port, session):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        if client is None:
            raw.sendall(REQUEST)
            reply = b""
            while chunk := raw.recv(4096):
                reply += chunk
            return None, False
        with client.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(REQUEST)
            reply = b""
            while chunk := tls.recv(4096):
                reply += chunk
            if not reply.endswith(b"ok"):
                raise RuntimeError(f"unexpected reply {reply[:60]!r}")
            return tls.session, tls.session_reused


def run_row(row, *, handshakes, warmup, workdir, tls12):
    import subprocess

    from core.tls import generate_self_signed

    row_id, label, kind, shared, resume = row
    cert, key = workdir / f"{kind}.crt", workdir / f"{kind}.key"
    if kind == "none":
        cert = key = Path("none")
    elif not cert.exists():
        generate_self_signed("localhost", cert, key, kind=kind)
    tickets = str(workdir / "ticket-keys.json") if shared else ""
    argv = [sys.executable, "-m", "bench.tls_handshake", "--serve", str(cert), str(key), tickets]
    argv.append("TLSv1_2" if tls12 else "")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        port = int(server.stdout.readline())
        client = None if kind == "none" else ssl.create_default_context(cafile=str(cert))
        session = None
        for _ in range(warmup):
            new, _reused = _exchange(client, port, session if resume else None)
            session = new if resume else None
        counts = {"full": 0, "resumed": 0}
        cpu_before, started = cpu_seconds(server.pid), time.perf_counter()
        for _ in range(handshakes):
            new, reused = _exchange(client, port, session if resume else None)
            counts["resumed" if reused else "full"] += 1
            if resume:
                session = new
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {
        "id": row_id + ("_tls12" if tls12 else ""),
        "label": label + ("" if kind == "none" else ", TLS 1.2" if tls12 else ", TLS 1.3"),
        "key": kind,
        "handshakes": handshakes,
        "server_cpu_ms_per_handshake": round(1000 * cpu / handshakes, 3),
        "handshakes_per_s": round(handshakes / elapsed, 1),
        "client_saw": counts,
        "expected": "resumed" if resume else "full",
        "ok": counts["resumed" if resume else "full"] == handshakes,
    }


GUNICORN_ROWS = [
    # id, label, key kind, shared ticket keys, client resumes
    ("gunicorn_rsa_full_before", "gunicorn + Django, RSA-2048, full handshake (before)", "rsa", False, False),
    ("gunicorn_ecdsa_full", "gunicorn + Django, ECDSA P-256, full handshake", "ecdsa", True, False),
    ("gunicorn_ecdsa_resumed", "gunicorn + Django, ECDSA P-256, resumed", "ecdsa", True, True),
]


def _http_exchange(client, port, session):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(b"GET /SmartTransport HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
            if not reply.startswith(b"HTTP/1.1 "):
                raise RuntimeError(f"unexpected reply {reply[:60]!r}")
            return tls.session, tls.session_reused, reply.split(b" ", 2)[1].decode()


def _children(pid):
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_gunicorn_row(row, *, handshakes, warmup, workdir, port):
    import subprocess

    from core.tls import generate_self_signed

    row_id, label, kind, shared, resume = row
    cert, key = workdir / f"{kind}.crt", workdir / f"{kind}.key"
    if not cert.exists():
        generate_self_signed("localhost", cert, key, kind=kind)
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        ONPREM_DATA_DIR=str(data_dir),
        DEBUG="0",
        SECRET_KEY="tls-handshake-bench-0123456789-abcdefghijklmnopqrstuvwxyz",
        ONPREM_TLS_SESSION_TICKETS="on" if shared else "off",
    )
    env.pop("DATABASE_URL", None)
    argv = [sys.executable, "-m", "gunicorn", "onprem.wsgi:application", "--config", "python:onprem.gunicorn_conf"]
    argv += ["-w", "1", "-b", f"127.0.0.1:{port}", "--certfile", str(cert), "--keyfile", str(key)]
    argv += ["--error-logfile", str(workdir / "gunicorn.log")]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                session, _reused, status = _http_exchange(client, port, None)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not answer; see {workdir / 'gunicorn.log'}") from None
                time.sleep(0.2)
        for _ in range(warmup):
            new, _reused, status = _http_exchange(client, port, session if resume else None)
            session = new if resume else None
        (worker,) = _children(server.pid)
        counts = {"full": 0, "resumed": 0}
        statuses = set()
        cpu_before, started = cpu_seconds(worker), time.perf_counter()
        for _ in range(handshakes):
            new, reused, status = _http_exchange(client, port, session if resume else None)
            counts["resumed" if reused else "full"] += 1
            statuses.add(status)
            if resume:
                session = new
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(worker) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "id": row_id,
        "label": label + f" (GET /SmartTransport: HTTP {', '.join(sorted(statuses))})",
        "key": kind,
        "handshakes": handshakes,
        "server_cpu_ms_per_handshake": round(1000 * cpu / handshakes, 3),
        "handshakes_per_s": round(handshakes / elapsed, 1),
        "client_saw": counts,
        "expected": "resumed" if resume else "full",
        "ok": counts["resumed" if resume else "full"] == handshakes,
    }


def print_rows(rows, out=sys.stdout):
    print(f"{'row':<78} {'server CPU ms/hs':>16} {'hs/s':>8}  client saw", file=out)
    for row in rows:
        mark = "" if row["ok"] else "  (NOT AS EXPECTED)"
        print(
            f"{row['label']:<78} {row['server_cpu_ms_per_handshake']:>16.3f} {row['handshakes_per_s']:>8.1f}  "
            f"{row['client_saw']}{mark}",
            file=out,
        )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        cert, key, tickets, max_version = argv[1:5]
        serve(cert, key, tickets, max_version)
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.tls_handshake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--handshakes", type=int, default=2000, help="measured connections per row (2000)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tls12", action="store_true", help="the rows again with TLS 1.2")
    parser.add_argument("--gunicorn", action="store_true", help="through gunicorn + Django instead (3 rows)")
    parser.add_argument(
        "--port", type=int, help="gunicorn's loopback port for --gunicorn (default: one of the bench's)"
    )
    parser.add_argument("--output", help="JSON file for the rows")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="onprem-tls-bench-") as tmp:
        port = args.port
        if args.gunicorn and port is None:
            from .ports import claim_port
            from .server import PORTS

            port = claim_port(PORTS)
        for row in GUNICORN_ROWS if args.gunicorn else ():
            result = run_gunicorn_row(row, handshakes=args.handshakes, warmup=args.warmup, workdir=Path(tmp), port=port)
            print(json.dumps(result), file=sys.stderr, flush=True)
            rows.append(result)
        for tls12 in () if args.gunicorn else (False, True) if args.tls12 else (False,):
            for row in ROWS:
                if tls12 and row[2] == "none":
                    continue
                result = run_row(row, handshakes=args.handshakes, warmup=args.warmup, workdir=Path(tmp), tls12=tls12)
                print(json.dumps(result), file=sys.stderr, flush=True)
                rows.append(result)
    print_rows(rows)
    if args.output:
        Path(args.output).write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
