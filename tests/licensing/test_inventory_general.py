"""Inventory > General: the virtual account chooser, who may open it, and the registration tokens."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from core.models import Event
from licensing.models import RegistrationToken
from licensing.services.tokens import create_token, revoke_token

pytestmark = pytest.mark.django_db


def url(account, rest=""):
    return f"/accounts/{account.pk}/inventory/{rest}"


def snapshot():
    return (
        list(
            RegistrationToken.objects.order_by("pk").values_list(
                "pk", "virtual_account_id", "description", "expires_at", "max_uses", "export_controlled", "revoked_at"
            )
        ),
        Event.objects.count(),
    )


def chooser(html):
    """The virtual account chooser's <select> (the account picker has options too)."""
    start = html.index('<select id="inv-va"')
    return html[start : html.index("</select>", start)]


@pytest.fixture
def world(acme, new_va, make_user, make_account, grant_role):
    sales, lab = new_va("Sales"), new_va("Lab")
    globex = make_account("Globex")
    people = {}
    for name, scope, role in [
        ("aa", acme, AccountRole.ACCOUNT_ADMIN),
        ("au", acme, AccountRole.ACCOUNT_USER),
        ("vaa", sales, AccountRole.VA_ADMIN),
        ("vau", sales, AccountRole.VA_USER),
    ]:
        people[name] = make_user(name, SystemRole.USER)
        grant_role(people[name], scope, role)
    people["nobody"] = make_user("nobody", SystemRole.USER)
    return {
        "acme": acme,
        "default": acme.virtual_accounts.get(is_default=True),
        "sales": sales,
        "lab": lab,
        "globex": globex,
        **people,
    }


# --- who may open it --------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, va, status",
    [
        ("aa", "default", 200),
        ("aa", "sales", 200),
        ("aa", "lab", 200),
        ("au", "default", 200),
        ("au", "sales", 200),
        ("vaa", "sales", 200),
        ("vaa", "default", 404),
        ("vaa", "lab", 404),
        ("vau", "sales", 200),
        ("vau", "lab", 404),
        ("nobody", "sales", 404),
    ],
)
def test_who_sees_which_virtual_account(world, browser, who, va, status):
    client = browser(world[who])
    response = client.get(url(world["acme"]), {"va": world[va].pk})
    assert response.status_code == status
    if status == 200:
        assert f'<option value="{world[va].pk}" selected>' in chooser(response.content.decode())


def test_va_roles_see_only_their_virtual_accounts_in_the_chooser(world, browser):
    response = browser(world["vau"]).get(url(world["acme"]))
    assert response.status_code == 200
    html = chooser(response.content.decode())
    # Without ?va the only visible VA is shown, not the (invisible) Default.
    assert f'<option value="{world["sales"].pk}" selected>' in html
    assert "Lab" not in html and f'value="{world["default"].pk}"' not in html


def test_account_admin_starts_on_the_default(world, browser):
    html = chooser(browser(world["aa"]).get(url(world["acme"])).content.decode())
    assert f'<option value="{world["default"].pk}" selected>' in html
    assert html.count("<option ") == 3


@pytest.mark.parametrize("va", ["abc", "999999", "-1"])
def test_bad_virtual_account_choice_is_not_found(world, browser, va):
    assert browser(world["aa"]).get(url(world["acme"]), {"va": va}).status_code == 404


def test_another_accounts_virtual_account_is_not_found(world, browser):
    other = world["globex"].virtual_accounts.get(is_default=True)
    assert browser(world["aa"]).get(url(world["acme"]), {"va": other.pk}).status_code == 404


def test_system_user_without_roles_gets_404_on_every_page(world, browser):
    client = browser(world["nobody"])
    acme = world["acme"]
    for rest in (
        "",
        "licenses/",
        "product-instances/",
        "licenses/export.csv",
        "product-instances/export.csv",
        f"virtual-accounts/{world['sales'].pk}/tokens/new/",
    ):
        assert client.get(url(acme, rest)).status_code == 404, rest


def test_system_admin_sees_every_virtual_account(world, browser, sysadmin):
    html = chooser(browser(sysadmin).get(url(world["acme"])).content.decode())
    assert html.count("<option ") == 3


def test_inventory_is_in_the_tab_bar(world, browser):
    html = browser(world["vau"]).get(f"/accounts/{world['acme'].pk}/").content.decode()
    assert f'href="/accounts/{world["acme"].pk}/inventory/"' in html


def test_description_of_the_virtual_account_is_shown(world, browser):
    world["sales"].description = "EMEA field sales"
    world["sales"].save()
    html = browser(world["vau"]).get(url(world["acme"]), {"va": world["sales"].pk}).content.decode()
    assert "EMEA field sales" in html


