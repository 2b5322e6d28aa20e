"""Upgrade Pending and Change Virtual Account Assignment on Inventory > Licenses: the services
(licensing/services/upgrades.py, assignments.py) and their pages."""

import datetime

import pytest
from django.urls import reverse

from accounts.roles import AccountRole, SystemRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Alert, Entitlement, LicenseDefinition, UpgradeCompletion
from licensing.services import alerts as alert_service
from licensing.services import assignments, upgrades

pytestmark = pytest.mark.django_db

END = datetime.date(2099, 12, 31)


@pytest.fixture
def licenses():
    old = LicenseDefinition.objects.create(name="UC Manager 11.x", entitlement_tag="regid.test.ucm11")
    new = LicenseDefinition.objects.create(name="UC Manager 12.x", entitlement_tag="regid.test.ucm12")
    return old, new


def line(va, license, quantity, **fields):
    fields.setdefault("license_type", Entitlement.LicenseType.PERPETUAL)
    return Entitlement.objects.create(virtual_account=va, license=license, quantity=quantity, **fields)


def upgrade_line(va, new, old, pending, upgrade_id="UPG-1"):
    return line(va, new, 0, pending_quantity=pending, upgrade_id=upgrade_id, upgrade_from=old, sku=upgrade_id)


def quantities(va, license):
    return sorted(
        Entitlement.objects.filter(virtual_account=va, license=license).values_list("quantity", "pending_quantity")
    )


# --- Upgrade Pending: the service ---------------------------------------------------------------


def test_complete_upgrade_replaces_the_named_licenses(default_va, licenses, acme_admin):
    old, new = licenses
    a = line(default_va, old, 4)
    b = line(default_va, old, 6, license_type=Entitlement.LicenseType.TERM, end_date=END)
    up = upgrade_line(default_va, new, old, 5)
    upgrades.complete_upgrade(actor=acme_admin, upgrade=up, replacements={a.pk: 4, str(b.pk): "1"})
    assert quantities(default_va, old) == [(5, 0)]
    assert quantities(default_va, new) == [(5, 0)]
    completion = UpgradeCompletion.objects.get()
    assert [r["quantity"] for r in completion.replaced] == [4, 1] and completion.acknowledged_at is None
    event = Event.objects.get(event_type="license.upgrade_completed")
    assert "5 “UC Manager 11.x” licenses were replaced" in event.message


@pytest.mark.parametrize(
    "replacements, message",
    [
        ({}, "Identify the licenses"),
        ({"a": 3}, "exactly 5"),
        ({"a": 7}, "holds only 6"),
        ({"a": "x"}, "whole numbers"),
        ({"a": -1}, "at least 0"),
        ({"other": 5}, "Only valid “UC Manager 11.x”"),
        ({"a": 3, "elsewhere": 2}, "one local virtual account"),
    ],
)
def test_complete_upgrade_refusals_change_nothing(default_va, new_va, licenses, acme_admin, replacements, message):
    old, new = licenses
    sales = new_va("Sales")
    lines = {
        "a": line(default_va, old, 6),
        "other": line(default_va, new, 9),
        "elsewhere": line(sales, old, 2),
    }
    up = upgrade_line(default_va, new, old, 5)
    with pytest.raises(ServiceError, match=message):
        upgrades.complete_upgrade(
            actor=acme_admin,
            upgrade=up,
            replacements={lines[k].pk if k in lines else k: v for k, v in replacements.items()},
        )
    assert quantities(default_va, old) == [(6, 0)] and quantities(default_va, new) == [(0, 5), (9, 0)]
    assert not UpgradeCompletion.objects.exists()


def test_complete_upgrade_moves_it_to_the_virtual_account_of_the_replaced_licenses(
    default_va, new_va, licenses, acme_admin
):
    old, new = licenses
    sales = new_va("Sales")
    replaced = line(sales, old, 5)
    up = upgrade_line(default_va, new, old, 5)
    upgrades.complete_upgrade(actor=acme_admin, upgrade=up, replacements={replaced.pk: 5})
    assert quantities(sales, old) == [] and quantities(sales, new) == [(5, 0)]
    assert quantities(default_va, new) == []
    with pytest.raises(ServiceError, match="completed already"):
        upgrades.complete_upgrade(actor=acme_admin, upgrade=up, replacements={replaced.pk: 5})


