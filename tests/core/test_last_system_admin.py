"""The installation keeps an enabled System Admin, and a System Operator never acts on a System Admin.

Every path that can take a user out of the enabled System Admins goes through
``accounts.services.last_admin``: the user services (Users widget, commands, the system itself
with ``actor=None``) and an identity provider's role claims at sign-in.
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.oidc.flow import user_for_claims
from accounts.roles import SystemRole
from accounts.security_models import UserLock
from accounts.services import lockout, users
from accounts.services.last_admin import LastSystemAdmin
from core.errors import NotAllowed
from core.models import Event

User = get_user_model()
GOOD_PASSWORD = "Blue-Kettle-Orbit-93"


def _snapshot():
    return (
        list(User.objects.order_by("pk").values_list("pk", "system_role", "is_active", "password")),
        Event.objects.count(),
    )


def _disabled(user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


# --- A System Operator and System Admins ------------------------------------------------------

OPERATOR_ACTIONS = {
    "disable": lambda actor, user: users.disable_user(actor=actor, user=user),
    "enable": lambda actor, user: users.enable_user(actor=actor, user=user),
    "remove": lambda actor, user: users.remove_user(actor=actor, user=user),
    "reset password": lambda actor, user: users.reset_password(actor=actor, user=user, new_password=GOOD_PASSWORD),
    "unlock": lambda actor, user: lockout.unlock_user(actor=actor, user=user),
    "change password": lambda actor, user: users.change_password(actor=actor, user=user, new_password=GOOD_PASSWORD),
}


@pytest.mark.parametrize("action", list(OPERATOR_ACTIONS))
def test_an_operator_may_not_act_on_a_system_admin(sysadmin, sysop, make_user, action):
    boss = make_user("boss", SystemRole.ADMIN)
    if action in ("enable", "remove"):
        _disabled(boss)
    if action == "unlock":
        UserLock.objects.create(user=boss, locked_at=timezone.now())
    before = _snapshot(), UserLock.objects.count()
    with pytest.raises(NotAllowed):
        OPERATOR_ACTIONS[action](sysop, boss)
    assert (_snapshot(), UserLock.objects.count()) == before


@pytest.mark.parametrize("action", list(OPERATOR_ACTIONS))
def test_an_operator_still_acts_on_operators_and_users(sysop, make_user, action):
    for role in (SystemRole.OPERATOR, SystemRole.USER):
        target = make_user(f"target-{role}-{action}".replace(" ", "-"), role)
        if action in ("enable", "remove"):
            _disabled(target)
        if action == "unlock":
            UserLock.objects.create(user=target, locked_at=timezone.now())
        OPERATOR_ACTIONS[action](sysop, target)


def test_the_role_is_read_as_stored_not_as_the_caller_loaded_it(sysadmin, sysop, make_user):
    # A user the page loaded as a System User and a System Admin has since promoted.
    target = make_user("target")
    User.objects.filter(pk=target.pk).update(system_role=SystemRole.ADMIN)
    with pytest.raises(NotAllowed):
        users.disable_user(actor=sysop, user=target)
    assert User.objects.get(pk=target.pk).is_active


def test_a_system_admin_acts_on_other_system_admins(sysadmin, make_user):
    boss = make_user("boss", SystemRole.ADMIN)
    users.reset_password(actor=sysadmin, user=boss, new_password=GOOD_PASSWORD)
    users.disable_user(actor=sysadmin, user=boss)
    users.enable_user(actor=sysadmin, user=boss)
    users.change_system_role(actor=sysadmin, user=boss, system_role=SystemRole.OPERATOR)
    users.change_system_role(actor=sysadmin, user=boss, system_role=SystemRole.ADMIN)
    users.disable_user(actor=sysadmin, user=boss)
    users.remove_user(actor=sysadmin, user=boss)
    assert not User.objects.filter(pk=boss.pk).exists()


# --- The last enabled System Admin --------------------------------------------------------------


def test_the_last_enabled_admin_is_not_disabled(sysadmin):
    before = _snapshot()
    with pytest.raises(LastSystemAdmin, match="“sysadmin” is the only enabled System Admin, so you cannot disable"):
        users.disable_user(actor=None, user=sysadmin)
    assert _snapshot() == before


@pytest.mark.parametrize("role", [SystemRole.OPERATOR, SystemRole.USER])
def test_the_last_enabled_admin_is_not_demoted(sysadmin, role):
    before = _snapshot()
    with pytest.raises(LastSystemAdmin, match="so you cannot change their system role"):
        users.change_system_role(actor=None, user=sysadmin, system_role=role)
    assert _snapshot() == before


def test_disabled_admins_do_not_count(sysadmin, make_user):
    _disabled(make_user("sleeping", SystemRole.ADMIN))
    with pytest.raises(LastSystemAdmin):
        users.disable_user(actor=None, user=sysadmin)
    with pytest.raises(LastSystemAdmin):
        users.change_system_role(actor=None, user=sysadmin, system_role=SystemRole.USER)
    assert User.objects.get(pk=sysadmin.pk).is_active


def test_with_another_enabled_admin_the_change_goes_through(sysadmin, make_user):
    make_user("deputy", SystemRole.ADMIN)
    users.change_system_role(actor=None, user=sysadmin, system_role=SystemRole.ADMIN)  # no loss: allowed
    users.disable_user(actor=None, user=sysadmin)
    sysadmin.refresh_from_db()
    assert not sysadmin.is_active
    # Now "deputy" is the last one.
    with pytest.raises(LastSystemAdmin):
        users.disable_user(actor=None, user=User.objects.get(username="deputy"))


def test_the_check_reads_the_stored_state_not_a_stale_object(sysadmin, make_user):
    """Admin A's page loaded admin B while both were enabled; since then B was disabled."""
    deputy = make_user("deputy", SystemRole.ADMIN)
    stale_sysadmin = User.objects.get(pk=sysadmin.pk)
    users.disable_user(actor=sysadmin, user=deputy)
    with pytest.raises(LastSystemAdmin):
        users.disable_user(actor=None, user=stale_sysadmin)
    assert User.objects.get(pk=sysadmin.pk).is_active


