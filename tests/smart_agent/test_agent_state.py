"""The state directory: private key 0600 in a 0700 directory, atomic files, refusal of unsafe keys."""

import json
import os
import stat

import pytest

from smart_agent import Agent, Identity, StateError
from smart_agent.state import DirStore, load_json


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_register_writes_private_files(make_agent, tmp_path):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    state_dir = tmp_path / "state"
    assert mode(state_dir) == 0o700
    assert mode(state_dir / "key.pem") == 0o600
    assert b"PRIVATE KEY" in (state_dir / "key.pem").read_bytes()
    assert sorted(p.name for p in state_dir.iterdir()) == ["certificate.pem", "chain.pem", "key.pem", "state.json"]
    state = json.loads((state_dir / "state.json").read_text())
    assert state["identity"]["udi_serial_number"] == "FOC2412X0AB"
    assert state["product_instance_id"] == agent.state["product_instance_id"]
    assert "PRIVATE" not in (state_dir / "state.json").read_text()


def test_group_readable_key_is_refused(make_agent, tmp_path):
    make_agent().register("GOOD-TOKEN")
    os.chmod(tmp_path / "state" / "key.pem", 0o640)
    agent = make_agent()
    with pytest.raises(StateError, match="chmod 600"):
        agent.authorize({"tag": 1})


def test_state_survives_a_new_process(make_agent, tmp_path, fake_server):
    make_agent().register("GOOD-TOKEN")
    again = Agent(None, tmp_path / "state")  # identity and server URL come from the state dir
    assert again.registered and again.server_url == fake_server.url
    assert again.identity.udi_pid == "C9300-24T"
    assert again.authorize({"regid.x": 2})["compliance"] == "IN_COMPLIANCE"


def test_state_dir_of_another_device_is_refused(make_agent, tmp_path):
    make_agent().register("GOOD-TOKEN")
    with pytest.raises(StateError, match="belongs to C9300-24T FOC2412X0AB"):
        Agent(None, tmp_path / "state", Identity("C9300-24T", "FOC0000X000"))


def test_corrupt_state_is_reported(tmp_path):
    store = DirStore(tmp_path / "s")
    store.write("state.json", b"{not json")
    with pytest.raises(StateError, match="corrupt"):
        load_json(store)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    store = DirStore(tmp_path / "s")
    for i in range(5):
        store.write("state.json", json.dumps({"i": i}).encode())
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["state.json"]
    assert load_json(store) == {"i": 4}
