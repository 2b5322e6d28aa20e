"""14: alerts; and the local accounts list (GET /accounts, POST /upstream_satellites/accounts)."""

import datetime

import pytest
from django.utils import timezone

from licensing.models import Alert
from licensing.services.alerts import recompute_alerts
from tests.api.conftest import PREFIXES

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts(estate, acme, add_line, vas):
    today = timezone.now().date()
    add_line(
        vas["Physics"],
        estate["security"],
        10,
        "demo",
        start=today - datetime.timedelta(days=17),
        end=today + datetime.timedelta(days=43),
    )
    recompute_alerts(acme)
    return Alert.objects.filter(account=acme)


def test_alerts_field_by_field(admin_api, alerts):
    status, body = admin_api.post(
        "/accounts/Acme/alerts",
        {"virtualAccounts": ["Physics", "Zoology"], "severity": ["Major", "Minor"], "limit": 50, "offset": 0},
    )
    assert status == 200, body
    assert body["status"] == "SUCCESS" and body["totalRecords"] == 2
    shortage, expiring = body["alerts"]
    assert shortage == {
        "virtualAccount": "Zoology",
        "message": 'The Virtual Account "Zoology" has a shortage of "CSR 1KV SECURITY 1G" licenses. '
        "2 licenses are required to return to compliance.",
        "severity": "Major",
        "license": "CSR 1KV SECURITY 1G",
        "messageType": "Insufficient Licenses",
        "actionDue": "Now",
        "source": "Zoology",
        "sourceType": "Virtual Account",
    }
    assert expiring["virtualAccount"] == "Physics" and expiring["severity"] == "Minor"
    assert expiring["messageType"] == "Licenses Expiring" and expiring["license"] == "CSR 1KV SECURITY 1G"
    # One day count: the message's "in 43 days" and the Action Due agree at any hour of the day.
    assert expiring["actionDue"] == "43 days" and "in 43 days" in expiring["message"], expiring
    assert expiring["source"] == "Physics" and expiring["sourceType"] == "Virtual Account"


def test_alert_filters_and_paging(api_as, people, alerts):
    api = api_as(people["account_admin"])
    assert [a["severity"] for a in api.post("/accounts/Acme/alerts", {"severity": ["Minor"]})[1]["alerts"]] == ["Minor"]
    assert api.post("/accounts/Acme/alerts", {"virtualAccounts": ["Zoology"]})[1]["totalRecords"] == 1
    page = api.post("/accounts/Acme/alerts", {"limit": 1, "offset": 1})[1]
    assert page["totalRecords"] == 2 and len(page["alerts"]) == 1 and page["alerts"][0]["severity"] == "Minor"
    assert len(api.post("/accounts/Acme/alerts", {"limit": -1})[1]["alerts"]) == 2
    for bad in ({"severity": ["Critical"]}, {"severity": "Major"}, {"limit": 0}, {"offset": "0"}):
        assert api.post("/accounts/Acme/alerts", bad) == (
            422,
            {"status": "ERROR", "statusMessage": "Invalid limit, offset or severity value"},
        )
    # A VA User on Physics sees Physics' alerts only.
    va_user = api_as(people["va_user"])
    assert [a["virtualAccount"] for a in va_user.post("/accounts/Acme/alerts", {})[1]["alerts"]] == ["Physics"]
    assert va_user.post("/accounts/Acme/alerts", {"virtualAccounts": ["Zoology"]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access alerts for specified local Virtual Accounts"},
    )
    assert api_as(people["nobody"]).post("/accounts/Acme/alerts", {}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access alerts for local Account 'Acme SA'"},
    )


def test_alerts_minus_one_is_capped_at_1000(admin_api, acme, vas, monkeypatch):
    from licensing.api.views import alerts as alert_views

    monkeypatch.setattr(alert_views, "ALL_ALERTS_CAP", 3)
    now = timezone.now()
    for i in range(5):
        Alert.objects.create(
            account=acme,
            virtual_account=vas["Default"],
            alert_type=Alert.Type.PI_FAILED_TO_RENEW,
            severity=Alert.Severity.MAJOR,
            key=f"k{i}",
            message=f"m{i}",
            opened_at=now,
            updated_at=now,
        )
    body = admin_api.post("/accounts/Acme/alerts", {"limit": -1})[1]
    assert body["totalRecords"] == 5 and len(body["alerts"]) == 3


def test_dismissed_alerts_are_not_listed(admin_api, alerts):
    alerts.filter(severity=Alert.Severity.MINOR).update(status=Alert.Status.DISMISSED)
    assert admin_api.post("/accounts/Acme/alerts", {})[1]["totalRecords"] == 1


def test_alerts_query_count_is_fixed(admin_api, acme, vas, add_pi, django_assert_max_num_queries):
    now = timezone.now()

    def add(n, start):
        for i in range(start, start + n):
            pi = add_pi(vas["Physics"], f"SN{i}")
            Alert.objects.create(
                account=acme,
                virtual_account=vas["Physics"],
                product_instance=pi,
                alert_type=Alert.Type.PI_FAILED_TO_CONNECT,
                severity=Alert.Severity.MINOR,
                key=f"k{i}",
                message=f"m{i}",
                opened_at=now,
                updated_at=now,
                action_due=now + datetime.timedelta(days=2),
            )

    add(2, 0)
    with django_assert_max_num_queries(20) as few:
        admin_api.post("/accounts/Acme/alerts", {"limit": -1})
    add(20, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = admin_api.post("/accounts/Acme/alerts", {"limit": -1})[1]
    assert len(body["alerts"]) == 22
    assert body["alerts"][0]["actionDue"] == "2 days" and body["alerts"][0]["productInstanceHostName"] == "sn0"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_local_accounts(api_as, people, acme, globex, prefix):
    api = api_as(people["account_admin"], prefix)
    for status, body in (api.get("/accounts"), api.post("/upstream_satellites/accounts")):
        assert status == 200, body
        assert body["status"] == "SUCCESS"
        assert body["accounts"] == [
            {
                "account_id": acme.pk,
                "domain": "Acme SA",
                "name": "Acme",
                "cslu_tenant_url": f"http://testserver/cslu/v1/pi/Acme-{acme.pk}",
                "cssm_smart_account_id": "",
                "cssm_smart_account_name": "Acme SA",
                "status": "Active",
            }
        ]
    everything = api_as(people["sysadmin"], prefix).get("/accounts")[1]["accounts"]
    assert [a["name"] for a in everything] == ["Acme", "Globex"]
    assert api_as(people["nobody"], prefix).get("/accounts")[1]["accounts"] == []


def test_local_accounts_query_count_does_not_grow(api_as, people, make_account, django_assert_max_num_queries):
    api = api_as(people["sysadmin"])
    with django_assert_max_num_queries(12) as few:
        api.get("/accounts")
    for i in range(15):
        make_account(f"Tenant {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/accounts")[1]["accounts"]) == 16
