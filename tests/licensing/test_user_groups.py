"""Manage Account > User Groups: groups, members, owners, CSV upload / download, roles, refusals."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import RoleGrant, UserGroup, UserGroupMembership
from accounts.roles import AccountRole
from accounts.services import groups as group_service
from core.models import Event
from licensing.services.accounts import visible_accounts

pytestmark = pytest.mark.django_db


def url(account, rest=""):
    return f"/accounts/{account.pk}/manage/user-groups/{rest}"


def gurl(group, rest=""):
    return url(group.account, f"{group.pk}/{rest}")


def snapshot():
    return (
        list(UserGroup.objects.order_by("pk").values_list("pk", "account_id", "name", "description")),
        list(UserGroupMembership.objects.order_by("pk").values_list("pk", "group_id", "user_id", "is_owner")),
        list(RoleGrant.objects.order_by("pk").values_list("pk", "user_id", "group_id", "role")),
        Event.objects.count(),
    )


def members(group):
    return sorted(group.memberships.values_list("user__username", "is_owner"))


@pytest.fixture
def team(acme):
    return group_service.create_group(actor=None, account=acme, name="Team", description="The team")


@pytest.fixture
def people(make_user):
    return [make_user(name, email=f"{name}@example.com") for name in ("carol", "dave", "erin")]


def upload(client, group, content, name="users.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if isinstance(content, str):
        content = content.encode("utf-8")
    return client.post(gurl(group, "upload/"), {"file": SimpleUploadedFile(name, content, "text/csv")})


# --- Groups ------------------------------------------------------------------------------------


def test_create_rename_delete(acme, acme_admin, browser):
    client = browser(acme_admin)
    response = client.post(url(acme, "new/"), {"name": " Network Ops ", "description": "NOC"})
    group = UserGroup.objects.get(account=acme)
    assert (group.name, group.description) == ("Network Ops", "NOC")
    assert response.status_code == 302 and response["Location"] == gurl(group)
    event = Event.objects.get(event_type="group.added")
    assert (event.message, event.account, event.user) == ("User group “Network Ops” was created.", acme, acme_admin)
    listing = client.get(url(acme)).content.decode()
    assert "Network Ops" in listing and "NOC" in listing and "User Groups" in listing

    client.post(gurl(group, "edit/"), {"name": "NetOps", "description": ""})
    group.refresh_from_db()
    assert (group.name, group.description) == ("NetOps", "")
    assert Event.objects.get(event_type="group.updated").message == "User group “NetOps” was updated."

    response = client.post(gurl(group, "delete/"))
    assert response.status_code == 302 and response["Location"] == url(acme)
    assert not UserGroup.objects.exists()
    assert Event.objects.get(event_type="group.removed").message == "User group “NetOps” was removed."


@pytest.mark.parametrize(
    "name, message",
    [
        ("Team", "A user group named “Team” already exists in this account."),
        ("team", "A user group named “team” already exists in this account."),
        ("   ", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_bad_names_write_nothing(acme, acme_admin, team, browser, name, message):
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(url(acme, "new/"), {"name": name})
    assert response.status_code == 400 and message in response.content.decode()
    assert snapshot() == before
    other = group_service.create_group(actor=None, account=acme, name="Other")
    before = snapshot()
    if name.strip() and len(name) <= 100:
        response = client.post(gurl(other, "edit/"), {"name": name})
        assert response.status_code == 400 and message in response.content.decode()
        assert snapshot() == before


def test_the_same_name_is_fine_in_another_account(acme, acme_admin, make_account, browser):
    group_service.create_group(actor=None, account=make_account("Globex"), name="Team")
    assert browser(acme_admin).post(url(acme, "new/"), {"name": "Team"}).status_code == 302
    assert UserGroup.objects.filter(name="Team").count() == 2


# --- Members and the owner ---------------------------------------------------------------------------


def test_add_and_remove_members_by_user_id_or_email(acme_admin, team, people, browser):
    client = browser(acme_admin)
    assert client.post(gurl(team, "members/add/"), {"user": "CAROL"}).status_code == 302
    assert client.post(gurl(team, "members/add/"), {"user": "dave@example.com", "is_owner": "on"}).status_code == 302
    assert members(team) == [("carol", False), ("dave", True)]
    assert Event.objects.filter(event_type="group.user_added").order_by("pk").first().message == (
        "User “carol” was added to user group “Team”."
    )
    page = client.get(gurl(team)).content.decode()
    assert "carol" in page and "dave@example.com" in page

    response = client.post(gurl(team, "members/add/"), {"user": "carol"})
    assert response.status_code == 400 and "already a member" in response.content.decode()
    response = client.post(gurl(team, "members/add/"), {"user": "nobody"})
    assert response.status_code == 400 and "No user with the User ID or email address “nobody” exists." in (
        response.content.decode()
    )

    carol = team.memberships.get(user__username="carol")
    assert client.post(gurl(team, f"members/{carol.pk}/remove/")).status_code == 302
    assert members(team) == [("dave", True)]
    assert Event.objects.get(event_type="group.user_removed").message == "User “carol” was removed from group “Team”."


def test_a_group_has_one_owner(acme_admin, team, people, browser):
    carol, dave, erin = people
    client = browser(acme_admin)
    group_service.add_member(actor=None, group=team, user=carol, is_owner=True)
    group_service.add_member(actor=None, group=team, user=dave, is_owner=True)
    assert members(team) == [("carol", False), ("dave", True)]
    group_service.add_member(actor=None, group=team, user=erin)
    erin_membership = team.memberships.get(user=erin)
    assert client.post(gurl(team, f"members/{erin_membership.pk}/owner/")).status_code == 302
    assert members(team) == [("carol", False), ("dave", False), ("erin", True)]


def test_another_groups_membership_is_not_found(acme, acme_admin, team, people, browser):
    other = group_service.create_group(actor=None, account=acme, name="Other")
    membership = group_service.add_member(actor=None, group=other, user=people[0])
    response = browser(acme_admin).post(gurl(team, f"members/{membership.pk}/remove/"))
    assert response.status_code == 404
    assert other.memberships.exists()


# --- Upload ------------------------------------------------------------------------------------------


def test_upload_adds_everyone_case_insensitive_and_quoted(acme_admin, team, people, browser):
    group_service.add_member(actor=None, group=team, user=people[2], is_owner=True)
    content = '\ufeff"user_id", "is_owner"\r\n"Carol", "TRUE"\r\ndave,False\r\n\r\n"erin",false\r\n'
    response = upload(browser(acme_admin), team, content)
    assert response.status_code == 302
    assert members(team) == [("carol", True), ("dave", False), ("erin", False)]
    assert Event.objects.filter(event_type="group.user_added").count() == 3  # erin was added before


@pytest.mark.parametrize(
    "content, errors",
    [
        (
            '"user_id","is_owner"\ncarol,true\nghost,false\ndave,false\nspook,true\n',
            [
                "Line 3: no user with the User ID “ghost” exists.",
                "Line 5: no user with the User ID “spook” exists.",
                "Only one user can be set to be the owner of a group; owners are set on lines 2, 5.",
            ],
        ),
        ('"user_id","is_owner"\ncarol,yes\ndave,false\n', ["Line 2: “yes” is not true or false."]),
        (
            '"user_id","is_owner"\ncarol,true\ndave,TRUE\n',
            ["Only one user can be set to be the owner of a group; owners are set on lines 2, 3."],
        ),
        ("user,owner\ncarol,true\n", ['Line 1: the header must be "user_id","is_owner".']),
        ("carol,true\ndave,false\n", ['Line 1: the header must be "user_id","is_owner".']),
        (
            '"user_id","is_owner"\ncarol\ndave,false,x\n',
            [
                "Line 2: expected a user id and true or false, found 1 values.",
                "Line 3: expected a user id and true or false, found 3 values.",
            ],
        ),
        ('"user_id","is_owner"\ncarol,false\nCAROL,false\n', ["Line 3: the user “CAROL” is already listed on line 2."]),
        ("", ['The file is empty; it needs the header "user_id","is_owner".']),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["The file is not a CSV text file (it is not UTF-8 text)."]),
        (b'"user_id","is_owner"\ncarol,true\x00\n', ["The file is not a CSV text file (it contains binary data)."]),
        (b'"user_id","is_owner"\n' + b"carol,false\n" * 90000, ["The file is larger than 1 MB."]),
    ],
)
def test_a_bad_upload_shows_every_error_and_writes_nothing(acme_admin, team, people, browser, content, errors):
    client = browser(acme_admin)
    before = snapshot()
    response = upload(client, team, content)
    assert response.status_code == 400
    html = response.content.decode()
    for error in errors:
        assert error.replace('"', "&quot;") in html
    assert html.count("<li>Line ") == sum(error.startswith("Line ") for error in errors)
    assert snapshot() == before
    assert group_service.import_members_csv(actor=None, group=team, file_content=content) == errors


def test_upload_without_a_file(acme_admin, team, browser):
    response = browser(acme_admin).post(gurl(team, "upload/"))
    assert response.status_code == 400 and "Choose a CSV file to upload." in response.content.decode()


# --- Download ----------------------------------------------------------------------------------------


def test_download_users_and_template(acme, acme_admin, people, browser):
    group = group_service.create_group(actor=None, account=acme, name="Net Ops")
    group_service.add_member(actor=None, group=group, user=people[1], is_owner=True)
    group_service.add_member(actor=None, group=group, user=people[0])
    client = browser(acme_admin)
    response = client.get(gurl(group, "download.csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Net_Ops.csv"'
    body = b"".join(response.streaming_content).decode()
    assert body == "user_id,is_owner\r\ncarol,false\r\ndave,true\r\n"
    # What is downloaded uploads again unchanged.
    before = snapshot()
    assert upload(client, group, body).status_code == 302
    assert snapshot()[:3] == before[:3]
    template = client.get(url(acme, "template.csv"))
    assert b"".join(template.streaming_content).decode() == "user_id,is_owner\r\n"


# --- Roles through a group ---------------------------------------------------------------------------


def test_a_groups_role_lets_its_members_see_the_account(acme, acme_admin, team, people, browser):
    carol = people[0]
    group_service.add_member(actor=None, group=team, user=carol)
    assert acme not in visible_accounts(carol)
    response = browser(acme_admin).post(gurl(team, "role/"), {"role": AccountRole.ACCOUNT_USER})
    assert response.status_code == 302
    assert RoleGrant.objects.get(group=team).role == AccountRole.ACCOUNT_USER
    assert acme in visible_accounts(carol)
    assert browser(carol).get(f"/accounts/{acme.pk}/").status_code == 200
    # An Account User reached through a group still may not manage groups.
    assert browser(carol).get(url(acme)).status_code == 403


# --- Refusals ----------------------------------------------------------------------------------------


def _all_requests(acme, team, membership):
    return [
        ("get", url(acme), {}),
        ("post", url(acme, "new/"), {"name": "X"}),
        ("get", url(acme, "template.csv"), {}),
        ("get", gurl(team), {}),
        ("post", gurl(team, "edit/"), {"name": "X"}),
        ("post", gurl(team, "delete/"), {}),
        ("post", gurl(team, "members/add/"), {"user": "erin"}),
        ("post", gurl(team, f"members/{membership.pk}/remove/"), {}),
        ("post", gurl(team, f"members/{membership.pk}/owner/"), {}),
        ("post", gurl(team, "upload/"), {}),
        ("get", gurl(team, "download.csv"), {}),
        ("post", gurl(team, "role/"), {"role": AccountRole.ACCOUNT_ADMIN}),
    ]


@pytest.mark.parametrize("who, status", [("acme_user", 403), ("va_admin", 403), ("outsider", 404)])
def test_only_account_administrators_manage_groups(
    acme, acme_user, make_user, make_account, grant_role, new_va, team, people, browser, who, status
):
    membership = group_service.add_member(actor=None, group=team, user=people[0])
    if who == "acme_user":
        person = acme_user
    elif who == "va_admin":
        person = make_user("vaa")
        grant_role(person, new_va("Sales"), AccountRole.VA_ADMIN)
    else:
        person = make_user("globex_admin")
        grant_role(person, make_account("Globex"), AccountRole.ACCOUNT_ADMIN)
    client = browser(person)
    before = snapshot()
    for method, address, data in _all_requests(acme, team, membership):
        assert getattr(client, method)(address, data).status_code == status, address
    assert snapshot() == before
    if status == 403:
        assert "User Groups" not in client.get(f"/accounts/{acme.pk}/manage/users/").content.decode()
    with pytest.raises(group_service.NotAllowed):
        group_service.create_group(actor=person, account=acme, name="Sneaky")


def test_another_accounts_group_is_not_found(acme, acme_admin, make_account, people, browser):
    theirs = group_service.create_group(actor=None, account=make_account("Globex"), name="Theirs")
    membership = group_service.add_member(actor=None, group=theirs, user=people[0])
    client = browser(acme_admin)
    before = snapshot()
    for method, address, data in _all_requests(acme, theirs, membership)[3:]:
        address = address.replace(f"/accounts/{theirs.account_id}/", f"/accounts/{acme.pk}/")
        assert getattr(client, method)(address, data).status_code == 404, address
    assert snapshot() == before


def test_forms_need_the_csrf_token(acme, acme_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme_admin)
    response = client.post(url(acme, "new/"), {"name": "Sneaky"})
    assert response.status_code == 403
    assert not UserGroup.objects.exists()


# --- Query count -------------------------------------------------------------------------------------


def _list_queries(client, acme):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(acme))
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_groups_list_costs_the_same_queries_for_3_or_40_groups(acme, acme_admin, people, browser):
    client = browser(acme_admin)
    client.get(url(acme))  # warm the session / caches

    def make(first, last):
        for number in range(first, last):
            group = group_service.create_group(actor=None, account=acme, name=f"G{number:02}")
            for index, person in enumerate(people):
                group_service.add_member(actor=None, group=group, user=person, is_owner=index == 0)

    make(0, 3)
    few, html = _list_queries(client, acme)
    assert html.count(">carol</td>") == 3
    make(3, 40)
    many, html = _list_queries(client, acme)
    assert html.count(">carol</td>") == 25  # one page
    assert few == many
    assert many <= 12
