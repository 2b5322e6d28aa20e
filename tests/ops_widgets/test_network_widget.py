"""Network widget: what the host OS reports, read for real; the On-Prem name and the proxy."""

import subprocess

import pytest

from accounts.roles import SystemRole
from admin_widgets.network import host
from core import crypto
from core.models import SystemSettings
from core.system_settings import proxy_url
from tests.factories import PASSWORD


def test_dns_servers_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver 2001:db8::53\noptions ndots:1\n")
    assert host.dns_servers(conf) == ["10.0.0.2", "2001:db8::53"]
    assert host.dns_servers(tmp_path / "missing") == []


def test_default_gateways_from_the_kernel_tables(tmp_path):
    v4 = tmp_path / "route"
    v4.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    v6 = tmp_path / "ipv6_route"
    v6.write_text(
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n"
    )
    assert host.default_gateways(v4, v6) == [("eth0", "192.168.1.1"), ("eth0", "fe80::1")]


def test_the_real_default_route_matches_ip_route():
    try:
        shown = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        pytest.skip("iproute2's ip command is not installed")
    expected = [line.split()[2] for line in shown.splitlines() if line.startswith("default via")]
    assert [gateway for _, gateway in host.default_gateways() if ":" not in gateway] == expected


def test_loopback_interface_is_connected():
    loopback = next(item for item in host.interfaces() if item.name == "lo")
    assert loopback.status == host.CONNECTED
    assert ("127.0.0.1", "255.0.0.0") in loopback.ipv4


def test_general_and_interface_tabs_show_the_host_read_only(admin_client):
    html = admin_client.get("/admin/network/").content.decode()
    assert host.hostname() in html and "shown here read-only" in html
    for server in host.dns_servers():
        assert server in html
    html = admin_client.get("/admin/network/interfaces/").content.decode()
    assert '<th scope="row">lo</th>' in html and "127.0.0.1" in html
    assert admin_client.post("/admin/network/interfaces/", {}).status_code == 404


def test_onprem_name_is_validated(admin_client):
    response = admin_client.post("/admin/network/general/", {"onprem_name": "bad name!"})
    assert "Enter a DNS resolvable hostname or an IP address." in response.content.decode()
    assert not SystemSettings.objects.exists()
    assert admin_client.post("/admin/network/general/", {"onprem_name": "licensing.example.com"}).status_code == 302
    assert SystemSettings.objects.get().onprem_name == "licensing.example.com"


def test_proxy_password_is_encrypted_never_shown_and_used_for_cssm(admin_client):
    response = admin_client.post(
        "/admin/network/proxy/",
        {
            "proxy_enabled": "on",
            "proxy_host": "10.1.1.1",
            "proxy_port": "8080",
            "proxy_username": "svc",
            "proxy_password": "p@ss:word/1",
        },
    )
    assert response.status_code == 302
    stored = SystemSettings.objects.get().proxy_password
    assert "p@ss" not in stored and crypto.decrypt(stored) == "p@ss:word/1"
    html = admin_client.get("/admin/network/proxy/").content.decode()
    assert "p@ss" not in html and stored not in html and "A password is saved." in html
    assert proxy_url() == {
        "https": "http://svc:p%40ss%3Aword%2F1@10.1.1.1:8080",
        "http": "http://svc:p%40ss%3Aword%2F1@10.1.1.1:8080",
    }
    admin_client.post(
        "/admin/network/proxy/", {"proxy_host": "10.1.1.1", "proxy_port": "8080", "proxy_username": "svc"}
    )
    assert proxy_url() is None  # switched off; the password is kept for when it is switched on again
    assert crypto.decrypt(SystemSettings.objects.get().proxy_password) == "p@ss:word/1"


def test_proxy_needs_an_address_when_on(admin_client):
    response = admin_client.post(
        "/admin/network/proxy/", {"proxy_enabled": "on", "proxy_host": "", "proxy_port": "8080"}
    )
    assert "Enter the Proxy IP Address." in response.content.decode()
    assert not SystemSettings.objects.exists()


def test_operator_reads_system_user_is_refused(sysop, make_user, client):
    client.login(username=sysop.username, password=PASSWORD)
    assert client.get("/admin/network/proxy/").status_code == 200
    assert client.post("/admin/network/proxy/", {"proxy_host": "x", "proxy_port": "1"}).status_code == 403
    client.logout()
    client.login(username=make_user("u", SystemRole.USER).username, password=PASSWORD)
    assert client.get("/admin/network/").status_code == 403


def test_interface_tab_lists_each_listener_and_its_role(admin_client, settings):
    from core import listeners

    settings.ONPREM_LISTENERS = listeners.configured(
        {"ONPREM_BIND": "0.0.0.0:8443", "ONPREM_PRODUCT_HTTPS_BIND": "10.0.0.5:443", "ONPREM_PRODUCT_HTTP_BIND": ""}
    )
    html = admin_client.get("/admin/network/interfaces/").content.decode()
    rows = [" ".join(row.split()) for row in html.split("<tr>") if "<code>ONPREM_" in row]
    assert len(rows) == 3, rows
    assert "Product and Management</th><td>HTTPS</td><td>0.0.0.0</td><td>8443</td>" in rows[0]
    assert "ONPREM_BIND" in rows[0] and "REST API" in rows[0]
    assert "Product</th><td>HTTPS</td><td>10.0.0.5</td><td>443</td>" in rows[1]
    assert "device endpoints only" in rows[1]
    # A product listener turned off is shown off, not left out.
    assert "Product</th><td>HTTP</td><td></td><td></td><td>Off</td>" in rows[2]
    assert "ONPREM_PRODUCT_HTTP_BIND" in rows[2]
