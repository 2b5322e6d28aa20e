"""The Security widget's pages: RBAC, CSRF, the Account and Password tabs' forms, unlock and the
Event Log tab (search, CSV, pinned query counts)."""

import csv
import io

import pytest
from django.test import Client

from accounts.security_models import SecurityPolicy, UserLock
from accounts.services import password_policy
from core import events
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
BASE = "/admin/security/"
PAGES = ["", "password/", "certificates/", "events/", "events/export.csv"]
POSTS = [
    "",
    "password/",
    "account/reset/",
    "password/reset/",
    "unlock/1/",
    "certificates/host-name/",
    "certificates/csr/",
    "certificates/import/",
    "certificates/restore-default/",
]


def _account_form(**overrides):
    data = {
        "auto_lock_enabled": "on",
        "auto_lock_attempts": "4",
        "auto_lock_window_minutes": "10",
        "lock_expiration_enabled": "on",
        "lock_expiration_minutes": "20",
        "session_limit_enabled": "on",
        "session_limit": "3",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _password_form(**overrides):
    data = {field: getattr(SecurityPolicy(), field) for field in password_policy.PASSWORD_FIELDS}
    data = {key: ("on" if value is True else value) for key, value in data.items() if value is not False}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- RBAC ----------------------------------------------------------------------------------------


def test_the_widget_is_on_the_grid(admin_client):
    assert f'href="{BASE}"' in admin_client.get("/admin/").content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_system_admin_sees_every_tab(admin_client, tls_files, page):
    response = admin_client.get(BASE + page)
    assert response.status_code == 200
    if page in ("", "password/"):
        assert ">Apply</button>" in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_operator_sees_every_tab_read_only(op_client, tls_files, page):
    response = op_client.get(BASE + page)
    assert response.status_code == 200
    if page in ("", "password/", "certificates/"):
        html = response.content.decode()
        assert "only a System Administrator can change them" in html
        assert ">Apply</button>" not in html and ">Generate</button>" not in html and ">Save</button>" not in html


@pytest.mark.parametrize("path", POSTS)
def test_operator_cannot_change_anything(op_client, tls_files, path, sysop):
    before = (list(SecurityPolicy.objects.values()), tls_files[0].read_bytes(), Event.objects.count())
    response = op_client.post(BASE + path, _account_form())
    assert response.status_code == 403
    assert (list(SecurityPolicy.objects.values()), tls_files[0].read_bytes(), Event.objects.count()) == before


@pytest.mark.parametrize("path", PAGES + POSTS)
def test_system_user_is_denied(make_user, login, tls_files, path):
    client = login(make_user("plain"))
    method = client.post if path in POSTS else client.get
    assert method(BASE + path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_login(client, path):
    assert client.get(BASE + path)["Location"].startswith("/login/")


@pytest.mark.parametrize("path", POSTS)
def test_csrf_is_required(sysadmin, tls_files, path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sysadmin)
    assert client.post(BASE + path, _account_form()).status_code == 403
    assert not SecurityPolicy.objects.exists()


# --- Account and Password tabs ---------------------------------------------------------------------


def test_account_tab_saves_and_the_login_obeys(admin_client, make_user):
    assert admin_client.post(BASE, _account_form()).status_code == 302
    policy = password_policy.current()
    assert (
        policy.auto_lock_enabled,
        policy.auto_lock_attempts,
        policy.auto_lock_window_minutes,
        policy.lock_expiration_minutes,
        policy.session_limit,
    ) == (True, 4, 10, 20, 3)
    assert Event.objects.filter(event_type="security.account_settings_changed").count() == 1
    make_user("alice")
    for _ in range(4):
        Client().post("/login/", {"username": "alice", "password": "wrong"})
    assert UserLock.objects.filter(user__username="alice").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("session_limit", "1000", "less than or equal to 999"),
        ("session_limit", "0", "greater than or equal to 1"),
        ("lock_expiration_minutes", "1", "greater than or equal to 2"),
        ("auto_lock_attempts", "x", "Enter a whole number"),
    ],
)
def test_bad_account_settings_change_nothing(admin_client, field, value, message):
    response = admin_client.post(BASE, _account_form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SecurityPolicy.objects.exists()


def test_password_tab_saves_and_rules_apply(admin_client, make_user):
    response = admin_client.post(BASE + "password/", _password_form(min_length="12", rule_digit="on"))
    assert response.status_code == 302
    policy = password_policy.current()
    assert policy.min_length == 12 and policy.rule_digit and not policy.rule_special
    assert password_policy.password_errors("Kettle-Orbi9", make_user("alice")) == []
    assert "too short" in " ".join(password_policy.password_errors("KettleOrbi9", make_user("bob")))
    assert "numeric characters" in " ".join(password_policy.password_errors("Kettle-Orbit", make_user("carol")))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("min_length", "16", "less than or equal to 15"),
        ("history_count", "100", "less than or equal to 99"),
        ("history_count", "0", "greater than or equal to 1"),
    ],
)
def test_bad_password_settings_change_nothing(admin_client, field, value, message):
    response = admin_client.post(BASE + "password/", _password_form(**{field: value}))
    assert message in response.content.decode()
    assert not SecurityPolicy.objects.exists()


def test_reset_restores_the_defaults(admin_client):
    admin_client.post(BASE + "password/", _password_form(min_length="12", login_error_hints=None))
    assert admin_client.post(BASE + "password/reset/").status_code == 302
    policy = password_policy.current()
    assert policy.min_length == 8 and policy.login_error_hints


def test_unlock_from_the_account_tab(admin_client, make_user, policy):
    alice = make_user("alice")
    policy(auto_lock_enabled=True, auto_lock_attempts=2)
    for _ in range(2):
        Client().post("/login/", {"username": "alice", "password": "wrong"})
    assert "alice" in admin_client.get(BASE).content.decode()
    assert admin_client.post(f"{BASE}unlock/{alice.pk}/").status_code == 302
    assert not UserLock.objects.exists()
    assert Client().post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


# --- Event Log tab ---------------------------------------------------------------------------------


def _events(count):
    for number in range(count):
        events.record("security.user_locked", user_name=f"user{number}", attempts=3, minutes=5)
    events.record("va.created", pool_name="not a security event")


def test_event_log_lists_searches_and_exports(admin_client):
    _events(3)
    html = admin_client.get(BASE + "events/").content.decode()
    assert "user2" in html and "not a security event" not in html
    assert "user1" not in admin_client.get(BASE + "events/?q=user2").content.decode()
    response = admin_client.get(BASE + "events/export.csv?q=locked")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Time", "Event Type", "Severity", "User", "Message"]
    messages = [row[4] for row in rows[1:]]
    assert sum("was locked after 3 failed login attempts" in m for m in messages) == 3
    assert not any("not a security event" in m for m in messages)


@pytest.mark.parametrize("rows", [1, 60])
def test_event_log_query_count_does_not_grow(admin_client, django_assert_max_num_queries, rows):
    _events(rows)
    # session, user, count, one page of rows (+ the session's activity write: savepoint, update, release)
    with django_assert_max_num_queries(8):
        assert admin_client.get(BASE + "events/?page=2&sort=user").status_code == 200
    with django_assert_max_num_queries(5):
        response = admin_client.get(BASE + "events/export.csv")
        b"".join(response.streaming_content)
