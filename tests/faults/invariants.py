"""The invariants every fault test checks on the server's database after the fault (see
tests/faults/conftest.py: STATE, read through the server's own ORM and compliance service)."""


def assert_invariants(state, *, registered_ok=0, exact_tokens=None):
    """
    * a token was used exactly as often as product instances carry it (``exact_tokens``: only these,
      when devices re-registered with another token since), and never beyond max uses;
    * one ``device.registered`` event per accepted registration (= per token use);
    * no product instance twice (one per UDI in the account);
    * every license position: in use is what the product instances report, and the balance is
      purchased + borrowed - lent - in use;
    * the devices the agent saw registered are at most what the server accepted (a registration
      whose reply was lost to the fault still counts on the server, never the other way round).
    """
    uses = 0
    for token, row in state["tokens"].items():
        if exact_tokens is None or token in exact_tokens:
            assert row["uses"] == row["pis"], (token, row)
        if row["max_uses"] is not None:
            assert row["uses"] <= row["max_uses"], (token, row)
        uses += row["uses"]
    assert state["events"]["device.registered"] == uses, (state["events"], uses)
    assert state["duplicates"] == 0
    assert registered_ok <= uses, (registered_ok, uses)
    for position in state["positions"]:
        if not position["borrowed"] and not position["lent"]:
            assert position["in_use"] == position["usage_rows"], position
        assert position["available"] == (
            position["purchased"] + position["borrowed"] - position["lent"] - position["in_use"]
        ), position
    return uses


def position(state, va, license_name):
    found = [p for p in state["positions"] if p["va"] == va and p["license"] == license_name]
    return found[0] if found else {"purchased": 0, "in_use": 0, "available": 0}


def purchased_total(state, license_name):
    return sum(p["purchased"] for p in state["positions"] if p["license"] == license_name)
