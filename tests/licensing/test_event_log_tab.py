"""Manage Account > Event Log: this account's events, newest first, filtered by date range,
event type, user and text, as far as the reader's roles reach."""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.roles import AccountRole
from core import events
from core.models import Event

pytestmark = pytest.mark.django_db


def log(client, account, query=""):
    return client.get(f"/accounts/{account.pk}/manage/event-log/{query}")


def rows(response):
    """The message column of the table, top to bottom."""
    body = response.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    return [
        re.sub(r"\s+", " ", cell).strip()
        for cell in re.findall(r"<tr>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>(.*?)</td>", body, re.S)
    ]


def at(event, when):
    Event.objects.filter(pk=event.pk).update(created_at=when)


@pytest.fixture
def history(acme, make_account, new_va, make_user):
    """Events on Acme on three days by two users, and one on another account."""
    sales = new_va("Sales")
    carol, dave = make_user("carol"), make_user("dave")
    Event.objects.all().delete()
    day = lambda n: timezone.make_aware(datetime.datetime(2024, 3, n, 12, 0))  # noqa: E731
    made = [
        (events.record("va.created", actor=carol, virtual_account=sales, pool_name="Sales"), day(1)),
        (
            events.record("user.role_added", actor=dave, account=acme, user_name="erin", role_name="Account User"),
            day(2),
        ),
        (
            events.record(
                "va.renamed", actor=carol, virtual_account=sales, old_pool_name="Sales", new_pool_name="Sales EMEA"
            ),
            day(3),
        ),
    ]
    for event, when in made:
        at(event, when)
    globex = make_account("Globex")
    events.record("account.created", account=globex, account_name="Globex")
    return {"sales": sales}


def test_newest_first_and_only_this_account(acme, acme_admin, history, browser):
    response = log(browser(acme_admin), acme)
    assert rows(response) == [
        "The Virtual Account “Sales” was renamed to “Sales EMEA”",
        "The user “erin” was assigned the role “Account User”.",
        "The Virtual Account “Sales” was created",
    ]
    assert "Globex" not in response.content.decode().split("<tbody>")[1]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?event_type=va.created", ["The Virtual Account “Sales” was created"]),
        ("?user=dave", ["The user “erin” was assigned the role “Account User”."]),
        (
            "?user=CAROL",
            ["The Virtual Account “Sales” was renamed to “Sales EMEA”", "The Virtual Account “Sales” was created"],
        ),
        (
            "?date_from=2024-03-02",
            [
                "The Virtual Account “Sales” was renamed to “Sales EMEA”",
                "The user “erin” was assigned the role “Account User”.",
            ],
        ),
        ("?date_to=2024-03-01", ["The Virtual Account “Sales” was created"]),
        ("?date_from=2024-03-02&date_to=2024-03-02", ["The user “erin” was assigned the role “Account User”."]),
        ("?q=EMEA", ["The Virtual Account “Sales” was renamed to “Sales EMEA”"]),
        ("?q=Sales&user=carol&event_type=va.created", ["The Virtual Account “Sales” was created"]),
        (
            "?sort=date",
            [
                "The Virtual Account “Sales” was created",
                "The user “erin” was assigned the role “Account User”.",
                "The Virtual Account “Sales” was renamed to “Sales EMEA”",
            ],
        ),
        ("?user=nobody", []),
    ],
)
def test_filters(acme, acme_admin, history, browser, query, expected):
    assert rows(log(browser(acme_admin), acme, query)) == expected


@pytest.mark.parametrize(
    "query, message, shown",
    [
        # The bad end of the range is left out; its valid start still applies.
        ("?date_from=2024-03-03&date_to=2024-03-01", "The end of the date range is before its start.", 1),
        ("?date_from=yesterday", "Enter a valid date.", 3),
        ("?event_type=made.up", "Select a valid choice.", 3),
    ],
)
def test_invalid_filters_are_reported_and_not_applied(acme, acme_admin, history, browser, query, message, shown):
    response = log(browser(acme_admin), acme, query)
    assert response.status_code == 200 and message in response.content.decode()
    assert len(rows(response)) == shown


def test_event_types_are_offered_in_words(acme, acme_admin, browser):
    html = log(browser(acme_admin), acme).content.decode()
    assert '<option value="va.created">Virtual account created</option>' in html
    assert "…" not in html and "{" not in html.split("<select")[1].split("</select>")[0]


def test_a_va_only_user_reads_only_their_virtual_accounts_events(acme, make_user, grant_role, history, browser):
    person = make_user("vau")
    grant_role(person, history["sales"], AccountRole.VA_USER)
    assert rows(log(browser(person), acme)) == [
        "The user “vau” was assigned the role “Virtual Account User (Sales)”.",
        "The Virtual Account “Sales” was renamed to “Sales EMEA”",
        "The Virtual Account “Sales” was created",
    ]


def test_paginated_newest_first(acme, acme_admin, browser):
    Event.objects.all().delete()
    for n in range(60):
        events.record("va.created", account=acme, pool_name=f"VA {n:02d}")
    client = browser(acme_admin)
    first = rows(log(client, acme))
    assert len(first) == 50 and first[0] == "The Virtual Account “VA 59” was created"
    second = rows(log(client, acme, "?page=2"))
    assert second[-1] == "The Virtual Account “VA 00” was created" and len(second) == 10
    assert "Page 1 of 2 (60 items)" in log(client, acme).content.decode()


def test_the_log_of_an_invisible_account_is_not_found(acme, make_account, make_user, browser):
    globex = make_account("Globex")
    assert log(browser(make_user("stranger")), globex).status_code == 404
