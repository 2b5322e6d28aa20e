"""The guide's rules for users: System User by default, disable before remove, never yourself."""

import pytest
from django.contrib.auth import get_user_model

from accounts.roles import SystemRole
from accounts.services import users
from core.errors import NotAllowed, ServiceError
from core.models import Event

User = get_user_model()


def test_new_user_is_a_system_user_and_logged(sysadmin):
    user = users.create_user(actor=sysadmin, username="alice", password="Str0ng-Passw0rd!")
    assert user.system_role == SystemRole.USER
    assert user.needs_first_login_wizard
    assert Event.objects.filter(event_type="user.added", message="A new user “alice” was added.").exists()


def test_operator_cannot_create_a_system_admin(sysop):
    with pytest.raises(NotAllowed):
        users.create_user(actor=sysop, username="eve", password="Str0ng-Passw0rd!", system_role=SystemRole.ADMIN)
    assert not User.objects.filter(username="eve").exists()


def test_system_user_cannot_create_users(make_user):
    plain = make_user("plain")
    with pytest.raises(NotAllowed):
        users.create_user(actor=plain, username="x", password="Str0ng-Passw0rd!")


@pytest.mark.parametrize(
    "username, password, message",
    [
        ("Alice", "Str0ng-Passw0rd!", "already exists"),
        ("bob", "short", "too short"),
        ("carol", "password123", "too common"),
    ],
)
def test_bad_new_users_are_refused_and_nothing_written(sysadmin, make_user, username, password, message):
    make_user("alice")
    before = User.objects.count(), Event.objects.count()
    with pytest.raises(ServiceError, match=message):
        users.create_user(actor=sysadmin, username=username, password=password)
    assert (User.objects.count(), Event.objects.count()) == before


def test_remove_requires_disable_first(sysadmin, make_user):
    target = make_user("target")
    with pytest.raises(ServiceError, match="You must first disable a user before you can remove them."):
        users.remove_user(actor=sysadmin, user=target)
    assert User.objects.filter(pk=target.pk).exists()
    users.disable_user(actor=sysadmin, user=target)
    users.remove_user(actor=sysadmin, user=target)
    assert not User.objects.filter(pk=target.pk).exists()
    assert Event.objects.filter(event_type="user.removed", username="sysadmin").exists()


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_nobody_disables_or_removes_themselves(make_user, role):
    me = make_user("me", role)
    with pytest.raises(ServiceError, match="You cannot disable yourself."):
        users.disable_user(actor=me, user=me)
    with pytest.raises(ServiceError, match="You cannot remove yourself."):
        users.remove_user(actor=me, user=me)


def test_operator_disables_and_enables_others(sysop, make_user):
    target = make_user("target")
    users.disable_user(actor=sysop, user=target)
    target.refresh_from_db()
    assert not target.is_active
    with pytest.raises(ServiceError, match="already disabled"):
        users.disable_user(actor=sysop, user=target)
    users.enable_user(actor=sysop, user=target)
    target.refresh_from_db()
    assert target.is_active


def test_only_system_admin_changes_system_roles(sysadmin, sysop, make_user):
    target = make_user("target")
    with pytest.raises(NotAllowed):
        users.change_system_role(actor=sysop, user=target, system_role=SystemRole.ADMIN)
    users.change_system_role(actor=sysadmin, user=target, system_role=SystemRole.OPERATOR)
    target.refresh_from_db()
    assert target.system_role == SystemRole.OPERATOR
    with pytest.raises(ServiceError, match="your own system role"):
        users.change_system_role(actor=sysadmin, user=sysadmin, system_role=SystemRole.USER)
    with pytest.raises(ServiceError, match="Unknown system role"):
        users.change_system_role(actor=sysadmin, user=target, system_role="root")


def test_disabled_user_cannot_log_in(client, sysadmin, make_user):
    from tests.factories import PASSWORD

    target = make_user("target")
    users.disable_user(actor=sysadmin, user=target)
    response = client.post("/login/", {"username": "target", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_disabling_ends_existing_sessions(client, login, sysadmin, make_user):
    target = make_user("target")
    login(target)
    assert client.get("/").status_code == 200
    users.disable_user(actor=sysadmin, user=target)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
