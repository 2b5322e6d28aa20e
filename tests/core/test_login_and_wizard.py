"""Login, the 4-step first-login wizard, the 10-minute idle timeout and logout."""

import pytest
from django.test import Client

from accounts import middleware
from accounts.roles import SystemRole
from core.models import Event
from tests.factories import PASSWORD

NEW_PASSWORD = "Brand-New-Passw0rd"


@pytest.fixture
def newcomer(make_user):
    return make_user("newbie", SystemRole.ADMIN, wizard_done=False)


def _walk_wizard(client, language="ja", password=NEW_PASSWORD, confirm=None):
    assert client.post("/welcome/language/", {"language": language}).status_code == 302
    response = client.post("/welcome/password/", {"new_password": password, "confirm_password": confirm or password})
    if response.status_code != 302:
        return response
    assert client.post("/welcome/certificate/", {"confirmed": "on"}).status_code == 302
    return client.post("/welcome/review/")


def test_login_page_and_bad_credentials(client, make_user):
    make_user("alice")
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert Event.objects.filter(event_type="auth.login_failed", message__contains="alice").exists()


def test_anonymous_is_sent_to_login(client):
    for path in ("/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_first_login_runs_the_wizard_before_anything_else(client, login, newcomer):
    login(newcomer)
    for path in ("/", "/admin/"):
        response = client.get(path)
        assert response["Location"] == "/welcome/language/"
    # Steps cannot be skipped.
    assert client.get("/welcome/review/")["Location"] == "/welcome/language/"
    assert client.get("/welcome/language/").status_code == 200


def test_wizard_sets_language_and_password_then_returns_to_logon(client, login, newcomer, settings, tmp_path):
    login(newcomer)
    response = _walk_wizard(client)
    assert response.status_code == 302 and response["Location"] == "/login/"
    newcomer.refresh_from_db()
    assert newcomer.language == "ja"
    assert not newcomer.needs_first_login_wizard
    assert newcomer.check_password(NEW_PASSWORD)
    assert "_auth_user_id" not in client.session  # back to the logon screen
    fresh = Client()
    assert fresh.post("/login/", {"username": "newbie", "password": PASSWORD}).status_code == 200
    assert fresh.post("/login/", {"username": "newbie", "password": NEW_PASSWORD}).status_code == 302
    assert fresh.get("/admin/").status_code == 200
    assert Event.objects.filter(event_type="user.first_login_completed").count() == 1


@pytest.mark.parametrize(
    "password, confirm, error",
    [
        (NEW_PASSWORD, "Something-Else-1", "The two passwords do not match."),
        ("short", None, "too short"),
        ("password123", None, "too common"),
        (PASSWORD, None, "must differ from the current one"),
    ],
)
def test_wizard_refuses_bad_passwords_and_changes_nothing(client, login, newcomer, password, confirm, error):
    login(newcomer)
    response = _walk_wizard(client, password=password, confirm=confirm)
    assert response.status_code == 200
    assert error in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.needs_first_login_wizard and newcomer.check_password(PASSWORD)
    assert newcomer.language == "en"


def test_wizard_refuses_unknown_language_and_unchecked_certificate(client, login, newcomer):
    login(newcomer)
    assert client.post("/welcome/language/", {"language": "xx"}).status_code == 200
    client.post("/welcome/language/", {"language": "ko"})
    client.post("/welcome/password/", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert client.post("/welcome/certificate/", {}).status_code == 200
    assert client.get("/welcome/review/")["Location"] == "/welcome/certificate/"
    assert client.get("/welcome/nonsense/").status_code == 404


def test_wizard_shows_the_server_certificate(client, login, newcomer, settings, tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "onprem.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("onprem.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "server.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    settings.TLS_CERT_FILE = str(path)
    login(newcomer)
    client.post("/welcome/language/", {"language": "en"})
    client.post("/welcome/password/", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    page = client.get("/welcome/certificate/").content.decode()
    assert "CN=onprem.example" in page
    assert cert.fingerprint(hashes.SHA256()).hex(":").upper() in page


def test_wizard_session_never_holds_the_clear_password(client, login, newcomer):
    login(newcomer)
    client.post("/welcome/language/", {"language": "en"})
    client.post("/welcome/password/", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    stored = client.session["onprem_first_login"]["password"]
    assert NEW_PASSWORD not in str(dict(client.session))
    assert stored.startswith("md5$")  # a hash from the configured hasher


def test_idle_timeout_after_ten_minutes(client, login, make_user, monkeypatch):
    user = make_user("alice", SystemRole.ADMIN)
    clock = [1_000_000.0]
    monkeypatch.setattr(middleware, "now", lambda: clock[0])
    login(user)
    assert client.get("/admin/").status_code == 200
    clock[0] += 9 * 60 + 59  # still active just before ten minutes
    assert client.get("/admin/").status_code == 200
    clock[0] += 10 * 60 + 1  # then ten minutes and a second of silence
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    assert Event.objects.filter(event_type="auth.idle_timeout", username="alice").exists()


def test_activity_keeps_the_session_alive(client, login, make_user, monkeypatch):
    user = make_user("alice", SystemRole.ADMIN)
    clock = [1_000_000.0]
    monkeypatch.setattr(middleware, "now", lambda: clock[0])
    login(user)
    for _ in range(5):  # 5 x 8 minutes = 40 minutes, never 10 idle
        clock[0] += 8 * 60
        assert client.get("/admin/").status_code == 200


def test_logout_is_post_only_and_ends_the_session(client, login, make_user):
    user = make_user("alice")
    login(user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert client.get("/")["Location"].startswith("/login/")
    assert Event.objects.filter(event_type="auth.logout").exists()


def test_login_and_wizard_forms_need_csrf(make_user, newcomer):
    make_user("alice")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    strict.force_login(newcomer)
    assert strict.post("/welcome/language/", {"language": "en"}).status_code == 403


def test_chosen_language_is_applied(client, login, make_user):
    user = make_user("yuki", SystemRole.ADMIN, language="ja")
    login(user)
    response = client.get("/admin/")
    assert response.headers.get("Content-Language") == "ja"
