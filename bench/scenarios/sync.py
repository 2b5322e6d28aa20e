"""Synchronization with CSSM: full request-file build and response apply at 25,000 and 250,000
product instances, with each step's peak memory (a process per step, ``bench/sync_measure.py``).

The account is registered online with the CSSM emulator (``manage.py cssm_emulator``, its own
state dir, a port of 18900-18999); the response files come from the emulator's file mode
(``--process-file``, not timed). When the sync engine is missing the rows say "not measured"
with the reason — never numbers.
"""

import importlib.util
import json
import subprocess
import sys

from ..harness import ROOT, ProcessError, cssm_emulator, manage
from ..harness import run as run_process
from ..ports import claim_port
from ..server import PORTS, BenchError

SIZES = (25_000, 250_000)
SEED = ROOT / "sync" / "emulator" / "seed-example.yml"


def availability():
    """None when the engine can be measured, else why not."""
    if (
        importlib.util.find_spec("sync.services") is None
        or importlib.util.find_spec("sync.services.synchronization") is None
    ):
        return "sync/services/synchronization.py does not exist yet"
    # Read, not imported: this process has no Django settings (the steps run in the server's environment).
    source = open(importlib.util.find_spec("sync.services.synchronization").origin).read()
    if "def create_sync_request(" not in source or "def apply_response(" not in source:
        return "sync/services/synchronization.py has no create_sync_request/apply_response yet"
    return None


def not_measured(reason, sizes=SIZES):
    return {
        f"{what}_{size}": {"status": "not measured", "reason": reason}
        for size in sizes
        for what in ("request_build", "response_apply")
    }


class Emulator:
    def __init__(self, root, env):
        self.state_dir = root / "cssm-state"
        self.env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env["ONPREM_DATA_DIR"] = str(root / "cssm-data")
        self.port = claim_port(PORTS)
        self.process = None

    def start(self, log):
        self.process = cssm_emulator(self.state_dir, port=self.port, env=self.env, log=log, seed=SEED)

    def stop(self):
        if self.process is not None:
            self.process.stop()

    def process_file(self, request, response):
        done = manage(
            "cssm_emulator",
            "--state-dir",
            self.state_dir,
            "--process-file",
            request,
            "--output",
            response,
            env=self.env,
            timeout=3600,
        )
        if done.returncode != 0:
            raise BenchError(f"the emulator could not answer {request}: {done.stderr[-2000:]}")


def _step(server, env, *args):
    done = run_process([sys.executable, "-m", "bench.sync_measure", *args], env=env, timeout=3600)
    if done.returncode != 0:
        # The exception's own line (last of the traceback) first: the reason is cut to fit the table.
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
        raise BenchError(f"sync_measure {args[0]}: {last} ({done.stdout[-300:].strip()})")
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH_SYNC "))
    return json.loads(line[len("BENCH_SYNC ") :])


def run(server, *, sizes=SIZES, log=print):
    reason = availability()
    if reason:
        return not_measured(reason, sizes)
    emulator = Emulator(server.root, server.env)
    env = dict(
        server.env,
        ONPREM_CSSM_URL=f"https://127.0.0.1:{emulator.port}",
        ONPREM_CSSM_CA_FILE=str(emulator.state_dir / "tls" / "server.crt"),
        ONPREM_CSSM_ROOT_FILE="",
    )
    rows = {}
    try:
        emulator.start(server.root / "cssm-emulator.log")
        try:
            _step(server, env, "register")
        finally:
            emulator.stop()  # the file mode below uses the same state dir
        for size in sizes:
            filled = _step(server, env, "populate", "--total", str(size))
            log(f"  sync: {filled['product_instances']} product instances ({filled['seconds']} s to create)")
            request, response = server.root / f"sync-request-{size}.yml", server.root / f"sync-response-{size}.yml"
            built = _step(server, env, "build", "--out", str(request))
            log(f"  sync: request for {size} built in {built['seconds']} s, peak RSS {built['peak_rss_mib']} MiB")
            rows[f"request_build_{size}"] = built
            emulator.process_file(request, response)
            applied = _step(server, env, "apply", "--file", str(response))
            log(f"  sync: response applied in {applied['seconds']} s, peak RSS {applied['peak_rss_mib']} MiB")
            rows[f"response_apply_{size}"] = applied
    except (ProcessError, OSError, subprocess.SubprocessError) as exc:
        for key, value in not_measured(f"failed: {str(exc)[:500]}", sizes).items():
            rows.setdefault(key, value)
    return rows
