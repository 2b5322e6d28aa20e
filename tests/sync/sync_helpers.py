"""Helpers of the sync tests (a module of its own name: ``conftest`` is ambiguous across test folders)."""
import os
import subprocess
import sys
from pathlib import Path
from ports import claim_port

BASE_DIR = Path(__file__).resolve().parents[2]
SEED = BASE_DIR / "sync" / "emulator" / "seed-example.yml"
SMART_ACCOUNT, CISCO_VA = "acme.example", "Lab"
CCO_USER, CCO_PASSWORD = "admin@acme.example", "acme-cssm-demo-1"
PORTS = range(18800, 18900)

sys.path.insert(0, str(BASE_DIR / "tests" / "devices"))  # devicesim


def free_port():
    port = claim_port(PORTS)  # locked for this process: other test processes skip it
    if port is None:
        raise RuntimeError("no free port in 18800-18899")
    return port


def child_env(data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONPREM_") and k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="onprem.settings", ONPREM_DATA_DIR=str(data_dir), **extra)
    return env


def manage(*args, env, timeout=120):
    return subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=timeout)


class Cssm:
    """The running emulator: its URL, TLS certificate, state directory, and its admin commands."""

    def __init__(self, url, cert, state_dir, env):
        self.url, self.cert, self.state_dir, self.env = url, cert, state_dir, env

    def process_file(self, request_path, response_path):
        """CSSM's "File Sync": turn a request file into a response file (the emulator's file mode)."""
        result = manage("cssm_emulator", "--state-dir", str(self.state_dir), "--process-file", str(request_path),
                        "--output", str(response_path), env=self.env)
        assert result.returncode == 0, result.stderr + result.stdout
        return Path(response_path).read_bytes()

    def rename(self, uid, name):
        result = manage("cssm_emulator", "--state-dir", str(self.state_dir), "--rename-onprem", uid, name,
                        env=self.env)
        assert result.returncode == 0, result.stderr
