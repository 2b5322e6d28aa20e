"""Smart Licensing > Alerts, the guide's Alert Actions and views: Transfer Licenses and Remove
Instance from an alert's row through the Inventory's own views and services (and their checks),
the Major / Minor counts, the virtual account view's toggles and Hide Alerts (kept per user),
the CSV export (same filters, streamed, pinned queries) and the one day count."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from licensing.models import Alert, Entitlement, ProductInstance, UserPreference
from licensing.services.alerts import recompute_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme, new_va, license_def, add_line, add_pi, make_user, grant_role):
    campus, branch = new_va("Campus"), new_va("Branch Offices")
    dna = license_def("DNA Advantage")
    add_line(campus, dna, 2)
    add_pi(campus, "SN-BUSY", uses={dna: 5})  # Campus: 2 bought, 5 in use -> short of 3
    add_line(branch, dna, 10)  # Branch Offices: 10 in overage
    today = timezone.now().date()
    add_line(campus, license_def("Network Essentials"), 4, "term", start=today, end=today + datetime.timedelta(days=20))
    silent = add_pi(branch, "SN-SILENT", last_contact_at=timezone.now() - datetime.timedelta(days=40))
    recompute_alerts(acme)
    by_type = {a.alert_type: a for a in Alert.objects.filter(account=acme)}
    people = {
        "campus_user": make_user("carol", SystemRole.USER),  # VA User on Campus only
        "branch_user": make_user("bert", SystemRole.USER),  # VA User on Branch Offices only
        "va_admin": make_user("vera", SystemRole.USER),  # VA Admin on both
    }
    grant_role(people["campus_user"], campus, AccountRole.VA_USER)
    grant_role(people["branch_user"], branch, AccountRole.VA_USER)
    grant_role(people["va_admin"], campus, AccountRole.VA_ADMIN)
    grant_role(people["va_admin"], branch, AccountRole.VA_ADMIN)
    return {
        "acme": acme,
        "campus": campus,
        "branch": branch,
        "dna": dna,
        "silent": silent,
        "shortage": by_type[Alert.Type.INSUFFICIENT_LICENSES],
        "connect": by_type[Alert.Type.PI_FAILED_TO_CONNECT],
        "expiring": by_type[Alert.Type.LICENSES_EXPIRING],
        **people,
    }


def url(account, suffix=""):
    return f"/accounts/{account.pk}/alerts/{suffix}"


def row_of(response, alert):
    html = response.content.decode()
    found = re.search(rf'<tr data-alert="{alert.pk}">(.*?)</tr>', html, re.S)
    return found.group(1) if found else None


def menu(row):
    """The labels of a row's Actions menu."""
    found = re.search(r'<details class="create-menu al-actions">(.*?)</details>', row, re.S)
    if not found:
        return []
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def counts(response):
    html = response.content.decode()
    return {s: int(n) for s, n in re.findall(r'<span class="al-count" data-severity="(\w+)">(\d+)</span>', html)}


def purchased(va, lic):
    return sum(Entitlement.objects.filter(virtual_account=va, license=lic).values_list("quantity", flat=True))


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_menus_follow_the_guides_table_and_the_roles(world, acme_admin, browser):
    admin = browser(acme_admin).get(url(world["acme"]))
    assert menu(row_of(admin, world["shortage"])) == ["Transfer Licenses"]  # "cannot be dismissed"
    assert menu(row_of(admin, world["connect"])) == ["Remove Instance", "Remind Later"]
    assert menu(row_of(admin, world["expiring"])) == ["Remind Later"]
    # A VA User of Campus: no role on another VA, so no Transfer; and no other VA's alerts.
    campus = browser(world["campus_user"]).get(url(world["acme"]))
    assert menu(row_of(campus, world["shortage"])) == []
    assert row_of(campus, world["connect"]) is None
    # A VA User may not remove product instances (docs/rbac.md): Remind Later only.
    branch = browser(world["branch_user"]).get(url(world["acme"]))
    assert menu(row_of(branch, world["connect"])) == ["Remind Later"]
    assert row_of(branch, world["shortage"]) is None
    # A VA Admin of both: transfers between them and removes.
    both = browser(world["va_admin"]).get(url(world["acme"]))
    assert menu(row_of(both, world["shortage"])) == ["Transfer Licenses"]
    assert menu(row_of(both, world["connect"])) == ["Remove Instance", "Remind Later"]


