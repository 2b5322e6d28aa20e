"""Reading the environment: every knob of the server comes from here, with embedded defaults."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name, default=()):
    value = os.environ.get(name)
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def data_dir():
    """Where the embedded mode keeps its database, keys, certificates, logs and broker files."""
    path = Path(env_str("ONPREM_DATA_DIR", str(BASE_DIR / "var"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_private_file(path, content):
    """Write a secret readable by the owner only (0600), creating it with that mode from the start."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(path, 0o600)


def secret_key(directory):
    """SECRET_KEY from the environment, else one generated once and kept 0600 in the data dir."""
    from_env = env_str("SECRET_KEY")
    if from_env:
        return from_env
    path = Path(directory) / "secret_key"
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(64))
    return path.read_text().strip()
