"""REST API list endpoints of the guide (license usage, devices, alerts) for the seeded account,
one client, pages of 50 spread over the whole list: p50/p95 per page."""

import json

import requests

from ..load import Request, run_load

ENDPOINTS = ("licenses", "devices", "alerts")


def token(server, client_id, client_secret):
    with requests.Session() as session:
        session.trust_env = False
        reply = session.post(
            f"{server.url}/oauth/token",
            verify=str(server.cert),
            timeout=60,
            json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )
    reply.raise_for_status()
    return reply.json()["access_token"]


def _succeeded(status, body):
    if status != 200:
        return False
    try:
        return json.loads(body).get("status") == "SUCCESS"
    except ValueError:
        return False


def run(server, seeded, access_token, *, requests_per_endpoint):
    account = seeded["account"]
    total = {"licenses": 9, "devices": seeded["product_instances"], "alerts": 1}
    rows = {}
    for name in ENDPOINTS:
        pages = max(1, total[name] // 50)

        def make(i, name=name, pages=pages):
            # Pages spread over the list (a prime stride), the deep ones included.
            body = json.dumps({"limit": 50, "offset": (i * 7919 % pages) * 50}).encode()
            return Request(
                "POST",
                f"/api/v1/accounts/{account}/{name}",
                body=body,
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Content-Type": "application/json",
                    "X-Request-ID": f"bench-api-{name}-{i}",
                },
            )

        result = run_load(
            server.url, make, concurrency=1, requests=requests_per_endpoint, ca_file=str(server.cert), check=_succeeded
        )
        server_ms = server.access_times(f"bench-api-{name}-")
        result["server_ms"] = _ms_summary(server_ms)
        rows[name] = result
    return rows


def _ms_summary(values):
    from ..load import percentile

    values = sorted(values)
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "count": len(values)}