def test_complete_upgrade_checks_the_role_on_both_virtual_accounts(default_va, new_va, licenses, make_user, grant_role):
    old, new = licenses
    sales = new_va("Sales")
    replaced = line(sales, old, 5)
    up = upgrade_line(default_va, new, old, 5)
    va_admin = make_user("vaa", SystemRole.USER)
    grant_role(va_admin, default_va, AccountRole.VA_ADMIN)
    with pytest.raises(NotAllowed):
        upgrades.complete_upgrade(actor=va_admin, upgrade=up, replacements={replaced.pk: 5})
    assert quantities(default_va, new) == [(0, 5)] and quantities(sales, old) == [(5, 0)]


def test_a_pending_upgrade_is_neither_transferred_nor_duplicate(default_va, new_va, licenses, acme_admin):
    from licensing.services.transfers import transfer_licenses

    old, new = licenses
    sales = new_va("Sales")
    upgrade_line(default_va, new, old, 5)
    line(default_va, new, 2)
    transfer_licenses(actor=acme_admin, from_va=default_va, to_va=sales, license=new, quantity=2)
    assert quantities(default_va, new) == [(0, 5)]
    with pytest.raises(ServiceError):
        transfer_licenses(actor=acme_admin, from_va=default_va, to_va=sales, license=new, quantity=1)


# --- Upgrade Pending: the pages -----------------------------------------------------------------


def test_licenses_tab_shows_the_pending_marker_and_the_upgrade_page_completes_it(
    client, acme, default_va, new_va, licenses, acme_admin, django_assert_max_num_queries
):
    new_va("Sales")
    old, new = licenses
    replaced = line(default_va, old, 8)
    line(default_va, new, 10)
    upgrade_line(default_va, new, old, 5)
    client.force_login(acme_admin)
    page = client.get(reverse("licensing_inventory_licenses", args=[acme.pk]), {"va": default_va.pk})
    text = page.content.decode()
    assert "(+5 pending)" in text and "Upgrade Pending" in text and "Upgrade licenses" in text
    url = reverse("licensing_license_upgrade", args=[acme.pk, default_va.pk, new.pk])
    with django_assert_max_num_queries(20):
        page = client.get(url)
    assert page.status_code == 200 and f'name="replace-{replaced.pk}"' in page.content.decode()
    up = Entitlement.objects.get(upgrade_id="UPG-1")
    page = client.post(url, {"upgrade": up.pk, f"replace-{replaced.pk}": "4"})
    assert page.status_code == 200 and "exactly 5" in page.content.decode()
    assert quantities(default_va, old) == [(8, 0)]
    page = client.post(url, {"upgrade": up.pk, f"replace-{replaced.pk}": "5"})
    assert page.status_code == 302
    assert quantities(default_va, old) == [(3, 0)] and quantities(default_va, new) == [(5, 0), (10, 0)]


def test_the_upgrade_page_is_refused_to_a_user_without_a_role_there(
    client, acme, default_va, new_va, licenses, make_user, grant_role
):
    old, new = licenses
    sales = new_va("Sales")
    upgrade_line(default_va, new, old, 5)
    outsider = make_user("carol", SystemRole.USER)
    grant_role(outsider, sales, AccountRole.VA_USER)
    client.force_login(outsider)
    page = client.get(reverse("licensing_license_upgrade", args=[acme.pk, default_va.pk, new.pk]))
    assert page.status_code in (403, 404)


# --- Change Virtual Account Assignment ----------------------------------------------------------


def duplicate_alerts(acme):
    return list(Alert.objects.filter(account=acme, alert_type=Alert.Type.DUPLICATE_LICENSES).live())


@pytest.fixture
def duplicated(default_va, licenses):
    old, _new = licenses
    line(default_va, old, 10, subscription_id="Sub-A", license_type=Entitlement.LicenseType.TERM, end_date=END)
    line(default_va, old, 4, subscription_id="Sub-B", license_type=Entitlement.LicenseType.TERM, end_date=END)
    return old


def test_subscriptions_mark_the_first_enabled_and_the_others_duplicate(default_va, duplicated):
    subs = assignments.subscriptions(default_va, duplicated)
    assert [(s.subscription_id, s.status, s.quantity) for s in subs] == [
        ("Sub-A", assignments.ENABLED, 10),
        ("Sub-B", assignments.DUPLICATE, 4),
    ]
    assert assignments.duplicate_license_ids(default_va) == {duplicated.pk}


def test_moving_the_duplicate_clears_the_alert(
    acme, default_va, new_va, duplicated, acme_admin, django_capture_on_commit_callbacks
):
    sales = new_va("Sales")
    alert_service.recompute_alerts(acme)
    assert len(duplicate_alerts(acme)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        result = assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-B",
            virtual_accounts=[sales],
        )
    assert result.moved == [(default_va.name, "Sales", 4)]
    assert quantities(default_va, duplicated) == [(10, 0)] and quantities(sales, duplicated) == [(4, 0)]
    assert not duplicate_alerts(acme)
    assert Event.objects.filter(event_type="license.assignment_moved").count() == 1


