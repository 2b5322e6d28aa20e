"""`python -m bench.soak` reports what went wrong and how the server's memory grew: against a stand-in
server process (a separate process on loopback) that answers every device message with a reply that
is not the protocol's and holds on to 16 MB more memory at each request. The soak must say that
every request failed, by operation and error code, exit non-zero, and show the growth of exactly
that process. (Against the real server and a clean run: tests/smart_agent/test_agent_live.py::
test_bounded_soak_reports_errors_and_memory_of_the_server_tree.)"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.child_processes import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
LEAKY_SERVER = r"""
import http.server, sys
held = []
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        held.append(bytearray(16 * 2**20))  # touched memory: counted in the resident set
        for block in held[-1:]:
            block[::4096] = b"x" * len(block[::4096])
        body = b'{"not": "a reply"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def leaky_server():
    proc = subprocess.Popen(
        [sys.executable, "-c", LEAKY_SERVER],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    try:
        port = int(proc.stdout.readline())
        yield proc.pid, f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.live
def test_soak_reports_failures_by_code_and_the_servers_memory_growth(leaky_server):
    pid, url = leaky_server
    time.sleep(0.5)  # the stand-in's starting size settles before the first sample
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--server",
            url,
            "--token",
            "any",
            "--minutes",
            "0.1",
            "--devices",
            "6",
            "--concurrency",
            "2",
            "--server-pid",
            str(pid),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "6 request(s) failed during the soak" in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert result["requests"] == 6 and result["ok"] == 0 and result["failed"] == 6
    assert result["failures"] == {"REGISTER": {"INVALID_REPLY": 6}}
    rows = [row for row in result["memory"] if row["pid"] == pid]
    assert len(rows) == 1, result["memory"]
    row = rows[0]
    # 6 requests x 16 MB held: at least ~90 MB more than at the start, reported as growth.
    assert row["rss_end_mb"] - row["rss_start_mb"] >= 80, row
    assert row["growth_percent"] > 100 and row["rss_peak_mb"] >= row["rss_end_mb"], row
