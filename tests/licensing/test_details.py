"""Inventory detail pages: License Detailed Information and Product Instance Details."""

import datetime
import types

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from core import events
from licensing.models import (
    DeviceIdentity,
    Entitlement,
    LicenseUsage,
    ProductInstance,
    ThirdPartyKey,
    ThirdPartyKeyDelivery,
)
from licensing.services import compliance
from licensing.views.details import renewal_state, usage_chart
from tests.licensing.catalogue import devices, line

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("steady_session")]

TODAY = datetime.date.today()


def license_url(account, va, lic, tab=None):
    base = f"/accounts/{account.pk}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/"
    return base + (f"?tab={tab}" if tab else "")


def pi_url(account, pi, tab=None):
    base = f"/accounts/{account.pk}/inventory/product-instances/{pi.pk}/"
    return base + (f"?tab={tab}" if tab else "")


def section(response):
    assert response.status_code == 200, response.content[:2000]
    html = response.content.decode()
    return html[html.index('<section class="card dt-dialog"') : html.index("</section>")]


# --- License detail -------------------------------------------------------------------------------


def test_license_overview_shows_the_compliance_figures_and_a_chart(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["essentials"])))
    # Essentials in Default: 2 perpetual bought (the term line expired), 5 in use, 3 borrowed.
    assert "<dt>Purchased</dt><dd>2</dd>" in html
    assert "<dt>In Use</dt><dd>5</dd>" in html
    assert "<dt>Borrowed from higher tiers</dt><dd>3</dd>" in html
    assert "<dt>Balance</dt><dd>0</dd>" in html
    assert "Substitution From Higher Tier: 3 × Network Advantage" in html
    assert '<svg role="img"' in html and "<script" not in html
    assert 'class="dt-slice dt-in_use"' in html and "In Use: 5 (100%)" in html
    # License Types: only the valid line; the expired term line is not in the pool.
    types_table = html[html.index("dt-types") :]
    assert "<td>Perpetual</td>" in types_table and "<td>Term</td>" not in types_table


def test_license_overview_of_a_lender(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["advantage"])))
    # Advantage: 10 perpetual + 6 subscription, 4 in use, 3 lent to Essentials -> +9.
    assert "<dt>Purchased</dt><dd>16</dd>" in html and "<dt>Lent to lower tiers</dt><dd>3</dd>" in html
    assert "<dt>Balance</dt><dd>+9</dd>" in html
    for legend in ("In Use: 4 (25%)", "Lent to lower tiers: 3 (19%)", "Available: 9 (56%)"):
        assert legend in html
    assert html.count('<path d="M70,70') == 3
    assert "Sub100200" in html


def test_license_overview_short_license(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["sales"], data["essentials"])))
    assert "Out Of Compliance" in html and "Shortage: 1 (100%)" in html
    assert '<circle cx="70" cy="70" r="60" class="dt-slice dt-shortage">' in html


def test_usage_chart_slices_sum_to_the_circle():
    position = compliance.LicensePosition(
        virtual_account_id=1,
        virtual_account="V",
        license_id=1,
        license="L",
        entitlement_tag="t",
        purchased=10,
        in_use=12,
        borrowed=1,
    )
    chart = usage_chart(position)
    assert [(s["key"], s["value"]) for s in chart["slices"]] == [("in_use", 11), ("shortage", 1)]
    empty = usage_chart(
        compliance.LicensePosition(
            virtual_account_id=1, virtual_account="V", license_id=1, license="L", entitlement_tag="t"
        )
    )
    assert empty["slices"] == [] and empty["total"] == 0


def test_license_product_instances_tab_is_paginated(acme, acme_user, browser, data):
    devices(data["default"], 30, [(data["essentials"], 2)], prefix="MORE")
    client = browser(acme_user)
    html = section(client.get(license_url(acme, data["default"], data["essentials"], "product_instances")))
    assert "Page 1 of 2 (35 items)" in html and html.count("<tr><td><a href=") == 25
    assert "ess-000000" in html and "adv-000000" not in html  # Advantage users are not listed
    pi = ProductInstance.objects.get(udi_serial_number="ESS000000")
    assert f'href="/accounts/{acme.pk}/inventory/product-instances/{pi.pk}/"' in html
    html = section(client.get(license_url(acme, data["default"], data["essentials"], "product_instances") + "&page=2"))
    assert html.count("<tr><td><a href=") == 10
    # Sorted by count: the instances using 2 first.
    html = section(
        client.get(license_url(acme, data["default"], data["essentials"], "product_instances") + "&sort=-count")
    )
    first = html[html.index("<tbody>") :]
    assert first.count("more-") == 25 and "ess-" not in first


