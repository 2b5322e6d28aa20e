"""Smart Licensing > Preferences: the user's own License Transaction Details preference, its change
log, and what it switches on in the Licenses tab (transaction details, Advanced Search, By Tag)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement, LicenseDefinition, LicenseTag, PreferenceChange, UserPreference
from licensing.services import preferences as pref_service

PINNED_PREFERENCES = 9  # session, user, account, grants, picker, preference, tabs' grants, count, rows


def url(account):
    return f"/accounts/{account.pk}/preferences/"


def licenses_url(account):
    return f"/accounts/{account.pk}/inventory/licenses/"


def test_default_is_disabled_and_saving_logs_the_change(acme, acme_user, browser):
    client = browser(acme_user)
    html = client.get(url(acme)).content.decode()
    assert "Show License Transaction Details in Inventory Tab" in html
    assert '<option value="false" selected>Disabled</option>' in html
    response = client.post(url(acme), {"license_transaction_details": "true", "note": "for the audit"})
    assert response.status_code == 302
    assert UserPreference.objects.get(account=acme, user=acme_user).license_transaction_details is True
    change = PreferenceChange.objects.get()
    assert (change.username, change.preference, change.old_value, change.new_value, change.note) == (
        "bob",
        "Show License Transaction Details in Inventory Tab",
        "Disabled",
        "Enabled",
        "for the audit",
    )
    event = Event.objects.get(event_type="preferences.changed")
    assert event.message == (
        "The preference “Show License Transaction Details in Inventory Tab” of the user “bob” "
        "was changed from “Disabled” to “Enabled”."
    )
    html = client.get(url(acme)).content.decode()
    assert "View Change Log" in html and "Disabled → Enabled" in html and "for the audit" in html
    # Saving the same value again logs nothing.
    client.post(url(acme), {"license_transaction_details": "true"})
    assert PreferenceChange.objects.count() == 1


def test_preferences_are_the_users_own(acme, acme_admin, acme_user, browser):
    pref_service.set_preference(actor=acme_admin, account=acme, name="license_transaction_details", value=True)
    assert pref_service.transaction_details_enabled(acme_admin, acme) is True
    assert pref_service.transaction_details_enabled(acme_user, acme) is False
    # Bob's change log does not show Alice's change.
    assert "Disabled → Enabled" not in browser(acme_user).get(url(acme)).content.decode()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"license_transaction_details": "maybe"}, "license_transaction_details"),
        ({}, "license_transaction_details"),
        ({"license_transaction_details": "true", "note": "x" * 501}, "note"),
    ],
)
def test_bad_input_changes_nothing(acme, acme_user, browser, data, field):
    response = browser(acme_user).post(url(acme), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not UserPreference.objects.exists() and not PreferenceChange.objects.exists()
    assert not Event.objects.filter(event_type="preferences.changed").exists()


def test_service_refuses_unknown_names_values_and_outsiders(acme, acme_user, make_user):
    with pytest.raises(ServiceError):
        pref_service.set_preference(actor=acme_user, account=acme, name="colour", value=True)
    with pytest.raises(ServiceError):
        pref_service.set_preference(actor=acme_user, account=acme, name="license_transaction_details", value="yes")
    with pytest.raises(NotAllowed):
        pref_service.set_preference(
            actor=make_user("eve"), account=acme, name="license_transaction_details", value=True
        )
    assert not PreferenceChange.objects.exists()


@pytest.mark.parametrize(
    "role, on_va",
    [
        (AccountRole.ACCOUNT_ADMIN, False),
        (AccountRole.ACCOUNT_USER, False),
        (AccountRole.VA_ADMIN, True),
        (AccountRole.VA_USER, True),
    ],
)
def test_every_role_sets_its_own_preferences(acme, make_user, grant_role, browser, role, on_va):
    user = make_user("carol")
    grant_role(user, acme.virtual_accounts.get() if on_va else acme, role)
    client = browser(user)
    assert client.post(url(acme), {"license_transaction_details": "true"}).status_code == 302
    assert pref_service.transaction_details_enabled(user, acme)


def test_outsiders_get_404(acme, make_user, make_account, browser, acme_user):
    client = browser(make_user("eve"))
    assert client.get(url(acme)).status_code == 404
    assert client.post(url(acme), {"license_transaction_details": "true"}).status_code == 404
    assert not PreferenceChange.objects.exists()


def test_change_log_query_count_does_not_grow(acme, acme_user, browser):
    client = browser(acme_user)
    client.get(url(acme))

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(acme)).status_code == 200
        return len(captured)

    pref_service.set_preference(actor=acme_user, account=acme, name="license_transaction_details", value=True)
    few = count()
    for i in range(30):
        pref_service.set_preference(actor=acme_user, account=acme, name="license_transaction_details", value=i % 2 == 0)
    many = count()
    assert few == many <= PINNED_PREFERENCES, (few, many)


# --- What the preference switches on in the Licenses tab ------------------------------------------


@pytest.fixture
def stock(acme):
    va = acme.virtual_accounts.get()
    router = LicenseDefinition.objects.create(
        name="Router Advantage", entitlement_tag="regid.router", product_family="ISR"
    )
    switch = LicenseDefinition.objects.create(
        name="Switch Essentials", entitlement_tag="regid.switch", product_family="Catalyst"
    )
    today = datetime.date.today()
    Entitlement.objects.create(
        virtual_account=va,
        license=router,
        license_type="term",
        quantity=5,
        start_date=today,
        end_date=today + datetime.timedelta(days=40),
        sku="ISR-SKU-1",
        subscription_id="Sub-1",
        source="order",
    )
    Entitlement.objects.create(
        virtual_account=va, license=switch, license_type="perpetual", quantity=7, sku="C9K-SKU", source="pak"
    )
    tag = LicenseTag.objects.create(account=acme, name="core")
    tag.licenses.add(router)
    return {"va": va, "router": router, "switch": switch, "today": today}


def names_in(response):
    return [row["license"] for row in response.context["table"].page]


def test_checkbox_only_with_the_preference(acme, acme_user, browser, stock):
    client = browser(acme_user)
    html = client.get(licenses_url(acme)).content.decode()
    assert "Show License Transactions" not in html
    # Asking for the details without the preference shows none of them.
    html = client.get(licenses_url(acme), {"tx": "1"}).content.decode()
    assert "Advanced Search" not in html and "ISR-SKU-1" not in html
    client.post(url(acme), {"license_transaction_details": "true"})
    html = client.get(licenses_url(acme)).content.decode()
    assert "Show License Transactions" in html and "ISR-SKU-1" not in html
    html = client.get(licenses_url(acme), {"tx": "1"}).content.decode()
    assert "Advanced Search" in html and "ISR-SKU-1" in html and "Sub-1" in html and "core" in html


def test_advanced_search_by_family_sku_and_expires_by(acme, acme_user, browser, stock):
    client = browser(acme_user)
    client.post(url(acme), {"license_transaction_details": "true"})
    get = lambda **params: client.get(licenses_url(acme), {"tx": "1", **params})  # noqa: E731
    assert names_in(get()) == ["Router Advantage", "Switch Essentials"]
    assert names_in(get(family="isr")) == ["Router Advantage"]  # type ahead: part of the name, any case
    assert names_in(get(sku="C9K-SKU")) == ["Switch Essentials"]
    assert names_in(get(sku="C9K")) == []  # exact match
    by = (stock["today"] + datetime.timedelta(days=40)).isoformat()
    assert names_in(get(expires_by=by)) == ["Router Advantage"]  # perpetual lines never expire
    response = get(expires_by="not-a-date")
    assert "expires_by" in response.context["advanced"].errors
    assert names_in(response) == ["Router Advantage", "Switch Essentials"]  # bad input filters nothing


def test_search_by_tag(acme, acme_user, browser, stock):
    client = browser(acme_user)
    assert names_in(client.get(licenses_url(acme), {"by": "tag", "q": "cor"})) == ["Router Advantage"]
    assert names_in(client.get(licenses_url(acme), {"by": "tag", "q": "Router"})) == []
    assert names_in(client.get(licenses_url(acme), {"q": "Router"})) == ["Router Advantage"]


def test_licenses_with_transactions_query_count_does_not_grow(acme, acme_user, browser, stock):
    client = browser(acme_user)
    client.post(url(acme), {"license_transaction_details": "true"})
    client.get(licenses_url(acme), {"tx": "1"})

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(licenses_url(acme), {"tx": "1", "family": "a"}).status_code == 200
        return len(captured)

    few = count()
    for i in range(40):
        lic = LicenseDefinition.objects.create(
            name=f"Extra {i:02d}", entitlement_tag=f"regid.extra.{i}", product_family="Catalyst"
        )
        for _ in range(3):
            Entitlement.objects.create(virtual_account=stock["va"], license=lic, license_type="perpetual", quantity=1)
    many = count()
    assert few == many, (few, many)
