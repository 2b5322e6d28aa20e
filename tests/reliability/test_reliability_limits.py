"""Oversized bodies: every upload form and API path answers 413 before parsing, and nothing is written.

Real oversized bodies go through the test client (multipart encoded like a browser's); the
"before anything is parsed" claim is shown with a request whose body stream fails when read.
"""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.urls import NoReverseMatch, resolve, reverse
from oauth2_provider.models import AccessToken

from accounts.models import LdapConfig, UserGroup, UserGroupMembership
from accounts.rate_limit_models import FailureCounter
from accounts.roles import SystemRole
from accounts.services import api_grants
from accounts.services import groups as group_service
from core import limits
from core.certificates import MAX_PEM_BYTES
from core.models import Event
from licensing.models import LocalAccount, VirtualAccount
from tests.reliability.conftest import table_snapshot, tls_snapshot

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024


def _csv(size):
    """A well-formed user list of about ``size`` bytes (one header, many lines)."""
    line = b"nobody-with-a-long-user-id-0000000000,\n"
    return b"User ID,Owner\n" + line * (size // len(line) + 1)


@pytest.fixture
def team(make_account):
    account = make_account("Acme")
    return group_service.create_group(actor=None, account=account, name="Team", description="")


def _group_upload_path(group):
    return f"/accounts/{group.account_id}/manage/user-groups/{group.pk}/upload/"


def test_csv_user_list_over_the_limit_is_413_and_nothing_is_written(admin_client, team, make_user):
    make_user("nobody-with-a-long-user-id-0000000000")
    before = table_snapshot(UserGroup, UserGroupMembership, Event)
    content = _csv(group_service.MAX_UPLOAD_BYTES + limits.ENVELOPE + 1024)
    response = admin_client.post(_group_upload_path(team), {"file": SimpleUploadedFile("u.csv", content, "text/csv")})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert "The user list (CSV) is too large" in response.content.decode()
    limit = group_service.MAX_UPLOAD_BYTES + limits.ENVELOPE
    assert f"at most {limit} bytes (1.1 MB) are accepted here." in response.content.decode()
    assert table_snapshot(UserGroup, UserGroupMembership, Event) == before


def test_a_csv_just_over_the_service_limit_still_gets_the_form_error(admin_client, team):
    """The path limit leaves room for the multipart envelope, so the friendlier form check answers."""
    before = table_snapshot(UserGroupMembership)
    content = _csv(group_service.MAX_UPLOAD_BYTES)[: group_service.MAX_UPLOAD_BYTES + 10]
    response = admin_client.post(_group_upload_path(team), {"file": SimpleUploadedFile("u.csv", content, "text/csv")})
    assert response.status_code == 400
    assert "The file is larger than 1 MB." in response.content.decode()
    assert table_snapshot(UserGroupMembership) == before


def test_certificate_import_over_the_limit_is_413_and_the_files_stay(admin_client, tls_files):
    before, events = tls_snapshot(tls_files), table_snapshot(Event)
    big = b"-----BEGIN CERTIFICATE-----\n" + b"A" * (3 * MAX_PEM_BYTES + limits.ENVELOPE) + b"\n"
    response = admin_client.post(
        "/admin/security/certificates/import/",
        {
            "description": "big",
            "certificate": SimpleUploadedFile("server.crt", big, "application/x-pem-file"),
        },
    )
    assert response.status_code == 413
    assert "The certificate import is too large" in response.content.decode()
    assert tls_snapshot(tls_files) == before and table_snapshot(Event) == events


def test_ldap_settings_with_a_huge_ca_certificate_is_413_and_nothing_is_saved(admin_client):
    before = table_snapshot(LdapConfig, Event)
    response = admin_client.post(
        "/admin/access/ldap/",
        {
            "enabled": "on",
            "title": "Directory",
            "host": "127.0.0.1",
            "port": "389",
            "user_base_dn": "ou=people,dc=example,dc=org",
            "uid_attribute": "uid",
            "encryption": "simple-tls",
            "ca_certificate": "-----BEGIN CERTIFICATE-----\n" + "B" * 600_000,
            "ldap_type": "openldap",
        },
    )
    assert response.status_code == 413
    assert "The LDAP settings form is too large" in response.content.decode()
    assert table_snapshot(LdapConfig, Event) == before


def test_sync_response_file_over_the_limit_is_413(admin_client, make_account, monkeypatch):
    account = make_account("Acme")
    try:
        path = reverse("admin_sync_response", args=[account.pk])
    except NoReverseMatch:
        path = f"/admin/sync/{account.pk}/response/"  # the route is not mounted: the policy still holds
    import sync.documents.parse

    monkeypatch.setattr(sync.documents.parse, "MAX_DOCUMENT_BYTES", 256 * 1024)  # a smaller limit, a smaller test body
    before = table_snapshot(LocalAccount, Event)
    response = admin_client.post(path, {"file": SimpleUploadedFile("r.yml", b"a: b\n" * 80_000, "application/yaml")})
    assert response.status_code == 413
    assert "The synchronization response file is too large" in response.content.decode()
    assert table_snapshot(LocalAccount, Event) == before


def test_api_request_over_the_limit_is_413_in_the_api_format(client, make_account):
    account = make_account("Acme")
    before = table_snapshot(VirtualAccount, Event)
    body = json.dumps({"name": "Big", "description": "x" * (MIB + 10)})
    for prefix in ("/api/v1", "/backend/api/v1"):
        response = client.post(
            f"{prefix}/accounts/{account.name}/virtual-accounts",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer whatever",
        )
        assert response.status_code == 413
        message = (
            f"The API request is too large: {len(body)} bytes were sent, at most {MIB} bytes (1.0 MB) "
            "are accepted here."
        )
        assert response.json() == {"status": "ERROR", "statusMessage": message}
    assert table_snapshot(VirtualAccount, Event) == before


def test_token_request_over_the_limit_is_413_in_the_oauth_format(client, db):
    api_grants.set_api_console(actor=None, enabled=True)
    grant, secret = api_grants.create_grant(actor=None, grant_type="client_credentials", name="ci")
    for path in ("/oauth/token", "/backend/oauth/token"):
        response = client.post(
            path,
            {
                "grant_type": "client_credentials",
                "client_id": grant.client_id,
                "client_secret": secret,
                "padding": "p" * 70_000,
            },
        )
        assert response.status_code == 413
        assert response.json()["error"] == "invalid_request"
        assert "too large" in response.json()["error_description"]
    assert not AccessToken.objects.exists()
    # The same request without the padding works: the limit is the only reason.
    ok = client.post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret}
    )
    assert ok.status_code == 200


