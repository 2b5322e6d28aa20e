"""A cursor page of the device lists enters the list-order index at its cursor: no sort, no scan
from the start (licensing 0006_bench_indexes, ``cursors.RowAfter``).

As tests/bench/test_list_indexes.py does for offset pages: the SQL the real view runs is taken
and the database asked for its plan. On PostgreSQL sorting and sequential scans are switched
off for the EXPLAIN, so the plan shows whether the index *can* give the order and the start —
with few rows the planner would rightly prefer to sort.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import ProductInstance
from tests.query_plans import plan_of

pytestmark = pytest.mark.django_db
INDEX = "pi_account_list_order"


@pytest.fixture
def many(vas):
    now = timezone.now()
    ProductInstance.objects.bulk_create(
        ProductInstance(
            account_id=vas["Physics"].account_id,
            virtual_account=vas["Physics" if i % 3 else "Zoology"],
            udi_pid="C9300-24T",
            udi_serial_number=f"FOC{i:08d}",
            hostname=f"sw-{(i * 37) % 90:03d}",
            registered_at=now - datetime.timedelta(minutes=i),
        )
        for i in range(90)
    )


def the_page_query(captured):
    found = [
        q["sql"]
        for q in captured
        if 'FROM "licensing_productinstance"' in q["sql"] and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert len(found) == 1, [q["sql"] for q in captured if "licensing_productinstance" in q["sql"]]
    return found[0]


def assert_starts_at_the_cursor(plan):
    """The index gives the order (no sort step) and the cursor is where the index is entered."""
    assert INDEX in plan, plan
    if connection.vendor == "postgresql":
        assert "Sort" not in plan, plan
        index_cond = [line for line in plan.splitlines() if "Index Cond" in line]
        assert index_cond and "ROW(" in index_cond[0], plan
    else:
        assert "TEMP B-TREE" not in plan, plan
        assert "(hostname,udi_pid,udi_serial_number" in plan, plan  # the row value is the search range


def _page(fetch, cursor):
    with CaptureQueriesContext(connection) as captured:
        status, body = fetch(cursor)
    assert status == 200, body
    return body, captured.captured_queries


@pytest.mark.parametrize("endpoint", ["device_usage", "device_search"])
def test_a_cursor_page_walks_the_index_from_the_cursor(admin_api, many, endpoint):
    from urllib.parse import quote

    fetch = {
        "device_usage": lambda cursor: admin_api.post("/accounts/Acme/devices", {"cursor": cursor, "limit": 20}),
        "device_search": lambda cursor: admin_api.get(
            f"/accounts/Acme/virtual-accounts/Physics/devices?limit=20&cursor={quote(cursor)}"
        ),
    }[endpoint]
    first, _ = _page(fetch, "")
    second, queries = _page(fetch, first["next_cursor"])
    assert len(second["devices"]) == 20
    sql = the_page_query(queries)
    assert "LIMIT 21" in sql  # the page and the one row that tells whether another follows
    assert_starts_at_the_cursor(plan_of(sql))
