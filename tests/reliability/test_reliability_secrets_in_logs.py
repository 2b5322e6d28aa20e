"""No secret in any log record or event: every logger at DEBUG (SQL included) while flows that
handle secrets run, then the captured text is searched for each secret."""

import logging
import time

import pytest
from django.db import connection
from django.test import Client

from accounts.api_clients import ApiGrant
from accounts.models import LdapConfig
from accounts.security_models import PendingCsr
from accounts.services import api_grants
from core import crypto
from core.models import Event, SystemSettings
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LDAP_SECRET = "Ldap-Bind-S3cret!qq"
SMTP_SECRET = "Smtp-Pass-W0rd#zz"
PROXY_SECRET = "Proxy-Pa55:word/yy"
WRONG_PASSWORD = "Wrong-But-Known-77"
USER_PASSWORD = "Api-User-Passw0rd-88"


# Loggers the settings keep above DEBUG on purpose, because their DEBUG records carry secrets
# (oauthlib logs each issued token). Everything else is captured at DEBUG.
PINNED = ("oauthlib",)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.texts = []

    def emit(self, record):
        # The formatted message, its raw arguments, any traceback and every extra attribute.
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.args))
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))
        self.texts.append(repr({key: value for key, value in vars(record).items() if key not in ("args", "msg")}))


@pytest.fixture
def captured():
    """Every logger at DEBUG, the capture handler on the root and on loggers that do not propagate."""
    handler = _Capture()
    manager = logging.root.manager
    loggers = [logging.root] + [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        if not lg.name.startswith(PINNED):
            lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is logging.root or not lg.propagate:
            lg.addHandler(handler)
    connection.force_debug_cursor = True  # django.db.backends logs every SQL statement with its parameters
    logging.disable(logging.NOTSET)
    yield handler
    connection.force_debug_cursor = False
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled
        lg.removeHandler(handler)


def _secret_fragments(secret):
    """The secret and its obvious encodings: a log line holding any of them leaks it."""
    from urllib.parse import quote, quote_plus

    return {secret, quote(secret, safe=""), quote_plus(secret)}


def _assert_nowhere(captured, secrets):
    events = [" ".join(str(v) for v in row) for row in Event.objects.values_list()]
    haystack = captured.texts + events
    assert len(captured.texts) > 20  # the capture really saw the flows (SQL, requests, ...)
    for secret in secrets:
        for fragment in _secret_fragments(secret):
            leaks = [text for text in haystack if fragment in text]
            assert leaks == [], f"{secret!r} appears in: {leaks[:1]}"


def test_no_secret_reaches_a_log_or_an_event(captured, make_user, sysadmin, make_account):
    secrets = [PASSWORD, WRONG_PASSWORD, LDAP_SECRET, SMTP_SECRET, PROXY_SECRET, USER_PASSWORD]

    # Sign-in: a failure with a known wrong password, then a good one.
    admin = Client()
    assert admin.post("/login/", {"username": sysadmin.username, "password": WRONG_PASSWORD}).status_code == 200
    assert admin.post("/login/", {"username": sysadmin.username, "password": PASSWORD}).status_code == 302

    # Token requests: client credentials (client secret) and the password grant (user password).
    account = make_account("Acme")
    api_grants.set_api_console(actor=None, enabled=True)
    grant, client_secret = api_grants.create_grant(
        actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, name="ci"
    )
    api_grants.add_access(actor=None, grant=grant, account=account, role="account_admin")
    secrets.append(client_secret)
    token = Client().post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": client_secret},
    )
    assert token.status_code == 200
    secrets.append(token.json()["access_token"])
    refused = Client().post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": client_secret + "x"},
    )
    assert refused.status_code in (400, 401, 403)
    secrets.append(client_secret + "x")
    people, people_secret = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.PASSWORD, name="ppl")
    secrets.append(people_secret)
    user = make_user("apiuser")
    user.set_password(USER_PASSWORD)
    user.save()
    Client().post(
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": people.client_id,
            "client_secret": people_secret,
            "username": "apiuser",
            "password": USER_PASSWORD,
        },
    )
    # An API call with the bearer token.
    Client().get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")

    # LDAP bind password, SMTP password, proxy password: saved through their forms.
    response = admin.post(
        "/admin/access/ldap/",
        {
            "enabled": "",
            "title": "Directory",
            "host": "127.0.0.1",
            "port": "389",
            "user_base_dn": "ou=people,dc=example,dc=org",
            "uid_attribute": "uid",
            "encryption": "plain",
            "bind_dn": "cn=reader,dc=example,dc=org",
            "bind_password": LDAP_SECRET,
            "group_base_dn": "",
            "ldap_type": "openldap",
        },
    )
    assert response.status_code == 302
    assert LdapConfig.objects.get().bind_password == LDAP_SECRET  # EncryptedTextField decrypts on load
    response = admin.post(
        "/admin/settings/email/",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": "25",
            "smtp_helo_domain": "onprem.example.com",
            "smtp_from": "license-server@example.com",
            "smtp_auth_required": "on",
            "smtp_username": "mailer",
            "smtp_password": SMTP_SECRET,
        },
    )
    assert response.status_code == 302
    assert crypto.decrypt(SystemSettings.objects.get().smtp_password) == SMTP_SECRET
    response = admin.post(
        "/admin/network/proxy/",
        {
            "proxy_enabled": "on",
            "proxy_host": "10.1.1.1",
            "proxy_port": "8080",
            "proxy_username": "svc",
            "proxy_password": PROXY_SECRET,
        },
    )
    assert response.status_code == 302
    assert crypto.decrypt(SystemSettings.objects.get().proxy_password) == PROXY_SECRET

    # CSR: the private key made on the server.
    response = admin.post(
        "/admin/security/certificates/csr/",
        {
            "common_name": "onprem.example.com",
            "organizational_unit": "Licensing",
            "country": "US",
            "key_size": "2048",
            "subject_alt_names": "",
        },
    )
    assert response.status_code == 200
    key_pem = PendingCsr.objects.get().private_key  # EncryptedTextField: the plaintext key
    assert "PRIVATE KEY" in key_pem
    # A line of the key's base64 body is enough to count as a leak.
    secrets += [line for line in key_pem.splitlines() if line and "-----" not in line][:5]

    _assert_nowhere(captured, secrets)


