"""manage.py ensure_admin: the first System Admin, its password shown once and kept 0600."""

import io
import re
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.roles import SystemRole
from tests.factories import PASSWORD

User = get_user_model()


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def run(*args):
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output):
    found = re.findall(r"password: (\S+)", output)
    assert len(found) == 1, output
    return found[0]


@pytest.mark.django_db
def test_creates_the_first_admin_and_shows_the_password_once(data_dir):
    output = run()
    password = printed_password(output)
    assert len(password) >= 16
    assert output.count(password) == 1
    admin = User.objects.get()
    assert admin.username == "admin"
    assert admin.system_role == SystemRole.ADMIN
    assert admin.needs_first_login_wizard is True
    assert admin.check_password(password)

    path = data_dir / "initial_admin_password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == password
    assert str(path) in output

    again = run()
    assert password not in again
    assert "already exists" in again and str(path) in again
    assert len(again.strip().splitlines()) == 1
    assert User.objects.count() == 1
    assert path.read_text().strip() == password


@pytest.mark.django_db
def test_the_password_from_the_file_signs_in(data_dir, client):
    run()
    password = (data_dir / "initial_admin_password").read_text().strip()
    response = client.post("/login/", {"username": "admin", "password": password})
    assert response.status_code == 302
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/welcome/language/"


@pytest.mark.django_db
def test_no_new_admin_when_one_exists(data_dir, sysadmin):
    output = run()
    assert "already exists" in output and "sysadmin" in output
    assert "initial password" not in output  # no file to point at
    assert list(User.objects.values_list("username", flat=True)) == ["sysadmin"]
    assert not (data_dir / "initial_admin_password").exists()


@pytest.mark.django_db
def test_says_when_the_initial_password_was_replaced(data_dir):
    run()
    User.objects.filter(username="admin").update(needs_first_login_wizard=False)
    output = run()
    assert "replaced" in output and str(data_dir / "initial_admin_password") in output


@pytest.mark.django_db
def test_username_and_password_file(data_dir, tmp_path):
    secret = tmp_path / "pw.txt"
    secret.write_text("Automation-Pass-1234\n")
    output = run("--username", "root-admin", "--password-file", str(secret))
    assert "Automation-Pass-1234" not in output
    admin = User.objects.get()
    assert admin.username == "root-admin" and admin.system_role == SystemRole.ADMIN
    assert admin.check_password("Automation-Pass-1234")
    assert not (data_dir / "initial_admin_password").exists()


@pytest.mark.django_db
def test_weak_or_missing_password_file_is_refused(data_dir, tmp_path):
    weak = tmp_path / "weak.txt"
    weak.write_text("12345678\n")
    with pytest.raises(CommandError, match="System Admin"):
        run("--password-file", str(weak))
    with pytest.raises(CommandError, match="Cannot read"):
        run("--password-file", str(tmp_path / "nope.txt"))
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_non_admin_named_admin_is_not_promoted(data_dir, make_user):
    make_user("admin", SystemRole.USER)
    with pytest.raises(CommandError, match="already exists"):
        run()
    assert not User.objects.filter(system_role=SystemRole.ADMIN).exists()
    assert not (data_dir / "initial_admin_password").exists()


def test_generated_passwords_meet_every_strength_rule():
    import string

    from onprem.management.commands.ensure_admin import generate_password

    for _ in range(500):
        password = generate_password()
        assert len(password) == 16
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(c in string.punctuation for c in password)


def _wizard(client, password):
    assert client.post("/welcome/language/", {"language": "en"}).status_code == 302
    assert (
        client.post("/welcome/password/", {"new_password": password, "confirm_password": password}).status_code == 302
    )
    assert client.post("/welcome/certificate/", {"confirmed": "on"}).status_code == 302
    return client.post("/welcome/review/", follow=True)


@pytest.mark.django_db(transaction=True)
def test_the_first_admins_wizard_deletes_the_password_file_and_says_so(data_dir, client):
    run()
    path = data_dir / "initial_admin_password"
    assert client.post("/login/", {"username": "admin", "password": path.read_text().strip()}).status_code == 302
    page = _wizard(client, "Chosen-Pass-9876!").content.decode()
    assert not path.exists()
    assert "it was deleted" in page


@pytest.mark.django_db(transaction=True)
def test_another_users_wizard_leaves_the_file(data_dir, client, make_user):
    run()
    path = data_dir / "initial_admin_password"
    make_user("someone", SystemRole.USER, wizard_done=False)
    assert client.post("/login/", {"username": "someone", "password": PASSWORD}).status_code == 302
    page = _wizard(client, "Other-Pass-5678!").content.decode()
    assert path.exists()
    assert "it was deleted" not in page
