"""Convert to Smart Licensing: DLC settings per local virtual account, the request / decision
interface for the device protocol and the sync engine, and the Conversion History tab."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Alert, Conversion, ConversionSettings
from licensing.services import conversion as conversion_service

NOW = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc)
PINNED_HISTORY = 10  # session, user, account, grants, picker, tabs' grants, visible VAs, count, rows, +1 slack
LICENSES = [{"name": "ASR 1000 Advanced IP Services", "count": 2, "pak": "PAK-1"}]


def history_url(account, rest=""):
    return f"/accounts/{account.pk}/conversion/{rest}"


def settings_url(account):
    return f"/accounts/{account.pk}/conversion/settings/"


@pytest.fixture
def device(default_va, add_pi):
    def _device(serial="FXS1", va=None, product="ASR1001-X"):
        return add_pi(
            va or default_va,
            serial,
            pid="ASR1001-X",
            hostname=f"asr-{serial.lower()}",
            identity=False,
            product_name=product,
            registered_at=NOW,
            last_contact_at=None,
        )

    return _device


@pytest.fixture
def dlc_on(acme):
    return conversion_service.set_conversion_settings(actor=None, account=acme, mode=ConversionSettings.Mode.ALL)


# --- Settings -----------------------------------------------------------------------------------------


def test_nothing_converts_until_settings_are_applied(acme, device):
    with pytest.raises(
        ServiceError, match="Device Led Conversion is not enabled for the local Virtual Account “Default”."
    ):
        conversion_service.request_conversion(device(), LICENSES, now=NOW)
    assert not Conversion.objects.exists() and not Alert.objects.exists()


def test_selected_virtual_accounts_only(acme, new_va, device, acme_admin, browser):
    sales = new_va("Sales")
    client = browser(acme_admin)
    response = client.post(settings_url(acme), {"mode": "selected", "virtual_accounts": [sales.pk]})
    assert response.status_code == 302
    assert conversion_service.conversion_allowed(sales)
    assert not conversion_service.conversion_allowed(acme.virtual_accounts.get(is_default=True))
    with pytest.raises(ServiceError):
        conversion_service.request_conversion(device("D1"), LICENSES, now=NOW)
    assert conversion_service.request_conversion(device("S1", va=sales), LICENSES, now=NOW).status == "pending"
    event = Event.objects.get(event_type="conversion.settings_changed")
    assert event.message == "The Device Led Conversion settings were changed by “alice”: enabled only on “Sales”."
    html = client.get(settings_url(acme)).content.decode()
    assert "Enable Device Led Conversion only on selected local Virtual Accounts" in html
    client.post(settings_url(acme), {"mode": "all"})
    assert conversion_service.conversion_allowed(acme.virtual_accounts.get(is_default=True))


@pytest.mark.parametrize("data", [{"mode": "some"}, {}, {"mode": "selected", "virtual_accounts": ["999999"]}])
def test_bad_settings_change_nothing(acme, acme_admin, browser, data):
    response = browser(acme_admin).post(settings_url(acme), data)
    assert response.status_code == 400
    assert not ConversionSettings.objects.exists()
    assert not Event.objects.filter(event_type="conversion.settings_changed").exists()


def test_another_accounts_virtual_account_is_refused(acme, make_account):
    globex = make_account("Globex")
    with pytest.raises(ServiceError):
        conversion_service.set_conversion_settings(
            actor=None, account=acme, mode="selected", virtual_accounts=[globex.virtual_accounts.get()]
        )
    assert not ConversionSettings.objects.exists()


@pytest.mark.parametrize(
    "role, on_va", [(AccountRole.ACCOUNT_USER, False), (AccountRole.VA_ADMIN, True), (AccountRole.VA_USER, True)]
)
def test_only_account_admins_apply_settings(acme, make_user, grant_role, browser, role, on_va):
    user = make_user("carol")
    grant_role(user, acme.virtual_accounts.get() if on_va else acme, role)
    client = browser(user)
    html = client.get(settings_url(acme)).content.decode()
    assert "Only an Account Administrator can change the conversion settings." in html
    assert client.post(settings_url(acme), {"mode": "all"}).status_code == 403
    with pytest.raises(NotAllowed):
        conversion_service.set_conversion_settings(actor=user, account=acme, mode="all")
    assert not ConversionSettings.objects.exists()


@pytest.mark.parametrize("role", [AccountRole.VA_USER, AccountRole.VA_ADMIN])
def test_va_roles_see_only_their_virtual_accounts_in_the_settings(acme, new_va, make_user, grant_role, browser, role):
    sales, lab = new_va("Sales"), new_va("Secret Lab")
    conversion_service.set_conversion_settings(actor=None, account=acme, mode="selected", virtual_accounts=[sales, lab])
    user = make_user("carol")
    grant_role(user, sales, role)
    response = browser(user).get(settings_url(acme))
    assert response.status_code == 200
    choices = response.context["form"]["virtual_accounts"]
    assert [(str(c.choice_label), c.data["selected"]) for c in choices] == [("Sales", True)]
    html = response.content.decode()
    assert re.findall(r'name="virtual_accounts" value="(\d+)"', html) == [str(sales.pk)]
    assert "Secret Lab" not in html


def test_account_admins_see_every_virtual_account_in_the_settings(acme, new_va, acme_admin, browser):
    new_va("Sales")
    lab = new_va("Secret Lab")
    conversion_service.set_conversion_settings(actor=None, account=acme, mode="selected", virtual_accounts=[lab])
    choices = browser(acme_admin).get(settings_url(acme)).context["form"]["virtual_accounts"]
    assert sorted((str(c.choice_label), c.data["selected"]) for c in choices) == [
        ("Default", False),
        ("Sales", False),
        ("Secret Lab", True),
    ]


def test_system_operator_applies_settings(acme, sysop, browser):
    assert browser(sysop).post(settings_url(acme), {"mode": "all"}).status_code == 302


# --- Requests and decisions (the device protocol's and the sync engine's interface) -------------------


def test_request_opens_sync_required_and_decision_clears_it(acme, device, dlc_on):
    pi = device()
    conversion = conversion_service.request_conversion(pi, LICENSES, poll_id="poll-1", now=NOW)
    assert (conversion.status, conversion.product_instance_name, conversion.device_identifier) == (
        "pending",
        "asr-fxs1",
        "PID:ASR1001-X SN:FXS1",
    )
    assert conversion.product_family == "ASR1001-X"
    alert = Alert.objects.get(status="open")
    assert (alert.alert_type, alert.severity) == ("synchronization_required", "major")
    assert alert.message == (
        "Synchronization Required: Device Led Conversion requests are pending. Conversion "
        "results will be displayed when synchronization with CSSM is complete."
    )
    # A retry while pending returns the same request; a second device shares the one alert.
    assert conversion_service.request_conversion(pi, LICENSES, now=NOW).pk == conversion.pk
    other = conversion_service.request_conversion(device("FXS2"), LICENSES, now=NOW)
    assert Alert.objects.filter(status="open").count() == 1
    assert list(conversion_service.pending_conversions(acme)) == [conversion, other]
    assert conversion_service.mark_sent([conversion, other], NOW) == 2
    assert conversion_service.conversion_for_poll(acme, "poll-1") == conversion

    later = NOW + datetime.timedelta(hours=2)
    conversion_service.decide_conversion(conversion, True, now=later)
    assert Alert.objects.get().status == "open"  # another request still pending
    conversion_service.decide_conversion(other, False, reason="Invalid PAK", now=later)
    alert.refresh_from_db()
    assert (alert.status, alert.cleared_at) == ("cleared", later)
    conversion.refresh_from_db()
    other.refresh_from_db()
    assert (conversion.status, conversion.decided_at) == ("success", later)
    assert (other.status, other.reason) == ("failed", "Invalid PAK")
    messages = list(
        Event.objects.filter(event_type__startswith="device.dlc").order_by("pk").values_list("message", flat=True)
    )
    assert messages == ["Conversion Successful", "Conversion Failed error for product “asr-fxs2”"]
    with pytest.raises(ServiceError, match="already decided"):
        conversion_service.decide_conversion(conversion, False, now=later)


def test_converted_licenses_answer_already_converted(acme, device, dlc_on):
    pi = device()
    first = conversion_service.request_conversion(pi, LICENSES, now=NOW)
    conversion_service.decide_conversion(first, True, now=NOW)
    again = conversion_service.request_conversion(pi, LICENSES, now=NOW + datetime.timedelta(days=1))
    assert (again.status, again.reason) == ("already_converted", "License Already Converted")
    assert not Alert.objects.filter(status="open").exists()


def test_sync_reports_already_converted(acme, device, dlc_on):
    conversion = conversion_service.request_conversion(device(), LICENSES, now=NOW)
    conversion_service.decide_conversion(conversion, False, already_converted=True, now=NOW)
    conversion.refresh_from_db()
    assert conversion.get_status_display() == "License Already Converted"


@pytest.mark.parametrize(
    "licenses",
    [
        [],
        "ASR",
        [{"name": "", "count": 1}],
        [{"name": "A", "count": 0}],
        [{"name": "A", "count": True}],
        [{"name": "A"}],
        ["A"],
        [{"name": "A", "count": 1}] * 51,
        [{"name": "x" * 256, "count": 1}],
    ],
)
def test_bad_requests_change_nothing(acme, device, dlc_on, licenses):
    with pytest.raises(ServiceError):
        conversion_service.request_conversion(device(), licenses, now=NOW)
    assert not Conversion.objects.exists() and not Alert.objects.exists()


def test_periodic_recompute_keeps_the_alert_while_requests_are_pending(acme, device, dlc_on):
    from licensing.services.alerts import recompute_alerts

    conversion = conversion_service.request_conversion(device(), LICENSES, now=NOW)
    assert recompute_alerts(acme, NOW) == ([], [])
    Conversion.objects.filter(pk=conversion.pk).update(status="success", decided_at=NOW)  # e.g. a restore
    _, cleared = recompute_alerts(acme, NOW)
    assert [a.alert_type for a in cleared] == ["synchronization_required"]


# --- Conversion History tab -------------------------------------------------------------------------------


def test_history_lists_filters_and_exports(acme, device, dlc_on, acme_user, browser):
    done = conversion_service.request_conversion(device("AAA1", product="ASR 1000"), LICENSES, now=NOW)
    conversion_service.decide_conversion(done, True, now=NOW)
    conversion_service.request_conversion(device("BBB2", product="ISR 4000"), LICENSES, now=NOW)
    client = browser(acme_user)
    html = client.get(history_url(acme)).content.decode()
    for text in (
        "Product Instance Name",
        "Device Identifier",
        "Product Family",
        "Conversion Status",
        "Time of Conversion",
        "Conversion Successful",
        "Pending",
        "PID:ASR1001-X SN:AAA1",
    ):
        assert text in html
    assert [c.product_family for c in client.get(history_url(acme), {"family": "isr"}).context["table"].page] == [
        "ISR 4000"
    ]
    assert [c.device_identifier for c in client.get(history_url(acme), {"device": "AAA1"}).context["table"].page] == [
        "PID:ASR1001-X SN:AAA1"
    ]
    response = client.get(history_url(acme, "export.csv"), {"family": "ASR"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Product Instance Name", "Device Identifier", "Product Family"]
    assert [r[2] for r in rows[1:]] == ["ASR 1000"]
    assert rows[1][5] == "Conversion Successful"


def test_va_user_sees_only_their_virtual_accounts_history(acme, new_va, device, dlc_on, make_user, grant_role, browser):
    sales = new_va("Sales")
    conversion_service.request_conversion(device("D1"), LICENSES, now=NOW)
    conversion_service.request_conversion(device("S1", va=sales), LICENSES, now=NOW)
    user = make_user("carol")
    grant_role(user, sales, AccountRole.VA_USER)
    page = browser(user).get(history_url(acme)).context["table"].page
    assert [c.virtual_account.name for c in page] == ["Sales"]


def test_outsiders_get_404(acme, make_user, browser):
    client = browser(make_user("eve"))
    for path in (history_url(acme), history_url(acme, "export.csv"), settings_url(acme)):
        assert client.get(path).status_code == 404
    assert client.post(settings_url(acme), {"mode": "all"}).status_code == 404


def test_history_query_count_does_not_grow(acme, device, dlc_on, acme_user, browser):
    client = browser(acme_user)
    client.get(history_url(acme))

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(history_url(acme)).status_code == 200
        return len(captured)

    conversion_service.request_conversion(device("X0"), LICENSES, now=NOW)
    few = count()
    for i in range(1, 40):
        conversion_service.request_conversion(device(f"X{i}"), LICENSES, now=timezone.now())
    many = count()
    assert few == many <= PINNED_HISTORY, (few, many)