def test_license_event_log_tab_shows_the_events_naming_it(acme, acme_user, browser, data):
    va = data["default"]
    events.record("license.insufficient", virtual_account=va, pool_name=va.name, tag="Network Essentials", count=2)
    events.record("license.insufficient", virtual_account=va, pool_name=va.name, tag="Network Advantage", count=3)
    events.record(
        "license.insufficient", virtual_account=data["sales"], pool_name="Sales", tag="Network Essentials", count=4
    )
    html = section(browser(acme_user).get(license_url(acme, va, data["essentials"], "event_log")))
    assert "shortage of “Network Essentials” licenses. 2 licenses" in html
    assert "Network Advantage" not in html.split("<tbody>")[1]
    assert "4 licenses" not in html  # another virtual account's event


def test_license_transaction_history_lists_every_line(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["advantage"], "transactions")))
    rows = html[html.index("<tbody>") :]
    assert rows.count("<tr") == 2
    for text in (
        "Enterprise Agreement",
        "Subscription",
        "C9K-NA-1Y",
        "Sub100200",
        "<td>Perpetual</td>",
        (TODAY + datetime.timedelta(days=355)).isoformat(),
    ):
        assert text in rows, text
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["essentials"], "transactions")))
    assert "Expired" in html and "C9K-NE-1Y" in html  # the expired line stays in the history


def test_unknown_tab_shows_the_overview(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["advantage"], "<script>")))
    assert "<dt>Purchased</dt>" in html


def test_license_of_no_such_id_is_404(acme, acme_user, browser, data):
    response = browser(acme_user).get(
        f"/accounts/{acme.pk}/inventory/virtual-accounts/{data['default'].pk}/licenses/999999/"
    )
    assert response.status_code == 404


def test_inventory_licenses_table_links_to_the_detail(acme, acme_user, browser, data):
    html = (
        browser(acme_user).get(f"/accounts/{acme.pk}/inventory/licenses/", {"va": data["default"].pk}).content.decode()
    )
    assert f'href="{license_url(acme, data["default"], data["essentials"])}"' in html


# --- Product instance detail ------------------------------------------------------------------------


@pytest.fixture
def router(data):
    """A registered router with its device details, in an ACTIVE / STANDBY pair."""
    pi = ProductInstance.objects.get(udi_serial_number="ADV000000")
    ProductInstance.objects.filter(pk=pi.pk).update(
        redundancy_role="active", redundancy_group="app-1", last_contact_at=timezone.now()
    )
    ProductInstance.objects.filter(udi_serial_number="ADV000001").update(
        redundancy_role="standby", redundancy_group="app-1"
    )
    DeviceIdentity.objects.create(
        product_instance=pi,
        udi_vid="V02",
        uuid="6f1b5c1e-6d5b-4e3a-8a51-0b7a2f7c9d10",
        suvi="SUVI-1234",
        host_identifier="HID-42",
        mac_address="00:1b:54:c2:00:01",
        ip_address="192.0.2.10",
        software_tag="regid.2017-05.com.cisco.C9300,v1",
        product_type="SWITCH",
        updated_at=timezone.now(),
    )
    LicenseUsage.objects.create(product_instance=pi, license=data["essentials"], count=1)
    LicenseUsage.objects.create(product_instance=pi, license=data["premier"], count=1)
    pi.refresh_from_db()
    return pi


def test_product_instance_overview(acme, acme_user, browser, data, router):
    html = section(browser(acme_user).get(pi_url(acme, router)))
    for label, value in (
        ("UDI PID", "C9300-24T"),
        ("UDI Serial Number", "ADV000000"),
        ("UDI VID", "V02"),
        ("UUID", "6f1b5c1e-6d5b-4e3a-8a51-0b7a2f7c9d10"),
        ("SUVI", "SUVI-1234"),
        ("Host Identifier", "HID-42"),
        ("MAC Address", "00:1b:54:c2:00:01"),
        ("Hostname", "adv-000000"),
        ("IP Address", "192.0.2.10"),
        ("Product Name", "Catalyst 9300"),
        ("Product Type", "SWITCH"),
        ("Software Tag", "regid.2017-05.com.cisco.C9300,v1"),
        ("Virtual Account", "Default"),
        ("Redundancy", "Active"),
    ):
        assert f"<dt>{label}</dt><dd>{value}" in html, label
    assert f"<dt>Registration Date</dt><dd>{timezone.localtime(router.registered_at):%Y-%m-%d %H:%M}" in html
    assert "<dt>Renewal</dt><dd>Registered; no ID certificate issued by this server" in html
    # Its peer, and its licenses with their expiration.
    assert "Redundancy Peers" in html and "adv-000001</a> — Standby" in html
    usage = html[html.index("dt-usage") :]
    # Advantage: perpetual + subscription line -> Multiple terms; Essentials: perpetual only -> Never.
    assert 'Network Advantage</a></td><td>Multiple terms</td><td class="inv-num">2</td>' in usage
    assert 'Network Essentials</a></td><td>Never</td><td class="inv-num">1</td>' in usage
    # Premier has no line in Default: no expiration to show.
    assert "DNA Premier</a></td><td>—</td>" in usage


