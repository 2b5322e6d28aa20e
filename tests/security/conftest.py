"""Fixtures of the Security widget tests: a clock the rules read, the policy row, a real SMTP
listener (aiosmtpd) and signing authorities made by openssl."""

import datetime
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # The sign-in rate limit (accounts/services/ratelimit.py) counts in the shared cache across tests; these
    # tests fail logins on purpose and are about the auto lock, not about that limit.
    settings.ONPREM_RATE_LIMIT_FAILURES = 10**6
    settings.ONPREM_RATE_LIMIT_FAILURES_PER_IP = 10**6


class Clock:
    """A settable "now" for the lock and password rules."""

    def __init__(self):
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    from accounts.services import lockout, password_policy

    fake = Clock()
    monkeypatch.setattr(lockout, "now", fake)
    monkeypatch.setattr(password_policy, "now", fake)
    return fake


@pytest.fixture
def policy(db):
    """policy(auto_lock_enabled=True, ...) -> the saved policy row with these values."""
    from accounts.security_models import SecurityPolicy

    def _set(**values):
        row = SecurityPolicy.objects.filter(pk=1).first() or SecurityPolicy(pk=1)
        for name, value in values.items():
            setattr(row, name, value)
        row.full_clean()
        row.save()
        return row

    return _set


@pytest.fixture
def smtp_server(smtp_server, settings):
    """tests/factories.py's SMTP server, where Django's mail goes through the project's backend."""
    settings.EMAIL_BACKEND = "core.mail.SettingsEmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    return smtp_server


def openssl(*args, cwd):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)


class Authority:
    """A root CA and an intermediate CA, made by the openssl binary, that sign CSRs."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.crt",
            "-subj",
            "/CN=Test Root CA",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.dir,
        )
        openssl(
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "inter.key",
            "-out",
            "inter.csr",
            "-subj",
            "/CN=Test Intermediate CA",
            cwd=self.dir,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            "inter.csr",
            "-CA",
            "root.crt",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ca.ext",
            "-out",
            "inter.crt",
            cwd=self.dir,
        )
        self.root = self.dir / "root.crt"
        self.intermediate = self.dir / "inter.crt"

    def sign(self, csr_pem, name="server", days=20):
        """Sign a CSR with the intermediate CA, keeping its subject alternative names."""
        (self.dir / f"{name}.csr").write_text(csr_pem)
        (self.dir / "server.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "inter.crt",
            "-CAkey",
            "inter.key",
            "-CAcreateserial",
            "-days",
            str(days),
            "-copy_extensions",
            "copy",
            "-extfile",
            "server.ext",
            "-out",
            f"{name}.crt",
            cwd=self.dir,
        )
        return (self.dir / f"{name}.crt").read_bytes()

    def new_key_and_csr(self, common_name, name="other", newkey="rsa:2048"):
        """A key and CSR made by openssl itself (for the "upload the key too" path); ``newkey`` as
        openssl's -newkey takes it, e.g. "ec -pkeyopt ec_paramgen_curve:P-256" split in words."""
        extra = newkey.split()
        openssl(
            "req",
            "-new",
            "-newkey",
            *extra,
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={common_name}",
            "-addext",
            f"subjectAltName=DNS:{common_name}",
            cwd=self.dir,
        )
        return (self.dir / f"{name}.key").read_bytes(), (self.dir / f"{name}.csr").read_text()


@pytest.fixture(scope="session")
def authority(tmp_path_factory):
    return Authority(tmp_path_factory.mktemp("ca"))
