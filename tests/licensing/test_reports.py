"""Smart Licensing > Reports: Licenses, License Subscriptions, Product Instances — in page, CSV, XLSX."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from accounts.roles import AccountRole, SystemRole
from licensing.models import (
    DeviceIdentity,
    Entitlement,
    LicenseTag,
    ProductInstance,
)
from licensing.services import compliance
from licensing.services import reports as report_service
from tests.licensing.catalogue import devices, line

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("steady_session")]

TODAY = datetime.date.today()


def url(account, kind="", rest=""):
    return f"/accounts/{account.pk}/reports/" + (f"{kind}/" if kind else "") + rest


def criteria(**extra):
    return {
        "run": "1",
        "name": "Quarterly",
        "va_scope": "all",
        "license_scope": "all",
        "subscription_status": "all",
        **extra,
    }


def csv_rows(response):
    assert response.status_code == 200, response.content[:2000]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = workbook.worksheets[0]
    return [["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def body(response):
    html = response.content.decode()
    return html[html.index("<tbody>") : html.index("</tbody>")]


# --- The Reports tab ------------------------------------------------------------------------------


def test_reports_tab_lists_the_three_reports(acme, acme_user, browser):
    client = browser(acme_user)
    html = client.get(url(acme)).content.decode()
    for name in ("Licenses", "License Subscriptions", "Product Instances"):
        assert f">{name}</a>" in html
    # In the Smart Licensing tab bar, between Inventory and Activity.
    bar = html[html.index("lw-section-tabs") :]
    bar = bar[: bar.index("</nav>")]
    assert bar.index(">Inventory<") < bar.index(">Reports<") < bar.index(">Activity<")


def test_form_shows_the_guide_fields(acme, acme_user, browser, data):
    client = browser(acme_user)
    html = client.get(url(acme, "subscriptions")).content.decode()
    for text in (
        "All Local Virtual Accounts",
        "Selected Local Virtual Accounts",
        "All Licenses",
        "Licenses with ALL these License Tags",
        "Licenses with NO License Tags",
        "Active Only",
        "Expired-or-Cancelled",
        "Run Report",
        "Export to CSV",
        "Export to Excel",
    ):
        assert text in html, text
    html = client.get(url(acme, "product_instances")).content.decode()
    assert "Product Type" in html and "ISR 4331" in html and "Subscription Status" not in html


def test_unknown_report_is_404(acme, acme_user, browser):
    assert browser(acme_user).get(url(acme, "bogus")).status_code == 404
    assert browser(acme_user).get(url(acme, "bogus", "export.csv")).status_code == 404


# --- Licenses report ------------------------------------------------------------------------------

LICENSE_HEADER = [
    "Virtual Account",
    "License",
    "Entitlement Tag",
    "Billing",
    "Purchased",
    "Pending",
    "In Use",
    "Borrowed",
    "Lent",
    "Substitution",
    "Balance",
    "Status",
]


def expected_license_rows(account, vas):
    """What the compliance service says, in the report's columns (the report must not re-derive it)."""
    return [
        [
            p.virtual_account,
            p.license,
            p.entitlement_tag,
            "Prepaid",
            str(p.purchased),
            str(p.pending_quantity),
            str(p.in_use),
            str(p.borrowed),
            str(p.lent),
            report_service.substitution_text(p.substitutions),
            str(p.available),
            p.status,
        ]
        for p in compliance.license_positions(account, virtual_accounts=vas)
    ]


def test_licenses_report_agrees_with_compliance(acme, acme_user, browser, data):
    client = browser(acme_user)
    rows = csv_rows(client.get(url(acme, "licenses", "export.csv"), criteria()))
    assert rows[0] == LICENSE_HEADER
    assert rows[1:] == expected_license_rows(acme, [data["default"], data["sales"]])
    # The substitution is in it: Essentials borrows 3 of Advantage in Default; Sales is 1 short of Essentials.
    assert [
        "Default",
        "Network Essentials",
        "regid.rp.Network_Essentials",
        "Prepaid",
        "2",
        "0",
        "5",
        "3",
        "0",
        "Substitution From Higher Tier: 3 × Network Advantage",
        "0",
        "In Compliance",
    ] in rows
    assert [
        "Sales",
        "Network Essentials",
        "regid.rp.Network_Essentials",
        "Prepaid",
        "0",
        "0",
        "1",
        "0",
        "0",
        "",
        "-1",
        "Out Of Compliance",
    ] in rows


