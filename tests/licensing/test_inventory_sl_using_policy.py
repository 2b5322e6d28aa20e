"""Inventory > SL Using Policy: the product instances that report by Smart Licensing Using Policy,
their usage reports on the way to CSSM, and "Synchronize usage information with CSSM"."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import DeviceIdentity, ProductInstance, RumReport
from licensing.services.slp_usage import request_usage_sync
from tests.devices.devicesim import Device, cslu_path, make_csr, row_counts, rum

pytestmark = pytest.mark.django_db

# session, user, account, the reader's grants, picker, visible VAs (chooser), count, one page of
# product instances (with their latest report), the page's report summaries: the same for 3 or 120.
PINNED_SLP_QUERIES = 9
PINNED_REPORT_QUERIES = 8
T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
ALERT = "Usage report from product instance"


def url(account, rest=""):
    return f"/accounts/{account.pk}/inventory/sl-using-policy/{rest}"


def sync_url(account, va):
    return f"/accounts/{account.pk}/inventory/virtual-accounts/{va.pk}/sl-using-policy/synchronize/"


def push(client, account, serial, report_id="1", usage=(), **extra):
    """A CSLU push through the real endpoint from a new SLP device (added on its first push)."""
    dev = Device(client, serial)
    reply = dev.send(
        "REPORT_USAGE",
        path=cslu_path(account),
        csr=make_csr(dev.key),
        reports=[rum(dev.key, report_id, list(usage), **extra)],
    )
    return dev, reply


def slp_fleet(va, n, prefix="SLP", *, reports=1):
    """``n`` SLP product instances of ``va``, each added by a push with ``reports`` reports (rows)."""
    pis = ProductInstance.objects.bulk_create(
        [
            ProductInstance(
                account_id=va.account_id,
                virtual_account=va,
                udi_pid="C9300-24T",
                udi_serial_number=f"{prefix}{i:05d}",
                hostname=f"{prefix.lower()}-{i:05d}",
                registered_at=T0,
            )
            for i in range(n)
        ]
    )
    DeviceIdentity.objects.bulk_create(
        [DeviceIdentity(product_instance=pi, transport=DeviceIdentity.Transport.CSLU, updated_at=T0) for pi in pis]
    )
    RumReport.objects.bulk_create(
        [
            RumReport(
                account_id=va.account_id,
                product_instance=pi,
                device_key=pi.udi_serial_number,
                report_id=str(r),
                header={"type": "rum"},
                payload="{}",
                signing_type="ecdsa-p256-sha256",
                signature_key="k",
                signature_value="v",
                received_at=T0 + datetime.timedelta(minutes=i, seconds=r),
                utility_mode=i % 2 == 0,
            )
            for i, pi in enumerate(pis)
            for r in range(reports)
        ]
    )
    return pis


def test_a_cslu_push_makes_the_product_instance_appear_at_once_with_its_alert(
    client, acme, default_va, acme_admin, browser, license_def
):
    lic = license_def("Network Advantage")
    page = browser(acme_admin)
    assert "SLP-NEW" not in page.get(url(acme)).content.decode()
    _dev, reply = push(client, acme, "SLP-NEW", usage=[{"tag": lic.entitlement_tag, "count": 1}])
    assert reply["status"] == "SUCCESS"
    html = page.get(url(acme)).content.decode()
    row = html.split("SLP-NEW", 1)[1].split("</tr>", 1)[0]
    assert ALERT in row and "Utility mode" not in row
    assert "1 pending" in row
    # a device registered with a token and reporting nothing is not an SLP device
    assert ProductInstance.objects.filter(udi_serial_number="SLP-NEW", virtual_account=default_va).exists()


def test_a_report_in_utility_mode_is_flagged(client, acme, acme_admin, browser):
    push(client, acme, "SLP-UTIL", utility_mode=True)
    push(client, acme, "SLP-PLAIN", utility_mode=False)
    assert list(
        RumReport.objects.order_by("product_instance__udi_serial_number").values_list("utility_mode", flat=True)
    ) == [
        False,
        True,
    ]
    html = browser(acme_admin).get(url(acme)).content.decode()
    flagged = html.split("SLP-UTIL", 1)[1].split("</tr>", 1)[0]
    plain = html.split("SLP-PLAIN", 1)[1].split("</tr>", 1)[0]
    assert ALERT in flagged and "Utility mode" in flagged
    assert ALERT in plain and "Utility mode" not in plain
    reports = browser(acme_admin).get(url(acme, "?view=reports")).content.decode()
    assert reports.count('<span class="badge warn">Utility mode</span>') == 1


def test_utility_mode_must_be_a_boolean(client, acme):
    before = row_counts()
    _dev, reply = push(client, acme, "SLP-BAD", utility_mode="yes")
    assert reply["status"] == "FAILED" and reply["error_code"] == "MALFORMED"
    assert "utility_mode" in reply["message"]
    assert row_counts() == before


def test_only_slp_product_instances_are_listed(acme, default_va, add_pi, acme_admin, browser):
    add_pi(default_va, "SMART-1")  # registered with a token, no usage report
    reporting = add_pi(default_va, "SMART-RUM")  # registered with a token, reports RUM over its certificate
    RumReport.objects.create(
        account=acme,
        product_instance=reporting,
        device_key="k",
        report_id="9",
        header={},
        payload="{}",
        signing_type="x",
        signature_key="k",
        signature_value="v",
        received_at=T0,
    )
    slp_fleet(default_va, 1)
    html = browser(acme_admin).get(url(acme)).content.decode()
    assert "SMART-1" not in html and "SMART-RUM" in html and "SLP00000" in html


def test_rbac_va_roles_see_only_their_own_virtual_account(acme, default_va, new_va, make_user, grant_role, browser):
    sales = new_va("Sales")
    slp_fleet(default_va, 1, "DEF")
    slp_fleet(sales, 1, "SAL")
    va_user = make_user("vau", SystemRole.USER)
    grant_role(va_user, sales, AccountRole.VA_USER)
    page = browser(va_user)
    html = page.get(url(acme)).content.decode()  # their only VA is chosen
    assert "SAL00000" in html and "DEF00000" not in html
    assert "Synchronize usage information with CSSM" in html
    assert page.get(url(acme, f"?va={default_va.pk}")).status_code == 404
    assert page.post(sync_url(acme, default_va)).status_code == 404
    assert not RumReport.objects.filter(sync_requested_at__isnull=False).exists()
    outsider = make_user("eve", SystemRole.USER)
    assert browser(outsider).get(url(acme)).status_code in (403, 404)
    assert browser(outsider).post(sync_url(acme, sales)).status_code in (403, 404)
    # the service checks again, whoever calls it
    with pytest.raises(NotAllowed):
        request_usage_sync(actor=va_user, virtual_account=default_va)
    assert not RumReport.objects.filter(sync_requested_at__isnull=False).exists()


def test_pages_and_pinned_query_count(acme, default_va, acme_admin, browser, steady_session):
    page = browser(acme_admin)
    slp_fleet(default_va, 3, "FEW", reports=2)
    page.get(url(acme))  # the first request of a session also stores its activity time
    counts = {}
    for name, target in (("pis", url(acme)), ("reports", url(acme, "?view=reports"))):
        with CaptureQueriesContext(connection) as few:
            assert page.get(target).status_code == 200
        counts[name] = len(few)
    slp_fleet(default_va, 120, "MANY", reports=2)
    for name, target, pinned in (
        ("pis", url(acme), PINNED_SLP_QUERIES),
        ("reports", url(acme, "?view=reports"), PINNED_REPORT_QUERIES),
    ):
        with CaptureQueriesContext(connection) as many:
            response = page.get(target)
        assert len(many) == counts[name] <= pinned, (name, len(many), counts[name])
        html = response.content.decode()
        assert html.count("<tr>") == 26  # header + a full page of 25
        assert "Page 1 of" in html
    html = page.get(url(acme, "?page=6")).content.decode()
    assert "Page 6 of 5" not in html and "Page 5 of 5 (123 items)" in html
    # newest report first by default; search keeps to the SLP devices
    first = page.get(url(acme)).content.decode().split("<tbody>", 1)[1]
    assert first.index("MANY00119") < first.index("MANY00118") and "MANY00000" not in first
    assert "FEW00001" in page.get(url(acme, "?q=FEW00001")).content.decode()
    reports = page.get(url(acme, "?view=reports&q=MANY00007")).content.decode()
    assert reports.count("MANY00007") >= 2 and "MANY00008" not in reports


def test_synchronize_usage_information_marks_the_reports(client, acme, default_va, acme_user, browser):
    push(client, acme, "SLP-A")
    push(client, acme, "SLP-B")
    RumReport.objects.filter(product_instance__udi_serial_number="SLP-B").update(synced_at=timezone.now())
    page = browser(acme_user)
    response = page.post(sync_url(acme, default_va), follow=True)
    html = response.content.decode()
    assert "1 usage report will be sent to Cisco Smart Software Manager in the next synchronization." in html
    marked = RumReport.objects.get(product_instance__udi_serial_number="SLP-A")
    assert marked.sync_requested_at is not None
    assert RumReport.objects.get(product_instance__udi_serial_number="SLP-B").sync_requested_at is None
    event = Event.objects.get(event_type="pi.usage_sync_requested")
    assert "“bob” asked that 1 usage report(s)" in event.message and event.virtual_account == default_va
    reports = page.get(url(acme, "?view=reports")).content.decode()
    assert 'Pending</span> <span class="lw-scope">requested' in reports and "Acknowledged</span>" in reports
    # nothing left to send: refused, nothing written
    RumReport.objects.update(synced_at=timezone.now())
    html = page.post(sync_url(acme, default_va), follow=True).content.decode()
    assert "There is no usage information to synchronize" in html
    assert Event.objects.filter(event_type="pi.usage_sync_requested").count() == 1
    with pytest.raises(ServiceError):
        request_usage_sync(actor=acme_user, virtual_account=default_va)


def test_general_tab_offers_the_cslu_transport_url_pop_up(acme, acme_admin, browser):
    html = browser(acme_admin).get(f"/accounts/{acme.pk}/inventory/").content.decode()
    assert 'data-dialog-open="inv-cslu-url-dialog"' in html
    dialog = html.split('<dialog id="inv-cslu-url-dialog"', 1)[1].split("</dialog>", 1)[0]
    assert "Product Registration URL" in dialog
    # The product listener's https URL (the tests' ordinary-user ports: tests/conftest.py)
    assert f'value="https://testserver:9443/cslu/v1/pi/Acme-{acme.pk}"' in dialog
    assert 'data-copy-from="inv-cslu-url"' in dialog