def test_any_other_form_over_the_default_limit_is_413(client, make_user):
    make_user("alice", SystemRole.ADMIN)
    before = table_snapshot(FailureCounter, Event)
    response = client.post("/login/", {"username": "alice", "password": "x" * (MIB + 1)})
    assert response.status_code == 413
    assert "The request is too large" in response.content.decode()
    assert table_snapshot(FailureCounter, Event) == before
    assert "_auth_user_id" not in client.session


def test_device_endpoints_keep_their_own_limit_and_format(client, settings):
    settings.ONPREM_DEVICE_MAX_MESSAGE_BYTES = 10_000
    response = client.post("/SmartTransport", b"{" + b" " * 20_000 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert "larger than 10000 bytes" in response.content.decode()  # the device protocol's own message
    # A device message over the global 1 MB default but under its own limit is not refused by the policy.
    settings.ONPREM_DEVICE_MAX_MESSAGE_BYTES = 3 * MIB
    response = client.post("/SmartTransport", b"{" + b" " * (2 * MIB) + b"}", content_type="application/json")
    assert response.status_code != 413


class _Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


def _request(path, length):
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "CONTENT_LENGTH": str(length),
            "wsgi.input": _Unreadable(),
            "wsgi.url_scheme": "http",
        }
    )


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/1/manage/user-groups/2/upload/",
        "/admin/security/certificates/import/",
        "/admin/access/ldap/",
        "/admin/sync/1/response/",
        "/api/v1/accounts",
        "/oauth/token",
        "/login/",
        "/admin/settings/email/",
    ],
)
def test_the_limit_is_checked_before_the_body_is_read(path):
    def view(request):
        raise AssertionError("the request reached the view")

    middleware = limits.RequestSizeLimitMiddleware(view)
    limit = limits.limit_for(resolve(path).func).limit()
    assert middleware(_request(path, limit + 1)).status_code == 413
    assert middleware(_request(path, 10**15)).status_code == 413


@pytest.mark.parametrize("declared", ["abc", "-1", "1e9"])
def test_a_content_length_that_is_not_a_length_is_400(client, declared):
    response = client.post("/login/", {"username": "a"}, CONTENT_LENGTH=declared)
    assert response.status_code == 400
    assert "Content-Length" in response.content.decode()


def test_django_body_limits_are_set(settings):
    """Behind the middleware, Django's own limit guards request.body and the non-file form fields."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.ONPREM_MAX_REQUEST_BYTES == MIB
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE >= group_service.MAX_UPLOAD_BYTES
    assert "core.limits.RequestSizeLimitMiddleware" in settings.MIDDLEWARE
    assert settings.MIDDLEWARE.index("core.limits.RequestSizeLimitMiddleware") < settings.MIDDLEWARE.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )


@pytest.mark.parametrize(
    "path, label",
    [
        ("/accounts/3/manage/user-groups/4/upload/", "user list (CSV)"),
        ("/admin/security/certificates/import/", "certificate import"),
        ("/admin/access/ldap/", "LDAP settings form"),
        ("/admin/sync/7/response/", "synchronization response file"),
        ("/admin/users/", "request"),  # only the sync widget's upload gets the large limit
        ("/oauth/token", "token request"),
        ("/backend/oauth/token", "token request"),
        ("/api/v1/accounts", "API request"),
        ("/backend/api/v1/accounts", "API request"),
        ("/api/v1/schema", "API request"),
        ("/login/", "request"),
    ],
)
def test_each_path_gets_its_own_limit(path, label):
    assert limits.limit_for(resolve(path).func).label == label
    for device_path in ("/SmartTransport", "/Transportgateway/services/DeviceRequestHandler", "/cslu/v1/pi/Acme-1"):
        assert limits.limit_for(resolve(device_path).func) is None