def test_licenses_report_in_page(acme, acme_user, browser, data):
    response = browser(acme_user).get(url(acme, "licenses"), criteria(description="For the auditors"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quarterly" in html and "For the auditors" in html and "All Local Virtual Accounts" in html
    rows = body(response)
    assert rows.count("<tr>") == 4  # Default: Advantage, Essentials; Sales: Premier, Essentials
    detail = f"/accounts/{acme.pk}/inventory/virtual-accounts/{data['default'].pk}/licenses/{data['essentials'].pk}/"
    assert f'<a href="{detail}">Network Essentials</a>' in rows
    # Exports of the report as shown: same criteria.
    assert "export.csv?run=1&amp;name=Quarterly" in html and "export.xlsx?run=1&amp;name=Quarterly" in html


def test_licenses_report_selected_licenses_and_virtual_accounts(acme, acme_user, browser, data):
    rows = csv_rows(
        browser(acme_user).get(
            url(acme, "licenses", "export.csv"),
            criteria(
                va_scope="selected",
                virtual_accounts=[data["sales"].pk],
                license_scope="selected",
                licenses=[data["premier"].pk],
            ),
        )
    )
    assert [r[:2] for r in rows[1:]] == [["Sales", "DNA Premier"]]


def test_reports_for_virtual_accounts_with_all_of_these_tags(acme, acme_user, browser, data, new_va):
    from licensing.models import VirtualAccountTag

    lab = new_va("Lab")
    region = VirtualAccountTag.objects.create(account=acme, name="Region")
    tier = VirtualAccountTag.objects.create(account=acme, name="Tier")
    emea = region.values.create(value="EMEA")
    gold = tier.values.create(value="Gold")
    emea.virtual_accounts.add(data["sales"], lab)
    gold.virtual_accounts.add(data["sales"], data["default"])
    client = browser(acme_user)
    rows = csv_rows(
        client.get(url(acme, "product_instances", "export.csv"), criteria(va_scope="tags", va_tags=[emea.pk, gold.pk]))
    )
    assert {r[0] for r in rows[1:]} == {"Sales"}
    page = client.get(url(acme, "licenses"), criteria(va_scope="tags", va_tags=[emea.pk]))
    assert "With all of the tags: Region: EMEA" in page.content.decode()
    assert client.get(url(acme, "licenses"), criteria(va_scope="tags")).status_code == 400


def test_licenses_report_license_tags(acme, acme_user, browser, data):
    core = LicenseTag.objects.create(account=acme, name="core")
    dna = LicenseTag.objects.create(account=acme, name="dna")
    core.licenses.add(data["advantage"], data["premier"])
    dna.licenses.add(data["premier"])
    client = browser(acme_user)
    rows = csv_rows(
        client.get(url(acme, "licenses", "export.csv"), criteria(license_scope="tags", license_tags=[core.pk, dna.pk]))
    )
    assert {r[1] for r in rows[1:]} == {"DNA Premier"}
    rows = csv_rows(client.get(url(acme, "licenses", "export.csv"), criteria(license_scope="untagged")))
    assert {r[1] for r in rows[1:]} == {"Network Essentials"}


def test_licenses_report_sorts(acme, acme_user, browser, data):
    client = browser(acme_user)
    rows = csv_rows(client.get(url(acme, "licenses", "export.csv"), criteria(sort="-in_use")))
    in_use = [int(r[6]) for r in rows[1:]]
    assert in_use == sorted(in_use, reverse=True)
    page = body(client.get(url(acme, "licenses"), criteria(sort="-in_use")))
    assert page.index("Network Essentials") < page.index("DNA Premier")


# --- License Subscriptions report -----------------------------------------------------------------

SUBSCRIPTION_HEADER = [
    "Virtual Account",
    "License",
    "Subscription ID",
    "SKU",
    "License Type",
    "Quantity",
    "Start Date",
    "Expiration Date",
    "Source",
    "Status",
]


def subscription_row(entitlement, status):
    return [
        entitlement.virtual_account.name,
        entitlement.license.name,
        entitlement.subscription_id,
        entitlement.sku,
        entitlement.get_license_type_display(),
        str(entitlement.quantity),
        entitlement.start_date.isoformat(),
        entitlement.end_date.isoformat(),
        entitlement.get_source_display(),
        status,
    ]


def test_subscriptions_report_lists_time_bound_lines(acme, acme_user, browser, data):
    client = browser(acme_user)
    expired = Entitlement.objects.get(sku="C9K-NE-1Y")
    subscription = Entitlement.objects.get(sku="C9K-NA-1Y")
    term = Entitlement.objects.get(sku="DNA-P-1Y")
    rows = csv_rows(client.get(url(acme, "subscriptions", "export.csv"), criteria()))
    assert rows[0] == SUBSCRIPTION_HEADER
    # Perpetual lines are not subscriptions; ordered by virtual account, license, end date.
    assert rows[1:] == [
        subscription_row(subscription, "Active"),
        subscription_row(expired, "Expired"),
        subscription_row(term, "Active"),
    ]
    rows = csv_rows(client.get(url(acme, "subscriptions", "export.csv"), criteria(subscription_status="active")))
    assert [r[3] for r in rows[1:]] == ["C9K-NA-1Y", "DNA-P-1Y"]
    rows = csv_rows(client.get(url(acme, "subscriptions", "export.csv"), criteria(subscription_status="expired")))
    assert [r[3] for r in rows[1:]] == ["C9K-NE-1Y"]


def test_subscriptions_report_in_page_sorted_and_paginated(acme, acme_user, browser, data):
    for i in range(60):
        line(
            data["sales"],
            data["premier"],
            1,
            "term",
            start_date=TODAY,
            end_date=TODAY + datetime.timedelta(days=i),
            sku=f"BULK-{i:03d}",
        )
    client = browser(acme_user)
    response = client.get(url(acme, "subscriptions"), criteria(sort="sku"))
    assert response.status_code == 200
    assert body(response).count("<tr>") == 50 and "Page 1 of 2 (63 items)" in response.content.decode()
    response = client.get(url(acme, "subscriptions"), criteria(sort="sku", page=2))
    assert body(response).count("<tr>") == 13 and "DNA-P-1Y" in body(response)


# --- Product Instances report ---------------------------------------------------------------------

PI_HEADER = [
    "Virtual Account",
    "Name",
    "Product Type",
    "UDI PID",
    "UDI SN",
    "Hostname",
    "IP Address",
    "MAC Address",
    "Registration Date",
    "Last Contact",
    "Licenses In Use",
    "Redundancy",
]


def test_product_instances_report(acme, acme_user, browser, data):
    pre = ProductInstance.objects.get(udi_serial_number="PRE000000")
    DeviceIdentity.objects.create(
        product_instance=pre, ip_address="10.0.0.7", mac_address="00:11:22:33:44:55", updated_at=timezone.now()
    )
    client = browser(acme_user)
    rows = csv_rows(client.get(url(acme, "product_instances", "export.csv"), criteria()))
    assert rows[0] == PI_HEADER
    assert len(rows) == 1 + 8
    by_sn = {r[4]: r for r in rows[1:]}
    registered = pre.registered_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert by_sn["PRE000000"] == [
        "Sales",
        "pre-000000",
        "ISR 4331",
        "C9300-24T",
        "PRE000000",
        "pre-000000",
        "10.0.0.7",
        "00:11:22:33:44:55",
        registered,
        "",
        "4",
        "",
    ]
    assert by_sn["ADV000000"][10] == "2" and by_sn["ESS000003"][10] == "1"
    rows = csv_rows(
        client.get(url(acme, "product_instances", "export.csv"), criteria(product_types=["Catalyst 9200", "ISR 4331"]))
    )
    assert sorted(r[4] for r in rows[1:]) == ["ESS00000%d" % i for i in range(5)] + ["PRE000000"]


def test_product_instances_report_unknown_product_type_is_an_error(acme, acme_user, browser, data):
    response = browser(acme_user).get(url(acme, "product_instances"), criteria(product_types=["Toaster"]))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


# --- Exports --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["licenses", "subscriptions", "product_instances"])
def test_xlsx_has_the_same_rows_as_csv(acme, acme_user, browser, data, kind):
    client = browser(acme_user)
    from_csv = csv_rows(client.get(url(acme, kind, "export.csv"), criteria()))
    response = client.get(url(acme, kind, "export.xlsx"), criteria())
    assert response["Content-Disposition"].startswith('attachment; filename="Quarterly_')
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert xlsx_rows(response) == from_csv
    assert len(from_csv) > 1


def test_exports_never_carry_formulas(acme, acme_user, browser, data):
    pi = ProductInstance.objects.get(udi_serial_number="PRE000000")
    ProductInstance.objects.filter(pk=pi.pk).update(hostname='=HYPERLINK("http://evil","x")')
    client = browser(acme_user)
    rows = csv_rows(client.get(url(acme, "product_instances", "export.csv"), criteria()))
    assert '\'=HYPERLINK("http://evil","x")' in [r[1] for r in rows]
    response = client.get(url(acme, "product_instances", "export.xlsx"), criteria())
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [
        cell
        for row in workbook.worksheets[0].iter_rows()
        for cell in row
        if cell.value == '=HYPERLINK("http://evil","x")'
    ]
    assert cells and all(cell.data_type == "s" for cell in cells)


def test_export_file_name_is_safe(acme, acme_user, browser, data):
    response = browser(acme_user).get(url(acme, "licenses", "export.csv"), criteria(name='../../etc/"x"'))
    disposition = response["Content-Disposition"]
    assert "/" not in disposition.split("filename=")[1] and disposition.endswith('.csv"')


def test_exports_run_a_bounded_number_of_queries(acme, acme_user, browser, data):
    """Streaming in chunks: the query count of an export does not grow with its rows."""
    client = browser(acme_user)

    def count(kind, extension):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(acme, kind, f"export.{extension}"), criteria())
            content = b"".join(response.streaming_content)
        assert response.status_code == 200 and content
        return len(queries)

    kinds = [(k, e) for k in ("licenses", "subscriptions", "product_instances") for e in ("csv", "xlsx")]
    client.get(url(acme))  # the first request of a session costs more: not what is measured
    few = {key: count(*key) for key in kinds}
    devices(data["sales"], 300, [(data["premier"], 1)], prefix="BULK")
    Entitlement.objects.bulk_create(
        [
            Entitlement(
                virtual_account=data["sales"],
                license=data["premier"],
                quantity=1,
                license_type="term",
                start_date=TODAY,
                end_date=TODAY + datetime.timedelta(days=30 + i),
                sku=f"BULK-{i}",
            )
            for i in range(300)
        ]
    )
    many = {key: count(*key) for key in kinds}
    assert few == many
    assert max(many.values()) <= 11


def test_export_streams_more_rows_than_one_chunk(acme, acme_user, browser, data, monkeypatch):
    monkeypatch.setattr(report_service, "EXPORT_CHUNK_SIZE", 3)
    rows = csv_rows(browser(acme_user).get(url(acme, "product_instances", "export.csv"), criteria()))
    assert len(rows) == 1 + 8 and len({r[4] for r in rows[1:]}) == 8


# --- Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"va_scope": "selected", "virtual_accounts": ["999999"]}, "Select a valid choice"),
        ({"va_scope": "selected", "virtual_accounts": ["abc"]}, "is not a valid value"),
        ({"va_scope": "selected"}, "Choose at least one local virtual account."),
        ({"va_scope": "nowhere"}, "Select a valid choice"),
        ({"license_scope": "selected"}, "Choose at least one license."),
        ({"license_scope": "selected", "licenses": ["424242"]}, "Select a valid choice"),
        ({"subscription_status": "maybe"}, "Select a valid choice"),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_criteria_re_show_the_form(acme, acme_user, browser, data, extra, message):
    client = browser(acme_user)
    for rest in ("", "export.csv", "export.xlsx"):
        response = client.get(url(acme, "subscriptions", rest), criteria(**extra))
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert message in response.content.decode()


@pytest.mark.parametrize(
    "params", [{"sort": "password"}, {"sort": "-"}, {"page": "abc"}, {"page": "99999"}, {"page": "-3"}]
)
def test_bad_sort_or_page_falls_back(acme, acme_user, browser, data, params):
    for kind in ("licenses", "subscriptions", "product_instances"):
        response = browser(acme_user).get(url(acme, kind), criteria(**params))
        assert response.status_code == 200


# --- RBAC -----------------------------------------------------------------------------------------


@pytest.fixture
def sales_user(make_user, grant_role, data):
    user = make_user("vera", SystemRole.USER)
    grant_role(user, data["sales"], AccountRole.VA_USER)
    return user


def test_va_user_sees_only_their_virtual_account(acme, sales_user, browser, data):
    client = browser(sales_user)
    for kind, va_column in (("licenses", 0), ("subscriptions", 0), ("product_instances", 0)):
        rows = csv_rows(client.get(url(acme, kind, "export.csv"), criteria()))
        assert len(rows) > 1 and {r[va_column] for r in rows[1:]} == {"Sales"}
        assert xlsx_rows(client.get(url(acme, kind, "export.xlsx"), criteria())) == rows
        page = client.get(url(acme, kind), criteria())
        assert page.status_code == 200 and "<td>Default</td>" not in body(page)
    # The Default VA is not a choice for them: choosing it is an invalid choice, nothing leaks.
    response = client.get(
        url(acme, "licenses", "export.csv"), criteria(va_scope="selected", virtual_accounts=[data["default"].pk])
    )
    assert response.status_code == 400
    form = client.get(url(acme, "licenses")).content.decode()
    assert ">Sales</option>" in form and ">Default</option>" not in form


def test_other_account_is_404(acme, make_account, make_user, grant_role, browser, data):
    other = make_account("Globex")
    outsider = make_user("olga", SystemRole.USER)
    grant_role(outsider, other, AccountRole.ACCOUNT_ADMIN)
    client = browser(outsider)
    for rest in ("", "licenses/", "licenses/export.csv", "product_instances/export.xlsx"):
        assert client.get(url(acme) + rest, criteria()).status_code == 404
    # A virtual account of another local account is not a choice in one's own account either.
    response = client.get(
        url(other, "licenses", "export.csv"), criteria(va_scope="selected", virtual_accounts=[data["default"].pk])
    )
    assert response.status_code == 400


def test_anonymous_is_sent_to_login(acme, client, data):
    response = client.get(url(acme, "licenses"), criteria())
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- Query counts -----------------------------------------------------------------------------------

# session, user, account, the reader's grants, the chosen VAs, the report's own queries (Licenses:
# the compliance service's 2 and the billing types; the others: a page and its count), the account
# picker: the same for 8 or 130 devices.
PINNED_REPORT_QUERIES = {"licenses": 12, "subscriptions": 8, "product_instances": 9}


@pytest.mark.parametrize("kind", ["licenses", "subscriptions", "product_instances"])
def test_in_page_report_queries_are_pinned(acme, acme_user, browser, data, kind, django_assert_max_num_queries):
    client = browser(acme_user)
    client.get(url(acme, kind), criteria())  # warm the session

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(acme, kind), criteria()).status_code == 200
        return len(queries)

    few = count()
    devices(data["sales"], 120, [(data["premier"], 1), (data["essentials"], 1)], prefix="MANY")
    for i in range(40):
        line(data["sales"], data["premier"], 1, "term", start_date=TODAY, end_date=TODAY + datetime.timedelta(days=i))
    with django_assert_max_num_queries(PINNED_REPORT_QUERIES[kind]):
        assert client.get(url(acme, kind), criteria()).status_code == 200
    assert count() == few


def test_xlsx_memory_does_not_grow_with_rows(acme, acme_user, browser, data, monkeypatch):
    """The write-only workbook and the chunked query keep the export's memory flat: ten times the
    rows, about the same peak (a workbook built in memory would grow with every row). The chunk is
    made small so both exports hold whole chunks; what is held is then a chunk, not the report."""
    import tracemalloc

    monkeypatch.setattr(report_service, "EXPORT_CHUNK_SIZE", 100)
    client = browser(acme_user)
    client.get(url(acme))

    def peak():
        tracemalloc.start()
        try:
            response = client.get(url(acme, "product_instances", "export.xlsx"), criteria())
            size = sum(len(chunk) for chunk in response.streaming_content)
            return tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    devices(data["sales"], 200, [(data["premier"], 1)], prefix="SMALL")
    small, small_size = peak()
    devices(data["sales"], 2000, [(data["premier"], 1)], prefix="LARGE")
    large, large_size = peak()
    assert large_size > 5 * small_size  # the file did grow ...
    assert large < small * 2  # ... the memory did not
