"""The Licensing workspace shell: the account picker, ``/``, the account home page, 404 for what
one may not see, and the Smart Licensing tabs (one registry for the tab bar and the home page)."""

import re

import pytest
from django.test import Client

from accounts.models import UserGroup, UserGroupMembership
from accounts.roles import AccountRole
from licensing.services.accounts import deactivate_account, request_account

pytestmark = pytest.mark.django_db


def picker_names(response):
    """The account names the top bar's picker offers."""
    html = response.content.decode()
    picker = re.search(r'<select id="lw-picker-account".*?</select>', html, re.S)
    return re.findall(r"<option[^>]*>([^<]+)</option>", picker.group(0)) if picker else []


@pytest.fixture
def world(make_account, make_user, grant_role, sysadmin, sysop):
    """Three active accounts, a deactivated one, a requested one and people with every kind of role."""
    acme, globex, initech = make_account("Acme"), make_account("Globex"), make_account("Initech")
    deactivate_account(actor=None, account=make_account("Oldco"))
    requester = make_user("requester")
    request_account(actor=requester, name="Newco", cisco_smart_account="SA", cisco_virtual_account="VA")
    from licensing.services.virtual_accounts import create_virtual_account

    sales = create_virtual_account(actor=None, account=globex, name="Sales")
    people = {
        "sysadmin": sysadmin,
        "sysop": sysop,
        "account_user": make_user("au"),
        "va_admin": make_user("vaa"),
        "group_member": make_user("gm"),
        "nobody": make_user("nobody"),
    }
    grant_role(people["account_user"], acme, AccountRole.ACCOUNT_USER)
    grant_role(people["va_admin"], sales, AccountRole.VA_ADMIN)
    group = UserGroup.objects.create(account=initech, name="Ops")
    UserGroupMembership.objects.create(group=group, user=people["group_member"])
    from accounts.services.grants import set_account_role

    set_account_role(actor=None, account=initech, role=AccountRole.ACCOUNT_USER, group=group)
    return {"acme": acme, "globex": globex, "initech": initech, "sales": sales, **people}


@pytest.mark.parametrize(
    "who, expected",
    [
        ("sysadmin", ["Acme", "Globex", "Initech"]),
        ("sysop", ["Acme", "Globex", "Initech"]),
        ("account_user", ["Acme"]),
        ("va_admin", ["Globex"]),
        ("group_member", ["Initech"]),
        ("nobody", []),
    ],
)
def test_picker_lists_only_visible_active_accounts(world, browser, who, expected):
    response = browser(world[who]).get("/requests/access/")
    assert response.status_code == 200
    assert picker_names(response) == expected
    # Deactivated and requested accounts never appear anywhere on the page.
    assert "Oldco" not in response.content.decode() and "Newco" not in response.content.decode()


def test_root_goes_to_first_visible_account_then_remembers_the_chosen_one(world, browser):
    client = browser(world["sysadmin"])
    assert client.get("/")["Location"] == f"/accounts/{world['acme'].pk}/"
    globex = world["globex"]
    assert client.get(f"/accounts/choose/?account={globex.pk}")["Location"] == f"/accounts/{globex.pk}/"
    assert client.get(f"/accounts/{globex.pk}/").status_code == 200
    assert client.get("/")["Location"] == f"/accounts/{globex.pk}/"
    # The picker marks the remembered account on pages that are not about one account.
    assert f'<option value="{globex.pk}" selected>' in client.get("/requests/account/").content.decode()


def test_a_remembered_account_that_was_deactivated_is_forgotten(world, browser):
    client = browser(world["sysadmin"])
    client.get(f"/accounts/{world['initech'].pk}/")
    deactivate_account(actor=None, account=world["initech"])
    assert client.get("/")["Location"] == f"/accounts/{world['acme'].pk}/"


def test_picker_keeps_the_page_when_switching_account(world, browser):
    client = browser(world["sysadmin"])
    page = client.get(f"/accounts/{world['acme'].pk}/manage/users/").content.decode()
    assert 'name="view" value="licensing_manage_users"' in page
    response = client.get(f"/accounts/choose/?account={world['globex'].pk}&view=licensing_manage_users")
    assert response["Location"] == f"/accounts/{world['globex'].pk}/manage/users/"
    # An unknown page, or one the user may not open on the new account, falls back to its home.
    assert client.get(f"/accounts/choose/?account={world['globex'].pk}&view=logout")["Location"] == (
        f"/accounts/{world['globex'].pk}/"
    )
    va_admin = browser(world["va_admin"])
    response = va_admin.get(f"/accounts/choose/?account={world['globex'].pk}&view=licensing_manage_access_requests")
    assert response["Location"] == f"/accounts/{world['globex'].pk}/"


@pytest.mark.parametrize("query", ["account=abc", "account=", "", "account=999999"])
def test_picker_with_garbage_answers_404(world, browser, query):
    assert browser(world["sysadmin"]).get(f"/accounts/choose/?{query}").status_code == 404


def test_picker_cannot_choose_an_invisible_account(world, browser):
    assert browser(world["account_user"]).get(f"/accounts/choose/?account={world['globex'].pk}").status_code == 404