def test_transfer_licenses_from_the_alert_through_the_inventory_transfer(world, acme_admin, browser):
    client = browser(acme_admin)
    shortage, campus, branch, dna = world["shortage"], world["campus"], world["branch"], world["dna"]
    page = client.get(url(world["acme"], f"{shortage.pk}/transfer/"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "3 licenses are required to return to compliance." in html
    # The licenses in overage: Branch Offices (10); Campus itself and the empty Default are not offered.
    overage = re.search(r'<table class="data al-overage">.*?</table>', html, re.S).group(0)
    assert "Branch Offices" in overage and "Default" not in overage
    link = re.search(r'href="([^"]+/licenses/\d+/transfer/\?[^"]+)"', overage).group(1).replace("&amp;", "&")
    assert f"/virtual-accounts/{branch.pk}/licenses/{dna.pk}/transfer/" in link
    assert f"to={campus.pk}" in link and "quantity=3" in link and "from=alerts" in link
    # The Inventory's own form, pre-filled from the alert.
    form = client.get(link)
    assert form.status_code == 200
    assert form.context["form"]["to_virtual_account"].value() == str(campus.pk)
    assert str(form.context["form"]["quantity"].value()) == "3"
    response = client.post(
        link, {"to_virtual_account": campus.pk, "quantity": 3, "precedence": "LONGEST_TERM_FIRST"}, follow=True
    )
    assert response.redirect_chain[-1][0] == url(world["acme"])  # back to the Alerts tab
    assert any("were transferred" in m for m in messages_of(response))
    assert (purchased(campus, dna), purchased(branch, dna)) == (5, 7)
    recompute_alerts(world["acme"])
    shortage.refresh_from_db()
    assert shortage.status == Alert.Status.CLEARED


def test_transfer_is_refused_without_a_role_on_both_virtual_accounts(world, browser):
    client = browser(world["campus_user"])
    shortage, branch, dna = world["shortage"], world["branch"], world["dna"]
    assert client.get(url(world["acme"], f"{shortage.pk}/transfer/")).status_code == 403
    # The Inventory's transfer from a VA they may not see is not found; nothing moved.
    transfer = f"/accounts/{world['acme'].pk}/inventory/virtual-accounts/{branch.pk}/licenses/{dna.pk}/transfer/"
    response = client.post(
        transfer + "?from=alerts",
        {"to_virtual_account": world["campus"].pk, "quantity": 3, "precedence": "LONGEST_TERM_FIRST"},
    )
    assert response.status_code == 404
    assert purchased(branch, dna) == 10
    # An alert without Transfer Licenses has no transfer page.
    assert browser(world["va_admin"]).get(url(world["acme"], f"{world['connect'].pk}/transfer/")).status_code == 404


def test_remove_instance_from_the_alert(world, acme_admin, browser):
    silent, connect = world["silent"], world["connect"]
    row = row_of(browser(acme_admin).get(url(world["acme"])), connect)
    action = re.search(r'<form method="post" action="([^"]+/remove/)"', row).group(1)
    assert action == f"/accounts/{world['acme'].pk}/inventory/product-instances/{silent.pk}/remove/"
    # A VA User of its virtual account sees the alert but may not remove the instance.
    assert browser(world["branch_user"]).post(action, {"from": "alerts"}).status_code == 403
    assert ProductInstance.objects.filter(pk=silent.pk).exists()
    response = browser(acme_admin).post(action, {"from": "alerts"}, follow=True)
    assert response.redirect_chain[-1][0] == url(world["acme"])
    assert "The product instance “sn-silent” was removed; its licenses were released." in messages_of(response)
    assert not ProductInstance.objects.filter(pk=silent.pk).exists()
    connect.refresh_from_db()
    assert connect.status == Alert.Status.CLEARED  # the removal's own recompute


def test_counts_in_the_local_account_view(world, acme_admin, browser):
    assert counts(browser(acme_admin).get(url(world["acme"]))) == {"major": 1, "minor": 2}
    assert counts(browser(world["campus_user"]).get(url(world["acme"]))) == {"major": 1, "minor": 1}
    assert counts(browser(world["branch_user"]).get(url(world["acme"]))) == {"major": 0, "minor": 1}
    # The icons are a summary in the account view, toggles only in a virtual account's view.
    assert 'name="toggle"' not in browser(acme_admin).get(url(world["acme"])).content.decode()


def test_virtual_account_view_toggles_and_hide_alerts_are_kept_per_user(world, acme_admin, browser):
    client = browser(acme_admin)
    campus = {"va": world["campus"].pk}
    page = client.get(url(world["acme"]), campus)
    html = page.content.decode()
    assert counts(page) == {"major": 1, "minor": 1}
    assert 'value="major" class="al-toggle al-major" aria-pressed="true"' in html
    assert row_of(page, world["shortage"]) and row_of(page, world["expiring"])
    assert row_of(page, world["connect"]) is None  # another VA's

    # Minor off: the Minor alerts leave the list, the counts stay.
    response = client.post(url(world["acme"], "view/"), {"toggle": "minor", "query": f"va={world['campus'].pk}"})
    assert response.status_code == 302 and response.url == url(world["acme"]) + f"?va={world['campus'].pk}"
    page = client.get(url(world["acme"]), campus)
    assert row_of(page, world["expiring"]) is None and row_of(page, world["shortage"])
    assert counts(page) == {"major": 1, "minor": 1}
    assert 'value="minor" class="al-toggle al-minor" aria-pressed="false"' in page.content.decode()

    # Hide Alerts collapses the list; the counts are still there; Show Alerts brings it back.
    client.post(url(world["acme"], "view/"), {"toggle": "hidden"})
    page = client.get(url(world["acme"]), campus)
    assert "al-table" not in page.content.decode() and "Show Alerts" in page.content.decode()
    assert counts(page) == {"major": 1, "minor": 1}
    pref = UserPreference.objects.get(user=acme_admin, account=world["acme"])
    assert (pref.alerts_show_major, pref.alerts_show_minor, pref.alerts_hidden) == (True, False, True)

    # The local account view lists everything; another user's view is untouched.
    assert row_of(client.get(url(world["acme"])), world["expiring"])
    other = browser(world["va_admin"]).get(url(world["acme"]), campus)
    assert row_of(other, world["expiring"]) and "Hide Alerts" in other.content.decode()
    client.post(url(world["acme"], "view/"), {"toggle": "hidden"})
    assert "al-table" in client.get(url(world["acme"]), campus).content.decode()
    assert client.post(url(world["acme"], "view/"), {"toggle": "nonsense"}).status_code == 404
    assert client.get(url(world["acme"], "view/")).status_code == 405


def csv_rows(response):
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_is_the_list_as_filtered(world, acme_admin, browser):
    client = browser(acme_admin)
    header, *lines = csv_rows(client.get(url(world["acme"], "export.csv")))
    assert header == ["Message", "Severity", "Virtual Account", "Action Due", "Due Date", "Source", "Created", "Status"]
    assert [line[0] for line in lines] == [a.message for a in (world["shortage"], world["expiring"], world["connect"])]
    shortage, expiring = lines[0], lines[1]
    assert shortage[1:4] == ["Major", "Campus", "Now"] and shortage[5] == "Insufficient Licenses"
    assert expiring[1:4] == ["Minor", "Campus", "20 days"] and "in 20 days" in expiring[0]
    # The same filters as the page: severity, search, and the virtual account view's toggles.
    assert [r[0] for r in csv_rows(client.get(url(world["acme"], "export.csv"), {"severity": "minor"}))[1:]] == [
        world["expiring"].message,
        world["connect"].message,
    ]
    assert len(csv_rows(client.get(url(world["acme"], "export.csv"), {"q": "SN-SILENT"}))) == 2
    client.post(url(world["acme"], "view/"), {"toggle": "major"})
    campus_view = csv_rows(client.get(url(world["acme"], "export.csv"), {"va": world["campus"].pk}))
    assert [r[0] for r in campus_view[1:]] == [world["expiring"].message]
    # A VA User's CSV holds their virtual account's alerts only.
    mine = csv_rows(browser(world["branch_user"]).get(url(world["acme"], "export.csv")))
    assert [r[0] for r in mine[1:]] == [world["connect"].message]


def test_csv_link_carries_the_filters(world, acme_admin, browser):
    html = browser(acme_admin).get(url(world["acme"]), {"severity": "minor", "q": "x", "page": "2"}).content.decode()
    link = re.search(r'href="([^"]*export\.csv[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "severity=minor" in link and "q=x" in link and "page=" not in link


CSV_PINNED = 6  # session, user, account, grants, count, the rows (the visible VAs are a subquery)


def test_csv_query_count_does_not_grow_with_rows(world, acme_admin, browser, new_va):
    client = browser(acme_admin)
    client.get(url(world["acme"]))  # the first request of a session also stores its activity time

    def count():
        with CaptureQueriesContext(connection) as captured:
            lines = csv_rows(client.get(url(world["acme"], "export.csv")))
        return len(captured), len(lines)

    few, n_few = count()
    now = timezone.now()
    for i in range(120):
        Alert.objects.create(
            account=world["acme"],
            virtual_account=world["branch"],
            alert_type=Alert.Type.LICENSES_EXPIRED,
            severity=Alert.Severity.MINOR,
            key=f"csv:{i}",
            message=f"extra {i}",
            opened_at=now,
            updated_at=now,
        )
    many, n_many = count()
    assert (n_few, n_many) == (4, 124)
    print(f"alerts CSV queries: {few} with 4 alerts, {many} with 124")
    assert few == many <= CSV_PINNED, (few, many)


def test_action_due_and_the_message_say_the_same_day_count(world, acme_admin, browser):
    row = row_of(browser(acme_admin).get(url(world["acme"])), world["expiring"])
    due = re.search(r'<td class="lw-nowrap al-due">(.*?)<br>', row, re.S).group(1).strip()
    days = re.search(r"in (\d+) days", world["expiring"].message).group(1)
    assert due == f"{days} days" == "20 days"