def _deliver(pi, key_id, tag, service="Speech View", secret="tpl-secret-value"):
    now = timezone.now()
    key = ThirdPartyKey.objects.create(
        account=pi.account, key_id=key_id, tag=tag, service=service, secret=secret, received_at=now
    )
    ThirdPartyKeyDelivery.objects.create(product_instance=pi, key=key, delivered_at=now)


def test_product_instance_overview_lists_the_third_party_keys_it_received_not_the_keys(
    acme, acme_user, browser, data, router
):
    html = section(browser(acme_user).get(pi_url(acme, router)))
    assert "Third Party Keys" not in html  # none received: no section
    _deliver(router, "key-apns-1", "regid.test.cucm", service="Apple Push Notification service")
    html = section(browser(acme_user).get(pi_url(acme, router)))
    assert "Third Party Keys" in html and "connected and received these third party keys" in html
    table = html[html.index("dt-tpl") :]
    assert "<td>Apple Push Notification service</td><td>regid.test.cucm</td><td>key-apns-1</td><td>—</td>" in table
    assert "tpl-secret-value" not in html


def test_product_instance_expiration_of_a_single_term(acme, acme_user, browser, data):
    pi = ProductInstance.objects.get(udi_serial_number="PRE000000")
    html = section(browser(acme_user).get(pi_url(acme, pi)))
    end = Entitlement.objects.get(sku="DNA-P-1Y").end_date
    assert f"DNA Premier</a></td><td>{end.isoformat()}</td>" in html
    assert "<dt>UUID</dt><dd>—</dd>" in html  # synchronized without device details


def test_product_instance_event_log(acme, acme_user, browser, data, router):
    va = data["default"]
    events.record("device.connected", virtual_account=va, identifier=router.display_name, pool_name=va.name)
    events.record("device.connected", virtual_account=va, identifier="adv-000001", pool_name=va.name)
    html = section(browser(acme_user).get(pi_url(acme, router, "event_log")))
    assert "“adv-000000”" in html and "“adv-000001”" not in html


def test_renewal_states():
    now = timezone.now()
    pi = types.SimpleNamespace(last_contact_at=now - datetime.timedelta(days=91), registered_at=now)
    assert str(renewal_state(pi, None, now)).startswith("Failed to Renew")
    pi.last_contact_at = now
    cert = types.SimpleNamespace(
        renew_after=now + datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=9)
    )
    assert renewal_state(pi, cert, now) == "In good standing"
    cert.renew_after = now - datetime.timedelta(days=1)
    assert renewal_state(pi, cert, now) == "ID certificate renewal due"
    cert.not_after = now - datetime.timedelta(seconds=1)
    assert renewal_state(pi, cert, now) == "ID certificate expired"


def test_inventory_product_instances_table_links_to_the_detail(acme, acme_user, browser, data, router):
    html = (
        browser(acme_user)
        .get(f"/accounts/{acme.pk}/inventory/product-instances/", {"va": data["default"].pk})
        .content.decode()
    )
    assert f'href="{pi_url(acme, router)}"' in html


# --- RBAC -------------------------------------------------------------------------------------------


@pytest.fixture
def sales_user(make_user, grant_role, data):
    user = make_user("vera", SystemRole.USER)
    grant_role(user, data["sales"], AccountRole.VA_USER)
    return user


def test_va_user_sees_details_of_own_virtual_account_only(acme, sales_user, browser, data, router):
    client = browser(sales_user)
    assert client.get(license_url(acme, data["sales"], data["premier"])).status_code == 200
    assert client.get(license_url(acme, data["default"], data["premier"])).status_code == 404
    assert client.get(pi_url(acme, ProductInstance.objects.get(udi_serial_number="PRE000000"))).status_code == 200
    assert client.get(pi_url(acme, router)).status_code == 404
    for tab in ("product_instances", "event_log", "transactions"):
        assert client.get(license_url(acme, data["default"], data["advantage"], tab)).status_code == 404