@pytest.mark.parametrize(
    "suffix",
    [
        "",
        "manage/",
        "manage/general/",
        "manage/virtual-accounts/",
        "manage/users/",
        "manage/access-requests/",
        "manage/event-log/",
    ],
)
@pytest.mark.parametrize("account_name", ["Oldco", "Newco"])
def test_non_active_accounts_answer_404_even_to_system_admins(world, browser, suffix, account_name):
    from licensing.models import LocalAccount

    account = LocalAccount.objects.get(name=account_name)
    assert browser(world["sysadmin"]).get(f"/accounts/{account.pk}/{suffix}").status_code == 404


def test_accounts_without_a_role_answer_404_like_missing_ones(world, browser):
    client = browser(world["account_user"])
    assert client.get(f"/accounts/{world['globex'].pk}/").status_code == 404
    assert client.get(f"/accounts/{world['globex'].pk}/manage/general/").status_code == 404
    assert client.get("/accounts/999999/").status_code == 404
    assert client.get("/accounts/abc/").status_code == 404


def test_user_without_account_sees_how_to_get_one(world, browser):
    response = browser(world["nobody"]).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "You need to request a new account or request access to an existing account." in html
    assert 'href="/requests/account/"' in html and 'href="/requests/access/"' in html
    assert "/manage/" not in html


def test_account_home_has_administration_links_and_no_unbuilt_tabs(world, browser):
    acme = world["acme"]
    html = browser(world["account_user"]).get(f"/accounts/{acme.pk}/").content.decode()
    assert 'href="/requests/account/"' in html and 'href="/requests/access/"' in html
    assert f'href="/accounts/{acme.pk}/manage/general/"' in html
    # The Smart Licensing tabs, in the guide's order.
    order = [
        html.index(f'href="/accounts/{acme.pk}/{path}/"')
        for path in ("inventory", "conversion", "preferences", "activity")
    ]
    assert order == sorted(order)
    # Activity: in the tab bar and on the home page.
    assert html.count(f'href="/accounts/{acme.pk}/activity/"') == 2
    # Alerts: first in the tab bar, and on the home page.
    assert html.count(f'href="/accounts/{acme.pk}/alerts/"') == 2
    assert html.index(f'href="/accounts/{acme.pk}/alerts/"') < html.index(f'href="/accounts/{acme.pk}/inventory/"')
    # Inventory: in the tab bar and on the home page.
    assert html.count(f'href="/accounts/{acme.pk}/inventory/"') == 2


def test_a_registered_smart_licensing_tab_appears_in_tab_bar_and_home(world, browser):
    """A tab is added in one place, the registry, and shows in the tab bar and on the home page."""
    from licensing.views.workspace import SMART_LICENSING_TABS, Tab

    SMART_LICENSING_TABS.append(Tab("demo", "Demo Tab", "licensing_manage_users"))
    try:
        html = browser(world["account_user"]).get(f"/accounts/{world['acme'].pk}/").content.decode()
    finally:
        SMART_LICENSING_TABS.pop()
    assert "lw-section-tabs" in html and html.count("Demo Tab") == 2


def test_manage_tabs_follow_the_roles(world, browser):
    acme = world["acme"]
    html = browser(world["account_user"]).get(f"/accounts/{acme.pk}/manage/general/").content.decode()
    for tab in ("General", "Local Virtual Accounts", "Users", "Event Log"):
        assert f">{tab}</a>" in html
    assert ">Access Requests</a>" not in html
    assert ">User Groups</a>" not in html and ">Custom Tags</a>" not in html
    html = browser(world["sysop"]).get(f"/accounts/{acme.pk}/manage/general/").content.decode()
    assert ">Access Requests</a>" in html


def test_general_tab_shows_the_account(world, browser, make_user):
    from licensing.services.accounts import activate_account, approve_account_request

    requester = make_user("dana", email="dana@example.com", first_name="Dana", last_name="Scully")
    account = request_account(
        actor=requester, name="Umbrella", cisco_smart_account="umbrella.com", cisco_virtual_account="Umbrella VA"
    )
    activate_account(actor=None, account=approve_account_request(actor=None, account=account))
    html = browser(world["sysadmin"]).get(f"/accounts/{account.pk}/manage/general/").content.decode()
    for text in (
        "Active",
        "Umbrella",
        "Dana Scully",
        "dana@example.com",
        "umbrella.com",
        "Umbrella VA",
        account.created_at.strftime("%Y-%m-%d"),
    ):
        assert text in html
    assert "<form" not in html.split('<main id="main">')[1]  # read-only


def test_anonymous_is_sent_to_login(world):
    client = Client()
    for url in ("/", f"/accounts/{world['acme'].pk}/", "/requests/account/", "/accounts/choose/?account=1"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_forms_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["sysadmin"])
    acme = world["acme"]
    response = client.post(f"/accounts/{acme.pk}/manage/virtual-accounts/new/", {"name": "Sneaky"})
    assert response.status_code == 403
    assert not acme.virtual_accounts.filter(name="Sneaky").exists()
