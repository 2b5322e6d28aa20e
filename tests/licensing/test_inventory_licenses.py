"""Inventory > Licenses: the compliance table of one virtual account, its search, sort and CSV."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from licensing.models import Entitlement, LicenseDefinition, LicenseHierarchy, LicenseUsage, ProductInstance

pytestmark = pytest.mark.django_db

# session, user, account, the reader's grants, picker, visible VAs (chooser), then the
# compliance service's one query for one virtual account (its name is known: no query for it)
# the billing types, the licenses held from several subscriptions (their Change Virtual Account
# Assignment action), the account's license tag names (the By Tag choices), and the page's
# portable licenses (their Port action): the same for 20 or 500 devices. The CSV export has fewer.
PINNED_LICENSES_QUERIES = 11


def url(account, rest=""):
    return f"/accounts/{account.pk}/inventory/licenses/{rest}"


def make_license(name, *, lower=(), **fields):
    lic = LicenseDefinition.objects.create(name=name, entitlement_tag=f"regid.test.{name.replace(' ', '_')}", **fields)
    for child in lower:
        LicenseHierarchy.objects.create(higher=lic, lower=child)
    return lic


def line(va, lic, quantity, **fields):
    return Entitlement.objects.create(
        virtual_account=va, license=lic, quantity=quantity, license_type="perpetual", **fields
    )


def devices(va, n, lic, count=1, prefix="SN"):
    """n product instances in ``va``, each using ``count`` of ``lic`` (bulk: account_id set by hand)."""
    now = timezone.now()
    start = ProductInstance.objects.count()
    ProductInstance.objects.bulk_create(
        [
            ProductInstance(
                account_id=va.account_id,
                virtual_account=va,
                udi_pid="C9300-24T",
                udi_serial_number=f"{prefix}{start + i:06d}",
                hostname=f"sw-{start + i:06d}",
                registered_at=now,
            )
            for i in range(n)
        ]
    )
    instances = ProductInstance.objects.filter(virtual_account=va, udi_serial_number__startswith=prefix)
    LicenseUsage.objects.bulk_create([LicenseUsage(product_instance=pi, license=lic, count=count) for pi in instances])
    return instances


@pytest.fixture
def catalogue(acme, new_va):
    """The hierarchy example: Network Advantage stands in for Network Essentials.

    Default VA: Advantage 10 bought, 4 used; Essentials 2 bought (+1 pending), 5 used ->
    Essentials borrows 3 from Advantage. DNA Premier: 1 bought, 3 used, nothing above it ->
    2 short. Umbrella (billed by usage): 0 bought, 1 used.
    """
    default = acme.virtual_accounts.get(is_default=True)
    essentials = make_license("Network Essentials")
    advantage = make_license("Network Advantage", lower=[essentials])
    premier = make_license("DNA Premier")
    umbrella = make_license("Umbrella", billing_type=LicenseDefinition.Billing.USAGE)
    line(default, advantage, 10)
    line(default, essentials, 2, pending_quantity=1)
    line(default, premier, 1)
    devices(default, 2, advantage, 2, prefix="ADV")
    devices(default, 5, essentials, 1, prefix="ESS")
    devices(default, 1, premier, 3, prefix="PRE")
    devices(default, 1, umbrella, 1, prefix="UMB")
    sales = new_va("Sales")
    line(sales, premier, 7)
    return {"default": default, "sales": sales, "essentials": essentials, "advantage": advantage}


def rows_of(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="licenses_')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


HEADER = [
    "License",
    "Entitlement Tag",
    "Billing",
    "Purchased",
    "Pending",
    "In Use",
    "Reserved",
    "Borrowed",
    "Lent",
    "Substitution",
    "Balance",
    "Status",
]


def test_csv_has_the_hierarchy_numbers(acme, acme_user, browser, catalogue):
    rows = rows_of(browser(acme_user).get(url(acme, "export.csv"), {"va": catalogue["default"].pk}))
    assert rows[0] == HEADER
    assert rows[1:] == [
        [
            "DNA Premier",
            "regid.test.DNA_Premier",
            "Prepaid",
            "1",
            "0",
            "3",
            "0",
            "0",
            "0",
            "",
            "-2",
            "Out Of Compliance",
        ],
        [
            "Network Advantage",
            "regid.test.Network_Advantage",
            "Prepaid",
            "10",
            "0",
            "4",
            "0",
            "0",
            "3",
            "Substitution To Lower Tier: 3 × Network Essentials",
            "3",
            "In Compliance",
        ],
        [
            "Network Essentials",
            "regid.test.Network_Essentials",
            "Prepaid",
            "2",
            "1",
            "5",
            "0",
            "3",
            "0",
            "Substitution From Higher Tier: 3 × Network Advantage",
            "0",
            "In Compliance",
        ],
        ["Umbrella", "regid.test.Umbrella", "Usage", "0", "0", "1", "0", "0", "0", "", "-1", "Out Of Compliance"],
    ]


def test_csv_follows_search_and_sort_and_the_virtual_account(acme, acme_user, browser, catalogue):
    client = browser(acme_user)
    rows = rows_of(
        client.get(url(acme, "export.csv"), {"va": catalogue["default"].pk, "q": "network", "sort": "-in_use"})
    )
    assert [r[0] for r in rows[1:]] == ["Network Essentials", "Network Advantage"]
    rows = rows_of(client.get(url(acme, "export.csv"), {"va": catalogue["sales"].pk}))
    assert rows[1:] == [
        ["DNA Premier", "regid.test.DNA_Premier", "Prepaid", "7", "0", "0", "0", "0", "0", "", "7", "In Compliance"]
    ]


def test_page_shows_the_table(acme, acme_user, browser, catalogue):
    response = browser(acme_user).get(url(acme), {"va": catalogue["default"].pk})
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Substitution From Higher Tier: 3 × Network Advantage",
        "Substitution To Lower Tier: 3 × Network Essentials",
        "(+1 pending)",
        '<span class="badge bad">Out Of Compliance</span>',
        '<span class="badge ok">In Compliance</span>',
        f"export.csv?va={catalogue['default'].pk}",
    ):
        assert text in html, text
    assert html.index("DNA Premier") < html.index("Network Advantage") < html.index("Umbrella")


def test_search_by_license_name(acme, acme_user, browser, catalogue):
    html = browser(acme_user).get(url(acme), {"va": catalogue["default"].pk, "q": "ESSENT"}).content.decode()
    assert "Network Essentials" in html and "DNA Premier" not in html and "Umbrella" not in html
    html = browser(acme_user).get(url(acme), {"va": catalogue["default"].pk, "q": "zzz"}).content.decode()
    assert "No licenses match." in html


@pytest.mark.parametrize(
    "sort, order",
    [
        ("balance", ["DNA Premier", "Umbrella", "Network Essentials", "Network Advantage"]),
        ("-purchased", ["Network Advantage", "Network Essentials", "DNA Premier", "Umbrella"]),
        ("-license", ["Umbrella", "Network Essentials", "Network Advantage", "DNA Premier"]),
        ("bogus", ["DNA Premier", "Network Advantage", "Network Essentials", "Umbrella"]),
    ],
)
def test_sortable_columns(acme, acme_user, browser, catalogue, sort, order):
    html = browser(acme_user).get(url(acme), {"va": catalogue["default"].pk, "sort": sort}).content.decode()
    body = html[html.index("<tbody>") :]
    positions = [body.index(f">{name}</a><br>") for name in order]
    assert positions == sorted(positions)


def test_va_user_sees_only_their_virtual_account(acme, make_user, grant_role, browser, catalogue):
    vau = make_user("vau", SystemRole.USER)
    grant_role(vau, catalogue["sales"], AccountRole.VA_USER)
    client = browser(vau)
    assert client.get(url(acme), {"va": catalogue["sales"].pk}).status_code == 200
    assert client.get(url(acme), {"va": catalogue["default"].pk}).status_code == 404
    assert client.get(url(acme, "export.csv"), {"va": catalogue["default"].pk}).status_code == 404
    rows = rows_of(client.get(url(acme, "export.csv")))  # no ?va: its only visible VA
    assert [r[0] for r in rows[1:]] == ["DNA Premier"] and rows[1][3] == "7"


def test_other_account_users_get_404(acme, make_account, make_user, grant_role, browser, catalogue):
    globex = make_account("Globex")
    outsider = make_user("outsider", SystemRole.USER)
    grant_role(outsider, globex, AccountRole.ACCOUNT_ADMIN)
    client = browser(outsider)
    assert client.get(url(acme)).status_code == 404
    assert client.get(url(acme, "export.csv")).status_code == 404
    assert client.get(url(globex), {"va": catalogue["default"].pk}).status_code == 404


def queries(client, path, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_product_instances(acme, acme_admin, browser, catalogue):
    client = browser(acme_admin)
    default = catalogue["default"]
    essentials = catalogue["essentials"]
    client.get(url(acme), {"va": default.pk})  # the session is warm
    devices(default, 20, essentials, prefix="FEW")
    few = queries(client, url(acme), {"va": default.pk})
    few_csv = queries(client, url(acme, "export.csv"), {"va": default.pk})
    devices(default, 480, catalogue["advantage"], 2, prefix="MANY")
    assert ProductInstance.objects.filter(virtual_account=default).count() == 509
    many = queries(client, url(acme), {"va": default.pk})
    many_csv = queries(client, url(acme, "export.csv"), {"va": default.pk})
    assert few == many == PINNED_LICENSES_QUERIES
    assert few_csv == many_csv <= PINNED_LICENSES_QUERIES
    rows = rows_of(client.get(url(acme, "export.csv"), {"va": default.pk, "q": "Network Advantage"}))
    assert rows[1][3:6] == ["10", "0", "964"]  # 2×2 + 480×2 in use
