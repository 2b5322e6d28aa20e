"""Reading the environment: every knob of the server comes from here, with embedded defaults."""

import os
import secrets
import urllib.parse
from pathlib import Path

import dj_database_url

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


# libpq's settings for a multi-host URL (a pg_auto_failover formation): a host that does not answer
# is given up on after connect_timeout seconds and the next one tried; a connection whose host died
# mid-query fails after tcp_user_timeout ms of unacknowledged data instead of hanging on TCP's own
# retransmission timeout (minutes), and an idle one is found dead by the keepalives. The URL's own
# query parameters win.
MULTI_HOST_OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
}


def database_config(url, *, conn_max_age):
    """Django's DATABASES entry for ``url`` (dj-database-url), multi-host PostgreSQL URLs included:
    ``postgres://user@host1:5432,host2:5432/db?target_session_attrs=read-write`` (what
    ``pg_autoctl show uri --formation default`` prints) gives HOST ``host1,host2`` and PORT
    ``5432,5432``, which libpq tries in turn, keeping the first that accepts writes."""
    parts = urllib.parse.urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not (parts.scheme.startswith("postgres") and "," in hosts):
        return dj_database_url.parse(url, conn_max_age=conn_max_age)
    names, numbers = [], []
    for hostport in hosts.split(","):
        host, port = hostport, ""
        if hostport.startswith("["):  # [ipv6]:port
            host, _, rest = hostport[1:].partition("]")
            port = rest.lstrip(":")
        elif ":" in hostport:
            host, _, port = hostport.rpartition(":")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"DATABASE_URL: {hostport!r} is not a host or host:port")
        names.append(urllib.parse.unquote(host))
        numbers.append(port or "5432")
    first = f"{userinfo}{at}localhost:{numbers[0]}"
    config = dj_database_url.parse(urllib.parse.urlunsplit(parts._replace(netloc=first)), conn_max_age=conn_max_age)
    config["HOST"] = ",".join(names)
    config["PORT"] = ",".join(numbers)
    config["OPTIONS"] = {**MULTI_HOST_OPTIONS, **config.get("OPTIONS", {})}
    return config
