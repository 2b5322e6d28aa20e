"""No secret in any log record or event: every logger at DEBUG (SQL included) while flows that
handle secrets run, then the captured text is searched for each secret."""
import logging

import pytest
from django.db import connection
from django.test import Client

from accounts.api_clients import ApiGrant
from accounts.models import LdapConfig
from accounts.security_models import PendingCsr
from accounts.services import api_grants
from onprem import crypto
from onprem.models import Event, SystemSettings
from tests.conftest import PASSWORD

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
    grant, client_secret = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS,
                                                   name="ci")
    api_grants.add_access(actor=None, grant=grant, account=account, role="account_admin")
    secrets.append(client_secret)
    token = Client().post("/oauth/token", {"grant_type": "client_credentials", "client_id": grant.client_id,
                                           "client_secret": client_secret})
    assert token.status_code == 200
    secrets.append(token.json()["access_token"])
    refused = Client().post("/oauth/token", {"grant_type": "client_credentials", "client_id": grant.client_id,
                                             "client_secret": client_secret + "x"})
    assert refused.status_code in (400, 401, 403)
    secrets.append(client_secret + "x")
    people, people_secret = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.PASSWORD, name="ppl")
    secrets.append(people_secret)
    user = make_user("apiuser")
    user.set_password(USER_PASSWORD)
    user.save()
    Client().post("/oauth/token", {"grant_type": "password", "client_id": people.client_id,
                                   "client_secret": people_secret, "username": "apiuser",
                                   "password": USER_PASSWORD})
    # An API call with the bearer token.
    Client().get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")

    # LDAP bind password, SMTP password, proxy password: saved through their forms.
    response = admin.post("/admin/access/ldap/", {
        "enabled": "", "title": "Directory", "host": "127.0.0.1", "port": "389",
        "user_base_dn": "ou=people,dc=example,dc=org", "uid_attribute": "uid", "encryption": "plain",
        "bind_dn": "cn=reader,dc=example,dc=org", "bind_password": LDAP_SECRET, "group_base_dn": "",
        "ldap_type": "openldap"})
    assert response.status_code == 302
    assert LdapConfig.objects.get().bind_password == LDAP_SECRET  # EncryptedTextField decrypts on load
    response = admin.post("/admin/settings/email/", {
        "smtp_host": "127.0.0.1", "smtp_port": "25", "smtp_helo_domain": "onprem.example.com",
        "smtp_from": "license-server@example.com", "smtp_auth_required": "on", "smtp_username": "mailer",
        "smtp_password": SMTP_SECRET})
    assert response.status_code == 302
    assert crypto.decrypt(SystemSettings.objects.get().smtp_password) == SMTP_SECRET
    response = admin.post("/admin/network/proxy/", {"proxy_enabled": "on", "proxy_host": "10.1.1.1",
                                                    "proxy_port": "8080", "proxy_username": "svc",
                                                    "proxy_password": PROXY_SECRET})
    assert response.status_code == 302
    assert crypto.decrypt(SystemSettings.objects.get().proxy_password) == PROXY_SECRET

    # CSR: the private key made on the server.
    response = admin.post("/admin/security/certificates/csr/", {
        "common_name": "onprem.example.com", "organizational_unit": "Licensing", "country": "US",
        "key_size": "2048", "subject_alt_names": ""})
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
