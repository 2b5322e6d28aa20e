"""Smart Licensing > Alerts: what each role sees, the filters, Dismiss / Remind Later through the
service (and its refusals), 404 for alerts one may not see, CSRF, and a pinned query count."""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from licensing.models import Alert

pytestmark = pytest.mark.django_db

T = Alert.Type


@pytest.fixture
def make_alert():
    """make_alert(va, T.PI_FAILED_TO_RENEW, "msg") -> an open Alert row of va's account."""
    made = {"n": 0}

    def _make(va, alert_type, message, *, severity=None, account=None, stage=0, action_due=None, **fields):
        made["n"] += 1
        now = timezone.now()
        if severity is None:
            severity = (
                Alert.Severity.MAJOR
                if alert_type in (T.INSUFFICIENT_LICENSES, T.PI_FAILED_TO_RENEW)
                else Alert.Severity.MINOR
            )
        return Alert.objects.create(
            account=account or va.account,
            virtual_account=va,
            alert_type=alert_type,
            severity=severity,
            key=f"test:{made['n']}",
            stage=stage,
            message=message,
            action_due=action_due,
            opened_at=now,
            updated_at=now,
            **fields,
        )

    return _make


@pytest.fixture
def world(acme, new_va, make_alert, make_user, grant_role, make_account):
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    due = timezone.now() + datetime.timedelta(days=20)
    alerts = {
        "shortage": make_alert(default, T.INSUFFICIENT_LICENSES, "Default is short of DNA Advantage"),
        "renew": make_alert(sales, T.PI_FAILED_TO_RENEW, "Switch SN-RENEW failed to renew"),
        "expiring": make_alert(sales, T.LICENSES_EXPIRING, "Sales licenses expire soon", stage=30, action_due=due),
        "connect": make_alert(
            default,
            T.PI_FAILED_TO_CONNECT,
            "Switch SN-CONN failed to connect",
            stage=30,
            action_due=due + datetime.timedelta(days=40),
        ),
    }
    globex = make_account("Globex")
    alerts["foreign"] = make_alert(
        globex.virtual_accounts.get(is_default=True), T.PI_FAILED_TO_RENEW, "Globex switch failed to renew"
    )
    sales_user = make_user("carol", SystemRole.USER)
    grant_role(sales_user, sales, AccountRole.VA_USER)
    return {"acme": acme, "default": default, "sales": sales, "alerts": alerts, "sales_user": sales_user}


def url(account, suffix=""):
    return f"/accounts/{account.pk}/alerts/{suffix}"


def rows(response):
    html = response.content.decode()
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_account_admin_sees_every_open_alert_of_the_account(world, acme_admin, browser):
    response = browser(acme_admin).get(url(world["acme"]))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("shortage", "renew", "expiring", "connect"):
        assert world["alerts"][name].message in html
    assert "Globex switch" not in html
    assert len(rows(response)) == 4
    # Default order: Severity (Major first), then Action Due.
    first, *_, last = rows(response)
    assert "Major" in first and "Minor" in last
    assert '<span class="badge bad">Major</span>' in html and '<span class="badge warn">Minor</span>' in html


