"""Helpers of the sync tests: the emulator's CCO credentials and accounts, and its admin commands."""

from pathlib import Path

from bench.harness import manage

BASE_DIR = Path(__file__).resolve().parents[2]
SEED = BASE_DIR / "sync" / "emulator" / "seed-example.yml"
SMART_ACCOUNT, CISCO_VA = "acme.example", "Lab"
CCO_USER, CCO_PASSWORD = "admin@acme.example", "acme-cssm-demo-1"


class Cssm:
    """The running emulator: its URL, TLS certificate, state directory, and its admin commands."""

    def __init__(self, url, cert, state_dir, env):
        self.url, self.cert, self.state_dir, self.env = url, cert, state_dir, env

    def process_file(self, request_path, response_path):
        """CSSM's "File Sync": turn a request file into a response file (the emulator's file mode)."""
        result = manage(
            "cssm_emulator",
            "--state-dir",
            str(self.state_dir),
            "--process-file",
            str(request_path),
            "--output",
            str(response_path),
            env=self.env,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return Path(response_path).read_bytes()

    def rename(self, uid, name):
        result = manage("cssm_emulator", "--state-dir", str(self.state_dir), "--rename-onprem", uid, name, env=self.env)
        assert result.returncode == 0, result.stderr
