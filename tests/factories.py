"""The suite's factories, one of each, for every test (a plugin of tests/conftest.py).

Accounts, virtual accounts, roles, tokens and API grants are made by the real service functions,
as the product makes them. Users are saved rows: ``create_user`` would add a "user added" event
and a password history to every test's starting state. License definitions, license lines and
product instances are written as rows: they arrive by synchronization with CSSM and by the device
protocol, which make them only in bulk from signed documents, and tests need them one by one.

Servers: ``smtp_server`` (a real SMTP listener) and, for the live tests, ``server_factory``
(``bench/harness.py``'s Installation).
See docs/development/patterns.md, "Test factories".
"""

import datetime
import email
import email.policy
import threading
from typing import NamedTuple

import pytest
from django.utils import timezone

from accounts.roles import SystemRole
from bench.harness import Installation
from tests import ports

PASSWORD = "Correct-Horse-42"


# --- people -----------------------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    """make_user("alice", SystemRole.USER) -> a user who has finished the first-login wizard."""
    from django.contrib.auth import get_user_model

    def _make(username="user", system_role=SystemRole.USER, *, wizard_done=True, **fields):
        user = get_user_model()(
            username=username, system_role=system_role, needs_first_login_wizard=not wizard_done, **fields
        )
        user.set_password(PASSWORD)
        user.save()
        return user

    return _make


@pytest.fixture
def sysadmin(make_user):
    return make_user("sysadmin", SystemRole.ADMIN)


@pytest.fixture
def sysop(make_user):
    return make_user("sysop", SystemRole.OPERATOR)


@pytest.fixture
def login(client):
    """login(user) -> the Django test client signed in as ``user`` through the login form."""

    def _login(user, password=PASSWORD):
        response = client.post("/login/", {"username": user.username, "password": password})
        assert response.status_code == 302, response.content[:500]
        return client

    return _login


@pytest.fixture
def admin_client(sysadmin, login):
    """The test client signed in as a System Admin through the login form (not pytest-django's
    superuser fixture of the same name)."""
    return login(sysadmin)


@pytest.fixture
def op_client(sysop, login):
    """The test client signed in as a System Operator."""
    return login(sysop)


@pytest.fixture
def grant_role():
    """grant_role(user, account_or_va, role): an account or virtual-account role, set by the service."""
    from accounts.services.grants import set_account_role, set_virtual_account_role
    from licensing.models import VirtualAccount

    def _grant(user, scope, role):
        if isinstance(scope, VirtualAccount):
            return set_virtual_account_role(actor=None, virtual_account=scope, role=role, user=user)
        return set_account_role(actor=None, account=scope, role=role, user=user)

    return _grant


# --- accounts, virtual accounts, tokens ---------------------------------------------------------


@pytest.fixture
def make_account(db):
    """make_account("Acme") -> an Active local account (with its Default VA), made by the services."""
    from licensing.services.accounts import activate_account, create_account

    def _make(name="Acme", *, active=True):
        account = create_account(
            actor=None, name=name, cisco_smart_account=f"{name} SA", cisco_virtual_account=f"{name} VA"
        )
        return activate_account(actor=None, account=account) if active else account

    return _make


@pytest.fixture
def acme(make_account):
    return make_account("Acme")


@pytest.fixture
def default_va(acme):
    return acme.virtual_accounts.get(is_default=True)


@pytest.fixture
def new_va(acme):
    """new_va("Sales") -> a local virtual account of Acme (or of ``account=``), made by the service."""
    from licensing.services.virtual_accounts import create_virtual_account

    def _new(name, account=None, **fields):
        return create_virtual_account(actor=None, account=account or acme, name=name, **fields)

    return _new


@pytest.fixture
def token(default_va):
    """token(va=None, **options) -> a registration token of ``va`` (Acme's Default VA unless told),
    made by the token service (options: description, expires_after_days, max_uses, now, ...)."""
    from licensing.services.tokens import create_token

    def _token(va=None, **options):
        return create_token(actor=None, virtual_account=va or default_va, **options)

    return _token


# --- licenses, license lines, product instances (rows: see the module's docstring) -------------


@pytest.fixture
def license_def(db):
    """license_def("Network Advantage", substitutes_for=[essentials], tag=None) -> a LicenseDefinition
    (its entitlement tag ``regid.test.<name>`` unless ``tag``)."""
    from licensing.models import LicenseDefinition, LicenseHierarchy

    def _make(name, *, substitutes_for=(), tag=None, **fields):
        lic = LicenseDefinition.objects.create(name=name, entitlement_tag=tag or f"regid.test.{name}", **fields)
        for lower in substitutes_for:
            LicenseHierarchy.objects.create(higher=lic, lower=lower)
        return lic

    return _make


@pytest.fixture
def add_line(db):
    """add_line(va, license, 10, "term", start=..., end=..., subscription_id=...) -> an Entitlement
    (perpetual unless told)."""
    from licensing.models import Entitlement

    def _add(va, lic, quantity, license_type="perpetual", start=None, end=None, **fields):
        return Entitlement.objects.create(
            virtual_account=va,
            license=lic,
            quantity=quantity,
            license_type=license_type,
            start_date=start,
            end_date=end,
            **fields,
        )

    return _add


