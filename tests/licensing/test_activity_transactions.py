"""Activity > License Transactions: the license lines in the guide's columns, what each role sees,
filters, search, sort, CSV, bad filter values, other accounts, a pinned query count."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole, SystemRole
from licensing.models import Entitlement

pytestmark = pytest.mark.django_db

HEADER = [
    "Transaction Date",
    "License SKU",
    "License",
    "Quantity",
    "License Expiration",
    "License Type",
    "Virtual Account",
    "Source",
]


@pytest.fixture
def world(acme, new_va, license_def, add_line, make_user, grant_role, make_account, acme_admin):
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    dna, asr = license_def("DNA Advantage"), license_def("ASR 1K Essentials")
    add_line(default, dna, 10, sku="C9300-DNA-A-3Y", source="pak")
    add_line(
        sales,
        asr,
        4,
        "term",
        start=datetime.date(2026, 1, 1),
        end=datetime.date(2027, 1, 1),
        sku="ASR1K-ESS",
        source="ea",
    )
    globex = make_account("Globex")
    add_line(globex.virtual_accounts.get(), license_def("Globex Secret"), 1)
    carol = make_user("carol", SystemRole.USER)
    grant_role(carol, sales, AccountRole.VA_USER)
    return {"acme": acme, "default": default, "sales": sales, "carol": carol, "globex": globex}


def url(account, suffix=""):
    return f"/accounts/{account.pk}/activity/{suffix}"


def rows(response):
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)
    return [r for r in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "No license transactions match." not in r]


def cells(row):
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def csv_of(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_guides_columns(world, acme_admin, browser):
    response = browser(acme_admin).get(url(world["acme"]), {"sort": "license"})
    html = response.content.decode()
    for title in HEADER[:-2] + ["Local Virtual Account", "Source"]:
        assert f"{title} " in html
    got = [cells(r)[1:] for r in rows(response)]
    assert got == [
        ["ASR1K-ESS", "ASR 1K Essentials", "4", "2027-01-01", "Term", "Sales", "Enterprise Agreement"],
        ["C9300-DNA-A-3Y", "DNA Advantage", "10", "Never", "Perpetual", "Default", "PAK"],
    ]
    assert "Globex Secret" not in html


def test_a_va_user_sees_only_their_virtual_accounts_lines(world, browser):
    client = browser(world["carol"])
    response = client.get(url(world["acme"]))
    assert [cells(r)[2] for r in rows(response)] == ["ASR 1K Essentials"]
    # Choosing a virtual account one may not see is an invalid filter, not a way in.
    response = client.get(url(world["acme"]), {"va": world["default"].pk})
    assert response.context["form"].errors.get("va") and "DNA Advantage" not in response.content.decode()
    lines = csv_of(client.get(url(world["acme"], "export.csv")))
    assert [line[2] for line in lines[1:]] == ["ASR 1K Essentials"]


def test_filters_search_and_sort(world, acme_admin, browser):
    client = browser(acme_admin)
    names = lambda params: [cells(r)[2] for r in rows(client.get(url(world["acme"]), params))]  # noqa: E731
    assert names({"va": world["sales"].pk}) == ["ASR 1K Essentials"]
    assert names({"license_type": "perpetual"}) == ["DNA Advantage"]
    assert names({"source": "ea"}) == ["ASR 1K Essentials"]
    assert names({"q": "c9300"}) == ["DNA Advantage"]  # by SKU
    assert names({"q": "sales"}) == ["ASR 1K Essentials"]  # by virtual account
    assert names({"sort": "quantity"}) == ["ASR 1K Essentials", "DNA Advantage"]
    assert names({"sort": "-quantity"}) == ["DNA Advantage", "ASR 1K Essentials"]
    Entitlement.objects.filter(sku="ASR1K-ESS").update(created_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC))
    assert names({"date_to": "2026-02-01"}) == ["ASR 1K Essentials"]
    assert names({"date_from": "2026-02-01"}) == ["DNA Advantage"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"va": "999999"}, "va"),
        ({"license_type": "lifetime"}, "license_type"),
        ({"source": "nowhere"}, "source"),
        ({"date_from": "2026-13-45"}, "date_from"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
    ],
)
def test_bad_filter_values_are_shown_and_ignored(world, acme_admin, browser, params, field):
    client = browser(acme_admin)
    response = client.get(url(world["acme"]), params)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert len(rows(response)) == 2
    assert client.get(url(world["acme"], "export.csv"), params).status_code == 200
    assert client.get(url(world["acme"]), {"page": "banana", "sort": "nope"}).status_code == 200


def test_csv_has_the_guides_columns_and_follows_filters_and_sort(world, acme_admin, browser, add_line, license_def):
    add_line(world["default"], license_def("Formula"), 1, sku="=HYPERLINK(1)")
    client = browser(acme_admin)
    header, *lines = csv_of(client.get(url(world["acme"], "export.csv"), {"sort": "license"}))
    assert header == HEADER
    assert [line[1:] for line in lines] == [
        ["ASR1K-ESS", "ASR 1K Essentials", "4", "2027-01-01", "Term", "Sales", "Enterprise Agreement"],
        ["C9300-DNA-A-3Y", "DNA Advantage", "10", "", "Perpetual", "Default", "PAK"],
        ["'=HYPERLINK(1)", "Formula", "1", "", "Perpetual", "Default", "Other"],
    ]
    _, *lines = csv_of(client.get(url(world["acme"], "export.csv"), {"source": "pak"}))
    assert [line[2] for line in lines] == ["DNA Advantage"]


def test_another_account_is_not_found(world, acme_admin, make_user, browser):
    client, outsider = browser(acme_admin), browser(make_user("mallory"))
    for suffix in ("", "export.csv"):
        assert client.get(url(world["globex"], suffix)).status_code == 404
        assert outsider.get(url(world["acme"], suffix)).status_code == 404


PINNED = 8  # session, user, account, grants, picker, VA filter choices, count, rows


def test_query_count_does_not_grow_with_rows(world, acme_admin, browser, add_line, license_def, new_va):
    client = browser(acme_admin)
    client.get(url(world["acme"]))  # the first request of a session also stores its activity time

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url(world["acme"]))
        assert response.status_code == 200
        return len(captured), response

    few, _ = count()
    for i in range(30):
        va = new_va(f"Extra {i}")
        for j in range(3):
            add_line(va, license_def(f"L{i}-{j}"), j + 1)
    many, response = count()
    assert few == many == PINNED, (few, many)
    assert len(rows(response)) == 50  # a full page
