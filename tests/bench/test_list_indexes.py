"""The product-instance lists walk an index in their own order (licensing 0006_bench_indexes).

Without them a page of the API device list or of the workspace Product Instances page, deep
pages included, sorts every product instance of the account or virtual account first
(docs/performance.md). The test takes the SQL the real code runs and asks the database for its
plan: no sort step, the index in use. On PostgreSQL sorting and sequential scans are switched off
for the EXPLAIN, so the plan shows whether an index *can* give the order — with few rows the
planner would rightly prefer to sort.
"""

import datetime

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.api_clients import ApiGrant
from accounts.roles import AccountRole
from accounts.services import api_grants
from licensing.models import ProductInstance, VirtualAccount
from licensing.views.inventory.product_instances_tab import product_instance_table
from tests.query_plans import plan_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(make_account):
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Acme")
    create_virtual_account(actor=None, account=account, name="Physics")
    vas = list(VirtualAccount.objects.filter(account=account))
    now = timezone.now()
    ProductInstance.objects.bulk_create(
        ProductInstance(
            account=account,
            virtual_account=vas[i % 2],
            udi_pid="C9300-24T",
            udi_serial_number=f"FOC{i:08d}",
            hostname=f"sw-{(i * 37) % 90:03d}",
            registered_at=now - datetime.timedelta(minutes=i),
        )
        for i in range(90)
    )
    return account, vas


def assert_walks(plan, index):
    assert index in plan, plan
    if connection.vendor == "postgresql":
        assert "Sort" not in plan, plan
    else:
        assert "TEMP B-TREE" not in plan, plan


def the_list_query(captured):
    found = [
        q["sql"]
        for q in captured
        if 'FROM "licensing_productinstance"' in q["sql"] and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert len(found) == 1, [q["sql"] for q in captured if "licensing_productinstance" in q["sql"]]
    return found[0]


@pytest.mark.parametrize("page", ["1", "2"])
def test_workspace_product_instances_page_walks_the_index(estate, page):
    _account, vas = estate
    table = product_instance_table(RequestFactory().get("/", {"page": page}), vas[0])
    with CaptureQueriesContext(connection) as captured:
        rows = list(table.page.object_list)
    assert len(rows) == (25 if page == "1" else 20)  # 45 in that VA, 25 a page
    assert [pi.hostname for pi in rows] == sorted(pi.hostname for pi in rows)
    assert_walks(plan_of(the_list_query(captured.captured_queries)), "pi_va_list_order")


@pytest.mark.parametrize("offset", [0, 60])
def test_api_device_list_walks_the_index(estate, client, offset):
    account, _vas = estate
    api_grants.set_api_console(actor=None, enabled=True)
    grant, secret = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, name="bench")
    api_grants.add_access(actor=None, grant=grant, account=account, role=AccountRole.ACCOUNT_ADMIN)
    token = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret},
        content_type="application/json",
    ).json()
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/api/v1/accounts/Acme/devices",
            {"limit": 20, "offset": offset},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token['access_token']}",
        )
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, body[:500]
    assert_walks(plan_of(the_list_query(captured.captured_queries)), "pi_account_list_order")