def test_va_user_sees_only_the_alerts_of_their_virtual_account(world, browser):
    response = browser(world["sales_user"]).get(url(world["acme"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert world["alerts"]["renew"].message in html and world["alerts"]["expiring"].message in html
    assert world["alerts"]["shortage"].message not in html and world["alerts"]["connect"].message not in html
    # The VA filter offers only their VA.
    options = re.findall(r'<option value="(\d+)"', re.search(r'<select name="va".*?</select>', html, re.S).group(0))
    assert options == [str(world["sales"].pk)]


def test_user_without_a_role_gets_404(world, make_user, browser):
    assert browser(make_user("mallory")).get(url(world["acme"])).status_code == 404


def test_filters_by_severity_virtual_account_and_search(world, acme_admin, browser):
    client = browser(acme_admin)
    html = client.get(url(world["acme"]), {"severity": "minor"}).content.decode()
    assert "Sales licenses expire soon" in html and "SN-CONN" in html and "SN-RENEW" not in html
    html = client.get(url(world["acme"]), {"va": world["sales"].pk}).content.decode()
    assert "SN-RENEW" in html and "Sales licenses" in html and "DNA Advantage" not in html
    html = client.get(url(world["acme"]), {"q": "dna adv"}).content.decode()
    assert "DNA Advantage" in html and "SN-RENEW" not in html
    response = client.get(url(world["acme"]), {"sort": "-created"})
    assert "SN-CONN" in rows(response)[0]  # made last


def test_buttons_only_where_the_service_allows_them(world, acme_admin, browser):
    response = browser(acme_admin).get(url(world["acme"]))
    by_message = {
        name: next(r for r in rows(response) if a.message in r)
        for name, a in world["alerts"].items()
        if name != "foreign"
    }
    assert "Dismiss" in by_message["renew"] and "Remind Later" not in by_message["renew"]
    assert "Remind Later" in by_message["expiring"] and "Dismiss" not in by_message["expiring"]
    assert "Remind Later" in by_message["connect"]
    assert "<button" not in by_message["shortage"]


def test_dismiss_hides_the_alert_and_show_dismissed_lists_it(world, acme_admin, browser):
    client = browser(acme_admin)
    alert = world["alerts"]["renew"]
    response = client.post(url(world["acme"], f"{alert.pk}/dismiss/"), {"query": "severity=major"}, follow=True)
    assert response.redirect_chain[-1][0] == url(world["acme"]) + "?severity=major"
    assert "The alert was dismissed." in messages_of(response)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.DISMISSED and alert.dismissed_by == acme_admin
    assert alert.message not in client.get(url(world["acme"])).content.decode()
    shown = client.get(url(world["acme"]), {"show_dismissed": "on"})
    row = next(r for r in rows(shown) if alert.message in r)
    assert "Dismissed" in row and "<button" not in row


def test_a_shortage_alert_cannot_be_dismissed(world, acme_admin, browser):
    alert = world["alerts"]["shortage"]
    response = browser(acme_admin).post(url(world["acme"], f"{alert.pk}/dismiss/"), follow=True)
    assert any("cannot be dismissed" in m for m in messages_of(response))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN and alert.dismissed_at is None


def test_remind_later_hides_until_the_next_warning_period(world, browser, acme_admin):
    client = browser(world["sales_user"])
    alert = world["alerts"]["expiring"]
    response = client.post(url(world["acme"], f"{alert.pk}/remind-later/"), follow=True)
    assert any(m.startswith("The alert is hidden until") for m in messages_of(response))
    alert.refresh_from_db()
    assert alert.remind_until == alert.action_due - datetime.timedelta(days=14)
    assert alert.status == Alert.Status.OPEN
    assert alert.message not in client.get(url(world["acme"])).content.decode()
    row = next(r for r in rows(client.get(url(world["acme"]), {"show_dismissed": "1"})) if alert.message in r)
    assert "Hidden until" in row


def test_remind_later_is_refused_where_the_guide_has_none(world, acme_admin, browser):
    alert = world["alerts"]["renew"]
    response = browser(acme_admin).post(url(world["acme"], f"{alert.pk}/remind-later/"), follow=True)
    assert any("has no Remind Later" in m for m in messages_of(response))
    alert.refresh_from_db()
    assert alert.remind_until is None


def test_alerts_one_may_not_see_are_not_found(world, acme_admin, browser):
    admin, va_user = browser(acme_admin), browser(world["sales_user"])
    foreign, hidden = world["alerts"]["foreign"], world["alerts"]["connect"]
    assert admin.post(url(world["acme"], f"{foreign.pk}/dismiss/")).status_code == 404
    assert va_user.post(url(world["acme"], f"{hidden.pk}/remind-later/")).status_code == 404
    assert admin.post(url(world["acme"], "999999/dismiss/")).status_code == 404
    hidden.refresh_from_db(), foreign.refresh_from_db()
    assert hidden.remind_until is None and foreign.status == Alert.Status.OPEN


def test_actions_are_post_only_and_need_csrf(world, acme_admin):
    alert = world["alerts"]["renew"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme_admin)
    assert client.get(url(world["acme"], f"{alert.pk}/dismiss/")).status_code == 405
    assert client.post(url(world["acme"], f"{alert.pk}/dismiss/")).status_code == 403
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


# session, user, account, grants, picker, VA filter choices, the VAs for the Actions menus,
# Major / Minor counts, count, rows
PINNED = 10


def test_query_count_does_not_grow_with_rows(world, acme_admin, browser, make_alert, new_va):
    client = browser(acme_admin)
    target = url(world["acme"])
    client.get(target)  # the first request of a session also stores its activity time

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target)
        assert response.status_code == 200
        return len(captured), response

    def add(n):
        for i in range(n):
            va = new_va(f"Extra {Alert.objects.count():04d}")
            make_alert(
                va,
                T.PI_FAILED_TO_RENEW if i % 2 else T.LICENSES_EXPIRING,
                f"extra alert {i}",
                stage=30,
                action_due=timezone.now() + datetime.timedelta(days=20),
            )

    add(1)  # 5 alerts
    few, _ = count()
    add(95)  # 100 alerts
    many, response = count()
    print(f"alerts tab queries: {few} with 5 alerts, {many} with 100")
    assert few == many <= PINNED, (few, many)
    assert len(rows(response)) == 50  # a full page was rendered