@pytest.fixture
def add_pi(db):
    """add_pi(va, "SN1") -> a ProductInstance as a device leaves it after registering: a Cloud Services
    Router (CSR1000V) registered two days ago, last seen an hour ago, with its device identity.

    Options: ``pid``, ``hostname`` (the serial in lower case unless told), ``role`` and ``group``
    (redundancy), ``uses={license: count}``, ``identity=`` False for none (a device known from
    sync only) or a dict of DeviceIdentity fields (``uuid``, ``mac_address``, ...), and any other
    ProductInstance field (``registered_at``, ``last_contact_at``, ``product_name``, ...).
    """
    from licensing.models import DeviceIdentity, LicenseUsage, ProductInstance

    def _add(va, serial, *, pid="CSR1000V", hostname=None, role="none", group="", uses=None, identity=True, **fields):
        now = timezone.now()
        fields = {
            "product_name": "Cloud Services Router",
            "registered_at": now - datetime.timedelta(days=2),
            "last_contact_at": now - datetime.timedelta(hours=1),
            **fields,
        }
        pi = ProductInstance.objects.create(
            virtual_account=va,
            udi_pid=pid,
            udi_serial_number=serial,
            hostname=serial.lower() if hostname is None else hostname,
            redundancy_role=role,
            redundancy_group=group,
            **fields,
        )
        if identity is not False:
            details = {
                "software_tag": ",1.0_csr-tag",
                "product_type": "CSR1KV",
                **(identity if isinstance(identity, dict) else {}),
            }
            DeviceIdentity.objects.create(product_instance=pi, updated_at=now, **details)
        for lic, count in (uses or {}).items():
            LicenseUsage.objects.create(product_instance=pi, license=lic, count=count)
        return pi

    return _add


# --- the API Console --------------------------------------------------------------------------


@pytest.fixture
def console_on(db):
    from accounts.services import api_grants

    api_grants.set_api_console(actor=None, enabled=True)


@pytest.fixture
def make_grant(console_on):
    """make_grant("ci", ApiGrant.GrantType.CLIENT_CREDENTIALS) -> (grant, client_secret), by the service."""
    from accounts.api_clients import ApiGrant
    from accounts.services import api_grants

    def _make(name="ci", grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, **fields):
        return api_grants.create_grant(actor=None, grant_type=grant_type, name=name, **fields)

    return _make


@pytest.fixture
def password_grant(make_grant):
    """A Resource Owner (password) grant named "people": (grant, client_secret)."""
    from accounts.api_clients import ApiGrant

    return make_grant("people", ApiGrant.GrantType.PASSWORD)


# --- files and servers ------------------------------------------------------------------------


@pytest.fixture
def tls_files(settings, tmp_path, monkeypatch):
    """TLS_CERT_FILE / TLS_KEY_FILE in a temporary directory, holding a default self-signed pair."""
    from core.tls import generate_self_signed

    monkeypatch.delenv("ONPREM_TLS_CERT", raising=False)
    monkeypatch.delenv("ONPREM_TLS_KEY", raising=False)
    directory = tmp_path / "tls"
    cert, key = directory / "server.crt", directory / "server.key"
    settings.TLS_CERT_FILE, settings.TLS_KEY_FILE = str(cert), str(key)
    settings.ONPREM_HOST = "localhost"
    generate_self_signed("localhost", cert, key)
    return cert, key


class Mail(NamedTuple):
    """One message as the SMTP server received it."""

    helo: str
    sender: str
    recipients: list
    data: bytes

    @property
    def text(self):
        return self.data.decode("utf-8", "replace")

    @property
    def message(self):
        return email.message_from_bytes(self.data)

    @property
    def subject(self):
        """The Subject header, decoded and unfolded (a long one arrives on several lines)."""
        header = email.message_from_bytes(self.data, policy=email.policy.default)["Subject"] or ""
        return " ".join(str(header).split())

    @property
    def body(self):
        """The text of the first text/plain part, with the wire's CRLF line ends as "\\n"."""
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    def attachments(self):
        """``(filename, content type, text)`` of each attached file."""
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        found = []
        for part in message.iter_attachments():
            content = part.get_content()  # bytes for a non-text type such as application/pkcs10
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            found.append((part.get_filename(), part.get_content_type(), text.replace("\r\n", "\n")))
        return found


class Mailbox:
    """What a real SMTP listener (aiosmtpd) received, in order; ``port`` is where it listens."""

    def __init__(self, port):
        self.port = port
        self.messages = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self._arrived:
            self.messages.append(Mail(session.host_name, envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count, timeout=10):
        """The messages, once there are ``count`` of them or ``timeout`` seconds have passed."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    def wait_for_subject(self, subject, timeout=60):
        """True once a message with this subject has arrived, False after ``timeout`` seconds."""
        with self._arrived:
            return self._arrived.wait_for(
                lambda: any(mail.subject == subject for mail in self.messages), timeout=timeout
            )


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (a port of tests/ports.py's SMTP range): a Mailbox."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(ports.claim_port(ports.SMTP))
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def server_factory(tmp_path):
    """server_factory("a", REDIS_URL=...) -> an Installation (bench/harness.py) in ``tmp_path/a`` on a
    port of tests/ports.py's SERVE range, its worker heartbeat every 2 s; all are killed at the end."""
    servers = []

    def make(name="a", **env):
        servers.append(
            Installation(
                tmp_path / name, port=ports.claim_port(ports.SERVE), **{"ONPREM_HEARTBEAT_SECONDS": "2", **env}
            )
        )
        return servers[-1]

    yield make
    for server in servers:
        server.cleanup()
