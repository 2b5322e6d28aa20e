"""Inventory > Product Instances: the devices of one virtual account, search, sort, pages and CSV."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole, SystemRole
from licensing.models import ProductInstance

pytestmark = pytest.mark.django_db

# session, user, account, the reader's grants, picker, visible VAs (chooser), count, one page
# of rows, the licenses reserved for the page's rows: the same for 20 or 500 devices.
PINNED_PRODUCT_INSTANCES_QUERIES = 9

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def url(account, rest=""):
    return f"/accounts/{account.pk}/inventory/product-instances/{rest}"


def bulk(va, n, prefix="BULK"):
    ProductInstance.objects.bulk_create(
        [
            ProductInstance(
                account_id=va.account_id,
                virtual_account=va,
                udi_pid="ISR4331",
                product_name="ISR 4331",
                udi_serial_number=f"{prefix}{i:05d}",
                hostname=f"{prefix.lower()}-{i:05d}",
                registered_at=T0,
            )
            for i in range(n)
        ]
    )


@pytest.fixture
def fleet(acme, new_va):
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    make = ProductInstance.objects.create
    make(
        virtual_account=default,
        udi_pid="C9300-24T",
        udi_serial_number="FOC001",
        hostname="core-sw1",
        product_name="Catalyst 9300",
        registered_at=T0,
        last_contact_at=T0 + datetime.timedelta(days=3),
        redundancy_role="active",
        redundancy_group="ha-1",
    )
    make(
        virtual_account=default,
        udi_pid="C9300-24T",
        udi_serial_number="FOC002",
        hostname="core-sw2",
        product_name="Catalyst 9300",
        registered_at=T0 + datetime.timedelta(days=1),
        redundancy_role="standby",
        redundancy_group="ha-1",
    )
    make(
        virtual_account=default,
        udi_pid="ASR1001-X",
        udi_serial_number="JAE777",
        hostname="",
        product_name="ASR 1001-X",
        registered_at=T0 + datetime.timedelta(days=2),
    )
    make(
        virtual_account=sales,
        udi_pid="ISR4331",
        udi_serial_number="FDO555",
        hostname="branch-rtr",
        product_name="ISR 4331",
        registered_at=T0,
    )
    return {"default": default, "sales": sales}


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="product_instances_')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_table_shows_the_devices_of_the_chosen_virtual_account(acme, acme_user, browser, fleet):
    html = browser(acme_user).get(url(acme), {"va": fleet["default"].pk}).content.decode()
    for text in (
        "core-sw1",
        "Catalyst 9300",
        "C9300-24T",
        "FOC001",
        "2026-03-04 12:00",
        "2026-03-01 12:00",
        "Active",
        "Standby",
        "(ha-1)",
        "UDI_PID:ASR1001-X; UDI_SN:JAE777",
    ):
        assert text in html, text
    assert "branch-rtr" not in html
    html = browser(acme_user).get(url(acme), {"va": fleet["sales"].pk}).content.decode()
    assert "branch-rtr" in html and "core-sw1" not in html


def test_csv_export(acme, acme_user, browser, fleet):
    rows = csv_rows(browser(acme_user).get(url(acme, "export.csv"), {"va": fleet["default"].pk}))
    assert rows[0] == [
        "Name",
        "Hostname",
        "Product",
        "UDI PID",
        "UDI SN",
        "Last Contact",
        "Registration Date",
        "Redundancy Role",
        "Redundancy Group",
    ]
    assert rows[1:] == [
        [
            "UDI_PID:ASR1001-X; UDI_SN:JAE777",
            "",
            "ASR 1001-X",
            "ASR1001-X",
            "JAE777",
            "",
            "2026-03-03T12:00:00+00:00",
            "None",
            "",
        ],
        [
            "core-sw1",
            "core-sw1",
            "Catalyst 9300",
            "C9300-24T",
            "FOC001",
            "2026-03-04T12:00:00+00:00",
            "2026-03-01T12:00:00+00:00",
            "Active",
            "ha-1",
        ],
        [
            "core-sw2",
            "core-sw2",
            "Catalyst 9300",
            "C9300-24T",
            "FOC002",
            "",
            "2026-03-02T12:00:00+00:00",
            "Standby",
            "ha-1",
        ],
    ]


def test_csv_follows_search_and_sort_and_has_every_page(acme, acme_user, browser, fleet):
    bulk(fleet["default"], 60)
    client = browser(acme_user)
    rows = csv_rows(
        client.get(url(acme, "export.csv"), {"va": fleet["default"].pk, "q": "foc", "sort": "-sn", "page": "2"})
    )
    assert [r[4] for r in rows[1:]] == ["FOC002", "FOC001"]
    rows = csv_rows(client.get(url(acme, "export.csv"), {"va": fleet["default"].pk}))
    assert len(rows) == 1 + 63


def test_csv_cells_are_not_run_as_formulas(acme, acme_user, browser, fleet):
    ProductInstance.objects.create(
        virtual_account=fleet["sales"],
        udi_pid="X",
        udi_serial_number="EVIL1",
        hostname='=HYPERLINK("http://evil.example","x")',
        product_name="-1+2",
        registered_at=T0,
    )
    rows = csv_rows(browser(acme_user).get(url(acme, "export.csv"), {"va": fleet["sales"].pk, "q": "EVIL1"}))
    assert rows[1][:3] == [
        '\'=HYPERLINK("http://evil.example","x")',
        '\'=HYPERLINK("http://evil.example","x")',
        "'-1+2",
    ]


def test_search(acme, acme_user, browser, fleet):
    client = browser(acme_user)
    for q, present, absent in (
        ("sw2", "FOC002", "FOC001"),
        ("asr", "JAE777", "FOC001"),
        ("jae7", "JAE777", "FOC002"),
        ("catalyst", "FOC001", "JAE777"),
    ):
        html = client.get(url(acme), {"va": fleet["default"].pk, "q": q}).content.decode()
        assert present in html and absent not in html, q
    html = client.get(url(acme), {"va": fleet["default"].pk, "q": "nothing-like-it"}).content.decode()
    assert "No product instances match." in html


@pytest.mark.parametrize(
    "sort, order",
    [
        ("name", ["JAE777", "FOC001", "FOC002"]),
        ("-registered", ["JAE777", "FOC002", "FOC001"]),
        ("pid", ["JAE777", "FOC001", "FOC002"]),
        ("-sn", ["JAE777", "FOC002", "FOC001"]),
        ("nonsense", ["JAE777", "FOC001", "FOC002"]),
    ],
)
def test_sort(acme, acme_user, browser, fleet, sort, order):
    html = browser(acme_user).get(url(acme), {"va": fleet["default"].pk, "sort": sort}).content.decode()
    positions = [html.index(f"<td>{sn}</td>") for sn in order]
    assert positions == sorted(positions)


def test_pagination(acme, acme_user, browser, fleet):
    bulk(fleet["default"], 30)
    client = browser(acme_user)
    first = client.get(url(acme), {"va": fleet["default"].pk}).content.decode()
    assert "Page 1 of 2 (33 items)" in first and "page=2" in first and f"va={fleet['default'].pk}" in first
    second = client.get(url(acme), {"va": fleet["default"].pk, "page": "2"}).content.decode()
    assert "Page 2 of 2 (33 items)" in second
    assert client.get(url(acme), {"va": fleet["default"].pk, "page": "999"}).status_code == 200


@pytest.mark.parametrize(
    "role, va, status",
    [
        (AccountRole.ACCOUNT_ADMIN, "default", 200),
        (AccountRole.ACCOUNT_USER, "sales", 200),
        (AccountRole.VA_ADMIN, "sales", 200),
        (AccountRole.VA_USER, "sales", 200),
    ],
)
def test_roles_on_their_scope(acme, make_user, grant_role, browser, fleet, role, va, status):
    user = make_user("someone", SystemRole.USER)
    scope = acme if role in (AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER) else fleet["sales"]
    grant_role(user, scope, role)
    assert browser(user).get(url(acme), {"va": fleet[va].pk}).status_code == status


@pytest.mark.parametrize("role", [AccountRole.VA_ADMIN, AccountRole.VA_USER])
def test_va_roles_get_404_on_another_virtual_account(acme, make_user, grant_role, browser, fleet, role):
    user = make_user("someone", SystemRole.USER)
    grant_role(user, fleet["sales"], role)
    client = browser(user)
    assert client.get(url(acme), {"va": fleet["default"].pk}).status_code == 404
    assert client.get(url(acme, "export.csv"), {"va": fleet["default"].pk}).status_code == 404
    rows = csv_rows(client.get(url(acme, "export.csv")))
    assert [r[4] for r in rows[1:]] == ["FDO555"]


def test_system_user_without_roles_gets_404(acme, make_user, browser, fleet):
    client = browser(make_user("nobody", SystemRole.USER))
    assert client.get(url(acme), {"va": fleet["default"].pk}).status_code == 404
    assert client.get(url(acme, "export.csv")).status_code == 404


def queries(client, path, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_product_instances(acme, acme_admin, browser, fleet):
    client = browser(acme_admin)
    default = fleet["default"]
    client.get(url(acme), {"va": default.pk})  # the session is warm
    bulk(default, 17, prefix="FEW")
    assert ProductInstance.objects.filter(virtual_account=default).count() == 20
    few = queries(client, url(acme), {"va": default.pk, "sort": "-last_contact"})
    few_csv = queries(client, url(acme, "export.csv"), {"va": default.pk})
    bulk(default, 480, prefix="MANY")
    assert ProductInstance.objects.filter(virtual_account=default).count() == 500
    many = queries(client, url(acme), {"va": default.pk, "sort": "-last_contact"})
    many_csv = queries(client, url(acme, "export.csv"), {"va": default.pk})
    assert few == many == PINNED_PRODUCT_INSTANCES_QUERIES
    assert few_csv == many_csv
    assert len(csv_rows(client.get(url(acme, "export.csv"), {"va": default.pk}))) == 501