# --- Through the Users widget -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["disable", "enable", "remove", "password", "unlock"])
def test_the_widget_answers_an_operator_403_on_a_system_admin(sysop, make_user, login, action):
    boss = make_user("boss", SystemRole.ADMIN)
    if action in ("enable", "remove"):
        _disabled(boss)
    UserLock.objects.create(user=boss, locked_at=timezone.now())
    client = login(sysop)
    before = _snapshot(), UserLock.objects.count()
    response = client.post(
        f"/admin/users/{boss.pk}/{action}/", {"new_password": GOOD_PASSWORD, "new_password_again": GOOD_PASSWORD}
    )
    assert response.status_code == 403
    assert (_snapshot(), UserLock.objects.count()) == before


def test_the_widget_offers_an_operator_no_actions_on_system_admins(sysop, make_user, login):
    boss, alice = make_user("boss", SystemRole.ADMIN), make_user("alice")
    UserLock.objects.create(user=boss, locked_at=timezone.now())
    html = login(sysop).get("/admin/users/").content.decode()
    for action in ("disable", "password", "unlock"):
        assert f"/admin/users/{boss.pk}/{action}/" not in html
    assert f"/admin/users/{alice.pk}/disable/" in html


def test_the_widget_offers_an_admin_the_actions_on_other_admins(sysadmin, make_user, login):
    boss = make_user("boss", SystemRole.ADMIN)
    html = login(sysadmin).get("/admin/users/").content.decode()
    assert f"/admin/users/{boss.pk}/disable/" in html and f"/admin/users/{boss.pk}/password/" in html


# --- An identity provider's role claims ---------------------------------------------------------


@pytest.fixture
def sso(db):
    from accounts.models import ExternalIdentityProvider

    return ExternalIdentityProvider(kind="sso", enabled=True)


def _claims(username, *roles):
    return {"preferred_username": username, "_onprem_roles": list(roles)}


def test_claims_never_demote_the_last_enabled_admin(sso, caplog):
    user_for_claims(sso, _claims("kim", "ONPREM-SYSADMIN"))
    kim = user_for_claims(sso, _claims("kim", "ONPREM-SYSUSER"))
    assert kim.system_role == SystemRole.ADMIN
    assert User.objects.get(username="kim").system_role == SystemRole.ADMIN
    event = Event.objects.get(event_type="user.last_admin_kept")
    assert event.severity == "WARN" and "“kim”" in event.message and "“System User”" in event.message
    assert not Event.objects.filter(event_type="user.system_role_changed").exists()
    assert "Kept kim a System Admin" in caplog.text


def test_claims_demote_an_admin_when_another_is_enabled(sso, sysadmin):
    user_for_claims(sso, _claims("kim", "ONPREM-SYSADMIN"))
    kim = user_for_claims(sso, _claims("kim", "ONPREM-SYSOP"))
    assert User.objects.get(pk=kim.pk).system_role == SystemRole.OPERATOR
    assert Event.objects.filter(event_type="user.system_role_changed").exists()
    assert not Event.objects.filter(event_type="user.last_admin_kept").exists()


def test_claims_still_update_the_rest_of_the_last_admin(sso):
    user_for_claims(sso, _claims("kim", "ONPREM-SYSADMIN"))
    user_for_claims(sso, {**_claims("kim"), "email": "kim@corp.example"})
    kim = User.objects.get(username="kim")
    assert (kim.system_role, kim.email) == (SystemRole.ADMIN, "kim@corp.example")


# --- Two requests at once (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_disabling_each_other_at_once_leave_one(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    first, second = make_user("first", SystemRole.ADMIN), make_user("second", SystemRole.ADMIN)
    start = threading.Barrier(2)
    outcomes = []
    lock = threading.Lock()

    def disable(actor_pk, target_pk):
        try:
            actor, target = User.objects.get(pk=actor_pk), User.objects.get(pk=target_pk)
            start.wait(timeout=30)
            try:
                with transaction.atomic():
                    users.disable_user(actor=actor, user=target)
                    # Hold the transaction open so the other request reads before this one commits.
                    threading.Event().wait(0.5)
                outcome = "disabled"
            except LastSystemAdmin:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=disable, args=(first.pk, second.pk)),
        threading.Thread(target=disable, args=(second.pk, first.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["disabled", "refused"]
    assert User.objects.filter(system_role=SystemRole.ADMIN, is_active=True).count() == 1
