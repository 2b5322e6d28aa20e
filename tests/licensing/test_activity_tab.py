"""Smart Licensing > Activity: the Event Log sub-tab (License Transactions: test_activity_transactions.py) —
what each role sees, the filters (and bad filter values), CSV exports, 404 for other accounts, a pinned query count."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from core.events import record
from core.models import Event

pytestmark = pytest.mark.django_db


def transfer(actor, source, dest, tag="DNA Advantage", count=5):
    return record(
        "license.transferred",
        actor=actor,
        virtual_account=source,
        count=count,
        tag=tag,
        type="Term",
        old_pool_name=source.name,
        new_pool_name=dest.name,
    )


@pytest.fixture
def world(acme, new_va, make_user, grant_role, make_account, acme_admin):
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    globex = make_account("Globex")
    globex_default = globex.virtual_accounts.get(is_default=True)
    events = {
        "moved": transfer(acme_admin, default, sales, tag="Moved From Default"),
        "expired": record(
            "license.expired",
            virtual_account=sales,
            count=3,
            tag="Sales Expired Tag",
            type="Term",
            pool_name=sales.name,
            end_date="2026-01-01",
        ),
        "token": record(
            "token.created", actor=acme_admin, virtual_account=sales, token_string="TOKSALES", pool_name=sales.name
        ),
        "account": record("account.activated", account=acme, account_name="Acme Marker"),
        "foreign": transfer(None, globex_default, globex_default, tag="Globex Secret"),
    }
    sales_user = make_user("carol", SystemRole.USER)
    grant_role(sales_user, sales, AccountRole.VA_USER)
    return {
        "acme": acme,
        "default": default,
        "sales": sales,
        "events": events,
        "sales_user": sales_user,
        "globex": globex,
    }


def url(account, suffix=""):
    return f"/accounts/{account.pk}/activity/{suffix}"


def rows(response):
    html = response.content.decode()
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [r for r in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "No events match." not in r]


def csv_of(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_tab_is_in_the_bar_after_inventory(world, acme_admin, browser):
    html = browser(acme_admin).get(url(world["acme"])).content.decode()
    inventory = html.index(f'href="/accounts/{world["acme"].pk}/inventory/"')
    assert inventory < html.index(f'href="/accounts/{world["acme"].pk}/activity/"')
    assert "License Transactions" in html and f'href="{url(world["acme"], "event-log/")}"' in html


def test_event_log_shows_every_visible_event_of_the_account(world, acme_admin, browser):
    response = browser(acme_admin).get(url(world["acme"], "event-log/"))
    html = "".join(rows(response))
    for name in ("moved", "expired", "token", "account"):
        assert world["events"][name].message in html
    assert "Globex Secret" not in html
    assert len(rows(response)) == Event.objects.filter(account=world["acme"]).count()


def test_va_user_sees_only_their_virtual_accounts_events(world, browser):
    client = browser(world["sales_user"])
    html = "".join(rows(client.get(url(world["acme"], "event-log/"))))
    assert "TOKSALES" in html and "Sales Expired Tag" in html
    assert "Moved From Default" not in html and "Acme Marker" not in html
    response = client.get(url(world["acme"], "event-log/"))
    options = re.findall(
        r'<option value="(\d+)"', re.search(r'<select name="va".*?</select>', response.content.decode(), re.S).group(0)
    )
    assert options == [str(world["sales"].pk)]
    # Choosing a virtual account one may not see is an invalid filter, not a way in.
    response = client.get(url(world["acme"], "event-log/"), {"va": world["default"].pk})
    assert response.status_code == 200 and response.context["form"].errors.get("va")
    assert "Moved From Default" not in response.content.decode()
    exported = csv_of(client.get(url(world["acme"], "event-log/export.csv")))
    assert not any("Moved From Default" in cell for row in exported for cell in row)


def test_filters_narrow_the_event_log(world, acme_admin, browser):
    client = browser(acme_admin)
    log = url(world["acme"], "event-log/")
    html = "".join(rows(client.get(log, {"va": world["default"].pk})))
    assert "Moved From Default" in html and "TOKSALES" not in html
    html = "".join(rows(client.get(log, {"event_type": "token.created"})))
    assert "TOKSALES" in html and "Moved From Default" not in html
    response = client.get(log, {"user": "ALICE"})
    assert all("alice" in r for r in rows(response)) and "TOKSALES" in "".join(rows(response))
    assert "Sales Expired Tag" not in "".join(rows(response))
    html = "".join(rows(client.get(log, {"q": "expired tag"})))
    assert "Sales Expired Tag" in html and "TOKSALES" not in html
    # Date range: move one event a week back.
    Event.objects.filter(pk=world["events"]["token"].pk).update(created_at=timezone.now() - datetime.timedelta(days=7))
    today = timezone.localdate()
    html = "".join(rows(client.get(log, {"date_from": today.isoformat()})))
    assert "TOKSALES" not in html and "Moved From Default" in html
    html = "".join(rows(client.get(log, {"date_to": (today - datetime.timedelta(days=3)).isoformat()})))
    assert "TOKSALES" in html and "Moved From Default" not in html


@pytest.mark.parametrize(
    "params, field",
    [
        ({"va": "999999"}, "va"),
        ({"va": "not-a-number"}, "va"),
        ({"event_type": "no.such.type"}, "event_type"),
        ({"date_from": "2026-13-45"}, "date_from"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
    ],
)
@pytest.mark.parametrize("suffix", ["event-log/"])
def test_bad_filter_values_are_shown_and_ignored(world, acme_admin, browser, params, field, suffix):
    client = browser(acme_admin)
    response = client.get(url(world["acme"], suffix), params)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    from django.utils.html import escape

    html = response.content.decode()
    assert all(escape(message) in html for message in response.context["form"].errors[field])
    unfiltered = client.get(url(world["acme"], suffix))
    assert len(rows(response)) == len(rows(unfiltered)) > 0
    assert client.get(url(world["acme"], suffix + "export.csv"), params).status_code == 200
    assert client.get(url(world["acme"], suffix), {"page": "banana", "sort": "nope"}).status_code == 200


def test_csv_exports_follow_the_filters(world, acme_admin, browser):
    client = browser(acme_admin)
    header, *lines = csv_of(client.get(url(world["acme"], "event-log/export.csv"), {"va": world["sales"].pk}))
    assert header == ["Date", "Virtual Account", "Event Type", "Severity", "Message", "User"]
    assert {line[2] for line in lines} >= {"license.expired", "token.created"}
    assert all(line[1] == "Sales" for line in lines)
    assert not any("Globex" in cell for line in lines for cell in line)


def test_csv_neutralises_formula_text(world, acme_admin, browser):
    record(
        "license.transferred",
        actor=acme_admin,
        virtual_account=world["default"],
        count=1,
        tag="x",
        type="Term",
        old_pool_name="=HYPERLINK(1)",
        new_pool_name="Sales",
    )
    Event.objects.filter(event_type="license.transferred", message__contains="HYPERLINK").update(
        message='=HYPERLINK("http://evil")'
    )
    lines = csv_of(browser(acme_admin).get(url(world["acme"], "event-log/export.csv")))
    assert any(line[4] == '\'=HYPERLINK("http://evil")' for line in lines)


def test_another_account_is_not_found(world, acme_admin, make_user, browser):
    client, outsider = browser(acme_admin), browser(make_user("mallory"))
    for suffix in ("", "event-log/", "export.csv", "event-log/export.csv"):
        assert client.get(url(world["globex"], suffix)).status_code == 404
        assert outsider.get(url(world["acme"], suffix)).status_code == 404


PINNED = 8  # session, user, account, grants, picker, VA filter choices, count, rows


@pytest.mark.parametrize("suffix", ["event-log/"])
def test_query_count_does_not_grow_with_rows(world, acme_admin, browser, new_va, suffix):
    client = browser(acme_admin)
    target = url(world["acme"], suffix)
    client.get(target)  # the first request of a session also stores its activity time
    Event.objects.filter(account=world["acme"]).delete()

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target)
        assert response.status_code == 200
        return len(captured), response

    def add(n):
        for i in range(n):
            va = new_va(f"Extra {Event.objects.count():04d}")
            transfer(acme_admin if i % 2 else None, va, world["sales"], tag=f"extra {i}")
        # Creating a virtual account logs va.created; keep only the transactions.
        Event.objects.filter(account=world["acme"]).exclude(event_type="license.transferred").delete()

    add(5)
    few, _ = count()
    add(145)
    many, response = count()
    print(f"activity {suffix or 'transactions'} queries: {few} with 5 events, {many} with 150")
    assert Event.objects.filter(account=world["acme"]).count() == 150
    assert few == many <= PINNED, (few, many)
    assert len(rows(response)) == 50  # a full page was rendered