def test_the_capture_would_see_a_leak(captured, sysadmin):
    """The check can fail: a secret logged by mistake is found."""
    Client().post("/login/", {"username": sysadmin.username, "password": PASSWORD})
    logging.getLogger("onprem.somewhere").debug("connecting with password %s", LDAP_SECRET)
    with pytest.raises(AssertionError, match="Ldap-Bind"):
        _assert_nowhere(captured, [LDAP_SECRET])


def test_oauthlib_stays_above_debug_whatever_log_level_says():
    """oauthlib's DEBUG records hold issued access tokens: the settings pin it (and its children) at INFO."""
    from django.conf import settings

    assert settings.LOGGING["loggers"]["oauthlib"]["level"] == "INFO"
    root_level = logging.root.level
    logging.root.setLevel(logging.DEBUG)  # what LOG_LEVEL=DEBUG does
    try:
        child = logging.getLogger("oauthlib.oauth2.rfc6749.grant_types.client_credentials")
        assert not child.isEnabledFor(logging.DEBUG) and child.isEnabledFor(logging.INFO)
    finally:
        logging.root.setLevel(root_level)


# --- The log files Operators read: secrets scrubbed by the handlers (core/log_scrub.py) -------

RESET_TOKEN = "cdx7pk-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def test_every_handler_carries_the_scrub_filter():
    """Every handler of LOGGING has the filter, and so does every handler now on the root logger
    and on each logger LOGGING configures (Django's own defaults included: they are replaced)."""
    from django.conf import settings

    from core.log_scrub import ScrubSecretsFilter

    assert all("scrub_secrets" in handler["filters"] for handler in settings.LOGGING["handlers"].values())
    loggers = [logging.root] + [logging.getLogger(name) for name in settings.LOGGING["loggers"]]
    handlers = [
        (lg.name, handler)
        for lg in loggers
        for handler in lg.handlers
        if not isinstance(handler, logging.NullHandler) and not type(handler).__module__.startswith("_pytest")
    ]
    assert len(handlers) >= 3  # the console and onprem.log on the root, the console on django.server
    for name, handler in handlers:
        assert any(isinstance(f, ScrubSecretsFilter) for f in handler.filters), (name, handler)


@pytest.fixture
def onprem_log(tmp_path):
    """The configured onprem.log handler itself (settings.LOGGING's "file": its JSON formatter and
    filters), writing to a file of this test while it runs."""
    handler = next(h for h in logging.root.handlers if getattr(h, "baseFilename", "").endswith("onprem.log"))
    original = handler.baseFilename
    path = tmp_path / "onprem.log"
    handler.acquire()
    try:
        handler.close()
        handler.baseFilename = str(path)
        handler.stream = handler._open()
        handler._statstream()
    finally:
        handler.release()
    yield path
    handler.acquire()
    try:
        handler.close()
        handler.baseFilename = original
        handler.stream = handler._open()
        handler._statstream()
    finally:
        handler.release()


def _assert_scrubbed(text, secrets, *expected):
    """None of ``secrets`` (nor their URL encodings) in ``text``; each of ``expected`` is."""
    for secret in secrets:
        for fragment in _secret_fragments(secret):
            found = [row for row in text.splitlines() if fragment in row][:1]
            assert fragment not in text, f"{secret!r} appears in: {found}"
    for line in expected:
        assert line in text, f"{line!r} is not in the log:\n{text[-3000:]}"


