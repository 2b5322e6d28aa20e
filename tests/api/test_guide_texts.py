"""Texts and values as the guide's examples write them, for scripts that parse them.

Alert messages with straight quotes and ``Jul 15, 2017`` dates and the day count of the day
they are read (the one ``actionDue`` shows), ``""`` for an identifier a device never sent in
the usage list (null in the search), ``""`` dates on perpetual license details, and 403 texts
naming the account's domain where the guide writes ``{SA Domain Name}``.
"""

import datetime

import pytest
from django.utils import timezone

from licensing.api.views.formats import guide_text, message_date
from licensing.models import Alert
from licensing.services.alerts import recompute_alerts

pytestmark = pytest.mark.django_db


def test_guide_text_and_dates():
    assert message_date(datetime.date(2017, 7, 15)) == "Jul 15, 2017"
    assert message_date(datetime.date(2017, 5, 4)) == "May 4, 2017"
    assert guide_text("10 “CSR” demo licenses expire on 2017-07-15") == '10 "CSR" demo licenses expire on Jul 15, 2017'
    assert guide_text("not a date: 2017-13-45") == "not a date: 2017-13-45"


def test_an_alert_raised_yesterday_says_todays_day_count(admin_api, estate, acme, vas, add_line):
    today = timezone.now().date()
    end = today + datetime.timedelta(days=14)
    add_line(vas["Physics"], estate["security"], 10, "demo", start=today - datetime.timedelta(days=30), end=end)
    recompute_alerts(acme, as_of=timezone.now() - datetime.timedelta(days=1))  # raised yesterday: "in 15 days"
    stored = Alert.objects.get(alert_type=Alert.Type.LICENSES_EXPIRING).message
    assert "in 15 days" in stored
    status, body = admin_api.post("/accounts/Acme/alerts", {"severity": ["Minor"]})
    assert status == 200, body
    (expiring,) = [a for a in body["alerts"] if a["messageType"] == "Licenses Expiring"]
    assert expiring["actionDue"] == "14 days"
    assert expiring["message"] == (
        f'10 "CSR 1KV SECURITY 1G" demo licenses in the Virtual Account "Physics" '
        f"are set to expire in 14 days on {message_date(end)}"
    ), expiring["message"]
    assert "“" not in expiring["message"] and end.isoformat() not in expiring["message"]


def test_perpetual_license_details_have_no_dates(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/licenses", {"virtualAccounts": ["Physics"]})
    details = [d for r in body["licenses"] for d in r["licenseDetails"] if d["licenseType"] == "Perpetual"]
    assert details and all(d["startDate"] == "" and d["endDate"] == "" for d in details)
    terms = [d for r in body["licenses"] for d in r["licenseDetails"] if d["licenseType"] == "Term"]
    assert terms and all(d["startDate"] and d["endDate"] for d in terms)


def test_usage_list_blank_search_null(admin_api, estate):
    usage = admin_api.post("/accounts/Acme/devices", {"virtualAccounts": ["Physics"]})[1]["devices"][0]
    search = admin_api.get("/accounts/Acme/virtual-accounts/Physics/devices")[1]["devices"][0]
    assert usage["sudi"]["suvi"] == "" and search["sudi"]["suvi"] is None


@pytest.mark.parametrize(
    "method, path, text",
    [
        ("post", "/accounts/Acme/alerts", "Not Authorized to access alerts for local Account 'Acme SA'"),
        (
            "post",
            "/accounts/Acme/license-subscriptions",
            "Not Authorized to access license subscriptions for local Account Acme SA",
        ),
        ("post", "/accounts/Acme/licenses", "Not Authorized to access licenses for local Account 'Acme SA'"),
        ("post", "/accounts/Acme/devices", "Not Authorized to access devices for local Account 'Acme SA'"),
        (
            "get",
            "/accounts/Acme/virtual-accounts",
            "Not Authorized to access local Virtual Accounts in local Account 'Acme SA'",
        ),
    ],
)
def test_refusals_name_the_accounts_domain(api_as, people, estate, method, path, text):
    nobody = api_as(people["nobody"])
    status, body = getattr(nobody, method)(path, **({} if method == "get" else {"body": {}}))
    assert (status, body) == (403, {"status": "ERROR", "statusMessage": text})
