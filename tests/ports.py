"""The loopback ports of the servers the tests start: one range per kind of server, each port
handed out by ``claim_port`` (bench/ports.py: locked for the process that took it, so two test
processes never start servers on one port). Nothing in the tests binds a port found free by
probing: take one here.

    port = claim_port(ports.SERVE)              # NoFreePort when all of them are taken
    port = claim_port(ports.FAULTS, reuse=False)  # never the same one twice in this process
"""

from bench.ports import NoFreePort, claim_port  # noqa: F401  (the tests' way to a port)

AGENT_LIVE = range(18200, 18300)  # tests/smart_agent/test_agent_live.py's server
DIRECTORY = range(18300, 18400)  # slapd and the OIDC provider (tests/access_management)
SERVE = range(18500, 18600)  # `manage.py serve` of tests/live, the API, device and log live tests
SMTP = range(18600, 18700)  # the aiosmtpd listeners
CSSM = range(18800, 18900)  # the CSSM emulator process and the sync tests' proxy
# 18900-18999: the benchmark's server (bench/server.py)
E2E = range(19000, 19100)  # tests/e2e: the server and its CSSM emulator
RELIABILITY = range(19150, 19200)  # tests/reliability/test_reliability_live.py's gunicorn
FAULTS = range(19200, 19300)  # tests/faults and tests/ops: servers, private PostgreSQL and Redis
SYNC_KILL = range(19300, 19400)  # tests/faults/test_sync_apply_kill.py's emulator
