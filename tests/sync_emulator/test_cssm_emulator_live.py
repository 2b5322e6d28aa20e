"""The CSSM emulator as a real separate process on loopback (HTTPS), and its file-mode command."""

import pytest

from bench.harness import manage, server_env
from sync.documents.rejections import MSG_MODIFIED, NETWORK
from sync.documents.serialize import filename, serialize
from tests.sync_emulator.cssm_helpers import ACME_USER, NW_ADV, SEED, OnPremSide, product_instance

requests = pytest.importorskip("requests")
pytestmark = pytest.mark.live
YAML = {"Content-Type": "application/yaml"}


def post(base, path, document, cert, **kwargs):
    return requests.post(
        base + path, data=serialize(document).encode(), headers=YAML, verify=cert, timeout=30, **kwargs
    )


def root_of(base, cert):
    response = requests.get(base + "/root-ca.pem", verify=cert, timeout=10)
    assert response.status_code == 200
    return response.text


def test_online_registration_and_sync(live_emulator):
    base, state_dir, cert = live_emulator
    page = requests.get(base + "/", verify=cert, timeout=10)
    assert page.status_code == 200 and "emulator" in page.text.lower() and "not Cisco" in page.text
    root = root_of(base, cert)

    side = OnPremSide()
    registration = side.registration_request()
    refused = post(base, "/api/onprem/register", registration, cert, auth=("admin@acme.example", "wrong"))
    assert refused.status_code == 401 and refused.json()["code"] == "bad_credentials"
    anonymous = post(base, "/api/onprem/register", registration, cert)
    assert anonymous.status_code == 401

    answer = post(base, "/api/onprem/register", registration, cert, auth=ACME_USER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/yaml")
    side.accept(answer.content, registration, root, mode=NETWORK)

    request = side.sync_request(
        "full",
        product_instances=[product_instance("FOC1", licenses=[(NW_ADV, 2)])],
        license_usage=[{"tag": NW_ADV, "virtual_account": "Default", "in_use": 2}],
    )
    answer = post(base, "/api/onprem/sync", request, cert)
    assert answer.status_code == 200, answer.text
    response = side.accept(answer.content, request, root, mode=NETWORK)
    assert response.body["product_instances_on_cssm"] == 1
    assert any(line["tag"] == NW_ADV for line in response.body["entitlements"])

    # A tampered request: the guide's network text, HTTP 400, nothing applied.
    tampered = serialize(side.sync_request(product_instances=[])).replace("hostname: false", "hostname: true")
    answer = requests.post(base + "/api/onprem/sync", data=tampered.encode(), headers=YAML, verify=cert, timeout=30)
    assert answer.status_code == 400
    assert answer.json() == {"code": "modified", "message": "The file being processed for this On-Prem is invalid."}
    # A registration document posted to the sync endpoint.
    answer = post(base, "/api/onprem/sync", side.registration_request(), cert)
    assert answer.status_code == 400 and answer.json()["code"] == "corrupted"
    status = requests.get(base + "/", verify=cert, timeout=10).text
    assert "Acme Lab" in status


def test_file_page_turns_a_request_file_into_a_response_file(live_emulator):
    base, _, cert = live_emulator
    root = root_of(base, cert)
    form = requests.get(base + "/file", verify=cert, timeout=10)
    assert form.status_code == 200 and "multipart/form-data" in form.text and "Emulator" in form.text

    side = OnPremSide()
    registration = side.registration_request()
    upload = {"file": (filename(registration), serialize(registration).encode(), "application/yaml")}
    bad = requests.post(
        base + "/file", data={"username": ACME_USER[0], "password": "nope"}, files=upload, verify=cert, timeout=30
    )
    assert bad.status_code == 401 and "Invalid username or password." in bad.text

    answer = requests.post(
        base + "/file", data={"username": ACME_USER[0], "password": ACME_USER[1]}, files=upload, verify=cert, timeout=30
    )
    assert answer.status_code == 200, answer.text
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Acme-Lab_Authorization_') and disposition.endswith('.yml"')
    side.accept(answer.content, registration, root)

    not_yaml = requests.post(
        base + "/file",
        data={"username": ACME_USER[0], "password": ACME_USER[1]},
        files={"file": ("request.txt", b"hello", "text/plain")},
        verify=cert,
        timeout=30,
    )
    assert not_yaml.status_code == 400
    assert "It must be in YAML format with the file extension \u201c.yml\u201d." in not_yaml.text


def test_process_file_command(tmp_path):
    state = tmp_path / "state"
    env = server_env(tmp_path / "onprem-data")
    side = OnPremSide()
    registration = side.registration_request()
    request_file = tmp_path / filename(registration)
    request_file.write_text(serialize(registration))
    out = tmp_path / "authorization.yml"
    result = manage(
        "cssm_emulator",
        "--state-dir",
        str(state),
        "--seed",
        str(SEED),
        "--process-file",
        str(request_file),
        "--output",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    root = (state / "ca" / "root.crt").read_text()
    side.accept(out.read_bytes(), registration, root, name=out.name)

    request = side.sync_request("full")
    request_file = tmp_path / filename(request)
    request_file.write_text(serialize(request))
    out = tmp_path / "response.yml"
    result = manage(
        "cssm_emulator", "--state-dir", str(state), "--process-file", str(request_file), "--output", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    assert side.accept(out.read_bytes(), request, root, name=out.name).sync_type == "full"

    # A modified request file: the guide's manual text, non-zero exit, no output.
    modified = tmp_path / "modified.yml"
    modified.write_text(serialize(side.sync_request()).replace("ip_address: true", "ip_address: false"))
    result = manage(
        "cssm_emulator",
        "--state-dir",
        str(state),
        "--process-file",
        str(modified),
        "--output",
        str(tmp_path / "never.yml"),
        env=env,
    )
    assert result.returncode != 0 and MSG_MODIFIED in " ".join(result.stderr.split())
    assert not (tmp_path / "never.yml").exists()

    result = manage("cssm_emulator", "--state-dir", str(state), "--rename-onprem", side.onprem.uid, "Renamed", env=env)
    assert result.returncode == 0, result.stderr
    request = side.sync_request()
    request_file.write_text(serialize(request))
    result = manage(
        "cssm_emulator", "--state-dir", str(state), "--process-file", str(request_file), "--output", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    assert side.accept(out.read_bytes(), request, root, name=out.name).body["onprem_name"] == "Renamed"


@pytest.mark.django_db
def test_registration_status_over_https_pending_until_the_file_is_uploaded(live_emulator, settings):
    """The On-Prem's own client (sync.services.client.registration_status) against the emulator
    process: "pending" for a registration CSSM has not seen, "ready" once its file was uploaded
    and the Authorization generated; the request id of another On-Prem says nothing."""
    from sync.services import client

    base, _, cert = live_emulator
    settings.ONPREM_CSSM_URL, settings.ONPREM_CSSM_CA_FILE = base, cert
    side = OnPremSide()
    registration = side.registration_request()
    request_id, uid = registration.document_id, side.onprem.uid
    assert client.registration_status(request_id, uid) == "pending"

    upload = {"file": (filename(registration), serialize(registration).encode(), "application/yaml")}
    answer = requests.post(
        base + "/file", data={"username": ACME_USER[0], "password": ACME_USER[1]}, files=upload, verify=cert, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert client.registration_status(request_id, uid) == "ready"
    assert client.registration_status(request_id, "another-uid") == "pending"
    raw = requests.get(base + "/api/onprem/registration-status", params={"uid": uid}, verify=cert, timeout=10)
    assert raw.status_code == 400 and raw.json()["code"] == "missing_parameter"
