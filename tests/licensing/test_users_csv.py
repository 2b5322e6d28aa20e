"""Manage Account > Users > Export to CSV: the table as shown (search, sort, every page), the same
members and roles the page shows to the same principal, 404 for other accounts, fixed queries."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import UserGroup, UserGroupMembership
from accounts.roles import AccountRole
from accounts.services.grants import set_account_role

pytestmark = pytest.mark.django_db


def url(account, rest=""):
    return f"/accounts/{account.pk}/manage/users/{rest}"


def csv_of(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def world(acme, acme_admin, acme_user, make_user, new_va, grant_role):
    sales, lab = new_va("Sales"), new_va("Lab")
    vau = make_user("vau", email="vau@acme.example", first_name="Val", last_name="User")
    grant_role(vau, sales, AccountRole.VA_USER)
    labber = make_user("labber")
    grant_role(labber, lab, AccountRole.VA_ADMIN)
    group = UserGroup.objects.create(account=acme, name="Ops")
    member = make_user("member")
    UserGroupMembership.objects.create(group=group, user=member)
    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, group=group)
    make_user("outsider")
    return {"acme": acme, "sales": sales, "vau": vau}


def test_the_users_tab_links_its_csv(world, acme_admin, browser):
    html = browser(acme_admin).get(url(world["acme"]), {"q": "va"}).content.decode()
    assert f'href="{url(world["acme"], "export.csv")}?q=va"' in html and "Export to CSV" in html


def test_csv_lists_every_member_with_direct_and_group_roles(world, acme_admin, browser):
    header, *rows = csv_of(browser(acme_admin).get(url(world["acme"], "export.csv")))
    assert header == ["User ID", "Name", "Email", "Status", "Roles", "Roles through User Groups"]
    by_user = {row[0]: row for row in rows}
    assert sorted(by_user) == ["alice", "bob", "labber", "member", "vau"]
    assert by_user["vau"] == ["vau", "Val User", "vau@acme.example", "Active", "Virtual Account User (Sales)", ""]
    assert by_user["member"][4:] == ["", "Account User [Ops]"]
    assert by_user["alice"][4] == "Account Administrator"


def test_csv_follows_search_and_sort(world, acme_admin, browser):
    client = browser(acme_admin)
    rows = csv_of(client.get(url(world["acme"], "export.csv"), {"sort": "-user"}))[1:]
    assert [row[0] for row in rows] == ["vau", "member", "labber", "bob", "alice"]
    rows = csv_of(client.get(url(world["acme"], "export.csv"), {"q": "acme.example"}))[1:]
    assert [row[0] for row in rows] == ["alice", "bob", "vau"]


def test_a_va_role_exports_only_what_it_sees(world, browser):
    rows = csv_of(browser(world["vau"]).get(url(world["acme"], "export.csv")))[1:]
    assert [row[0] for row in rows] == ["vau"]


def test_another_account_is_not_found(world, acme_admin, make_account, make_user, browser):
    globex = make_account("Globex")
    assert browser(acme_admin).get(url(globex, "export.csv")).status_code == 404
    assert browser(make_user("mallory")).get(url(world["acme"], "export.csv")).status_code == 404
    assert browser(acme_admin).post(url(world["acme"], "export.csv")).status_code == 405


def test_query_count_does_not_grow_with_users(world, acme_admin, make_user, grant_role, browser):
    client = browser(acme_admin)
    client.get(url(world["acme"], "export.csv"))

    def count():
        with CaptureQueriesContext(connection) as captured:
            b"".join(client.get(url(world["acme"], "export.csv")).streaming_content)
        return len(captured)

    few = count()
    for i in range(40):
        grant_role(make_user(f"extra{i:02d}"), world["sales"], AccountRole.VA_USER)
    many = count()
    assert few == many <= 10, (few, many)
