"""The Users widget at /admin/users/: the table, Create, system roles, Disable / Enable / Remove
and the administrator's password reset."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import SystemRole
from core.models import Event
from tests.factories import PASSWORD

User = get_user_model()
USERS = "/admin/users/"
GOOD_PASSWORD = "Blue-Kettle-Orbit-93"


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def _snapshot():
    """Everything a refused change must leave alone."""
    return (
        list(User.objects.order_by("pk").values_list("pk", "username", "system_role", "is_active", "password")),
        Event.objects.count(),
    )


def _rows(html):
    return re.findall(r'<th scope="row">([^<\s]+)', html)


# --- The table ---------------------------------------------------------------------------


def test_table_shows_the_guide_columns(admin_client, make_user):
    make_user("alice", first_name="Alice", last_name="Liddell", email="alice@example.com", description="Auditor")
    bob = make_user("bob", SystemRole.OPERATOR, source=User.Source.LDAP)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    response = admin_client.get(USERS)
    html = response.content.decode()
    assert response.status_code == 200
    for header in ("User Name", "Name", "Email", "System Role", "Source", "Status", "Last Login", "Actions"):
        assert f">{header}</" in html
    assert "Alice Liddell" in html and "alice@example.com" in html and "Auditor" in html
    assert "LDAP" in html and ">Disabled<" in html and ">Enabled<" in html and ">Never<" in html
    assert _rows(html) == ["alice", "bob", "sysadmin"]


def test_admin_may_edit_roles_of_others_but_not_their_own(admin_client, sysadmin, make_user):
    alice = make_user("alice")
    html = admin_client.get(USERS).content.decode()
    assert f'action="/admin/users/{alice.pk}/role/"' in html
    assert f'<label for="role-{alice.pk}"' in html
    assert f'action="/admin/users/{sysadmin.pk}/role/"' not in html


def test_operator_sees_roles_read_only(op_client, make_user):
    alice = make_user("alice")
    html = op_client.get(USERS).content.decode()
    assert "/role/" not in html and "<select" not in html
    assert "System User" in html
    assert f'action="/admin/users/{alice.pk}/disable/"' in html  # operators still manage users


def test_actions_offered_follow_the_rules(admin_client, sysadmin, make_user):
    active, disabled = make_user("active"), make_user("disabled")
    disabled.is_active = False
    disabled.save(update_fields=["is_active"])
    ldap = make_user("ldapuser", source=User.Source.LDAP)
    html = admin_client.get(USERS).content.decode()
    assert f'/admin/users/{active.pk}/disable/"' in html
    assert f'/admin/users/{active.pk}/remove/"' not in html  # Remove only once disabled
    assert f'/admin/users/{disabled.pk}/remove/"' in html and f'/admin/users/{disabled.pk}/enable/"' in html
    assert f'/admin/users/{sysadmin.pk}/disable/"' not in html  # never yourself
    assert f'/admin/users/{ldap.pk}/password/"' not in html  # its server keeps its password
    assert f'/admin/users/{active.pk}/password/"' in html
    remove_form = re.search(rf'<form[^>]+/admin/users/{disabled.pk}/remove/"[^>]*>', html, re.S).group(0)
    disable_form = re.search(rf'<form[^>]+/admin/users/{active.pk}/disable/"[^>]*>', html, re.S).group(0)
    assert "data-confirm=" in remove_form and "data-confirm=" in disable_form


def test_search_sort_and_pages(admin_client, make_user):
    for index in range(30):
        make_user(f"user{index:02d}", email=f"u{index}@example.com", last_name=f"Z{99 - index}")
    make_user("needle", description="The one in the haystack")
    html = admin_client.get(USERS, {"q": "HAYSTACK"}).content.decode()
    assert _rows(html) == ["needle"]
    assert admin_client.get(USERS, {"q": "nobody-at-all"}).content.decode().count("No user matches your search.") == 1

    by_name_desc = _rows(admin_client.get(USERS, {"sort": "-username"}).content.decode())
    assert by_name_desc[:2] == ["user29", "user28"]
    by_last_name = _rows(admin_client.get(USERS, {"sort": "name", "q": "user"}).content.decode())
    assert by_last_name[:2] == ["user29", "user28"]  # last names Z70, Z71 ...
    for column in ("username", "name", "email", "role", "source", "status", "last_login"):
        for sort in (column, f"-{column}"):
            assert admin_client.get(USERS, {"sort": sort}).status_code == 200

    page_two = admin_client.get(USERS, {"page": 2}).content.decode()
    assert "Page 2 of 2 (32 items)" in page_two and len(_rows(page_two)) == 7


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "password"},
        {"sort": "-password"},
        {"sort": "__class__"},
        {"sort": "username;drop"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999"},
        {"page": "1e9"},
        {"q": "x" * 5000},
        {"sort": "", "page": ""},
    ],
)
def test_garbage_sort_and_page_values_never_fail(admin_client, make_user, params):
    make_user("alice")
    response = admin_client.get(USERS, params)
    assert response.status_code == 200
    if "sort" in params and params["sort"]:
        assert 'aria-sort="ascending"><a href="?sort=-username' in response.content.decode()


def test_list_query_count_does_not_grow_with_users(
    admin_client, make_user, django_assert_max_num_queries, django_assert_num_queries, monkeypatch
):
    # Freeze the idle-timeout clock so the session's activity stamp is written once, by the
    # warm-up request, and not again in the middle of a measurement.
    monkeypatch.setattr("accounts.middleware.now", lambda: 1_800_000_000.0)
    admin_client.get(USERS)
    for index in range(4):
        make_user(f"few{index}")
    with django_assert_num_queries(4) as few:
        admin_client.get(USERS)
    for index in range(56):
        make_user(f"many{index:02d}")
    assert User.objects.count() == 61
    # session, the signed-in user, COUNT(*) for the pager, the page of users.
    with django_assert_max_num_queries(4):
        response = admin_client.get(USERS, {"sort": "-last_login", "page": 2})
    assert len(_rows(response.content.decode())) == 25
    assert len(few.captured_queries) == 4


# --- Create ------------------------------------------------------------------------------


def _create(client, **overrides):
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "description": "Licensing lead",
        "username": "ada",
        "email": "ada@example.com",
        "password": GOOD_PASSWORD,
        "password_again": GOOD_PASSWORD,
    }
    data.update(overrides)
    return client.post("/admin/users/create/", data)


def test_create_form_has_labelled_fields(admin_client):
    html = admin_client.get("/admin/users/create/").content.decode()
    for name, label in [
        ("first_name", "First Name"),
        ("last_name", "Last Name"),
        ("description", "Description"),
        ("username", "User Name"),
        ("email", "Email"),
        ("password", "Password"),
        ("password_again", "Re-enter Password"),
    ]:
        assert f'<label for="id_{name}">{label}' in html
    assert "Add User" in html


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_create_adds_a_local_system_user(make_user, login, role):
    client = login(make_user("boss", role))
    response = _create(client)
    assert response.status_code == 302 and response["Location"] == USERS
    ada = User.objects.get(username="ada")
    assert (ada.first_name, ada.last_name, ada.description, ada.email) == (
        "Ada",
        "Lovelace",
        "Licensing lead",
        "ada@example.com",
    )
    assert ada.system_role == SystemRole.USER and ada.source == User.Source.LOCAL and ada.is_active
    assert ada.needs_first_login_wizard and ada.check_password(GOOD_PASSWORD)
    event = Event.objects.get(event_type="user.added")
    assert event.message == "A new user “ada” was added." and event.username == "boss"
    assert "The user “ada” was added." in _messages(client.get(USERS))


def test_create_with_only_the_required_fields(admin_client):
    response = _create(admin_client, first_name="", last_name="", description="", email="")
    assert response.status_code == 302
    assert User.objects.get(username="ada").email == ""


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"username": ""}, "username", "This field is required."),
        ({"username": "   "}, "username", "This field is required."),
        ({"username": "ALICE"}, "username", "A user named “ALICE” already exists."),
        ({"username": "bad name!"}, "username", "Enter a valid username."),
        ({"username": "u" * 151}, "username", "at most 150 characters"),
        ({"password_again": GOOD_PASSWORD + "x"}, "password_again", "The two passwords do not match."),
        ({"password": "", "password_again": ""}, "password", "This field is required."),
        ({"password": "Sh0rt!", "password_again": "Sh0rt!"}, "password", "too short"),
        ({"password": "password1", "password_again": "password1"}, "password", "too common"),
        ({"password": "83749261035", "password_again": "83749261035"}, "password", "entirely numeric"),
        (
            {"username": "kettleorbit", "password": "kettleorbit1", "password_again": "kettleorbit1"},
            "password",
            "too similar to the username",
        ),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": "a" * 250 + "@example.com"}, "email", "at most 254 characters"),
        ({"first_name": "f" * 151}, "first_name", "at most 150 characters"),
        ({"last_name": "l" * 151}, "last_name", "at most 150 characters"),
        ({"description": "d" * 256}, "description", "at most 255 characters"),
    ],
)
def test_bad_input_creates_nobody(admin_client, make_user, overrides, field, message):
    make_user("alice")
    before = _snapshot()
    response = _create(admin_client, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in error for error in errors[field]), errors
    assert message.split("“")[0] in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert _snapshot() == before


def test_system_user_cannot_create(make_user, login):
    client = login(make_user("plain"))
    before = _snapshot()
    assert client.get("/admin/users/create/").status_code == 403
    assert _create(client).status_code == 403
    assert _snapshot() == before


# --- System roles ---------------------------------------------------------------------------


def _set_role(client, user, role, **extra):
    return client.post(f"/admin/users/{user.pk}/role/", {"system_role": role, **extra})


def test_admin_changes_a_system_role(admin_client, make_user):
    alice = make_user("alice")
    response = _set_role(admin_client, alice, SystemRole.OPERATOR)
    assert response.status_code == 302 and response["Location"] == USERS
    alice.refresh_from_db()
    assert alice.system_role == SystemRole.OPERATOR
    assert Event.objects.filter(
        event_type="user.system_role_changed",
        message="The system role of the user “alice” was changed to “System Operator”.",
    ).exists()
    assert "The system role of “alice” is now System Operator." in _messages(admin_client.get(USERS))


def test_operator_cannot_change_roles(op_client, make_user):
    alice = make_user("alice")
    before = _snapshot()
    assert _set_role(op_client, alice, SystemRole.ADMIN).status_code == 403
    assert _snapshot() == before


def test_nobody_changes_their_own_role(admin_client, sysadmin):
    before = _snapshot()
    response = _set_role(admin_client, sysadmin, SystemRole.USER)
    assert response.status_code == 302
    assert "You cannot change your own system role." in _messages(admin_client.get(USERS))
    assert _snapshot() == before


@pytest.mark.parametrize("role", ["root", "", "System Admin"])
def test_unknown_roles_are_refused(admin_client, make_user, role):
    alice = make_user("alice")
    before = _snapshot()
    _set_role(admin_client, alice, role)
    assert any("Unknown system role" in m for m in _messages(admin_client.get(USERS)))
    assert _snapshot() == before


def test_role_change_needs_post_and_an_existing_user(admin_client, make_user):
    alice = make_user("alice")
    assert admin_client.get(f"/admin/users/{alice.pk}/role/").status_code == 405
    assert _set_role(admin_client, type("Gone", (), {"pk": 987654})(), SystemRole.USER).status_code == 404


# --- Disable / Enable / Remove ---------------------------------------------------------------


def _post(client, user, action, **data):
    return client.post(f"/admin/users/{user.pk}/{action}/", data)


def test_disable_then_enable(op_client, make_user):
    alice = make_user("alice")
    assert _post(op_client, alice, "disable").status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    assert Event.objects.filter(event_type="user.disabled", username="sysop").exists()
    _post(op_client, alice, "enable")
    alice.refresh_from_db()
    assert alice.is_active
    assert "The user “alice” was enabled." in _messages(op_client.get(USERS))


def test_disabled_user_cannot_log_in_and_their_session_stops(admin_client, make_user):
    alice = make_user("alice")
    theirs = Client()
    assert theirs.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert theirs.get("/").status_code == 200
    _post(admin_client, alice, "disable")
    response = theirs.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    fresh = Client()
    assert fresh.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    assert "_auth_user_id" not in fresh.session


def test_cannot_remove_an_enabled_user(admin_client, make_user):
    alice = make_user("alice")
    before = _snapshot()
    _post(admin_client, alice, "remove")
    assert "You must first disable a user before you can remove them." in _messages(admin_client.get(USERS))
    assert _snapshot() == before


def test_remove_a_disabled_user(admin_client, make_user):
    alice = make_user("alice")
    _post(admin_client, alice, "disable")
    response = _post(admin_client, alice, "remove")
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert Event.objects.filter(event_type="user.removed", message="The user “alice” was removed.").exists()
    assert "The user “alice” was removed." in _messages(admin_client.get(USERS))
    assert _post(admin_client, alice, "remove").status_code == 404


@pytest.mark.parametrize(
    "action, message",
    [
        ("disable", "You cannot disable yourself."),
        ("remove", "You cannot remove yourself."),
    ],
)
def test_nobody_disables_or_removes_themselves(op_client, sysop, action, message):
    before = _snapshot()
    _post(op_client, sysop, action)
    assert message in _messages(op_client.get(USERS))
    assert _snapshot() == before


def test_enabling_an_enabled_user_is_refused(admin_client, make_user):
    alice = make_user("alice")
    before = _snapshot()
    _post(admin_client, alice, "enable")
    assert "The user “alice” is already enabled." in _messages(admin_client.get(USERS))
    assert _snapshot() == before


@pytest.mark.parametrize("action", ["disable", "enable", "remove", "role", "password"])
def test_system_user_is_refused_every_action(make_user, login, action):
    client = login(make_user("plain"))
    alice = make_user("alice")
    before = _snapshot()
    assert (
        _post(
            client,
            alice,
            action,
            system_role=SystemRole.ADMIN,
            new_password=GOOD_PASSWORD,
            new_password_again=GOOD_PASSWORD,
        ).status_code
        == 403
    )
    assert _snapshot() == before


@pytest.mark.parametrize("action", ["disable", "enable", "remove", "role", "password"])
def test_anonymous_is_sent_to_login(client, make_user, action):
    alice = make_user("alice")
    response = _post(client, alice, action)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_actions_return_to_the_same_table_view(admin_client, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    back = "/admin/users/?q=a&sort=-email&page=1"
    assert _post(admin_client, alice, "disable", next=back)["Location"] == back
    for evil in ("https://evil.example/admin/users/", "//evil.example/admin/users/", "/login/", "javascript:alert(1)"):
        assert _post(admin_client, bob, "disable", next=evil)["Location"] == USERS
        _post(admin_client, bob, "enable")


def test_csrf_is_enforced(sysadmin, make_user):
    alice = make_user("alice")
    client = Client(enforce_csrf_checks=True)
    client.force_login(sysadmin)
    before = _snapshot()
    assert client.post(f"/admin/users/{alice.pk}/disable/").status_code == 403
    assert (
        client.post(
            "/admin/users/create/", {"username": "x", "password": GOOD_PASSWORD, "password_again": GOOD_PASSWORD}
        ).status_code
        == 403
    )
    assert _snapshot() == before
    client.get(USERS)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post(f"/admin/users/{alice.pk}/disable/", {"csrfmiddlewaretoken": token}).status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active


# --- Password reset -------------------------------------------------------------------------


def _reset(client, user, password=GOOD_PASSWORD, again=None):
    return client.post(
        f"/admin/users/{user.pk}/password/",
        {"new_password": password, "new_password_again": password if again is None else again},
    )


def test_reset_password_sends_the_user_through_the_wizard(op_client, make_user):
    alice = make_user("alice")
    theirs = Client()
    theirs.post("/login/", {"username": "alice", "password": PASSWORD})
    assert theirs.get("/").status_code == 200
    page = op_client.get(f"/admin/users/{alice.pk}/password/")
    assert page.status_code == 200 and '<label for="id_new_password">' in page.content.decode()

    response = _reset(op_client, alice)
    assert response.status_code == 302 and response["Location"] == USERS
    alice.refresh_from_db()
    assert alice.check_password(GOOD_PASSWORD) and alice.needs_first_login_wizard
    assert Event.objects.filter(event_type="user.password_reset", username="sysop").exists()
    # Her open session ended; with the new password she lands in the first-login wizard.
    assert theirs.get("/")["Location"].startswith("/login/")
    assert theirs.post("/login/", {"username": "alice", "password": GOOD_PASSWORD}).status_code == 302
    assert theirs.get("/")["Location"] == "/welcome/language/"


@pytest.mark.parametrize(
    "password, again, message",
    [
        (GOOD_PASSWORD, GOOD_PASSWORD + "!", "The two passwords do not match."),
        ("short", None, "too short"),
        ("password1", None, "too common"),
        ("", None, "This field is required."),
    ],
)
def test_bad_reset_changes_nothing(admin_client, make_user, password, again, message):
    alice = make_user("alice")
    before = _snapshot()
    response = _reset(admin_client, alice, password, again)
    assert response.status_code == 200
    assert message in str(response.context["form"].errors)
    assert _snapshot() == before


def test_reset_refusals(admin_client, sysadmin, make_user):
    ldap = make_user("ldapuser", source=User.Source.LDAP)
    before = _snapshot()
    response = _reset(admin_client, ldap)
    assert "The password of “ldapuser” is kept by its LDAP server, not here." in response.content.decode()
    response = _reset(admin_client, sysadmin)
    assert "You cannot reset your own password." in response.content.decode()
    assert _snapshot() == before


def test_reset_refusals_land_on_the_password_field_or_above_the_form(admin_client, sysadmin, make_user):
    # The service names the field "password"; the form calls it "new_password".
    form = _reset(admin_client, make_user("alice"), "short").context["form"]
    assert list(form.errors) == ["new_password"] and "too short" in str(form.errors["new_password"])
    form = _reset(admin_client, sysadmin).context["form"]
    assert form.non_field_errors() == ["You cannot reset your own password."]
    assert "new_password" not in form.errors


def test_operator_cannot_reset_a_system_admins_password(op_client, make_user):
    boss = make_user("boss", SystemRole.ADMIN)
    before = _snapshot()
    assert _reset(op_client, boss).status_code == 403
    assert _snapshot() == before


def test_users_csv_follows_the_search_and_neutralises_formulas(admin_client, make_user):
    import csv
    import io

    make_user("alice", SystemRole.USER, email="alice@example.com", description='=HYPERLINK("x")')
    make_user("bob", SystemRole.OPERATOR)
    response = admin_client.get("/admin/users/export.csv?q=alice")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["User Name", "First Name", "Last Name", "Email", "Role"]
    assert [row[0] for row in rows[1:]] == ["alice"]
    assert rows[1][3] == "alice@example.com" and rows[1][6] == "Active" and rows[1][8].startswith("'=")


def test_users_csv_is_for_administrators_only(make_user, login):
    client = login(make_user("plain", SystemRole.USER))
    assert client.get("/admin/users/export.csv").status_code == 403


def test_a_locked_user_is_shown_and_unlocked_from_the_users_widget(admin_client, make_user):
    from django.utils import timezone

    from accounts.security_models import UserLock

    alice = make_user("alice", SystemRole.USER)
    UserLock.objects.create(user=alice, locked_at=timezone.now())
    html = admin_client.get("/admin/users/").content.decode()
    assert "Locked" in html and f"/admin/users/{alice.pk}/unlock/" in html
    response = admin_client.post(f"/admin/users/{alice.pk}/unlock/", {"next": "/admin/users/"})
    assert response.status_code == 302 and not UserLock.objects.filter(user=alice).exists()
    assert Event.objects.filter(event_type="security.user_unlocked").exists()
    # Unlocking someone who is not locked says so and changes nothing.
    admin_client.post(f"/admin/users/{alice.pk}/unlock/")
    assert Event.objects.filter(event_type="security.user_unlocked").count() == 1