def test_peer_in_an_invisible_virtual_account_is_not_shown(acme, sales_user, browser, data):
    pre = ProductInstance.objects.get(udi_serial_number="PRE000000")
    ProductInstance.objects.filter(pk=pre.pk).update(redundancy_role="standby", redundancy_group="g")
    ProductInstance.objects.filter(udi_serial_number="ADV000000").update(redundancy_role="active", redundancy_group="g")
    html = section(browser(sales_user).get(pi_url(acme, pre)))
    assert "adv-000000" not in html


def test_other_account_is_404(acme, make_account, make_user, grant_role, browser, data, router):
    other = make_account("Globex")
    outsider = make_user("olga", SystemRole.USER)
    grant_role(outsider, other, AccountRole.ACCOUNT_ADMIN)
    client = browser(outsider)
    assert client.get(license_url(acme, data["default"], data["advantage"])).status_code == 404
    assert client.get(pi_url(acme, router)).status_code == 404
    # Nor through their own account's URL with this account's ids.
    assert client.get(license_url(other, data["default"], data["advantage"])).status_code == 404
    assert client.get(pi_url(other, router)).status_code == 404


# --- Query counts -----------------------------------------------------------------------------------

# session, user, account, the reader's grants, the VA, the license, the tab's own queries (Overview:
# the visible VAs, the compliance service's 2 over them, the usage reports and the usage rows of
# the usage history, the license types; a table: its count and its page), the picker.
PINNED_LICENSE_QUERIES = {"overview": 16, "product_instances": 9, "event_log": 9, "transactions": 9}
# session, user, account, grants, the instance (with its VA and device), the tab's own queries
# (Overview: ID certificate, usages, their lines, peers, reservations, third-party keys; Event
# Log: count and page), the picker.
PINNED_PI_QUERIES = {"overview": 12, "event_log": 8}


def _count(client, path):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.parametrize("tab", sorted(PINNED_LICENSE_QUERIES))
def test_license_detail_queries_are_pinned(acme, acme_user, browser, data, tab, django_assert_max_num_queries):
    client = browser(acme_user)
    path = license_url(acme, data["default"], data["essentials"], tab)
    events.record(
        "license.insufficient", virtual_account=data["default"], pool_name="Default", tag="Network Essentials", count=1
    )  # an empty page skips its SELECT: start from one row
    client.get(path)
    few = _count(client, path)
    devices(data["default"], 80, [(data["essentials"], 1), (data["advantage"], 1)], prefix="MANY")
    for i in range(30):
        line(
            data["default"],
            data["essentials"],
            1,
            "term",
            start_date=TODAY,
            end_date=TODAY + datetime.timedelta(days=i),
            sku=f"T-{i}",
        )
        events.record(
            "license.insufficient",
            virtual_account=data["default"],
            pool_name="Default",
            tag="Network Essentials",
            count=i + 2,
        )
    with django_assert_max_num_queries(PINNED_LICENSE_QUERIES[tab]):
        client.get(path)
    assert _count(client, path) == few


@pytest.mark.parametrize("tab", sorted(PINNED_PI_QUERIES))
def test_product_instance_detail_queries_are_pinned(
    acme, acme_user, browser, data, router, tab, django_assert_max_num_queries
):
    client = browser(acme_user)
    path = pi_url(acme, router, tab)
    events.record(
        "device.connected", virtual_account=data["default"], identifier=router.display_name, pool_name="Default"
    )  # an empty page skips its SELECT: start from one row
    client.get(path)
    few = _count(client, path)
    for i in range(20):
        lic = type(data["premier"]).objects.create(name=f"Extra {i}", entitlement_tag=f"regid.extra.{i}")
        LicenseUsage.objects.create(product_instance=router, license=lic, count=1)
        line(data["default"], lic, 1, "term", start_date=TODAY, end_date=TODAY + datetime.timedelta(days=i + 1))
        _deliver(router, f"k{i}", lic.entitlement_tag)
        events.record(
            "device.connected", virtual_account=data["default"], identifier=router.display_name, pool_name="Default"
        )
    ProductInstance.objects.filter(udi_serial_number__startswith="ESS").update(
        redundancy_group="app-1", redundancy_role="standby"
    )
    with django_assert_max_num_queries(PINNED_PI_QUERIES[tab]):
        client.get(path)
    assert _count(client, path) == few