def test_no_secret_reaches_onprem_log(onprem_log, make_user):
    """Requests and records that carry a reset token, an access token, a client secret, a password
    or a bearer header, written through the real handler to a real file: the file holds none."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from accounts.security_models import SecurityPolicy

    SecurityPolicy.objects.update_or_create(pk=1, defaults={"forgot_password_enabled": True})
    alice = make_user("alice", email="alice@example.com")
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    real_token = default_token_generator.make_token(alice)
    secrets = [real_token, RESET_TOKEN]

    # The reset link, then a forged one: Django logs the refused one's path ("Bad Request: ...").
    assert Client().get(f"/password/reset/{uid}/{real_token}/").status_code == 302
    assert Client().get(f"/password/reset/{uid}/{RESET_TOKEN}/").status_code == 400
    # An access token in a query string (refused: the API reads the header only), a bearer header.
    access_token, client_secret = "AcCeSs-T0ken-9f8e7d6c5b4a39281706", "Cl1ent-S3cret-a1b2c3d4e5f6a7b8c9"
    secrets += [access_token, client_secret, USER_PASSWORD]
    assert Client().get(f"/api/v1/accounts?access_token={access_token}").status_code == 403
    # What third-party loggers write: oauthlib's token dict, a request's headers, a form body.
    logging.getLogger("oauthlib.oauth2.rfc6749").info(
        "Issuing token %r to client id %r", {"access_token": access_token, "token_type": "Bearer"}, "cid"
    )
    logging.getLogger("requests_oauthlib").warning("headers %s", {"Authorization": f"Bearer {access_token}"})
    logging.getLogger("urllib3.connectionpool").warning("sent Authorization: Bearer %s", access_token)
    logging.getLogger("django.request").warning(
        "body: grant_type=password&password=%s&client_secret=%s", USER_PASSWORD, client_secret
    )
    # A traceback whose text holds secrets (an exception's message, the URL being served).
    try:
        raise ValueError(f"refused {{'client_secret': '{client_secret}'}} at /password/reset/{uid}/{RESET_TOKEN}/")
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: /oauth/token")

    for handler in logging.root.handlers:
        handler.flush()
    text = onprem_log.read_text()
    _assert_scrubbed(
        text,
        secrets,
        f"Bad Request: /password/reset/{uid}/[REDACTED]/",
        "'access_token': '[REDACTED]'",
        "'Authorization': '[REDACTED]'",
        "Authorization: Bearer [REDACTED]",
        "password=[REDACTED]",
        "client_secret=[REDACTED]",
        "Traceback (most recent call last)",
        "'client_secret': '[REDACTED]'",
    )


def test_the_scrubbing_can_fail(onprem_log):
    """The check above can fail: a secret the patterns do not know is found in the file."""
    logging.getLogger("onprem.somewhere").warning("connecting with %s", LDAP_SECRET)
    for handler in logging.root.handlers:
        handler.flush()
    with pytest.raises(AssertionError, match="Ldap-Bind"):
        _assert_scrubbed(onprem_log.read_text(), [LDAP_SECRET])


# gunicorn's and Celery's loggers are configured in their own processes (their configs replace
# the root logger's handlers), so these run in a child process, as the server runs them.
GUNICORN_CHILD = r"""
import datetime, sys
from gunicorn.config import Config
from onprem.gunicorn_conf import logger_class
from onprem.management.commands.serve import ACCESS_LOG_FORMAT

mode, log_dir, logging_json, url, secret = sys.argv[1:]
cfg = Config()
cfg.set("access_log_format", ACCESS_LOG_FORMAT)
cfg.set("accesslog", f"{log_dir}/access.log")
cfg.set("errorlog", f"{log_dir}/gunicorn.log")
if mode == "serve":  # manage.py serve: its logging config, the handlers it names
    cfg.set("logconfig_json", logging_json)
log = logger_class(cfg)  # what `--config python:onprem.gunicorn_conf` makes gunicorn use

class Response:
    status, sent, headers = "302 Found", 0, [("X-Request-ID", "rid-1")]

path, _, query = url.partition("?")
environ = {"REQUEST_METHOD": "GET", "RAW_URI": url, "PATH_INFO": path, "QUERY_STRING": query,
           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "https://h" + url,
           "HTTP_USER_AGENT": "curl/8"}
log.access(Response(), [("AUTHORIZATION", "Bearer " + secret)], environ, datetime.timedelta(milliseconds=3))
try:
    raise RuntimeError("client_secret=" + secret)
except RuntimeError:
    log.exception("Error handling request " + url)
"""

CELERY_CHILD = r"""
import logging, sys
import django
django.setup()
from celery.utils.log import get_task_logger
from onprem.celery import app

