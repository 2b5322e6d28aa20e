"""Inventory > Event Log: the events of one local virtual account, with the Activity filters
(event types by name), CSV, RBAC (404 for an invisible virtual account) and a pinned query count."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole, SystemRole
from core.events import record
from core.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme, new_va, make_user, grant_role, acme_admin):
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    record("token.created", actor=acme_admin, virtual_account=sales, token_string="TOKSALES", pool_name="Sales")
    record("token.created", actor=acme_admin, virtual_account=default, token_string="TOKDEF", pool_name="Default")
    record(
        "license.expired",
        virtual_account=sales,
        count=3,
        tag="Sales Expired Tag",
        type="Term",
        pool_name="Sales",
        end_date="2026-01-01",
    )
    record("account.activated", account=acme, account_name="Acme Marker")
    carol = make_user("carol", SystemRole.USER)
    grant_role(carol, sales, AccountRole.VA_USER)
    return {"acme": acme, "default": default, "sales": sales, "carol": carol}


def url(account, suffix=""):
    return f"/accounts/{account.pk}/inventory/event-log/{suffix}"


def body(response):
    return re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)


def test_the_tab_shows_only_the_virtual_accounts_events(world, acme_admin, browser):
    client = browser(acme_admin)
    inventory = client.get(f"/accounts/{world['acme'].pk}/inventory/", {"va": world["sales"].pk}).content.decode()
    assert f'href="{url(world["acme"])}?va={world["sales"].pk}"' in inventory and "Event Log" in inventory
    html = body(client.get(url(world["acme"]), {"va": world["sales"].pk}))
    assert "TOKSALES" in html and "Sales Expired Tag" in html
    assert "TOKDEF" not in html and "Acme Marker" not in html
    # The Event Type column and filter read as words, not codes or message templates.
    page = client.get(url(world["acme"]), {"va": world["sales"].pk}).content.decode()
    assert "Registration token created" in html and "token.created" not in html
    select = re.search(r'<select name="event_type".*?</select>', page, re.S).group(0)
    assert ">Registration token created<" in select and "…" not in select and "{" not in select


def test_filters_and_csv(world, acme_admin, browser):
    client = browser(acme_admin)
    sales = world["sales"].pk
    html = body(client.get(url(world["acme"]), {"va": sales, "event_type": "token.created"}))
    assert "TOKSALES" in html and "Sales Expired Tag" not in html
    html = body(client.get(url(world["acme"]), {"va": sales, "q": "expired tag"}))
    assert "Sales Expired Tag" in html and "TOKSALES" not in html
    assert "Sales Expired Tag" not in body(client.get(url(world["acme"]), {"va": sales, "user": "alice"}))
    response = client.get(url(world["acme"]), {"va": sales, "date_from": "2026-13-45"})
    assert response.status_code == 200 and "date_from" in response.context["form"].errors
    response = client.get(url(world["acme"], "export.csv"), {"va": sales, "event_type": "token.created"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header, *lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert header == ["Date", "Virtual Account", "Event Type", "Severity", "Message", "User"]
    assert [(line[1], line[2]) for line in lines] == [("Sales", "token.created")]


def test_a_va_user_reads_their_virtual_account_only(world, browser):
    client = browser(world["carol"])
    assert "TOKSALES" in body(client.get(url(world["acme"]), {"va": world["sales"].pk}))
    assert client.get(url(world["acme"]), {"va": world["default"].pk}).status_code == 404
    assert client.get(url(world["acme"], "export.csv"), {"va": world["default"].pk}).status_code == 404
    assert client.get(url(world["acme"]), {"va": "x"}).status_code == 404


PINNED = 8  # session, user, account, grants, picker, visible VAs (chooser), count, rows


def test_query_count_does_not_grow_with_events(world, acme_admin, browser):
    client = browser(acme_admin)
    target = url(world["acme"])
    client.get(target, {"va": world["sales"].pk})

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(target, {"va": world["sales"].pk}).status_code == 200
        return len(captured)

    few = count()
    for i in range(120):
        record("token.created", actor=acme_admin, virtual_account=world["sales"], token_string=f"T{i}", pool_name="S")
    many = count()
    assert Event.objects.filter(virtual_account=world["sales"]).count() > 100
    assert few == many == PINNED, (few, many)