# --- New Token ----------------------------------------------------------------------------


def test_create_token_shows_it_once_and_records_the_event(world, browser):
    client = browser(world["vau"])
    sales = world["sales"]
    response = client.post(
        url(world["acme"], f"virtual-accounts/{sales.pk}/tokens/new/"),
        {"description": "Lab routers", "expires_after_days": "10", "max_uses": "3"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(world["acme"]) + f"?va={sales.pk}"
    token = RegistrationToken.objects.get()
    assert (token.virtual_account, token.description, token.max_uses, token.export_controlled) == (
        sales,
        "Lab routers",
        3,
        False,
    )
    assert token.created_by == world["vau"] and token.created_by_name == "vau"
    assert abs((token.expires_at - timezone.now()) - datetime.timedelta(days=10)) < datetime.timedelta(minutes=1)
    event = Event.objects.get(event_type="token.created")
    assert (event.virtual_account, event.user) == (sales, world["vau"])

    first = client.get(response["Location"]).content.decode()
    assert 'id="inv-new-token-text"' in first and token.token in first
    assert "0 / 3" in first and "Lab routers" in first and "Active" in first
    second = client.get(response["Location"]).content.decode()
    assert 'id="inv-new-token-text"' not in second  # the new-token box is shown once
    # The table keeps the full token text, with its Copy action, in the Token column.
    assert f'id="inv-token-{token.pk}" class="inv-token" value="{token.token}" readonly' in second
    assert f'data-copy-from="inv-token-{token.pk}"' in second


def test_default_expiry_is_30_days_and_no_use_limit(world, browser):
    client = browser(world["aa"])
    form = client.get(url(world["acme"], f"virtual-accounts/{world['default'].pk}/tokens/new/")).content.decode()
    assert 'value="30"' in form
    client.post(
        url(world["acme"], f"virtual-accounts/{world['default'].pk}/tokens/new/"),
        {"description": "", "expires_after_days": "30", "max_uses": ""},
    )
    token = RegistrationToken.objects.get()
    assert token.max_uses is None
    assert abs((token.expires_at - timezone.now()) - datetime.timedelta(days=30)) < datetime.timedelta(minutes=1)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"expires_after_days": "0"}, "Expire After must be a whole number of days from 1 to 365."),
        ({"expires_after_days": "366"}, "Expire After must be a whole number of days from 1 to 365."),
        ({"expires_after_days": "abc"}, "Enter a whole number."),
        ({"expires_after_days": ""}, "This field is required."),
        ({"expires_after_days": "30", "max_uses": "0"}, "Max. Number of Uses must be a whole number of at least 1"),
        ({"expires_after_days": "30", "max_uses": "-1"}, "Max. Number of Uses must be a whole number of at least 1"),
        ({"expires_after_days": "30", "max_uses": "1.5"}, "Enter a whole number."),
        ({"expires_after_days": "30", "description": "d" * 256}, "Ensure this value has at most 255 characters"),
    ],
)
def test_bad_token_input_writes_nothing(world, browser, data, message):
    client = browser(world["aa"])
    before = snapshot()
    response = client.post(url(world["acme"], f"virtual-accounts/{world['sales'].pk}/tokens/new/"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert snapshot() == before


def test_export_controlled_token_where_the_account_allows_it(world, browser):
    client = browser(world["vaa"])
    new = url(world["acme"], f"virtual-accounts/{world['sales'].pk}/tokens/new/")
    form = client.get(new).content.decode()
    assert 'name="export_controlled"' in form and 'name="terms_accepted"' in form
    client.post(new, {"expires_after_days": "5", "export_controlled": "on", "terms_accepted": "on"})
    assert RegistrationToken.objects.get().export_controlled is True
    assert Event.objects.filter(event_type="token.created_export").count() == 1


def test_export_controlled_token_needs_the_terms_agreed(world, browser):
    """Step 5 of Create Registration Token: without the terms checkbox nothing is created."""
    client = browser(world["vaa"])
    new = url(world["acme"], f"virtual-accounts/{world['sales'].pk}/tokens/new/")
    before = snapshot()
    response = client.post(new, {"expires_after_days": "5", "export_controlled": "on"})
    assert response.status_code == 200
    assert "Agree to the terms and conditions" in response.content.decode()
    assert snapshot() == before
    # A token without export control does not need them.
    assert client.post(new, {"expires_after_days": "5"}).status_code == 302
    assert RegistrationToken.objects.get().export_controlled is False


def test_create_token_service_refuses_export_without_terms_and_api_passes_none(world):
    from licensing.services.tokens import TokenError

    with pytest.raises(TokenError) as refused:
        create_token(actor=world["aa"], virtual_account=world["sales"], export_controlled=True, terms_accepted=False)
    assert refused.value.field == "terms_accepted"
    assert not RegistrationToken.objects.exists()
    token = create_token(actor=world["aa"], virtual_account=world["sales"], export_controlled=True)
    assert token.export_controlled is True


def test_export_controlled_token_where_not_allowed_is_refused(world, browser):
    acme = world["acme"]
    acme.export_control_allowed = False
    acme.save()
    client = browser(world["aa"])
    new = url(acme, f"virtual-accounts/{world['sales'].pk}/tokens/new/")
    form = client.get(new).content.decode()
    assert 'name="export_controlled"' not in form
    before = snapshot()
    response = client.post(new, {"expires_after_days": "5", "export_controlled": "on"})
    assert response.status_code == 200
    assert "is not permitted to create tokens allowing export-controlled functionality" in response.content.decode()
    assert snapshot() == before
    listing = client.get(url(acme), {"va": world["sales"].pk}).content.decode()
    assert "Export-Controlled" not in listing


def test_new_token_on_an_invisible_or_foreign_virtual_account_is_not_found(world, browser):
    client = browser(world["vau"])
    other = world["globex"].virtual_accounts.get(is_default=True)
    before = snapshot()
    for va in (world["lab"], world["default"], other):
        response = client.post(url(world["acme"], f"virtual-accounts/{va.pk}/tokens/new/"), {"expires_after_days": "5"})
        assert response.status_code == 404
    assert snapshot() == before


def test_new_token_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["aa"])
    before = snapshot()
    response = client.post(
        url(world["acme"], f"virtual-accounts/{world['sales'].pk}/tokens/new/"), {"expires_after_days": "5"}
    )
    assert response.status_code == 403
    assert snapshot() == before


# --- Revoke, Remove, Download --------------------------------------------------------------


@pytest.fixture
def branch_token(world, token):
    return token(world["sales"], description="Branch", expires_after_days=7)


def test_revoke_then_remove(world, browser, branch_token):
    client = browser(world["vaa"])
    acme = world["acme"]
    listing = client.get(url(acme), {"va": world["sales"].pk}).content.decode()
    assert f"/tokens/{branch_token.pk}/revoke/" in listing and f"/tokens/{branch_token.pk}/remove/" not in listing
    assert "data-confirm=" in listing

    # Only a revoked token can be removed.
    response = client.post(url(acme, f"tokens/{branch_token.pk}/remove/"), follow=True)
    assert "Only a revoked token can be removed." in response.content.decode()
    assert RegistrationToken.objects.filter(pk=branch_token.pk).exists()

    response = client.post(url(acme, f"tokens/{branch_token.pk}/revoke/"))
    assert response.status_code == 302 and response["Location"] == url(acme) + f"?va={world['sales'].pk}"
    branch_token.refresh_from_db()
    assert branch_token.revoked_at is not None and branch_token.revoked_by == world["vaa"]
    revoked = Event.objects.get(event_type="token.revoked")
    assert (revoked.user, revoked.virtual_account) == (world["vaa"], world["sales"])
    listing = client.get(url(acme), {"va": world["sales"].pk}).content.decode()
    assert "Revoked" in listing and f"/tokens/{branch_token.pk}/remove/" in listing

    response = client.post(url(acme, f"tokens/{branch_token.pk}/revoke/"), follow=True)
    assert "has already been revoked" in response.content.decode()
    assert Event.objects.filter(event_type="token.revoked").count() == 1

    client.post(url(acme, f"tokens/{branch_token.pk}/remove/"))
    assert not RegistrationToken.objects.filter(pk=branch_token.pk).exists()
    assert Event.objects.get(event_type="token.removed").user == world["vaa"]


def test_download_is_a_text_attachment(world, browser, branch_token):
    response = browser(world["vau"]).get(url(world["acme"], f"tokens/{branch_token.pk}/download/"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"].startswith('attachment; filename="token_Sales_')
    assert response.content.decode() == f"{branch_token.token}\n"


def test_revoke_and_remove_are_post_only(world, browser, branch_token):
    client = browser(world["aa"])
    assert client.get(url(world["acme"], f"tokens/{branch_token.pk}/revoke/")).status_code == 405
    assert client.get(url(world["acme"], f"tokens/{branch_token.pk}/remove/")).status_code == 405
    branch_token.refresh_from_db()
    assert branch_token.revoked_at is None


def test_tokens_of_invisible_or_foreign_virtual_accounts_are_not_found(world, browser, branch_token):
    lab_token = create_token(actor=None, virtual_account=world["lab"], expires_after_days=7)
    foreign = create_token(
        actor=None, virtual_account=world["globex"].virtual_accounts.get(is_default=True), expires_after_days=7
    )
    revoke_token(actor=None, token=lab_token)
    vau, aa = browser(world["vau"]), browser(world["aa"])
    before = snapshot()
    for client, tok in ((vau, lab_token), (aa, foreign)):
        for action in ("revoke", "remove"):
            assert client.post(url(world["acme"], f"tokens/{tok.pk}/{action}/")).status_code == 404
        assert client.get(url(world["acme"], f"tokens/{tok.pk}/download/")).status_code == 404
    assert aa.post(url(world["acme"], "tokens/999999/revoke/")).status_code == 404
    assert snapshot() == before


def test_revoke_needs_the_csrf_token(world, branch_token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["aa"])
    assert client.post(url(world["acme"], f"tokens/{branch_token.pk}/revoke/")).status_code == 403
    branch_token.refresh_from_db()
    assert branch_token.revoked_at is None


def test_token_table_search_and_sort(world, browser):
    sales = world["sales"]
    for description, days in (("alpha", 3), ("bravo", 1), ("charlie", 2)):
        create_token(actor=None, virtual_account=sales, description=description, expires_after_days=days)
    client = browser(world["aa"])
    html = client.get(url(world["acme"]), {"va": sales.pk, "q": "rav"}).content.decode()
    assert "bravo" in html and "alpha" not in html and "charlie" not in html
    html = client.get(url(world["acme"]), {"va": sales.pk, "sort": "expires"}).content.decode()
    assert html.index("bravo") < html.index("charlie") < html.index("alpha")
    html = client.get(url(world["acme"]), {"va": sales.pk, "sort": "-description"}).content.decode()
    assert html.index("charlie") < html.index("bravo") < html.index("alpha")


def test_general_shows_where_products_send_their_messages(world, browser):
    # The product listeners' URLs (tests/conftest.py: https on 9443, http on 8080), https first.
    html = browser(world["aa"]).get(url(world["acme"])).content.decode()
    assert (
        "<dt>Smart Transport URL</dt><dd><code>https://testserver:9443/SmartTransport</code></dd>"
        "<dd><code>http://testserver:8080/SmartTransport</code></dd>"
    ) in html
    assert "https://testserver:9443/Transportgateway/services/DeviceRequestHandler" in html
    assert "http://testserver:8080/Transportgateway/services/DeviceRequestHandler" in html
    # The CSLU push URL carries the account's name and id, and that URL really takes pushes.
    cslu = f"https://testserver:9443/cslu/v1/pi/Acme-{world['acme'].pk}"
    assert f"<dt>CSLU Transport URL</dt><dd><code>{cslu}</code></dd>" in html
    assert f'id="inv-cslu-url" class="inv-cslu-url" value="{cslu}"' in html
    from django.urls import resolve

    assert resolve(f"/cslu/v1/pi/Acme-{world['acme'].pk}")


def test_transport_urls_follow_the_product_listeners(world, browser, settings):
    from core import listeners

    # The guide's ports are left out of the URL; ONPREM_PRODUCT_HOST names the products' interface.
    settings.ONPREM_LISTENERS = listeners.configured(
        {"ONPREM_BIND": "0.0.0.0:8443", "ONPREM_PRODUCT_HTTPS_BIND": "10.0.0.5:443", "ONPREM_PRODUCT_HTTP_BIND": ""}
    )
    settings.ONPREM_PRODUCT_HOST = "ssm-products.example.com"
    html = browser(world["aa"]).get(url(world["acme"])).content.decode()
    assert "<dd><code>https://ssm-products.example.com/SmartTransport</code></dd>" in html
    assert "http://ssm-products.example.com" not in html
    # A port mapped by a NAT or a container (ONPREM_PRODUCT_HTTPS_PORT) is the one shown.
    settings.ONPREM_PRODUCT_HTTPS_PORT = 4443
    html = browser(world["aa"]).get(url(world["acme"])).content.decode()
    assert "<dd><code>https://ssm-products.example.com:4443/SmartTransport</code></dd>" in html
    # No product listener at all: the management listener's URL, which serves devices too.
    settings.ONPREM_LISTENERS = listeners.configured(
        {"ONPREM_BIND": "0.0.0.0:8443", "ONPREM_PRODUCT_HTTPS_BIND": "", "ONPREM_PRODUCT_HTTP_BIND": ""}
    )
    settings.ONPREM_PRODUCT_HTTPS_PORT = 0
    html = browser(world["aa"]).get(url(world["acme"])).content.decode()
    assert "<dt>Smart Transport URL</dt><dd><code>http://testserver/SmartTransport</code></dd>" in html