logfile, secret = sys.argv[1:]
app.log.setup(loglevel="INFO", logfile=logfile)  # what `celery worker --logfile` does
logging.getLogger("celery.worker.strategy").info("Task received: {'password': '%s'}", secret)
get_task_logger("core.tasks").warning("mail failed: %s/password/reset/MQ/%s/", "https://h", secret)
"""


def _child(code, *args, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ONPREM_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "onprem.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("mode", ["serve", "container"])
def test_no_secret_reaches_gunicorns_access_and_error_logs(tmp_path, mode):
    """manage.py serve (its logging config) and the container (gunicorn's own file handlers): the
    request line, the Referer, the error log's traceback hold no reset token or access token."""
    from onprem.management.commands.serve import Command

    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    logging_json = Command().gunicorn_logging_config(tmp_path, log_dir)
    access_token = "AcCeSs-T0ken-9f8e7d6c5b4a39281706"
    url = f"/password/reset/MQ/{RESET_TOKEN}/?access_token={access_token}"
    _child(GUNICORN_CHILD, mode, str(log_dir), str(logging_json), url, access_token, tmp_path=tmp_path)
    access = (log_dir / "access.log").read_text()
    _assert_scrubbed(
        access,
        [RESET_TOKEN, access_token],
        '"GET /password/reset/MQ/[REDACTED]/?access_token=[REDACTED] HTTP/1.1" 302',
        "rid=rid-1",
    )
    _assert_scrubbed(
        (log_dir / "gunicorn.log").read_text(),
        [RESET_TOKEN, access_token],
        "Error handling request /password/reset/MQ/[REDACTED]/",
        "client_secret=[REDACTED]",
    )


def test_no_secret_reaches_the_celery_logs(tmp_path):
    logfile = tmp_path / "worker.log"
    _child(CELERY_CHILD, str(logfile), RESET_TOKEN, tmp_path=tmp_path)
    _assert_scrubbed(logfile.read_text(), [RESET_TOKEN], "'password': '[REDACTED]'", "/password/reset/MQ/[REDACTED]/")


# What an Operator reads in the Support Center, for real: `manage.py serve` (gunicorn with serve's
# logging config, the Django app, the Celery worker) writes its log files; a reset link is opened,
# a forged one refused and a token sent in a query string; no log file holds any of the secrets.
LIVE_SETUP = (
    "from django.contrib.auth.tokens import default_token_generator as g; "
    "from django.utils.http import urlsafe_base64_encode as e; "
    "from accounts.security_models import SecurityPolicy; "
    "from accounts.services.users import create_user; "
    "SecurityPolicy.objects.update_or_create(pk=1, defaults={'forgot_password_enabled': True}); "
    "u = create_user(actor=None, username='alice', password='Correct-Horse-42', email='alice@example.com'); "
    "print(e(str(u.pk).encode()), g.make_token(u))"
)


@pytest.mark.live
def test_no_secret_reaches_the_servers_log_files(server_factory):
    import requests

    server = server_factory()
    server.manage("migrate", "--noinput")
    uid, token = server.manage("shell", "-c", LIVE_SETUP).stdout.splitlines()[-1].split()
    server.start()
    server.wait_until_up()
    access_token = "AcCeSs-T0ken-9f8e7d6c5b4a39281706"
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(server.cert)
        opened = session.get(f"{server.url}/password/reset/{uid}/{token}/", allow_redirects=False, timeout=20)
        assert opened.status_code == 302 and opened.headers["Location"].endswith("/set-password/")
        assert session.get(server.url + opened.headers["Location"], timeout=20).status_code == 200
        forged = session.get(f"{server.url}/password/reset/{uid}/{RESET_TOKEN}/", timeout=20)
        assert forged.status_code == 400
        query = session.get(f"{server.url}/api/v1/accounts?access_token={access_token}", timeout=20)
        assert query.status_code == 403
    logs = server.data_dir / "logs"
    deadline = time.monotonic() + 10  # gunicorn writes the access line after the reply
    while "/api/v1/accounts" not in (logs / "access.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    texts = {path.name: path.read_text() for path in logs.glob("*.log")}
    _assert_scrubbed(
        texts["access.log"],
        [token, RESET_TOKEN, access_token],
        f'GET /password/reset/{uid}/[REDACTED]/ HTTP/1.1" 302',
        f'GET /password/reset/{uid}/set-password/ HTTP/1.1" 200',
        "/api/v1/accounts?access_token=[REDACTED]",
    )
    _assert_scrubbed(
        texts["onprem.log"], [token, RESET_TOKEN, access_token], f"Bad Request: /password/reset/{uid}/[REDACTED]/"
    )
    for text in texts.values():
        _assert_scrubbed(text, [token, RESET_TOKEN, access_token])
