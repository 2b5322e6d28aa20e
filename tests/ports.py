"""The tests' loopback ports: ``bench.ports`` (one lock per port, shared with the benchmark)."""
from bench.ports import claim_port, claim_port_or_any  # noqa: F401