def test_copying_to_every_virtual_account_then_removing_the_copy(
    acme, default_va, new_va, duplicated, acme_admin, django_capture_on_commit_callbacks
):
    sales, lab = new_va("Sales"), new_va("Lab")
    line(lab, duplicated, 1, subscription_id="Sub-C", license_type=Entitlement.LicenseType.TERM, end_date=END)
    with django_capture_on_commit_callbacks(execute=True):
        result = assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-A",
            virtual_accounts=[default_va, sales, lab],
        )
    assert sorted(result.copied) == [("Lab", 10), ("Sales", 10)]
    assert quantities(sales, duplicated) == [(10, 0)]
    # Lab now holds the license from two subscriptions: the copy made it a duplicate.
    assert {a.virtual_account_id for a in duplicate_alerts(acme)} == {default_va.pk, lab.pk}
    with django_capture_on_commit_callbacks(execute=True):
        result = assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-A",
            virtual_accounts=[default_va, sales],
        )
    assert result.removed == [("Lab", 10)]
    assert quantities(lab, duplicated) == [(1, 0)]
    assert {a.virtual_account_id for a in duplicate_alerts(acme)} == {default_va.pk}
    # Moving the original out of the Default VA hands it to a VA that keeps the subscription,
    # whose copy goes: the licenses are counted once.
    assignments.change_virtual_account_assignment(
        actor=acme_admin,
        virtual_account=default_va,
        license=duplicated,
        subscription_id="Sub-A",
        virtual_accounts=[sales],
    )
    assert quantities(sales, duplicated) == [(10, 0)]
    assert Entitlement.objects.get(virtual_account=sales, license=duplicated).copied_from_id is None
    assert quantities(default_va, duplicated) == [(4, 0)]


@pytest.mark.parametrize(
    "vas, message",
    [
        ([], "at least one"),
        (["default"], "already in exactly"),
    ],
)
def test_assignment_refusals_change_nothing(default_va, duplicated, acme_admin, vas, message):
    with pytest.raises(ServiceError, match=message):
        assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-B",
            virtual_accounts=[default_va for _ in vas],
        )
    assert quantities(default_va, duplicated) == [(4, 0), (10, 0)]


def test_assignment_of_another_account_or_unknown_subscription_is_refused(
    default_va, duplicated, acme_admin, make_account
):
    other = make_account("Globex").virtual_accounts.get(is_default=True)
    with pytest.raises(ServiceError, match="of this local account"):
        assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-B",
            virtual_accounts=[other],
        )
    with pytest.raises(ServiceError, match="no licenses"):
        assignments.change_virtual_account_assignment(
            actor=acme_admin,
            virtual_account=default_va,
            license=duplicated,
            subscription_id="Sub-Z",
            virtual_accounts=[default_va],
        )


def test_assignment_page_check_all_and_move(client, acme, default_va, new_va, duplicated, acme_admin):
    sales = new_va("Sales")
    client.force_login(acme_admin)
    tab = client.get(reverse("licensing_inventory_licenses", args=[acme.pk]), {"va": default_va.pk})
    assert "Change Virtual Account Assignment" in tab.content.decode()
    url = reverse("licensing_license_assignment", args=[acme.pk, default_va.pk, duplicated.pk])
    page = client.get(url, {"subscription": "Sub-B"})
    text = page.content.decode()
    assert "Sub-A — Enabled" in text and "Sub-B — Duplicate" in text
    page = client.post(url, {"subscription": "Sub-B", "check_all": "1"})
    assert page.content.decode().count(" checked>") == 2
    assert quantities(sales, duplicated) == []
    page = client.post(url, {"subscription": "Sub-B", "change": "1", "virtual_accounts": [sales.pk]})
    assert page.status_code == 302
    assert quantities(sales, duplicated) == [(4, 0)]


def test_assignment_page_needs_a_second_virtual_account_to_act_on(
    client, acme, default_va, duplicated, make_user, grant_role
):
    va_user = make_user("dave", SystemRole.USER)
    grant_role(va_user, default_va, AccountRole.VA_USER)
    client.force_login(va_user)
    page = client.get(reverse("licensing_license_assignment", args=[acme.pk, default_va.pk, duplicated.pk]))
    assert page.status_code == 403
